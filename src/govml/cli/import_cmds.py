"""``govml import``: bring a model version in from another system (MLflow)."""

from __future__ import annotations

import typer

from govml.cli.common import JSON_OPTION, client
from govml.cli.output import print_fields, print_json
from govml.errors import InputError

app = typer.Typer(no_args_is_help=True)  # named and described in govml.cli.main

TRACKING_OPTION = typer.Option(
    None,
    "--tracking-uri",
    help="MLflow tracking server (default: MLFLOW_TRACKING_URI).",
    metavar="URL",
)


def local_context(opened: object) -> object:
    """Return the service context of a local client; refuse a client of a remote server."""
    ctx = getattr(opened, "ctx", None)
    if ctx is None:
        raise InputError(
            "the MLflow bridge works on a store directly: run it where the store is "
            "(unset GOVML_SERVER)"
        )
    return ctx


@app.command("mlflow")
def mlflow_(
    ctx: typer.Context,
    uri: str = typer.Argument(
        ..., help="models:/NAME/VERSION, models:/NAME@ALIAS or a run id.", metavar="URI"
    ),
    model: str | None = typer.Option(
        None, "--model", help="govml model (default: MLflow's model name).", metavar="NAME"
    ),
    target: str | None = typer.Option(
        None, "--target", help="Target column of the logged datasets.", metavar="COLUMN"
    ),
    tracking_uri: str | None = TRACKING_OPTION,
    json_out: bool = JSON_OPTION,
) -> None:
    """Register a version from MLflow with its run's lineage, in a safe flavor."""
    from govml.services.mlflow_bridge import MlflowService

    with client(ctx) as opened:
        service = MlflowService(local_context(opened))  # type: ignore[arg-type]
        result = service.import_version(uri, model=model, tracking_uri=tracking_uri, target=target)
    if json_out:
        print_json(result.to_dict())
        return
    mlflow = result.mlflow
    print_fields(
        ("already imported as " if result.already else "imported as ") + result.version.ref,
        [
            ("MLflow", f"{mlflow.get('registered_model')} v{mlflow.get('registered_version')}"),
            ("run", result.version.mlflow_run_id),
            ("artifact", f"{result.version.flavor} ({result.artifact})"),
            ("git commit", result.version.code.get("git_commit")),
            ("params", len(result.version.params)),
            ("metrics", len(result.version.metrics)),
            ("datasets", ", ".join(f"{d['name']} {d['digest']}" for d in mlflow["datasets"])),
        ],
    )
