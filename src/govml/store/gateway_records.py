"""SQL of the serving gateway's records: each model's serving set-up and its gateway keys."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Row

from govml.store.schema import gateway_keys, models, serving_configs

# -- serving set-up ------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class ServingRow:
    """A model's stored serving set-up (``model`` is its name)."""

    model: str
    mode: str
    share: float | None
    key: str | None
    updated_at: datetime
    updated_by: str


def _serving_row(row: Row[Any]) -> ServingRow:
    return ServingRow(
        model=row.name,
        mode=row.mode,
        share=row.share,
        key=row.key,
        updated_at=row.updated_at,
        updated_by=row.updated_by,
    )


def _serving_select() -> sa.Select[Any]:
    return sa.select(serving_configs, models.c.name).join(
        models, models.c.id == serving_configs.c.model_id
    )


def load_serving(conn: Connection, mid: int) -> ServingRow | None:
    """Return the serving set-up of model ``mid``, or None when it was never configured."""
    row = conn.execute(_serving_select().where(serving_configs.c.model_id == mid)).first()
    return None if row is None else _serving_row(row)


def save_serving(conn: Connection, mid: int, values: Mapping[str, Any]) -> None:
    """Insert or replace the serving set-up of model ``mid`` (mode, share, key, updated_*)."""
    exists = conn.execute(
        sa.select(serving_configs.c.model_id).where(serving_configs.c.model_id == mid)
    ).first()
    if exists is None:
        conn.execute(sa.insert(serving_configs).values(model_id=mid, **values))
    else:
        conn.execute(
            sa.update(serving_configs).where(serving_configs.c.model_id == mid).values(**values)
        )


def all_serving(conn: Connection) -> list[ServingRow]:
    """Return every stored serving set-up, by model name."""
    rows = conn.execute(_serving_select().order_by(models.c.name)).all()
    return [_serving_row(row) for row in rows]


# -- gateway keys --------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class KeyRow:
    """A stored gateway key (``model`` is the model's name; ``hash`` the key's SHA-256)."""

    key_id: str
    model: str
    scopes: tuple[str, ...]
    hash: str
    description: str
    created_at: datetime
    created_by: str
    expires_at: datetime
    revoked_at: datetime | None
    revoked_by: str | None


def _key(row: Row[Any]) -> KeyRow:
    return KeyRow(
        key_id=row.id,
        model=row.name,
        scopes=tuple(row.scopes),
        hash=row.hash,
        description=row.description,
        created_at=row.created_at,
        created_by=row.created_by,
        expires_at=row.expires_at,
        revoked_at=row.revoked_at,
        revoked_by=row.revoked_by,
    )


def _key_select() -> sa.Select[Any]:
    return sa.select(gateway_keys, models.c.name).join(
        models, models.c.id == gateway_keys.c.model_id
    )


def insert_key(conn: Connection, mid: int, key: KeyRow) -> None:
    """Store a new key of model ``mid`` (its hash, never its secret)."""
    conn.execute(
        sa.insert(gateway_keys).values(
            id=key.key_id,
            model_id=mid,
            scopes=list(key.scopes),
            hash=key.hash,
            description=key.description,
            created_at=key.created_at,
            created_by=key.created_by,
            expires_at=key.expires_at,
            revoked_at=None,
            revoked_by=None,
        )
    )


def load_key(conn: Connection, key_id: str) -> KeyRow | None:
    """Return key ``key_id``, or None."""
    row = conn.execute(_key_select().where(gateway_keys.c.id == key_id)).first()
    return None if row is None else _key(row)


def model_keys(conn: Connection, mid: int) -> list[KeyRow]:
    """Return the keys of model ``mid``, oldest first."""
    rows = conn.execute(
        _key_select()
        .where(gateway_keys.c.model_id == mid)
        .order_by(gateway_keys.c.created_at, gateway_keys.c.id)
    ).all()
    return [_key(row) for row in rows]


def gateway_keys_since(conn: Connection, since: datetime) -> list[KeyRow]:
    """Return every key that was live at some point after ``since`` (all models)."""
    query = _key_select().where(
        gateway_keys.c.expires_at > since,
        sa.or_(gateway_keys.c.revoked_at.is_(None), gateway_keys.c.revoked_at > since),
    )
    return [_key(row) for row in conn.execute(query.order_by(gateway_keys.c.id)).all()]


def all_keys(conn: Connection) -> list[KeyRow]:
    """Return every key of every model, by id."""
    return [_key(row) for row in conn.execute(_key_select().order_by(gateway_keys.c.id)).all()]


def revoke_key(conn: Connection, key_id: str, *, now: datetime, actor: str) -> None:
    """Mark key ``key_id`` revoked by ``actor`` at ``now``."""
    conn.execute(
        sa.update(gateway_keys)
        .where(gateway_keys.c.id == key_id)
        .values(revoked_at=now, revoked_by=actor)
    )
