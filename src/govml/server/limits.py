"""How much a request may make the server read and decode (HTTP 413 past it).

Three limits, each a ``GOVML_SERVER_*`` setting:

- the body: a request that announces a larger ``Content-Length`` is answered at once, before its
  body is read; a body sent without a length (chunked) is counted as it arrives and refused as
  soon as it passes the limit, so no upload can fill the server's memory or disk. Only uploads
  (``multipart/form-data``, spooled to disk) may be large; any other body is read into memory
  and most are parsed as JSON, which costs many times their size, so they have a lower limit;
- an uploaded table: its rows and its decoded size, checked from the Parquet footer and the
  dictionaries before any column is expanded (`govml.server.uploads.read_parquet`), so a small
  compressed file cannot decode into gigabytes.
"""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict
from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from govml.errors import InputError
from govml.wire import error_body

DEFAULT_MAX_UPLOAD_BYTES = 1 << 30  # 1 GiB: model artifacts can be large
DEFAULT_MAX_JSON_BYTES = 32 << 20
DEFAULT_MAX_TABLE_ROWS = 20_000_000
DEFAULT_MAX_TABLE_BYTES = 2 << 30


class ServerLimits(BaseSettings):
    """Size limits of the REST API (``GOVML_SERVER_MAX_UPLOAD_BYTES`` and so on)."""

    model_config = SettingsConfigDict(env_prefix="GOVML_SERVER_", extra="ignore")

    max_upload_bytes: int = Field(
        default=DEFAULT_MAX_UPLOAD_BYTES, ge=1, description="Largest request body (uploads)."
    )
    max_json_bytes: int = Field(
        default=DEFAULT_MAX_JSON_BYTES, ge=1, description="Largest JSON request body."
    )
    max_table_rows: int = Field(
        default=DEFAULT_MAX_TABLE_ROWS, ge=1, description="Most rows of an uploaded table."
    )
    max_table_bytes: int = Field(
        default=DEFAULT_MAX_TABLE_BYTES,
        ge=1,
        description="Largest decoded size of an uploaded table (all its columns in memory).",
    )


def too_large_message(limit: int) -> str:
    """Return the message of a 413 response."""
    return f"request body too large: this server accepts at most {size_text(limit)}"


def size_text(limit: int) -> str:
    """Return a size for people: ``1.5 GiB``, ``32 MiB``, ``256 KiB`` or ``512 bytes``."""
    for unit, shift in (("GiB", 30), ("MiB", 20), ("KiB", 10)):
        if limit >= 1 << shift:
            return f"{limit / (1 << shift):.4g} {unit}"
    return f"{limit} bytes"


class BodyLimit:
    """ASGI middleware refusing request bodies over their limit with 413.

    Uploads (``multipart/form-data``) may be at most ``max_bytes``, any other body (JSON, or
    anything a client sends instead) ``max_json_bytes``.
    """

    def __init__(self, app: ASGIApp, *, max_bytes: int, max_json_bytes: int | None = None) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.max_json_bytes = (
            max_bytes if max_json_bytes is None else min(max_json_bytes, max_bytes)
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Check the announced length, then count the body as the application reads it."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.max_bytes if _is_upload(scope) else self.max_json_bytes
        announced = _content_length(scope)
        if announced is not None and announced > limit:
            await _refuse(limit)(scope, receive, send)
            return
        received = 0

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    # FastAPI lets an HTTPException raised while reading the body through to
                    # the application's handler, which answers 413 in the API's error shape.
                    raise HTTPException(413, too_large_message(limit))
            return message

        await self.app(scope, counted, send)


def _refuse(limit: int) -> JSONResponse:
    body = error_body(InputError(too_large_message(limit)))
    return JSONResponse(body, status_code=413, headers={"Connection": "close"})


def _header(scope: Scope, wanted: bytes) -> bytes | None:
    for name, value in scope.get("headers", []):
        if name == wanted:
            return bytes(value)
    return None


def _is_upload(scope: Scope) -> bool:
    content_type = _header(scope, b"content-type") or b""
    return content_type.split(b";", 1)[0].strip().lower() == b"multipart/form-data"


def _content_length(scope: Scope) -> int | None:
    value = _header(scope, b"content-length")
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        return None
