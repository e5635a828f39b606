"""``govml init`` and ``govml db``: create, inspect and upgrade the store."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from govml.cli.common import JSON_OPTION, root_options
from govml.cli.output import print_fields, print_json, print_ok
from govml.errors import InputError, MissingStoreError

if TYPE_CHECKING:
    from govml.settings import Settings

app = typer.Typer(no_args_is_help=True)  # named and described in govml.cli.main

ERR_REMOTE = (
    "`govml {command}` works on a store where it runs; in client mode (GOVML_SERVER={server}) "
    "the store is the server's: run it on the server host, or give --store"
)


def init(ctx: typer.Context, json_out: bool = JSON_OPTION) -> None:
    """Create the store (or check an existing one) and record its creation in the ledger.

    The only command that creates a store, always with its ledger signing key: every other
    command refuses to run where there is none.
    """
    from govml.client import Client
    from govml.services.context import ServiceContext

    settings = _local_settings(ctx, "init")
    with Client(ServiceContext.from_settings(settings, create=True)) as opened:
        status = opened.init()
    if json_out:
        print_json(status)
        return
    word = "created" if status["created"] else "already initialised"
    print_ok(f"govml store {word}: {status['database']}")
    if status["key_created"]:
        print_ok(f"ledger signing key created: {status['signing_key']} (public part)")
    print_fields(
        "store", [(k, v) for k, v in status.items() if k not in ("created", "key_created")]
    )


@app.command("status")
def status(ctx: typer.Context, json_out: bool = JSON_OPTION) -> None:
    """Show the database, schema revision and size of the store."""
    from govml.services.admin import AdminService
    from govml.services.context import ServiceContext

    context = ServiceContext.from_settings(_local_settings(ctx, "db status"))
    try:
        info = AdminService(context).status()
    finally:
        context.close()
    if json_out:
        print_json(info)
    else:
        print_fields("store", list(info.items()))


@app.command("upgrade")
def upgrade(ctx: typer.Context) -> None:
    """Apply pending schema migrations to an existing store (govml also does on first use)."""
    from govml.services.context import ERR_NO_STORE, HINT_NO_STORE
    from govml.store.db import Store, safe_url

    settings = _local_settings(ctx, "db upgrade")
    url = settings.resolved_database_url()
    try:
        store = Store(url, migrate=None, create=False)
    except MissingStoreError:
        # Upgrading an existing store is fine; creating one is `govml init`'s alone.
        raise MissingStoreError(
            ERR_NO_STORE.format(where=settings.describe_store()), hint=HINT_NO_STORE
        ) from None
    try:
        before, after = store.upgrade()
    finally:
        store.dispose()
    change = "already up to date" if before == after else f"upgraded from {before}"
    print_ok(f"{safe_url(url)}: schema at {after} ({change})")


def _local_settings(ctx: typer.Context, command: str) -> Settings:
    """Return the settings of the local store a command works on; refuse in client mode."""
    from govml.client import settings_for

    given = root_options(ctx).store
    settings = settings_for(given)
    if settings.server and given is None:
        raise InputError(ERR_REMOTE.format(command=command, server=settings.server))
    return settings
