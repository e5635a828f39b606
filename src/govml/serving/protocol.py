"""Uvicorn's HTTP protocol with limits on how long and how large a request's headers may be.

Uvicorn closes a keep-alive connection that stays idle (``timeout_keep_alive``), but a client
that sends a request's headers a byte at a time (slowloris), or sends header lines without end,
holds its connection (and, for the second, ever more memory) for as long as it likes: the
application sees a request only once its headers are complete. `GatewayProtocol` arms a timer
whenever the connection waits for a request's headers (when it opens, and after each answer)
and answers 408 and closes it when they have not arrived whole within ``header_timeout_seconds``;
headers larger than ``max_header_bytes`` are answered 431 and the connection closed. The body's
own deadline is the gateway's (``body_timeout_seconds``, :func:`govml.serving.http.read_body`).

The limits come from the ``GOVML_SERVE_*`` environment that ``govml serve`` sets for its
worker processes (:class:`govml.serving.options.GatewayOptions`).
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

import orjson
from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import ServerState

from govml.serving.options import ENV_PREFIX, HEADER_TIMEOUT_SECONDS, MAX_HEADER_BYTES

ERR_HEADER_TIMEOUT = "the request headers did not arrive within {seconds:g} s"
ERR_HEADER_SIZE = "the request headers are larger than {limit} bytes"


def _setting(name: str, default: float) -> float:
    try:
        return float(os.environ.get(f"{ENV_PREFIX}{name}", default))
    except ValueError:
        return default


def _response(status: int, reason: str, message: str) -> bytes:
    body = orjson.dumps({"errors": [{"message": message}]})
    head = (
        f"HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\n"
        f"connection: close\r\ncontent-length: {len(body)}\r\n\r\n"
    )
    return head.encode("latin-1") + body


class GatewayProtocol(HttpToolsProtocol):
    """`HttpToolsProtocol` with a deadline and a size limit on each request's headers."""

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self.header_timeout = _setting("HEADER_TIMEOUT_SECONDS", HEADER_TIMEOUT_SECONDS)
        self.max_header_bytes = int(_setting("MAX_HEADER_BYTES", MAX_HEADER_BYTES))
        self._awaiting = False
        self._header_bytes = 0
        self._header_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        """Start waiting for the first request's headers."""
        super().connection_made(transport)
        self._await_headers()

    def connection_lost(self, exc: Exception | None) -> None:
        """Drop the header timer with the connection."""
        self._stop_waiting()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        """Count the bytes of headers still incomplete after ``data``; refuse too many."""
        if self._awaiting:
            self._header_bytes += len(data)
        super().data_received(data)
        if self._awaiting and self._header_bytes > self.max_header_bytes:
            message = ERR_HEADER_SIZE.format(limit=self.max_header_bytes)
            self._refuse(431, "Request Header Fields Too Large", message)

    def on_headers_complete(self) -> None:
        """Stop the header deadline: the request goes to the application."""
        self._stop_waiting()
        super().on_headers_complete()

    def on_response_complete(self) -> None:
        """After an answer, wait for the next request's headers (unless one is queued)."""
        queued = bool(self.pipeline)
        super().on_response_complete()
        if not queued and not self.transport.is_closing():
            self._await_headers()

    def _await_headers(self) -> None:
        self._stop_waiting()
        self._awaiting = True
        self._header_bytes = 0
        self._header_timer = self.loop.call_later(self.header_timeout, self._headers_late)

    def _stop_waiting(self) -> None:
        self._awaiting = False
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _headers_late(self) -> None:
        self._header_timer = None
        if self._awaiting:
            message = ERR_HEADER_TIMEOUT.format(seconds=self.header_timeout)
            self._refuse(408, "Request Timeout", message)

    def _refuse(self, status: int, reason: str, message: str) -> None:
        self._stop_waiting()
        if not self.transport.is_closing():
            self.transport.write(_response(status, reason, message))
            self.transport.close()
