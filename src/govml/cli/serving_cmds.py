"""``govml serving``: how a model's gateway uses its challenger (off, shadow, canary)."""

from __future__ import annotations

import typer

from govml.cli.common import JSON_OPTION, client
from govml.cli.output import print_fields, print_json, print_ok
from govml.domain.serving import ServingConfig

app = typer.Typer(help="Challenger set-up of a model's gateway.", no_args_is_help=True)


@app.command("set")
def set_(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="Model name."),
    mode: str = typer.Option(..., "--mode", help="off, shadow or canary."),
    share: float | None = typer.Option(
        None, "--share", help="Canary: share of traffic for staging, e.g. 0.1."
    ),
    key: str | None = typer.Option(
        None, "--sticky-key", help="Canary: request field that keeps a caller on one version."
    ),
    json_out: bool = JSON_OPTION,
) -> None:
    """Set the challenger (the staging version) to off, shadow or a canary share."""
    with client(ctx) as opened:
        config = opened.configure_serving(name, mode=mode, share=share, key=key)
    if json_out:
        print_json(config.to_dict())
    else:
        print_ok(f"{name}: {_describe(config)}")


@app.command("show")
def show(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="Model name."),
    json_out: bool = JSON_OPTION,
) -> None:
    """Show a model's challenger set-up."""
    with client(ctx) as opened:
        config = opened.serving_config(name)
    if json_out:
        print_json(config.to_dict())
        return
    print_fields(
        f"serving of {name}",
        [
            ("challenger", _describe(config)),
            ("updated", config.updated_at.isoformat() if config.updated_at else "never"),
            ("by", config.updated_by),
        ],
    )


def _describe(config: ServingConfig) -> str:
    if config.mode == "shadow":
        return "staging runs in shadow (logged, never returned)"
    if config.mode == "canary":
        sticky = f"sticky by {config.key}" if config.key else "by request id"
        return f"staging answers {config.share:.0%} of requests ({sticky})"
    return "off (production answers every request)"
