"""govml errors as HTTP responses (the mapping is `govml.wire.status_for`).

Every error answers ``{"error": {"type", "message", "hint", ...}}``. A request the API cannot
parse (a malformed JSON body, a missing field) is a 422 ``ValidationError`` naming each
field; an unexpected exception is a 500 whose body says nothing about it (the traceback goes
to the server's log).
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from govml.errors import (
    AuthenticationError,
    GovmlError,
    InputError,
    NotFoundError,
    ValidationError,
)
from govml.wire import API_PREFIX, INTERNAL_ERROR, error_body, status_for

log = logging.getLogger("govml.server")

BEARER_CHALLENGE = {"WWW-Authenticate": "Bearer"}
ERR_INTERNAL = "internal server error: the server's log has the details"


def install(app: FastAPI) -> None:
    """Register the handlers that turn exceptions into error responses."""
    app.add_exception_handler(GovmlError, _govml_error)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, _request_invalid)  # type: ignore[arg-type]
    app.add_exception_handler(HTTPException, _http_error)  # type: ignore[arg-type]
    app.add_exception_handler(Exception, _unexpected)


def error_response(error: GovmlError) -> JSONResponse:
    """Return the response that carries ``error``."""
    headers = BEARER_CHALLENGE if isinstance(error, AuthenticationError) else None
    return JSONResponse(error_body(error), status_code=status_for(error), headers=headers)


async def _govml_error(_request: Request, error: GovmlError) -> JSONResponse:
    return error_response(error)


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


async def _unexpected(request: Request, error: Exception) -> JSONResponse:
    log.error("unexpected error on %s %s", request.method, request.url.path, exc_info=error)
    body = {"error": {"type": INTERNAL_ERROR, "message": ERR_INTERNAL, "hint": None}}
    return JSONResponse(body, status_code=500)
