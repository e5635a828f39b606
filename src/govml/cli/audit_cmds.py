"""``govml audit``: verify the ledger and read the audit log."""

from __future__ import annotations

import json

import typer

from govml.cli.common import JSON_OPTION, client
from govml.cli.output import print_json, print_ok, print_table
from govml.errors import IntegrityError, LedgerVerificationError

app = typer.Typer(help="Verify the tamper-evident ledger and read it.", no_args_is_help=True)


@app.command("verify")
def verify(ctx: typer.Context, json_out: bool = JSON_OPTION) -> None:
    """Recompute the Merkle tree and check every record against the ledger.

    Exits 1 and names the first entry or record that does not match.
    """
    with client(ctx) as opened:
        try:
            result = opened.verify_ledger()
        except IntegrityError as exc:
            if not json_out:
                raise
            seq = exc.seq if isinstance(exc, LedgerVerificationError) else None
            print_json({"ok": False, "error": exc.message, "seq": seq})
            raise typer.Exit(exc.exit_code) from None
    if json_out:
        print_json(result.to_dict())
        return
    print_ok(
        f"ledger verified: {result.entries} entries, {result.tree_heads} tree heads, "
        f"root {result.root_hash}"
    )
    print_ok(
        f"records match the ledger: {result.models} models, {result.versions} versions, "
        f"{result.datasets} datasets"
    )


@app.command("log")
def log(
    ctx: typer.Context,
    model: str | None = typer.Option(None, "--model", help="Only entries about this model."),
    action: str | None = typer.Option(None, "--action", help="Only this action."),
    limit: int | None = typer.Option(None, "--limit", min=1, help="Only the newest N entries."),
    json_out: bool = JSON_OPTION,
) -> None:
    """List ledger entries, oldest first."""
    with client(ctx) as opened:
        entries = opened.audit_log(model=model, action=action, limit=limit)
    if json_out:
        print_json([e.to_dict() for e in entries])
        return
    print_table(
        "ledger",
        ["seq", "time", "actor", "action", "subject", "details"],
        [
            (
                e.seq,
                e.time[:19].replace("T", " "),
                e.actor,
                e.action,
                e.subject,
                _details(e.payload),
            )
            for e in entries
        ],
    )


def _details(payload: dict[str, object]) -> str:
    text = json.dumps(payload, sort_keys=True)
    return text if len(text) <= 60 else text[:59] + "…"
