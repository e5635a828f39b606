"""An ASGI application (the REST API, the gateway) served in this process to httpx clients.

`httpx.ASGITransport` talks to an application without a server or a socket, but only from
an async client. `InProcess` runs the application's event loop in one thread (an anyio
portal) and hands each request of a synchronous client to `httpx.ASGITransport` on it,
with the application's lifespan entered on start and left on close, as uvicorn does.
What goes over the wire is the same: the request's method, URL, headers and body, the
response's status, headers and body. Each app keeps one smoke test through real uvicorn.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import ExitStack, asynccontextmanager, contextmanager
from typing import Any

import anyio
import httpx
from anyio.from_thread import start_blocking_portal

BASE_URL = "http://testserver"


ASGIApp = Callable[..., Awaitable[None]]


@asynccontextmanager
async def _lifespan(app: ASGIApp) -> AsyncIterator[None]:
    """Run the ASGI lifespan protocol: startup before the block, shutdown after it."""
    to_app, app_receives = anyio.create_memory_object_stream[dict[str, Any]](2)
    app_sends, from_app = anyio.create_memory_object_stream[dict[str, Any]](2)
    scope = {"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}
    async with anyio.create_task_group() as tasks:
        tasks.start_soon(app, scope, app_receives.receive, app_sends.send)
        await to_app.send({"type": "lifespan.startup"})
        started = await from_app.receive()
        if started["type"] != "lifespan.startup.complete":
            raise RuntimeError(f"the application did not start: {started.get('message')}")
        try:
            yield
        finally:
            await to_app.send({"type": "lifespan.shutdown"})
            await from_app.receive()


class InProcess(httpx.BaseTransport):
    """A synchronous httpx transport that calls ``app`` through `httpx.ASGITransport`."""

    def __init__(self, app: ASGIApp) -> None:
        self._stack = ExitStack()
        self._portal = self._stack.enter_context(start_blocking_portal())
        self._stack.enter_context(self._portal.wrap_async_context_manager(_lifespan(app)))
        # Exceptions the application raises after answering 500 stay in the application, as
        # they do behind uvicorn: the client sees the 500.
        self._asgi = httpx.ASGITransport(app=app, raise_app_exceptions=False)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        """Send ``request`` to the application and return its complete response."""
        body = request.read()

        async def chunks() -> AsyncIterator[bytes]:
            yield body

        async def call() -> tuple[int, httpx.Headers, bytes, dict[str, Any]]:
            # The body as a stream keeps the request's own headers: a Content-Length when it
            # had one, chunked transfer when it had none.
            forwarded = httpx.Request(
                request.method, request.url, headers=request.headers, content=chunks()
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
def in_process(app: ASGIApp) -> Iterator[InProcess]:
    """Yield a transport to ``app`` for the duration of the block."""
    transport = InProcess(app)
    try:
        yield transport
    finally:
        transport.stop()
