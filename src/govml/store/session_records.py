"""SQL for web UI sessions: hashed session ids, their user, token, CSRF secret and times."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Row

from govml.store.schema import tokens, ui_sessions, users


@dataclass(frozen=True, kw_only=True)
class SessionRow:
    """One stored session with the state of its user and token (never the session id)."""

    id_hash: str
    user: str
    token_id: str
    csrf_secret: str
    created_at: datetime
    last_seen_at: datetime
    expires_at: datetime
    user_disabled_at: datetime | None
    token_expires_at: datetime | None
    token_revoked_at: datetime | None


def insert_session(
    conn: Connection,
    *,
    id_hash: str,
    user: str,
    token_id: str,
    csrf_secret: str,
    now: datetime,
    expires_at: datetime,
) -> None:
    """Store a new session of user ``user``, signed in with token ``token_id``."""
    user_id = conn.execute(sa.select(users.c.id).where(users.c.name == user)).scalar_one()
    conn.execute(
        sa.insert(ui_sessions).values(
            id_hash=id_hash,
            user_id=user_id,
            token_id=token_id,
            csrf_secret=csrf_secret,
            created_at=now,
            last_seen_at=now,
            expires_at=expires_at,
        )
    )


def _row(row: Row[Any]) -> SessionRow:
    return SessionRow(
        id_hash=row.id_hash,
        user=row.user_name,
        token_id=row.token_id,
        csrf_secret=row.csrf_secret,
        created_at=row.created_at,
        last_seen_at=row.last_seen_at,
        expires_at=row.expires_at,
        user_disabled_at=row.user_disabled_at,
        token_expires_at=row.token_expires_at,
        token_revoked_at=row.token_revoked_at,
    )


def load_session(conn: Connection, id_hash: str) -> SessionRow | None:
    """Return the session whose id hashes to ``id_hash``, with its user and token, or None."""
    query = (
        sa.select(
            ui_sessions,
            users.c.name.label("user_name"),
            users.c.disabled_at.label("user_disabled_at"),
            tokens.c.expires_at.label("token_expires_at"),
            tokens.c.revoked_at.label("token_revoked_at"),
        )
        .join(users, users.c.id == ui_sessions.c.user_id)
        .join(tokens, tokens.c.id == ui_sessions.c.token_id)
        .where(ui_sessions.c.id_hash == id_hash)
    )
    row = conn.execute(query).first()
    return None if row is None else _row(row)


def touch_session(conn: Connection, id_hash: str, now: datetime) -> None:
    """Record that the session was used at ``now``."""
    conn.execute(
        sa.update(ui_sessions).where(ui_sessions.c.id_hash == id_hash).values(last_seen_at=now)
    )


def delete_session(conn: Connection, id_hash: str) -> bool:
    """Delete one session; return True when it existed."""
    result = conn.execute(sa.delete(ui_sessions).where(ui_sessions.c.id_hash == id_hash))
    return bool(result.rowcount)


def delete_expired(conn: Connection, *, now: datetime, idle_since: datetime) -> int:
    """Delete the sessions past their expiry or unused since ``idle_since``; return how many."""
    result = conn.execute(
        sa.delete(ui_sessions).where(
            sa.or_(ui_sessions.c.expires_at <= now, ui_sessions.c.last_seen_at <= idle_since)
        )
    )
    return int(result.rowcount or 0)


def count_sessions(conn: Connection, user: str | None = None) -> int:
    """Return how many sessions are stored (of one user when ``user`` is given)."""
    query = sa.select(sa.func.count()).select_from(
        ui_sessions.join(users, users.c.id == ui_sessions.c.user_id)
    )
    if user is not None:
        query = query.where(users.c.name == user)
    return int(conn.execute(query).scalar_one())
