"""The web UI application: `create_ui` builds it; `govml server` mounts it at ``/``.

A FastAPI application of its own (no OpenAPI document), so that its error pages, security
headers and session handling stay apart from the REST API's JSON errors and bearer tokens.
Every page module contributes a router; static files (our CSS and the vendored htmx) are
package data served from ``/static``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.staticfiles import StaticFiles

from govml.errors import GovmlError, InputError, NotFoundError
from govml.services.context import ServiceContext
from govml.ui import (
    audit,
    decisions,
    documents,
    evaluations,
    inventory,
    lineage,
    model_page,
    monitoring,
    people,
    policies,
    queue,
    sign_on,
    signin,
)
from govml.ui.headers import SecurityHeaders
from govml.ui.limits import BodyLimit
from govml.ui.problems import problem, redactor_of
from govml.ui.render import json_response, page, wants_json
from govml.ui.settings import UISettings, load_ui_settings
from govml.ui.signin import SignInLimiter
from govml.ui.viewer import SignInRequired
from govml.wire import API_PREFIX, error_body, status_for

if TYPE_CHECKING:
    from govml.server.oidc import OIDCClient
    from govml.server.redact import Redactor

log = logging.getLogger("govml.ui")
STATIC = Path(__file__).parent / "static"


def create_ui(
    context: ServiceContext,
    *,
    settings: UISettings | None = None,
    redactor: Redactor | None = None,
) -> FastAPI:
    """Build the UI for the store of ``context`` (the server's shared context).

    Parameters
    ----------
    context
        The server's shared service context; each page acts through a copy of it whose actor
        is the signed-in person.
    settings
        Session lifetimes, the TLS proxy and the sign-in limit (default: ``GOVML_UI_*``).
        OpenID Connect sign-on is read from ``GOVML_OIDC_*`` (`govml.server.oidc`).
    redactor
        Replaces the server's folders in error messages shown on pages.
    """
    from govml.server.redact import Redactor  # govml.server mounts this application

    settings = settings or load_ui_settings()
    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)
    app.state.govml_context = context
    app.state.govml_ui_settings = settings
    app.state.govml_redactor = redactor or Redactor({})
    app.state.govml_sign_in_limiter = SignInLimiter(settings.sign_in_attempts)
    app.state.govml_sign_on = _sign_on_client()
    app.add_middleware(BodyLimit)
    app.add_middleware(SecurityHeaders)  # added last, so outermost: on every answer, 413 too
    app.add_exception_handler(SignInRequired, _sign_in_required)  # type: ignore[arg-type]
    app.add_exception_handler(GovmlError, _govml_error)  # type: ignore[arg-type]
    app.add_exception_handler(HTTPException, _http_error)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, _invalid_request)  # type: ignore[arg-type]
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    for module in (
        signin,
        sign_on,
        inventory,
        model_page,
        lineage,
        evaluations,
        monitoring,
        documents,
        queue,
        decisions,
        audit,
        policies,
        people,
    ):
        app.include_router(module.router)
    return app


def _sign_on_client() -> OIDCClient | None:
    """Return the OpenID Connect client of ``GOVML_OIDC_*`` (None: sign-on is off)."""
    from govml.server.oidc import OIDCClient, load_sign_on

    config = load_sign_on()
    return None if config is None else OIDCClient(config)


def error_page(
    request: Request, error: GovmlError, *, title: str | None = None, status: int | None = None
) -> Response:
    """Answer ``error`` as the error page (or as the API's JSON error body when asked)."""
    code = status or status_for(error)
    if wants_json(request) or request.url.path.startswith(API_PREFIX):
        return json_response(redactor_of(request).body(error_body(error)), status=code)
    return page(
        request,
        "error.html",
        {
            "title": title or _TITLES.get(code, "Something went wrong"),
            "problem": problem(request, error),
        },
        status=code,
    )


_TITLES: Mapping[int, str] = {
    400: "The request cannot be used",
    401: "Sign-in needed",
    403: "You may not do this",
    404: "Not found",
    409: "This cannot be done now",
    413: "Too large",
    422: "The request cannot be used",
    429: "Too many attempts",
    503: "The store cannot be reached",
}


async def _sign_in_required(request: Request, error: SignInRequired) -> Response:
    if wants_json(request):
        return JSONResponse(
            {"error": {"type": "AuthenticationError", "message": "sign in first", "hint": None}},
            status_code=401,
        )
    target = "/sign-in"
    params = []
    if request.method == "GET":
        here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        params.append(f"next={quote(here, safe='')}")
    if error.code:
        params.append(f"ended={quote(error.code, safe='')}")
    if params:
        target += "?" + "&".join(params)
    return RedirectResponse(target, status_code=303)


async def _govml_error(request: Request, error: GovmlError) -> Response:
    return error_page(request, error)


async def _http_error(request: Request, error: HTTPException) -> Response:
    where = f"{request.method} {request.url.path}"
    if error.status_code == 404:
        if request.url.path.startswith(API_PREFIX):  # the API's own answer to an unknown path
            cause = NotFoundError(f"no such endpoint: {where}", hint=f"see {API_PREFIX}/docs")
            return error_page(request, cause)
        return error_page(request, NotFoundError(f"no such page: {where}"))
    if error.status_code == 405:
        return error_page(request, InputError(f"method not allowed: {where}"), status=405)
    detail = error.detail if isinstance(error.detail, str) else "request refused"
    return error_page(request, InputError(detail), status=error.status_code)


async def _invalid_request(request: Request, error: RequestValidationError) -> Response:
    problems = []
    for item in error.errors():
        where = ".".join(str(part) for part in item.get("loc", ()) if part not in ("query", "path"))
        problems.append(f"{where}: {item.get('msg', 'invalid')}")
    return error_page(
        request, InputError("the request cannot be used: " + "; ".join(problems)), status=400
    )
