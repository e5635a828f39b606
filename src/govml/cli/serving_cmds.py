"""``govml serving``: how a model's gateway uses its challenger, and the keys it accepts."""

from __future__ import annotations

from typing import Any

import typer

from govml.cli.common import JSON_OPTION, client
from govml.cli.output import console, print_fields, print_json, print_ok, print_table
from govml.domain.serving import ServingConfig

app = typer.Typer(help="Challenger set-up and keys of a model's gateway.", no_args_is_help=True)


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


@app.command("suspend")
def suspend(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="Model name."),
    reason: str = typer.Option(..., "--reason", help="Why (required, ledgered)."),
    json_out: bool = JSON_OPTION,
) -> None:
    """Stop a model: its gateways refer every record (or answer 503, per the policy).

    Deployer or risk officer; gateways follow within one poll interval. Needs no earlier
    production version.
    """
    with client(ctx) as opened:
        held = _oversight(opened).suspend(name, reason=reason)
    _said(held, json_out, f"{name} is suspended: gateways refer every record")


@app.command("resume")
def resume(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="Model name."),
    reason: str = typer.Option(..., "--reason", help="Why (required, ledgered)."),
    json_out: bool = JSON_OPTION,
) -> None:
    """Resume a suspended model (deployer or risk officer)."""
    with client(ctx) as opened:
        held = _oversight(opened).resume(name, reason=reason)
    _said(held, json_out, f"{name} is resumed")


def _oversight(opened: Any) -> Any:
    from govml.cli.review_cmds import oversight_of

    return oversight_of(opened)


def _said(held: Any, json_out: bool, text: str) -> None:
    if json_out:
        print_json(
            {
                "model": held.model,
                "suspended": held.suspended,
                "reason": held.reason,
                "updated_at": held.updated_at.isoformat(),
                "updated_by": held.updated_by,
            }
        )
    else:
        print_ok(text)


keys = typer.Typer(help="Keys of a model's gateway (scoped, expiring, shown once).")
app.add_typer(keys, name="keys")
_SCOPE = typer.Option(
    ...,
    "--scope",
    help="predict, feedback, correct_labels (with feedback), metrics; comma-separated or repeated.",
)


@keys.command("add")
def add_key(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="Model name."),
    scope: list[str] = _SCOPE,
    expires_in_days: int | None = typer.Option(
        None,
        "--expires-in-days",
        help="Key lifetime in days (default and most for a deployer: GOVML_TOKEN_MAX_DAYS).",
    ),
    description: str = typer.Option(
        "", "--description", help="Who holds the key and what for (listed, never secret)."
    ),
    json_out: bool = JSON_OPTION,
) -> None:
    """Issue a gateway key and print it once (only its hash is stored)."""
    with client(ctx) as opened:
        issued = opened.issue_gateway_key(
            name, scopes=scope, expires_in_days=expires_in_days, description=description
        )
    if json_out:
        print_json(issued.to_dict())
        return
    key = issued.key
    print_ok(
        f"gateway key {key.key_id} of {name} ({', '.join(key.scopes)}), expires "
        f"{key.expires_at:%Y-%m-%d %H:%M} UTC"
    )
    console.print("Copy it now, it is not shown again:", style="bold")
    print(issued.secret)


@keys.command("list")
def list_keys(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="Model name."),
    all_: bool = typer.Option(False, "--all", help="Include revoked and expired keys."),
    json_out: bool = JSON_OPTION,
) -> None:
    """List the keys of a model's gateway (never their secrets)."""
    with client(ctx) as opened:
        found = opened.gateway_keys(name, include_revoked=all_)
    if json_out:
        print_json([key.to_dict() for key in found])
        return
    print_table(
        f"gateway keys of {name}",
        ["key id", "scopes", "expires", "issued by", "revoked", "description"],
        [
            (
                key.key_id,
                ", ".join(key.scopes),
                f"{key.expires_at:%Y-%m-%d %H:%M}",
                key.created_by,
                "" if key.revoked_at is None else f"{key.revoked_at:%Y-%m-%d %H:%M}",
                key.description,
            )
            for key in found
        ],
    )


@keys.command("revoke")
def revoke_key(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="Model name."),
    key_id: str = typer.Argument(..., help="The key's id (the part after gwk_)."),
    json_out: bool = JSON_OPTION,
) -> None:
    """Revoke a gateway key: gateways refuse it from their next poll of the registry."""
    with client(ctx) as opened:
        key = opened.revoke_gateway_key(name, key_id)
    if json_out:
        print_json(key.to_dict())
    else:
        print_ok(f"revoked gateway key {key.key_id} of {name}")
