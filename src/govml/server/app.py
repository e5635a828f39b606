"""The REST API application: `create_app` builds it for one store.

One store (and its connection pool), one artifact store and one key folder serve every
request; each request runs as the user its bearer token belongs to (`govml.server.auth`),
through the same services as the CLI and the SDK.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace

import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.responses import JSONResponse

import govml
from govml.errors import StoreError
from govml.server import errors
from govml.server.limits import DEFAULT_MAX_UPLOAD_BYTES, BodyLimit
from govml.server.routes import (
    audit,
    documents,
    evaluations,
    lifecycle,
    monitoring,
    people,
    policies,
    registry,
)
from govml.server.schemas import Health
from govml.services.context import ServiceContext
from govml.settings import Settings, load_settings
from govml.wire import API_PREFIX

SERVER_ACTOR = "govml-server"
DESCRIPTION = """The govml registry, policies, evaluations, lifecycle, people and ledger.

Every endpoint but `GET /health` needs `Authorization: Bearer TOKEN` (a token from
`govml users add` or `govml users token`). What a user may do is decided by their roles, in
the same service layer as the CLI and the SDK. Errors answer
`{"error": {"type", "message", "hint", ...}}`.
"""


def create_app(settings: Settings, *, max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES) -> FastAPI:
    """Build the REST API for the store ``settings`` point to.

    Parameters
    ----------
    settings
        Where the store, the artifacts and the ledger key are (``GOVML_HOME``,
        ``GOVML_DATABASE_URL``, ``GOVML_ARTIFACTS``).
    max_upload_bytes
        Largest request body accepted; larger ones are answered with 413.

    Returns
    -------
    FastAPI
        The application; its connections are released when it shuts down.
    """
    shared = replace(ServiceContext.from_settings(settings), actor=SERVER_ACTOR, local=False)

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
    errors.install(app)
    app.add_middleware(BodyLimit, max_bytes=max_upload_bytes)
    for module in (
        registry,
        policies,
        evaluations,
        audit,
        lifecycle,
        people,
        documents,
        monitoring,
    ):
        app.include_router(module.router, prefix=API_PREFIX)

    @app.get("/health", response_model=Health, tags=["health"])
    def health() -> JSONResponse:
        """Say whether the server can reach its store (no token needed)."""
        try:
            with shared.store.read() as conn:
                conn.execute(sa.text("SELECT 1"))
        except sa.exc.SQLAlchemyError:
            error = StoreError("the server cannot reach its database")
            return errors.error_response(error)
        return JSONResponse({"status": "ok", "version": govml.__version__})

    return app


def app_from_environment() -> FastAPI:
    """Build the application from ``GOVML_*`` environment variables (uvicorn's factory)."""
    return create_app(load_settings())
