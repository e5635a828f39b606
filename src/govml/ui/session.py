"""Sessions of the web UI: a govml token exchanged for a server-side session.

A person signs in with a bearer token (`AccessService.authenticate` checks it, as for the
REST API). The server then keeps a session row: the SHA-256 of a fresh 256-bit session id,
the user, the token signed in with, a CSRF secret, and its times. The browser holds only the
session id, in a cookie that is ``HttpOnly``, ``SameSite=Strict``, and ``Secure`` with the
``__Host-`` prefix when the request came over TLS (or `UISettings.tls_proxy` says a TLS proxy
is in front: a setting, never a header a client could send).

A session ends when it is signed out (a session opened by sign-on also revokes the token
sign-on issued for it), at its absolute expiry (`UISettings.session_hours`,
never later than its token's), after `UISettings.session_idle_minutes` without a request, or at
the first request after its token is revoked or expires or its user is disabled.

Signing in and out are not ledger entries: the ledger records governance decisions, and every
action taken through the UI is recorded there by the service that performs it, under the
signed-in person's name. Sign-ins and sign-outs go to the server's log (``govml.ui``); a failed
sign-in writes nothing to the store.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from sqlalchemy.engine import Connection

from govml.domain.lifecycle import User
from govml.errors import AuthenticationError
from govml.services.access import AccessService
from govml.services.context import ServiceContext
from govml.store import session_records
from govml.store.access_records import load_token, load_user
from govml.ui.settings import UISettings

log = logging.getLogger("govml.ui")

COOKIE = "govml_session"
SECURE_COOKIE = "__Host-govml_session"
TOUCH_EVERY = timedelta(seconds=60)
"""How stale ``last_seen_at`` may get before a request writes it (idle timeouts are this coarse)."""

ENDED = {
    "expired": "Your session ended: sessions last {hours} hours. Sign in again.",
    "idle": "You were signed out after {minutes} minutes without activity. Sign in again.",
    "revoked": "Your session ended: the token you signed in with was revoked.",
    "token-expired": "Your session ended: the token you signed in with expired.",
    "disabled": "Your session ended: your user was disabled.",
    "signed-out": "You have signed out.",
}
"""Why a session ended, by the code the sign-in page is sent (``/sign-in?ended=idle``)."""


def cookie_name(secure: bool) -> str:
    """Return the session cookie's name: ``__Host-`` prefixed when it is ``Secure``."""
    return SECURE_COOKIE if secure else COOKIE


def session_hash(session_id: str) -> str:
    """Return the hex SHA-256 of a session id, the only form in which it is stored."""
    return hashlib.sha256(session_id.encode("utf-8")).hexdigest()


class SessionEnded(Exception):
    """A session cookie named a session that has ended; ``code`` (of `ENDED`) says why."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


@dataclass(frozen=True, kw_only=True)
class Session:
    """A live session: who is signed in, with which token, and the session's CSRF secret."""

    id_hash: str
    user: User
    token_id: str
    csrf_secret: str
    expires_at: datetime


