"""govml errors as HTTP responses (the mapping is `govml.wire.status_for`).

Every error answers ``{"error": {"type", "message", "hint", ...}}``. A request the API cannot
parse (a malformed JSON body, a missing field) is a 422 ``ValidationError`` naming each
field; a value the database cannot store (PostgreSQL refuses NUL characters in text) is a 422
``InputError``; an unexpected exception is a 500 whose body says nothing about it (the
traceback goes to the server's log), and the connection stays usable. No body names a folder of
the server (`govml.server.redact`).
"""

from __future__ import annotations

import logging
from typing import Any

import sqlalchemy as sa
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from govml.errors import (
    AuthenticationError,
    GovmlError,
    InputError,
    NotFoundError,
    ValidationError,
)
from govml.server.redact import Redactor
from govml.wire import API_PREFIX, INTERNAL_ERROR, error_body, status_for

log = logging.getLogger("govml.server")

BEARER_CHALLENGE = {"WWW-Authenticate": "Bearer"}
ERR_INTERNAL = "internal server error: the server's log has the details"
ERR_NUL = "text must not contain NUL (0x00) characters"
ERR_NUMBER = "a number in the request is too large for the database"


def install(app: FastAPI) -> None:
    """Register the handlers that turn exceptions into error responses."""
    app.add_exception_handler(GovmlError, _govml_error)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, _request_invalid)  # type: ignore[arg-type]
    app.add_exception_handler(HTTPException, _http_error)  # type: ignore[arg-type]
    app.add_exception_handler(sa.exc.StatementError, _database_refused)  # type: ignore[arg-type]
    # SQLite's driver raises OverflowError itself for an integer past 64 bits.
    app.add_exception_handler(OverflowError, _too_large_number)  # type: ignore[arg-type]
    # Starlette's handler for Exception answers and then re-raises, which makes the server
    # drop the connection; this middleware answers and keeps it.
    app.add_middleware(CatchAll)


def error_response(error: GovmlError, redactor: Redactor | None = None) -> JSONResponse:
    """Return the response that carries ``error`` (its server paths redacted when given)."""
    headers = BEARER_CHALLENGE if isinstance(error, AuthenticationError) else None
    body = error_body(error)
    if redactor is not None:
        body = redactor.body(body)
    return JSONResponse(body, status_code=status_for(error), headers=headers)


def _redactor(request: Request) -> Redactor | None:
    found: Redactor | None = getattr(request.app.state, "govml_redactor", None)
    return found


async def _govml_error(request: Request, error: GovmlError) -> JSONResponse:
    return error_response(error, _redactor(request))


async def _request_invalid(_request: Request, error: RequestValidationError) -> JSONResponse:
    problems = [_problem(item) for item in error.errors()]
    message = "invalid request: " + "; ".join(problems[:3])
    if len(problems) > 3:
        message += f" (and {len(problems) - 3} more)"
    body = error_body(ValidationError(message))
    body["error"]["problems"] = problems
    return JSONResponse(body, status_code=422)


def _problem(item: Any) -> str:
    where = ".".join(str(part) for part in item.get("loc", ()))
    return f"{where}: {item.get('msg', 'invalid')}" if where else str(item.get("msg"))


async def _http_error(request: Request, error: HTTPException) -> JSONResponse:
    detail = error.detail if isinstance(error.detail, str) else "request refused"
    where = f"{request.method} {request.url.path}"
    cause: GovmlError
    if error.status_code == 404:
        cause = NotFoundError(f"no such endpoint: {where}", hint=f"see {API_PREFIX}/docs")
    elif error.status_code == 405:
        cause = InputError(f"method not allowed: {where}", hint=f"see {API_PREFIX}/docs")
    elif error.status_code == 401:
        cause = AuthenticationError(detail)
    else:
        cause = InputError(detail)
    return JSONResponse(error_body(cause), status_code=error.status_code, headers=error.headers)


async def _database_refused(request: Request, error: sa.exc.StatementError) -> JSONResponse:
    cause = error.orig
    if isinstance(cause, ValueError) and "NUL" in str(cause):
        return error_response(InputError(ERR_NUL))
    if isinstance(error, sa.exc.DataError):
        reason = str(cause).splitlines()[0] if cause is not None else "invalid value"
        return error_response(InputError(f"the database refused a value: {reason}"))

    _log(request.method, request.url.path, error)
    return _internal_error()


async def _too_large_number(_request: Request, _error: OverflowError) -> JSONResponse:
    return error_response(InputError(ERR_NUMBER))


def _internal_error() -> JSONResponse:
    body = {"error": {"type": INTERNAL_ERROR, "message": ERR_INTERNAL, "hint": None}}
    return JSONResponse(body, status_code=500)


def _log(method: str, path: str, error: BaseException) -> None:
    log.error("unexpected error on %s %s", method, path, exc_info=error)


class CatchAll:
    """ASGI middleware answering 500 (no details) for any exception no handler took."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Run the application; answer 500 if it raises before it started answering."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracked(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracked)
        except Exception as error:
            _log(scope.get("method", "?"), scope.get("path", "?"), error)
            if started:
                raise
            await _internal_error()(scope, receive, send)
