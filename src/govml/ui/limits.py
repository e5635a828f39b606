"""The largest request body the UI reads: its forms are small, so a larger body is refused.

Every form of the UI is text typed by a person (a comment, a reason, the fields of a model
card), so `MAX_BODY_BYTES` is far above any of them. A body declared larger
(``Content-Length``) is refused before it is read, with the "Too large" page (HTTP 413); a body
sent without a length (chunked) is counted as it is read and refused when it passes the limit.
Without this, anyone could make the server read a body of any size: the sign-in form is read
before anyone is signed in.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from govml.errors import TooLargeError

MAX_BODY_BYTES = 1 << 20
ERR_TOO_LARGE = (
    "the request's body is {size} bytes, more than the {limit} bytes a form of this site may send"
)
ERR_TOO_LARGE_STREAMED = (
    "the request's body passed the {limit} bytes a form of this site may send, so it was not read"
)


class BodyLimit:
    """ASGI middleware refusing request bodies over `MAX_BODY_BYTES` (HTTP 413)."""

    def __init__(self, app: ASGIApp, *, limit: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Refuse a body declared too large; count a body of unknown length as it comes."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.limit:
            from govml.ui.app import error_page  # the error page of the application

            error = TooLargeError(ERR_TOO_LARGE.format(size=declared, limit=self.limit))
            response = error_page(Request(scope), error)
            response.headers["connection"] = "close"
            await response(scope, receive, send)
            return
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise TooLargeError(ERR_TOO_LARGE_STREAMED.format(limit=self.limit))
            return message

        await self.app(scope, counted, send)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None