class Sessions:
    """Open, resolve and close sessions in the store of ``ctx``."""

    def __init__(self, ctx: ServiceContext, settings: UISettings) -> None:
        self.ctx = ctx
        self.settings = settings

    @property
    def idle(self) -> timedelta:
        """How long a session may go without a request."""
        return timedelta(minutes=self.settings.session_idle_minutes)

    def sign_in(self, token: str) -> tuple[str, Session]:
        """Check ``token`` and open a session for its user; return the session id and session.

        Raises
        ------
        AuthenticationError
            When the token is malformed, unknown, revoked or expired, or its user disabled
            (nothing is written then).
        """
        token = token.strip()
        user = AccessService(self.ctx).authenticate(token)
        token_id = token.split("_", 2)[1]  # authenticate checked the form govml_<id>_<secret>
        session_id = secrets.token_urlsafe(32)
        csrf_secret = secrets.token_urlsafe(32)
        now = self.ctx.clock()
        with self.ctx.store.read() as conn:
            token_ends = _token_expiry(conn, self.ctx, user, token_id)
        expires = min(now + timedelta(hours=self.settings.session_hours), token_ends)
        with self.ctx.store.write() as conn:
            session_records.delete_expired(conn, now=now, idle_since=now - self.idle)
            session_records.insert_session(
                conn,
                id_hash=session_hash(session_id),
                user=user.name,
                token_id=token_id,
                csrf_secret=csrf_secret,
                now=now,
                expires_at=expires,
            )
        log.info("signed in: %s with token %s", user.name, token_id)
        session = Session(
            id_hash=session_hash(session_id),
            user=user,
            token_id=token_id,
            csrf_secret=csrf_secret,
            expires_at=expires,
        )
        return session_id, session

    def resolve(self, session_id: str) -> Session | None:
        """Return the live session ``session_id`` names, None when it names none.

        Raises
        ------
        SessionEnded
            When it named a session that has ended (which is deleted), saying why.
        """
        id_hash = session_hash(session_id)
        now = self.ctx.clock()
        with self.ctx.store.read() as conn:
            row = session_records.load_session(conn, id_hash)
            user = None if row is None else load_user(conn, row.user)
        if row is None or user is None:
            return None
        code = self._ended(row, now)
        if code is not None:
            with self.ctx.store.write() as conn:
                session_records.delete_session(conn, id_hash)
            log.info("session of %s ended: %s", row.user, code)
            raise SessionEnded(code)
        if now - row.last_seen_at >= TOUCH_EVERY:
            with self.ctx.store.write() as conn:
                session_records.touch_session(conn, id_hash, now)
        return Session(
            id_hash=id_hash,
            user=user,
            token_id=row.token_id,
            csrf_secret=row.csrf_secret,
            expires_at=row.expires_at,
        )

    def ended_message(self, code: str) -> str | None:
        """Return the sentence the sign-in page shows for an `ENDED` code (None if unknown)."""
        text = ENDED.get(code)
        if text is None:
            return None
        return text.format(
            hours=self.settings.session_hours, minutes=self.settings.session_idle_minutes
        )

    def sign_out(self, session: Session) -> None:
        """Delete the session; revoke its token too when sign-on issued it for the session."""
        from govml.services.sign_on import end_session_token  # loads sign-on only here

        with self.ctx.store.write() as conn:
            session_records.delete_session(conn, session.id_hash)
        acting = replace(self.ctx, actor=session.user.name, local=False)
        if end_session_token(acting, session.token_id):
            log.info("signed out: %s (token %s revoked)", session.user.name, session.token_id)
        else:
            log.info("signed out: %s", session.user.name)

    def discard(self, session_id: str | None) -> None:
        """Delete the session ``session_id`` names, if any (a browser signing in again).

        A new sign-in always opens a new session with a new id; the one the browser held
        before (another person's, or one an attacker planted) must not stay alive beside it.
        """
        if not session_id:
            return
        with self.ctx.store.write() as conn:
            session_records.delete_session(conn, session_hash(session_id))

    def _ended(self, row: session_records.SessionRow, now: datetime) -> str | None:
        if row.token_revoked_at is not None:
            return "revoked"
        if row.token_expires_at is not None and row.token_expires_at <= now:
            return "token-expired"
        if row.user_disabled_at is not None:
            return "disabled"
        if row.expires_at <= now:
            return "expired"
        if row.last_seen_at + self.idle <= now:
            return "idle"
        return None


def _token_expiry(conn: Connection, ctx: ServiceContext, user: User, token_id: str) -> datetime:
    """Return when the token ``token_id`` of ``user`` expires (old tokens: issue + the cap)."""
    row = load_token(conn, token_id)
    if row is None or row.user != user.name:
        raise AuthenticationError("invalid token: it is not a token of this server")
    if row.expires_at is not None:
        return row.expires_at
    return row.created_at + timedelta(days=ctx.token_max_days)
