"""Sign-in with a govml token, sign-out, and the limit on failed sign-ins.

``GET /sign-in`` shows the form with a double-submit CSRF token; ``POST /sign-in`` checks the
origin, the token pair and the failure limit, then exchanges the govml token for a session
(`govml.ui.session`) and redirects to the page asked for (a path on this site only).
Signing in ends the session the browser held before, if any. ``POST /sign-out`` deletes the
session (and revokes a sign-on session's token). A failed sign-in is logged (``govml.ui``,
without the token) and counted against the client's address; nothing is written to the store.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque

from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from govml.errors import AuthenticationError, GovmlError
from govml.ui import csrf
from govml.ui.render import page
from govml.ui.session import cookie_name
from govml.ui.viewer import SignInRequired, checked_form, form_text, is_secure, sessions, signed_in

log = logging.getLogger("govml.ui")
router = APIRouter()

WINDOW_S = 300.0
HOME = "/models"
ERR_EMPTY = "Enter your token"
ERR_LIMIT = (
    "Too many failed sign-ins from this address: try again in {minutes} minute(s). Each "
    "failure is in the server's log."
)


class SignInLimiter:
    """Failed sign-ins per client address in a sliding window of `WINDOW_S` seconds."""

    def __init__(self, attempts: int) -> None:
        self.attempts = attempts
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def wait_s(self, client: str) -> float:
        """Return how many seconds ``client`` must wait before trying again (0: it may)."""
        now = time.monotonic()
        with self._lock:
            failures = self._recent(client, now)
            if len(failures) < self.attempts:
                return 0.0
            return WINDOW_S - (now - failures[0])

    def failed(self, client: str) -> None:
        """Count one failed sign-in of ``client``."""
        now = time.monotonic()
        with self._lock:
            self._recent(client, now).append(now)
            if len(self._failures) > 10_000:  # forget quiet clients, keep memory bounded
                for key in [k for k, v in self._failures.items() if not v]:
                    del self._failures[key]

    def _recent(self, client: str, now: float) -> deque[float]:
        failures = self._failures.setdefault(client, deque())
        while failures and now - failures[0] > WINDOW_S:
            failures.popleft()
        return failures


def safe_next(target: str | None) -> str:
    r"""Return ``target`` if it is a path on this site, else the home page.

    Only ``/path`` is kept: ``//host``, ``/\\host``, a scheme or a backslash anywhere could
    send the person to another site after signing in.
    """
    if (
        not target
        or not target.startswith("/")
        or target.startswith("//")
        or "\\" in target
        or any(ord(c) < 0x20 for c in target)
    ):
        return HOME
    return target


@router.get("/", include_in_schema=False)
def home() -> Response:
    """Send the root to the inventory (which asks for sign-in first when needed)."""
    return RedirectResponse(HOME, status_code=303)


@router.get("/sign-in")
def sign_in_form(request: Request, next: str = "", ended: str = "") -> Response:
    """Show the sign-in form (or go on when already signed in)."""
    try:
        signed_in(request)
        return RedirectResponse(safe_next(next), status_code=303)
    except SignInRequired:
        pass
    notice = sessions(request).ended_message(ended) if ended else None
    return sign_in_form_page(request, next=next, notice=notice)


def sign_in_form_page(
    request: Request,
    *,
    next: str,
    notice: str | None = None,
    error: str | None = None,
    hint: str | None = None,
    status: int = 200,
) -> Response:
    """Show the sign-in form (with an error, a notice, the sign-on button when configured)."""
    token = csrf.new_token()
    sign_on = getattr(request.app.state, "govml_sign_on", None)
    response = page(
        request,
        "sign_in.html",
        {
            "title": "Sign in",
            "next": safe_next(next) if next else "",
            "notice": notice,
            "error": error,
            "hint": hint,
            "form_token": token,
            "sign_on_name": None if sign_on is None else sign_on.config.provider_name,
        },
        status=status,
    )
    secure = is_secure(request)
    response.set_cookie(
        csrf.sign_in_cookie(secure),
        token,
        max_age=1800,
        path="/",
        secure=secure,
        httponly=True,
        samesite="strict",
    )
    return response


@router.post("/sign-in")
async def sign_in(request: Request) -> Response:
    """Exchange a govml token for a session; on failure, show the form with the reason."""
    secure = is_secure(request)
    csrf.check_origin(request, secure=secure)
    form = await request.form()
    csrf.check_token(form_text(form, csrf.FIELD), request.cookies.get(csrf.sign_in_cookie(secure)))
    target = form_text(form, "next")
    client = request.client.host if request.client else "unknown"
    limiter: SignInLimiter = request.app.state.govml_sign_in_limiter
    wait = limiter.wait_s(client)
    if wait > 0:
        log.warning("sign-in refused: %s is over the limit of failed sign-ins", client)
        minutes = max(1, round(wait / 60))
        return sign_in_form_page(
            request, next=target, error=ERR_LIMIT.format(minutes=minutes), status=429
        )
    token = form_text(form, "token").strip()
    if not token:
        return sign_in_form_page(request, next=target, error=ERR_EMPTY, status=400)
    try:
        session_id, session = await run_in_threadpool(sessions(request).sign_in, token)
    except AuthenticationError as error:
        limiter.failed(client)
        log.warning("failed sign-in from %s: %s", client, error.message)
        return sign_in_form_page(
            request, next=target, error=error.message, hint=error.hint, status=401
        )
    except GovmlError as error:
        return sign_in_form_page(
            request, next=target, error=error.message, hint=error.hint, status=400
        )
    await run_in_threadpool(sessions(request).discard, request.cookies.get(cookie_name(secure)))
    response = RedirectResponse(safe_next(target), status_code=303)
    response.set_cookie(
        cookie_name(secure),
        session_id,
        path="/",
        secure=secure,
        httponly=True,
        samesite="strict",
    )
    response.delete_cookie(csrf.sign_in_cookie(secure), path="/", secure=secure, httponly=True)
    log.debug("session opened for %s", session.user.name)
    return response


@router.post("/sign-out")
async def sign_out(request: Request) -> Response:
    """Delete the session and its cookie."""
    viewer, _form_data = await checked_form(request)
    await run_in_threadpool(sessions(request).sign_out, viewer.session)
    secure = is_secure(request)
    response = RedirectResponse("/sign-in?ended=signed-out", status_code=303)
    response.delete_cookie(
        cookie_name(secure), path="/", secure=secure, httponly=True, samesite="strict"
    )
    return response
