"""``govml server``: serve the REST API and the web UI for a store with uvicorn."""

from __future__ import annotations

import os

import typer

from govml.cli.common import root_options
from govml.cli.listen import check_can_listen
from govml.cli.output import print_ok
from govml.errors import ConfigurationError

ERR_NO_USERS = "the store {url} has no users, so nobody could sign in to the server"
HINT_NO_USERS = (
    "run `govml users add NAME --role admin` on this machine first: it prints the admin's token"
)
FACTORY = "govml.server.app:app_from_environment"


def server(
    ctx: typer.Context,
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on.", metavar="HOST"),
    port: int = typer.Option(
        8080, "--port", min=1, max=65535, help="Port to listen on.", metavar="PORT"
    ),
    workers: int = typer.Option(1, "--workers", min=1, help="Worker processes.", metavar="N"),
) -> None:
    """Serve the REST API (bearer tokens, OpenAPI at /api/v1/docs) and the web UI at /."""
    from govml.client import settings_for
    from govml.server.oidc import OIDCClient, load_sign_on
    from govml.services.access import AccessService
    from govml.services.context import ServiceContext
    from govml.store.db import safe_url
    from govml.wire import API_PREFIX

    settings = settings_for(root_options(ctx).store)
    url = settings.resolved_database_url()
    context = ServiceContext.from_settings(settings)
    try:
        if not AccessService(context).list_users():
            raise ConfigurationError(ERR_NO_USERS.format(url=safe_url(url)), hint=HINT_NO_USERS)
    finally:
        context.close()
    sign_on = load_sign_on()  # GOVML_OIDC_* are checked here, not in a worker's traceback
    if sign_on is not None:
        OIDCClient(sign_on)  # refuses to start without the oidc extra
    check_can_listen(host, port)
    # Worker processes build the application from the environment: pin it to this store.
    os.environ["GOVML_HOME"] = str(settings.home.resolve())
    os.environ["GOVML_DATABASE_URL"] = url
    os.environ["GOVML_ARTIFACTS"] = settings.artifacts_location()

    import uvicorn

    print_ok(
        f"serving {safe_url(url)} on http://{host}:{port}: the web UI at /, "
        f"the API docs at {API_PREFIX}/docs"
    )
    uvicorn.run(FACTORY, factory=True, host=host, port=port, workers=workers)
