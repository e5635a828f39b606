"""A limit on the size of request bodies (HTTP 413 past it).

A request that announces a larger ``Content-Length`` is answered at once, before its body is
read; a body sent without a length (chunked) is counted as it arrives and refused as soon as
it passes the limit, so no upload can fill the server's memory or disk.
"""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from govml.errors import InputError
from govml.wire import error_body

DEFAULT_MAX_UPLOAD_BYTES = 1 << 30  # 1 GiB: model artifacts can be large


def too_large_message(limit: int) -> str:
    """Return the message of a 413 response."""
    return f"request body too large: this server accepts at most {_size(limit)}"


def _size(limit: int) -> str:
    if limit >= 1 << 20:
        return f"{limit / (1 << 20):g} MiB"
    return f"{limit} bytes"


class BodyLimit:
    """ASGI middleware refusing request bodies over ``max_bytes`` with 413."""

    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Check the announced length, then count the body as the application reads it."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        announced = _content_length(scope)
        if announced is not None and announced > self.max_bytes:
            await self._refuse(scope, receive, send)
            return
        received = 0

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    # FastAPI lets an HTTPException raised while reading the body through to
                    # the application's handler, which answers 413 in the API's error shape.
                    raise HTTPException(413, too_large_message(self.max_bytes))
            return message

        await self.app(scope, counted, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        body = error_body(InputError(too_large_message(self.max_bytes)))
        response = JSONResponse(body, status_code=413, headers={"Connection": "close"})
        await response(scope, receive, send)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None
