"""``govml notify``: announce approval requests and decisions (Slack, Teams, a webhook)."""

from __future__ import annotations

from pathlib import Path

import typer

from govml.cli.common import JSON_OPTION, client
from govml.cli.lineage_cmds import CURSOR_OPTION, read_cursor
from govml.cli.output import print_json, print_ok, print_table
from govml.errors import EXIT_UNAVAILABLE, InputError

app = typer.Typer(no_args_is_help=True)  # named and described in govml.cli.main


@app.command("relay")
def relay(
    ctx: typer.Context,
    model: str | None = typer.Option(None, "--model", help="Only this model.", metavar="NAME"),
    since: int | None = typer.Option(
        None, "--since", help="Only ledger entries after this sequence number.", metavar="SEQ"
    ),
    cursor: Path | None = CURSOR_OPTION,
    json_out: bool = JSON_OPTION,
) -> None:
    """Send approval requests and decisions to the policy's approvals.notify webhook."""
    from govml.services.notifications import NotificationService

    after = since if since is not None else (read_cursor(cursor) if cursor else None)
    with client(ctx) as opened:
        context = getattr(opened, "ctx", None)
        if context is None:
            raise InputError("govml notify relay reads the ledger directly: unset GOVML_SERVER")
        result = NotificationService(context).relay(after=after, model=model)
    if cursor is not None and result.cursor is not None:
        cursor.write_text(f"{result.cursor}\n", encoding="utf-8")
    if json_out:
        print_json(result.to_dict())
    elif result.deliveries:
        print_table(
            "Notifications",
            ["entry", "event", "format", "delivered"],
            [(d["seq"], d["event"], d["format"], d["summary"]) for d in result.deliveries],
        )
    else:
        print_ok("nothing to announce")
    if result.failed:
        raise typer.Exit(EXIT_UNAVAILABLE)
