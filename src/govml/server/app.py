"""The REST API application: `create_app` builds it for one store.

One store (and its connection pool), one artifact store and one key folder serve every
request; each request runs as the user its bearer token belongs to (`govml.server.auth`),
through the same services as the CLI and the SDK.
"""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace

import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute

import govml
from govml.errors import StoreError
from govml.server import errors
from govml.server.guard import Gatekeeper, check_routes
from govml.server.limits import BodyLimit, ServerLimits
from govml.server.redact import Redactor, server_places
from govml.server.routes import (
    audit,
    documents,
    evaluations,
    gateway,
    lifecycle,
    monitoring,
    oversight,
    people,
    policies,
    registry,
)
from govml.server.schemas import Health
from govml.server.uploads import clear_uploads
from govml.services.context import ServiceContext
from govml.settings import Settings, load_settings
from govml.ui import create_ui
from govml.wire import API_PREFIX

SERVER_ACTOR = "govml-server"
DESCRIPTION = """The govml registry, policies, evaluations, lifecycle, people and ledger.

Every endpoint but `GET /health` needs `Authorization: Bearer TOKEN` (a token from
`govml users add` or `govml users token`). What a user may do is decided by their roles, in
the same service layer as the CLI and the SDK. Errors answer
`{"error": {"type", "message", "hint", ...}}`.
"""


def create_app(
    settings: Settings,
    *,
    max_upload_bytes: int | None = None,
    limits: ServerLimits | None = None,
) -> FastAPI:
    """Build the REST API for the store ``settings`` point to.

    Parameters
    ----------
    settings
        Where the store, the artifacts and the ledger key are (``GOVML_HOME``,
        ``GOVML_DATABASE_URL``, ``GOVML_ARTIFACTS``).
    max_upload_bytes
        Largest upload accepted (overrides ``limits.max_upload_bytes``); larger ones are
        answered with 413.
    limits
        Size limits of bodies and uploaded tables (default: ``GOVML_SERVER_*`` settings).

    Returns
    -------
    FastAPI
        The application; its connections are released when it shuts down.
    """
    limits = limits or ServerLimits()
    if max_upload_bytes is not None:
        limits = limits.model_copy(update={"max_upload_bytes": max_upload_bytes})
    shared = replace(ServiceContext.from_settings(settings), actor=SERVER_ACTOR, local=False)
    clear_uploads(None if shared.keys is None else shared.keys.parent)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        shared.close()

    app = FastAPI(
        title="govml",
        version=govml.__version__,
        description=DESCRIPTION,
        openapi_url=f"{API_PREFIX}/openapi.json",
        docs_url=f"{API_PREFIX}/docs",
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.govml_context = shared
    app.state.govml_limits = limits
    app.state.govml_redactor = Redactor(server_places(settings.home, settings.resolved_artifacts()))
    # Starlette wraps the last middleware added around the others: a body is first counted
    # (BodyLimit), then any failure answered (errors.install's CatchAll), and the caller is
    # authenticated and checked before the application reads the body (Gatekeeper).
    app.add_middleware(Gatekeeper, context=shared)
    errors.install(app)
    app.add_middleware(
        BodyLimit, max_bytes=limits.max_upload_bytes, max_json_bytes=limits.max_json_bytes
    )
    paths: dict[str, dict[str, object]] = {}
    for module in (
        registry,
        policies,
        evaluations,
        audit,
        lifecycle,
        people,
        documents,
        monitoring,
        gateway,
        oversight,
    ):
        app.include_router(module.router, prefix=API_PREFIX)
        # From the routers' own routes: building the OpenAPI document here cost each start
        # 0.3 s (it is built at the first request for it).
        for route in module.router.routes:
            if isinstance(route, APIRoute):
                paths.setdefault(API_PREFIX + route.path, {}).update(
                    dict.fromkeys(route.methods or ())
                )
    check_routes(paths)

    @app.get("/health", response_model=Health, tags=["health"])
    def health() -> JSONResponse:
        """Say whether the server can reach its store (no token needed)."""
        try:
            with shared.store.read() as conn:
                conn.execute(sa.text("SELECT 1"))
        except sa.exc.SQLAlchemyError:
            return errors.error_response(StoreError("the server cannot reach its database"))
        return JSONResponse({"status": "ok", "version": govml.__version__})

    # The web UI takes every other path (its own sessions, CSRF checks and error pages).
    app.mount("/", create_ui(shared, redactor=app.state.govml_redactor))
    return app


def app_from_environment() -> FastAPI:
    """Build the application from ``GOVML_*`` environment variables (uvicorn's factory)."""
    app = create_app(load_settings())
    # What is loaded now lives as long as the server: left out of the collector's full passes,
    # which a request building many objects (the UI's inventory) would otherwise slow down.
    gc.freeze()
    return app
