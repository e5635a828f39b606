"""``govml lineage``: registrations, evaluations and promotions as OpenLineage run events."""

from __future__ import annotations

import os
from pathlib import Path

import typer

from govml.cli.common import JSON_OPTION, client
from govml.cli.output import print_json, print_ok
from govml.errors import InputError

app = typer.Typer(no_args_is_help=True)  # named and described in govml.cli.main
CURSOR_OPTION = typer.Option(
    None,
    "--cursor",
    help="File keeping the last sequence sent: each run sends only what is new.",
    metavar="FILE",
)


def read_cursor(path: Path) -> int | None:
    """Return the ledger sequence a cursor file holds (None when it does not exist yet)."""
    if not path.exists():
        return None
    text = path.read_text(encoding="utf-8").strip()
    if not text.isdigit():
        raise InputError(f"{path}: the cursor file holds {text[:40]!r}, not a ledger sequence")
    return int(text)


@app.command("emit")
def emit(
    ctx: typer.Context,
    to: str | None = typer.Option(
        None,
        "--to",
        help="An http(s) endpoint (Marquez: .../api/v1/lineage) or a file appended to.",
        metavar="URL|FILE",
    ),
    namespace: str = typer.Option(
        "govml", "--namespace", help="OpenLineage namespace of govml's jobs.", metavar="NAME"
    ),
    model: str | None = typer.Option(None, "--model", help="Only this model.", metavar="NAME"),
    since: int | None = typer.Option(
        None, "--since", help="Only ledger entries after this sequence number.", metavar="SEQ"
    ),
    cursor: Path | None = CURSOR_OPTION,
    json_out: bool = JSON_OPTION,
) -> None:
    """Send run events (or print them without --to); the API key is OPENLINEAGE_API_KEY."""
    from govml.services.lineage_events import LineageService

    after = since if since is not None else (read_cursor(cursor) if cursor else None)
    with client(ctx) as opened:
        context = getattr(opened, "ctx", None)
        if context is None:
            raise InputError("govml lineage emit reads the ledger directly: unset GOVML_SERVER")
        emitted = LineageService(context).emit(
            to,
            namespace=namespace,
            model=model,
            after=after,
            api_key=os.environ.get("OPENLINEAGE_API_KEY"),
        )
    if cursor is not None and to is not None and emitted.last_seq is not None:
        cursor.write_text(f"{emitted.last_seq}\n", encoding="utf-8")
    if to is None:
        print_json(emitted.events)
    elif json_out:
        print_json(emitted.to_dict())
    else:
        print_ok(f"sent {len(emitted.events)} OpenLineage events to {to}")
