"""``govml log``: keeping the prediction log lawfully (retention and erasure).

``purge`` removes a model's date partitions older than the policy's ``retention.days``;
``erase`` removes one data subject's rows (found by the policy's ``retention.subject_key``
fields) and the labels of their requests, rewriting the affected files. Both need an admin
or a risk officer and write one ledger entry recording counts and file digests only.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from govml.cli.common import JSON_OPTION, client
from govml.cli.output import print_json, print_ok, print_table
from govml.errors import ConfigurationError, InputError

app = typer.Typer(help="The prediction log: retention and erasure.", no_args_is_help=True)

LOG_DIR = typer.Option(..., "--log-dir", help="The gateway's log folder (model=NAME/...).")
SUBJECT_KEY = typer.Option(
    ..., "--subject-key", help="FIELD=VALUE of the policy's retention.subject_key (repeat)."
)
ERR_REMOTE = "purge and erasure run where the log is, with a local store (not in client mode)"


def _service(opened: Any) -> Any:
    from govml.services.retention import RetentionService

    ctx = getattr(opened, "ctx", None)
    if ctx is None:
        raise ConfigurationError(ERR_REMOTE)
    return RetentionService(ctx)


def _show(removal: Any, json_out: bool, verb: str) -> None:
    if json_out:
        print_json(removal.to_dict())
        return
    print_ok(f"{removal.model}: {removal.rows} row(s) {verb} from {len(removal.files)} file(s)")
    if removal.files:
        print_table(
            None,
            ["file", "rows", "old sha256", "new sha256"],
            [
                (item["path"], item["rows"], item["old"][:19], (item["new"] or "-")[:19])
                for item in removal.files
            ],
        )


@app.command("purge")
def purge(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="Model name."),
    log_dir: Path = LOG_DIR,
    days: int | None = typer.Option(
        None, "--days", min=1, help="Retention in days (default: the policy's retention.days)."
    ),
    dry_run: bool = typer.Option(False, "--dry-run", help="List what would go; change nothing."),
    json_out: bool = JSON_OPTION,
) -> None:
    """Remove the model's log partitions older than its retention period."""
    with client(ctx) as opened:
        removal = _service(opened).purge(name, log_dir, days=days, dry_run=dry_run)
    _show(removal, json_out, "would be removed" if dry_run else "removed")


@app.command("erase")
def erase(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="Model name."),
    log_dir: Path = LOG_DIR,
    subject_key: list[str] = SUBJECT_KEY,
    reason: str = typer.Option(..., "--reason", help="Why (e.g. the request's reference)."),
    json_out: bool = JSON_OPTION,
) -> None:
    """Erase one data subject's rows from the model's prediction log."""
    wanted: dict[str, str] = {}
    for pair in subject_key:
        field, sep, value = pair.partition("=")
        if not sep or not field or not value:
            raise InputError(f"--subject-key {pair!r}: expected FIELD=VALUE")
        wanted[field] = value
    with client(ctx) as opened:
        removal = _service(opened).erase(name, log_dir, wanted, reason=reason)
    _show(removal, json_out, "erased")
