"""The little of HTTP the gateway needs on top of ASGI: bodies, JSON answers, request ids."""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import orjson

from govml.serving.payload import FieldError, PayloadError

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
Headers = list[tuple[bytes, bytes]]

JSON = b"application/json"
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:\-]{1,128}")
_NUMERIC_KINDS = frozenset("biuf")


class BodyTooLarge(Exception):
    """The request body is (or says it is) larger than the limit."""


class Disconnected(Exception):
    """The client went away before its body was read."""


class BodyTimeout(Exception):
    """The client did not send its whole body in time (a slow or stalled client)."""


@dataclass
class Response:
    """An answer, sent by the gateway with its common headers."""

    status: int
    body: bytes
    content_type: bytes = JSON
    headers: Headers = field(default_factory=list)


def json_response(status: int, data: Any, headers: Headers | None = None) -> Response:
    """Return ``data`` as JSON (numpy arrays written directly)."""
    body = orjson.dumps(data, option=orjson.OPT_SERIALIZE_NUMPY)
    return Response(status, body, JSON, headers or [])


def error_response(
    status: int, request_id: str, errors: list[FieldError], headers: Headers | None = None
) -> Response:
    """Return ``{"errors": [...], "request_id": ...}``."""
    body = PayloadError(status, errors).to_dict()
    body["request_id"] = request_id
    return json_response(status, body, headers)


def jsonable(values: Any) -> Any:
    """Return a numpy array in a form orjson writes (contiguous, numeric), else a list."""
    if values.dtype.kind in _NUMERIC_KINDS:
        return np.ascontiguousarray(values)
    return values.tolist()


def request_id(scope: Scope) -> str:
    """Return the client's ``X-Request-ID`` when it is a valid one, else a new random id."""
    value = header(scope, b"x-request-id")
    if value is not None:
        text = value.decode("latin-1")
        if _REQUEST_ID.fullmatch(text):
            return text
    return uuid.uuid4().hex


def header(scope: Scope, wanted: bytes) -> bytes | None:
    """Return the first value of header ``wanted`` (lower case), or None."""
    for name, value in scope["headers"]:
        if name == wanted:
            return bytes(value)
    return None


def declared_length(scope: Scope) -> int | None:
    """Return the ``Content-Length`` the client announced, or None (absent or not a number)."""
    value = header(scope, b"content-length")
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        return None


async def read_body(scope: Scope, receive: Receive, limit: int, timeout: float) -> bytes:
    """Read the whole request body within ``timeout`` seconds, refusing more than ``limit`` bytes.

    Raises
    ------
    BodyTooLarge
        Before reading when ``Content-Length`` says so, else once the bytes read exceed it.
    BodyTimeout
        When the body has not arrived whole ``timeout`` seconds after the headers.
    Disconnected
        When the client disconnects first.
    """
    declared = declared_length(scope)
    if declared is not None and declared > limit:
        raise BodyTooLarge
    chunks: list[bytes] = []
    size = 0
    try:
        async with asyncio.timeout(timeout):
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    raise Disconnected
                chunk = message.get("body", b"")
                size += len(chunk)
                if size > limit:
                    raise BodyTooLarge
                chunks.append(chunk)
                if not message.get("more_body", False):
                    return chunks[0] if len(chunks) == 1 else b"".join(chunks)
    except TimeoutError:
        raise BodyTimeout from None
