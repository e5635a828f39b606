"""``govml models``: create, list, show and tag governed models."""

from __future__ import annotations

import typer

from govml.cli import report_cmds, risk_cmds
from govml.cli.common import JSON_OPTION, client, parse_pairs
from govml.cli.output import print_fields, print_json, print_ok, print_table
from govml.domain.records import Model

app = typer.Typer(no_args_is_help=True)  # named and described in govml.cli.main


@app.command("create")
def create(
    ctx: typer.Context,
    name: str = typer.Argument(
        ..., help="Model name (letters, digits, '.', '_', '-').", metavar="NAME"
    ),
    risk_tier: str = typer.Option(
        ..., "--risk-tier", "-t", help="minimal, limited, high or unacceptable.", metavar="TIER"
    ),
    owner: str | None = typer.Option(
        None, "--owner", help="Accountable owner (default: you).", metavar="NAME"
    ),
    intended_use: str = typer.Option(
        "", "--intended-use", help="What the model is for.", metavar="TEXT"
    ),
    out_of_scope_use: str = typer.Option(
        "", "--out-of-scope-use", help="What it must not do.", metavar="TEXT"
    ),
    description: str = typer.Option("", "--description", help="Free text.", metavar="TEXT"),
    tag: list[str] = typer.Option(  # noqa: B008
        [], "--tag", help="A tag, repeatable.", metavar="KEY=VALUE"
    ),
    json_out: bool = JSON_OPTION,
) -> None:
    """Create a model."""
    tags = {k: str(v) for k, v in parse_pairs(tag, "tag").items()}
    with client(ctx) as opened:
        model = opened.create_model(
            name,
            risk_tier=risk_tier,
            owner=owner,
            intended_use=intended_use,
            out_of_scope_use=out_of_scope_use,
            description=description,
            tags=tags,
        )
    if json_out:
        print_json(model.to_dict())
    else:
        print_ok(f"created model {model.name} (risk tier {model.risk_tier.value})")


@app.command("list")
def list_(ctx: typer.Context, json_out: bool = JSON_OPTION) -> None:
    """List models."""
    with client(ctx) as opened:
        models = opened.list_models()
    if json_out:
        print_json([m.to_dict() for m in models])
        return
    print_table(
        "models",
        ["name", "risk tier", "owner", "latest", "aliases", "created"],
        [
            (
                m.name,
                m.risk_tier.value,
                m.owner,
                m.latest_version or "-",
                ", ".join(f"{a}→{v}" for a, v in m.aliases.items()),
                m.created_at.strftime("%Y-%m-%d %H:%M"),
            )
            for m in models
        ],
    )


@app.command("show")
def show(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="Model name.", metavar="NAME"),
    json_out: bool = JSON_OPTION,
) -> None:
    """Show one model."""
    with client(ctx) as opened:
        model = opened.get_model(name)
        retired = risk_cmds.retirement_of(opened, name)
    if json_out:
        print_json({**model.to_dict(), "retired": retired})
    else:
        _print_model(model)
        if retired is not None:
            risk_cmds.print_retirement(name, retired)


@app.command("tag")
def tag(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="Model name.", metavar="NAME"),
    pairs: list[str] = typer.Argument(  # noqa: B008
        None, help="Tags to set.", metavar="KEY=VALUE"
    ),
    remove: list[str] = typer.Option(  # noqa: B008
        [], "--remove", help="Tag to remove, repeatable.", metavar="KEY"
    ),
) -> None:
    """Set or remove tags on a model (each change is a ledger entry)."""
    values = {k: str(v) for k, v in parse_pairs(pairs or [], "tag").items()}
    with client(ctx) as opened:
        for key, value in values.items():
            opened.set_tag(name, key, value)
        for key in remove:
            opened.set_tag(name, key, None)
    print_ok(f"updated tags of {name}")


app.command("card")(report_cmds.card)


def _print_model(model: Model) -> None:
    data = model.to_dict()
    data["tags"] = ", ".join(f"{k}={v}" for k, v in model.tags.items())
    data["aliases"] = ", ".join(f"{k}→{v}" for k, v in model.aliases.items())
    print_fields(f"model {model.name}", list(data.items()))


# The model-risk lifecycle's commands live with the risk register (govml.cli.risk_cmds).
app.command("retire")(risk_cmds.retire)
app.command("revalidation")(risk_cmds.revalidation)
