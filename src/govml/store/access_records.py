"""SQL for people: users with their roles and grant times, and hashed bearer tokens."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Row

from govml.domain.lifecycle import Role, User
from govml.domain.records import name_key
from govml.store.schema import tokens, users


@dataclass(frozen=True, kw_only=True)
class TokenRow:
    """One stored token with the name and status of its user (never the token itself)."""

    id: str
    user: str
    hash: str
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    user_disabled_at: datetime | None


def _user(row: Row[Any]) -> User:
    granted = dict(row.roles_granted_at or {})
    return User(
        name=row.name,
        roles=tuple(Role(role) for role in row.roles),
        created_at=row.created_at,
        created_by=row.created_by,
        disabled_at=row.disabled_at,
        granted_at={
            Role(role): datetime.fromisoformat(when)
            for role, when in granted.items()
            if role in row.roles
        },
    )


def _times(granted: Mapping[Role, datetime]) -> dict[str, str]:
    return {role.value: when.astimezone(UTC).isoformat() for role, when in granted.items()}


def load_user(conn: Connection, name: str) -> User | None:
    """Return user ``name`` (exactly as stored), or None when the store does not know them."""
    row = conn.execute(sa.select(users).where(users.c.name == name)).first()
    return None if row is None else _user(row)


def user_with_key(conn: Connection, key: str) -> User | None:
    """Return the user whose name has identity ``key``, or None."""
    row = conn.execute(sa.select(users).where(users.c.name_key == key)).first()
    return None if row is None else _user(row)


def list_users(conn: Connection) -> list[User]:
    """Return every user, by name."""
    return [_user(row) for row in conn.execute(sa.select(users).order_by(users.c.name))]


def users_named(conn: Connection, names: Sequence[str]) -> dict[str, User]:
    """Return the users among ``names`` that exist, by name."""
    if not names:
        return {}
    rows = conn.execute(sa.select(users).where(users.c.name.in_(sorted(set(names)))))
    return {row.name: _user(row) for row in rows}


def name_keys(conn: Connection) -> dict[str, str]:
    """Return the stored identity key of every user, by name."""
    return {
        row.name: row.name_key for row in conn.execute(sa.select(users.c.name, users.c.name_key))
    }


def no_users(conn: Connection) -> bool:
    """Return True when the store has no user yet."""
    return conn.execute(sa.select(users.c.id).limit(1)).first() is None


def insert_user(
    conn: Connection,
    *,
    name: str,
    roles: Sequence[Role],
    granted_at: Mapping[Role, datetime],
    now: datetime,
    actor: str,
) -> None:
    """Insert a user with ``roles``, granted at ``granted_at``."""
    conn.execute(
        sa.insert(users).values(
            name=name,
            name_key=name_key(name),
            roles=[role.value for role in roles],
            roles_granted_at=_times(granted_at),
            created_at=now,
            created_by=actor,
            disabled_at=None,
        )
    )


def set_roles(
    conn: Connection, name: str, roles: Sequence[Role], granted_at: Mapping[Role, datetime]
) -> None:
    """Replace the roles of user ``name`` and when each was granted."""
    conn.execute(
        sa.update(users)
        .where(users.c.name == name)
        .values(roles=[role.value for role in roles], roles_granted_at=_times(granted_at))
    )


def disable_user(conn: Connection, name: str, now: datetime) -> None:
    """Mark user ``name`` disabled at ``now``."""
    conn.execute(sa.update(users).where(users.c.name == name).values(disabled_at=now))


def insert_token(
    conn: Connection,
    *,
    token_id: str,
    user: str,
    digest: str,
    now: datetime,
    expires_at: datetime,
) -> None:
    """Store a token of user ``user`` as its hash."""
    user_id = conn.execute(sa.select(users.c.id).where(users.c.name == user)).scalar_one()
    conn.execute(
        sa.insert(tokens).values(
            id=token_id,
            user_id=user_id,
            hash=digest,
            created_at=now,
            expires_at=expires_at,
            revoked_at=None,
        )
    )


def _token_query() -> sa.Select[Any]:
    return sa.select(
        tokens,
        users.c.name.label("user_name"),
        users.c.disabled_at.label("user_disabled_at"),
    ).join(users, users.c.id == tokens.c.user_id)


def _token(row: Row[Any]) -> TokenRow:
    return TokenRow(
        id=row.id,
        user=row.user_name,
        hash=row.hash,
        created_at=row.created_at,
        expires_at=row.expires_at,
        revoked_at=row.revoked_at,
        user_disabled_at=row.user_disabled_at,
    )


def load_token(conn: Connection, token_id: str) -> TokenRow | None:
    """Return the token with public id ``token_id``, or None."""
    row = conn.execute(_token_query().where(tokens.c.id == token_id)).first()
    return None if row is None else _token(row)


def all_tokens(conn: Connection) -> list[TokenRow]:
    """Return every stored token, by id."""
    return [_token(row) for row in conn.execute(_token_query().order_by(tokens.c.id))]


def live_token_ids(conn: Connection, user: str) -> list[str]:
    """Return the ids of the unrevoked tokens of user ``user``, sorted."""
    query = (
        sa.select(tokens.c.id)
        .join(users, users.c.id == tokens.c.user_id)
        .where(users.c.name == user, tokens.c.revoked_at.is_(None))
        .order_by(tokens.c.id)
    )
    return [str(token_id) for token_id in conn.execute(query).scalars()]


def revoke_token(conn: Connection, token_id: str, now: datetime) -> None:
    """Mark token ``token_id`` revoked at ``now``."""
    conn.execute(sa.update(tokens).where(tokens.c.id == token_id).values(revoked_at=now))
