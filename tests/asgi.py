"""An ASGI application served in this process to synchronous httpx clients.

`httpx.ASGITransport` talks to an application without a server or a socket, but only from
an async client. `InProcess` runs the application's event loop in one thread (an anyio
portal) and hands each request of a synchronous client to `httpx.ASGITransport` on it,
with the application's lifespan entered on start and left on close, as uvicorn does.
What goes over the wire is the same: the request's method, URL, headers and body, the
response's status, headers and body. Each app keeps one smoke test through real uvicorn.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

import httpx
from anyio.from_thread import start_blocking_portal
from fastapi import FastAPI

BASE_URL = "http://testserver"


class InProcess(httpx.BaseTransport):
    """A synchronous httpx transport that calls ``app`` through `httpx.ASGITransport`."""

    def __init__(self, app: FastAPI) -> None:
        self._stack = ExitStack()
        self._portal = self._stack.enter_context(start_blocking_portal())
        self._stack.enter_context(
            self._portal.wrap_async_context_manager(app.router.lifespan_context(app))
        )
        # Exceptions the application raises after answering 500 stay in the application, as
        # they do behind uvicorn: the client sees the 500.
        self._asgi = httpx.ASGITransport(app=app, raise_app_exceptions=False)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        """Send ``request`` to the application and return its complete response."""
        body = request.read()

        async def call() -> tuple[int, httpx.Headers, bytes, dict[str, Any]]:
            forwarded = httpx.Request(
                request.method, request.url, headers=request.headers, content=body
            )
            response = await self._asgi.handle_async_request(forwarded)
            content = b"".join([chunk async for chunk in response.stream])  # type: ignore[union-attr]
            return response.status_code, response.headers, content, dict(response.extensions)

        status, headers, content, extensions = self._portal.call(call)
        return httpx.Response(
            status, headers=headers, content=content, extensions=extensions, request=request
        )

    def close(self) -> None:
        """Do nothing: clients share the transport, and closing one leaves the app running."""

    def stop(self) -> None:
        """Leave the application's lifespan and stop its event loop."""
        self._stack.close()


@contextmanager
def in_process(app: FastAPI) -> Iterator[InProcess]:
    """Yield a transport to ``app`` for the duration of the block."""
    transport = InProcess(app)
    try:
        yield transport
    finally:
        transport.stop()
