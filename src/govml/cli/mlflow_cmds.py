"""``govml mlflow``: keep an MLflow registry in line with govml's governed aliases."""

from __future__ import annotations

import typer

from govml.cli.common import JSON_OPTION, client
from govml.cli.import_cmds import TRACKING_OPTION, local_context
from govml.cli.output import print_json, print_ok, print_table

app = typer.Typer(no_args_is_help=True)  # named and described in govml.cli.main


@app.command("sync")
def sync(
    ctx: typer.Context,
    model: str = typer.Argument(..., help="The govml model.", metavar="NAME"),
    tracking_uri: str | None = TRACKING_OPTION,
    dry_run: bool = typer.Option(False, "--dry-run", help="Report, change nothing."),
    json_out: bool = JSON_OPTION,
) -> None:
    """Mirror staging / production onto MLflow aliases; reset and report hand-moved ones."""
    from govml.services.mlflow_bridge import MlflowService

    with client(ctx) as opened:
        service = MlflowService(local_context(opened))  # type: ignore[arg-type]
        changes = service.sync(model, tracking_uri=tracking_uri, dry_run=dry_run)
    if json_out:
        print_json({"model": model, "dry_run": dry_run, "changes": [c.to_dict() for c in changes]})
        return
    if not changes:
        print_ok(f"MLflow aliases of {model} already follow govml")
        return
    print_table(
        "MLflow aliases " + ("to change" if dry_run else "changed"),
        ["MLflow model", "alias", "was", "now", "why"],
        [(c.mlflow_model, c.alias, c.was or "-", c.now or "-", _why(c.kind)) for c in changes],
    )


def _why(kind: str) -> str:
    return {
        "set": "missing in MLflow",
        "reset": "moved by hand in MLflow: reset",
        "removed": "govml holds it on no imported version",
    }[kind]
