"""Sign-on through an OpenID Connect provider (when ``GOVML_OIDC_ISSUER`` is set).

``GET /sign-in/oidc`` starts: a fresh state, nonce and PKCE verifier go into a cookie sealed
with an HMAC (keyed from the client secret, so every replica of the server can open it), which
lives 10 minutes, is ``HttpOnly`` and ``SameSite=Lax`` (the provider's redirect back is a
cross-site navigation, which a Strict cookie would not follow); the browser goes to the
provider. ``GET /sign-in/oidc/callback`` comes back: the state must be the cookie's, the code
is exchanged and the id_token verified (`govml.server.oidc`), the person matched or added with
the roles the role map gives them (`govml.services.sign_on`, ledgered), and a session opened as
for a token (signing out revokes that token: it served the session only). The session cookie
is Strict, so the last step is a page of this site that moves on by itself (a meta refresh, no
script): a redirect from the callback would still count as the provider's cross-site
navigation and the browser would not send the new cookie.

A failed sign-on writes nothing, is logged (``govml.ui``, never a code or a token) and counts
against the client's address like a failed token sign-in.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import time
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from govml.errors import GovmlError, NotFoundError
from govml.services.sign_on import sign_on
from govml.ui.problems import status_of
from govml.ui.render import page
from govml.ui.session import cookie_name
from govml.ui.signin import SignInLimiter, safe_next, sign_in_form_page
from govml.ui.viewer import is_secure, sessions, shared_context

if TYPE_CHECKING:  # govml.server mounts this application: its modules are imported late
    from govml.server.oidc import OIDCClient, SignOnConfig

log = logging.getLogger("govml.ui")
router = APIRouter()

CALLBACK_PATH = "/sign-in/oidc/callback"
STATE_COOKIE = "govml_sign_on"
SECURE_STATE_COOKIE = "__Host-govml_sign_on"
PENDING_S = 600
ERR_NOT_HERE = (
    "This sign-on did not start on this site, or took longer than 10 minutes. Start again."
)
ERR_REFUSED = "The sign-on provider did not sign you in: {reason}"


def sign_on_client(request: Request) -> OIDCClient | None:
    """Return the sign-on client of the UI (None when sign-on is off)."""
    found: OIDCClient | None = getattr(request.app.state, "govml_sign_on", None)
    return found


def _required(request: Request) -> OIDCClient:
    client = sign_on_client(request)
    if client is None:
        raise NotFoundError("sign-on is not configured on this server (GOVML_OIDC_ISSUER)")
    return client


def _cookie(secure: bool) -> str:
    return SECURE_STATE_COOKIE if secure else STATE_COOKIE


def _mac(config: SignOnConfig, body: str) -> str:
    key = hmac.new(config.client_secret.encode(), b"govml sign-on state", hashlib.sha256)
    return hmac.new(key.digest(), body.encode(), hashlib.sha256).hexdigest()


def seal(config: SignOnConfig, data: dict[str, Any]) -> str:
    """Return ``data`` as a cookie value an HMAC protects."""
    body = base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")
    return f"{body}.{_mac(config, body)}"


def unseal(config: SignOnConfig, value: str | None) -> dict[str, Any] | None:
    """Return what `seal` sealed, None when it was changed, is another's, or has expired."""
    if not value or "." not in value:
        return None
    body, mac = value.rsplit(".", 1)
    if not hmac.compare_digest(mac, _mac(config, body)):
        return None
    try:
        data = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    except ValueError:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("exp"), int | float):
        return None
    return data if data["exp"] > time.time() else None


def redirect_uri(request: Request, config: SignOnConfig) -> str:
    """Return the callback URL the provider sends the browser back to."""
    if config.redirect_url:
        return config.redirect_url
    scheme = "https" if is_secure(request) else request.url.scheme
    host = request.headers.get("host", request.url.netloc)
    return f"{scheme}://{host}{CALLBACK_PATH}"


@router.get("/sign-in/oidc")
async def start(request: Request, next: str = "") -> Response:
    """Send the browser to the provider, with this login's state in a sealed cookie."""
    client = _required(request)
    try:
        pending = await run_in_threadpool(client.start, redirect_uri(request, client.config))
    except GovmlError as error:
        log.warning("sign-on could not start: %s", error.message)
        return sign_in_form_page(
            request, next=next, error=error.message, hint=error.hint, status=502
        )
    sealed = seal(
        client.config,
        {
            "state": pending.state,
            "nonce": pending.nonce,
            "verifier": pending.verifier,
            "next": safe_next(next),
            "exp": int(time.time()) + PENDING_S,
        },
    )
    secure = is_secure(request)
    response = RedirectResponse(pending.url, status_code=303)
    response.set_cookie(
        _cookie(secure),
        sealed,
        max_age=PENDING_S,
        path="/",
        secure=secure,
        httponly=True,
        samesite="lax",
    )
    return response


@router.get(CALLBACK_PATH)
async def callback(
    request: Request,
    code: str = "",
    state: str = "",
    error: str = "",
    error_description: str = "",
) -> Response:
    """Finish the sign-on: check the state, verify the id_token, open a session."""
    client = _required(request)
    secure = is_secure(request)
    address = request.client.host if request.client else "unknown"
    limiter: SignInLimiter = request.app.state.govml_sign_in_limiter
    pending = unseal(client.config, request.cookies.get(_cookie(secure)))
    target = safe_next(pending.get("next") if pending else None)

    def refused(message: str, hint: str | None, status: int) -> Response:
        limiter.failed(address)
        log.warning("failed sign-on from %s: %s", address, message)
        answer = sign_in_form_page(request, next=target, error=message, hint=hint, status=status)
        answer.delete_cookie(_cookie(secure), path="/", secure=secure, httponly=True)
        return answer

    if limiter.wait_s(address) > 0:
        return refused("Too many failed sign-ins from this address: try again later.", None, 429)
    if error:
        reason = f"{error}: {error_description}" if error_description else error
        return refused(ERR_REFUSED.format(reason=reason[:300]), None, 401)
    if pending is None or not state or not hmac.compare_digest(state, str(pending["state"])):
        return refused(ERR_NOT_HERE, None, 400)
    from govml.server.oidc import PendingSignOn

    login = PendingSignOn(
        url="", state=state, nonce=str(pending["nonce"]), verifier=str(pending["verifier"])
    )
    try:
        person = await run_in_threadpool(
            lambda: client.identity(
                code=code, redirect_uri=redirect_uri(request, client.config), pending=login
            )
        )
        issued = await run_in_threadpool(
            lambda: sign_on(
                shared_context(request), person, username_claim=client.config.username_claim
            )
        )
        session_id, _session = await run_in_threadpool(sessions(request).sign_in, issued.token)
    except GovmlError as failure:
        return refused(failure.message, failure.hint, status_of(failure))
    await run_in_threadpool(sessions(request).discard, request.cookies.get(cookie_name(secure)))
    log.info("signed on: %s through %s", issued.user, client.config.issuer)
    response = page(
        request,
        "signed_on.html",
        {"title": "Signed in", "name": issued.user, "target": target},
        headers={"Cache-Control": "no-store"},
    )
    response.set_cookie(
        cookie_name(secure), session_id, path="/", secure=secure, httponly=True, samesite="strict"
    )
    response.delete_cookie(_cookie(secure), path="/", secure=secure, httponly=True)
    return response
