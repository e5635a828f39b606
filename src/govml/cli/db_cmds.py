"""``govml init`` and ``govml db``: create, inspect and upgrade the store."""

from __future__ import annotations

import typer

from govml.cli.common import JSON_OPTION, client
from govml.cli.output import print_fields, print_json, print_ok
from govml.client import Client, connect, settings_for
from govml.errors import InputError, MissingStoreError
from govml.remote import RemoteClient
from govml.services.admin import AdminService
from govml.services.context import ERR_NO_STORE, HINT_NO_STORE, ServiceContext
from govml.store.db import Store, safe_url

app = typer.Typer(help="Inspect and upgrade the metadata database.", no_args_is_help=True)

ERR_REMOTE = (
    "`govml {command}` works on a store where it runs; in client mode (GOVML_SERVER={server}) "
    "the store is the server's: run it on the server host, or give --store"
)


def init(ctx: typer.Context, json_out: bool = JSON_OPTION) -> None:
    """Create the store (or check an existing one) and record its creation in the ledger.

    The only command that creates a store: every other one refuses to run where there is
    none. It always leaves the store with its ledger signing key.
    """
    given = getattr(ctx.find_root().obj, "store", None)
    settings = settings_for(given)
    if settings.server and given is None:
        with connect(given) as remote:
            remote.init()  # refused: a server's store is created on the server's host
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
    with client(ctx) as opened:
        if isinstance(opened, RemoteClient):
            raise InputError(ERR_REMOTE.format(command="db status", server=opened.server))
        info = AdminService(opened.ctx).status()
    if json_out:
        print_json(info)
    else:
        print_fields("store", list(info.items()))


@app.command("upgrade")
def upgrade(ctx: typer.Context) -> None:
    """Apply pending schema migrations (govml also does this on first use)."""
    given = getattr(ctx.find_root().obj, "store", None)
    settings = settings_for(given)
    if settings.server and given is None:
        raise InputError(ERR_REMOTE.format(command="db upgrade", server=settings.server))
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
