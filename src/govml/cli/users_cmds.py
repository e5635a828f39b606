"""``govml users``: people, their roles and their bearer tokens."""

from __future__ import annotations

import typer

from govml.cli.common import JSON_OPTION, client
from govml.cli.output import console, err_console, print_fields, print_json, print_ok, print_table
from govml.domain.lifecycle import IssuedToken, User

app = typer.Typer(no_args_is_help=True)  # named and described in govml.cli.main

ROLES_HELP = "viewer, reviewer, contributor, approver, risk_officer, deployer or admin"
NOTE_ROLE_DEPRECATED = (
    "note: `govml users roles NAME --role ROLE` is deprecated; use `--set ROLE` (listing the "
    "roles is `govml users roles NAME`)"
)
_NAME = typer.Argument(..., help="User name.", metavar="NAME")
_ROLE = typer.Option(
    ...,
    "--role",
    help=f"{ROLES_HELP}; repeatable or comma-separated.",
    metavar="ROLE",
)
_EXPIRES = typer.Option(
    None,
    "--expires-in-days",
    help="Token lifetime in days (default: GOVML_TOKEN_MAX_DAYS, 90; the most for a token of "
    "one's own; an admin may give another user up to 3650). Every token expires.",
    metavar="DAYS",
)


@app.command("add")
def add(
    ctx: typer.Context,
    name: str = _NAME,
    role: list[str] = _ROLE,
    expires_in_days: int | None = _EXPIRES,
    json_out: bool = JSON_OPTION,
) -> None:
    """Add a user and print their token once (only its hash is stored)."""
    roles = _split(role)
    with client(ctx) as opened:
        issued = opened.add_user(name, roles=roles, expires_in_days=expires_in_days)
    _print_token(issued, json_out, f"added user {name} ({', '.join(roles)})")


@app.command("list")
def list_(ctx: typer.Context, json_out: bool = JSON_OPTION) -> None:
    """List users and their roles."""
    with client(ctx) as opened:
        found = opened.list_users()
    if json_out:
        print_json([u.to_dict() for u in found])
        return
    print_table(
        "users",
        ["name", "roles", "status", "added by", "added"],
        [
            (
                u.name,
                ", ".join(u.roles),
                "active" if u.active else "disabled",
                u.created_by,
                u.created_at.strftime("%Y-%m-%d %H:%M"),
            )
            for u in found
        ],
    )


@app.command("roles")
def roles(
    ctx: typer.Context,
    name: str = _NAME,
    set_: list[str] = typer.Option(  # noqa: B008
        [],
        "--set",
        help=f"Replace the user's roles with these: {ROLES_HELP}; repeatable or comma-separated "
        "(admins only).",
        metavar="ROLE",
    ),
    role: list[str] = typer.Option(  # noqa: B008
        [], "--role", hidden=True, help="Deprecated: --set.", metavar="ROLE"
    ),
    json_out: bool = JSON_OPTION,
) -> None:
    """Show a user's roles and when each was granted; with --set, replace them."""
    if role:
        err_console.print(NOTE_ROLE_DEPRECATED, markup=False)
    wanted = _split([*set_, *role])
    with client(ctx) as opened:
        user = opened.set_roles(name, roles=wanted) if wanted else opened.get_user(name)
    if json_out:
        print_json(user.to_dict())
    elif wanted:
        print_ok(f"{user.name}: {', '.join(user.roles)}")
    else:
        _print_user(user)


@app.command("token")
def token(
    ctx: typer.Context,
    name: str = _NAME,
    expires_in_days: int | None = _EXPIRES,
    json_out: bool = JSON_OPTION,
) -> None:
    """Issue a new token for a user (an admin, or the user themself)."""
    with client(ctx) as opened:
        issued = opened.issue_token(name, expires_in_days=expires_in_days)
    _print_token(issued, json_out, f"new token for {name}")


@app.command("revoke")
def revoke(
    ctx: typer.Context,
    name: str = _NAME,
    token_id: str | None = typer.Option(
        None,
        "--token",
        help="Revoke only this token, by its id (the part after `govml_`, shown when it was "
        "issued and on the People page); the user's other tokens keep working.",
        metavar="ID",
    ),
    json_out: bool = JSON_OPTION,
) -> None:
    """Revoke every live token of a user, or one with --token (an admin, or the user)."""
    if token_id is not None:
        with client(ctx) as opened:
            revoked_at = opened.revoke_token(name, token_id)
        if json_out:
            print_json({"user": name, "token_id": token_id, "revoked_at": revoked_at.isoformat()})
        else:
            print_ok(f"revoked token {token_id} of {name}")
        return
    with client(ctx) as opened:
        count = opened.revoke_tokens(name)
    if json_out:
        print_json({"user": name, "revoked": count})
    else:
        print_ok(f"revoked {count} token(s) of {name}")


@app.command("disable")
def disable(
    ctx: typer.Context,
    name: str = _NAME,
    json_out: bool = JSON_OPTION,
) -> None:
    """Disable a user: their tokens are revoked and they can do nothing more."""
    with client(ctx) as opened:
        user = opened.disable_user(name)
    if json_out:
        print_json(user.to_dict())
    else:
        print_ok(f"disabled {user.name}")


@app.command("whoami")
def whoami(ctx: typer.Context, json_out: bool = JSON_OPTION) -> None:
    """Show who is acting and with which roles."""
    with client(ctx) as opened:
        user = opened.whoami()
    if json_out:
        print_json(user.to_dict())
        return
    _print_user(user)


def _split(values: list[str]) -> list[str]:
    """Split comma-separated, repeatable option values into names."""
    return [name.strip() for value in values for name in value.split(",") if name.strip()]


def _print_user(user: User) -> None:
    granted = [
        (f"{role.value} granted", user.granted_at[role].isoformat())
        for role in user.roles
        if role in user.granted_at
    ]
    print_fields(
        user.name,
        [
            ("roles", ", ".join(user.roles)),
            ("status", "active" if user.active else "disabled"),
            ("added by", user.created_by),
            ("added", user.created_at.isoformat()),
            *granted,
        ],
    )


def _print_token(issued: IssuedToken, json_out: bool, headline: str) -> None:
    if json_out:
        print_json(issued.to_dict())
        return
    expires = issued.expires_at.strftime("%Y-%m-%d %H:%M UTC") if issued.expires_at else "?"
    print_ok(f"{headline}; token {issued.token_id}, expires {expires}")
    console.print("Copy it now, it is not shown again:", style="bold")
    print(issued.token)
