"""Cross-site request forgery: every POST of the UI is checked twice before it is acted on.

1. Where it came from: a browser sends ``Sec-Fetch-Site`` and ``Origin`` with a form post;
   when present they must say the post came from this site (``same-origin``, and the
   origin the request was addressed to). A client that sends neither (curl, an old browser)
   is judged by the token alone.
2. A synchronizer token: each session has a random CSRF secret, put in every form as the
   hidden field ``csrf_token`` (or sent by htmx as the ``X-CSRF-Token`` header) and compared
   in constant time. The sign-in form, before any session exists, uses a double-submit
   token: a random value both in a cookie and in the form.

``SameSite=Strict`` on the session cookie is a third layer, not a replacement: it depends on
the browser and says nothing of sibling sites on the same registrable domain.
"""

from __future__ import annotations

import hmac
import secrets

from starlette.requests import Request

from govml.errors import ForbiddenError

FIELD = "csrf_token"
HEADER = "x-csrf-token"
SIGN_IN_COOKIE = "govml_sign_in"
SECURE_SIGN_IN_COOKIE = "__Host-govml_sign_in"

ERR_CROSS_SITE = (
    "This form was sent from another site ({where}), so it was not acted on. Use the form on "
    "this site."
)
ERR_STALE_FORM = (
    "This form has expired or did not come from this site, so it was not acted on. Reload the "
    "page and send the form again."
)


class CsrfError(ForbiddenError):
    """A POST that did not come from this site's own form (HTTP 403, nothing changed)."""


def new_token() -> str:
    """Return a fresh random token (256 bits, URL-safe)."""
    return secrets.token_urlsafe(32)


def sign_in_cookie(secure: bool) -> str:
    """Return the name of the sign-in form's double-submit cookie."""
    return SECURE_SIGN_IN_COOKIE if secure else SIGN_IN_COOKIE


def expected_origin(request: Request, *, secure: bool) -> str:
    """Return the origin the request was addressed to (https when ``secure``)."""
    scheme = "https" if secure else request.url.scheme
    host = request.headers.get("host", request.url.netloc)
    return f"{scheme}://{host}".lower()


def check_origin(request: Request, *, secure: bool) -> None:
    """Refuse a request a browser says came from another site.

    Raises
    ------
    CsrfError
        When ``Sec-Fetch-Site`` is present and not ``same-origin``, or ``Origin`` is present
        and not this server's origin.
    """
    site = request.headers.get("sec-fetch-site")
    if site is not None and site != "same-origin":
        raise CsrfError(ERR_CROSS_SITE.format(where=f"Sec-Fetch-Site: {site}"))
    origin = request.headers.get("origin")
    if origin is not None and origin.lower() != expected_origin(request, secure=secure):
        raise CsrfError(ERR_CROSS_SITE.format(where=f"Origin: {origin}"))


def check_token(given: str | None, expected: str | None) -> None:
    """Refuse unless ``given`` equals the ``expected`` secret (constant-time comparison).

    Raises
    ------
    CsrfError
        When either is missing or they differ.
    """
    if not given or not expected or not hmac.compare_digest(given.encode(), expected.encode()):
        raise CsrfError(ERR_STALE_FORM)
