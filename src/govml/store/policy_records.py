"""SQL for policies: stored versions and the version in force for each risk tier."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Row

from govml.errors import NotFoundError, did_you_mean
from govml.store.schema import policies, policy_tiers


@dataclass(frozen=True, kw_only=True)
class PolicyRow:
    """One stored policy version, as the table holds it."""

    id: int
    name: str
    version: int
    digest: str
    content: str
    source: str
    source_name: str
    created_at: datetime
    created_by: str


def _row(row: Row[Any]) -> PolicyRow:
    return PolicyRow(
        id=row.id,
        name=row.name,
        version=row.version,
        digest=row.digest,
        content=row.content,
        source=row.source,
        source_name=row.source_name,
        created_at=row.created_at,
        created_by=row.created_by,
    )


def latest(conn: Connection, name: str) -> PolicyRow | None:
    """Return the newest version of policy ``name``, or None when there is none."""
    row = conn.execute(
        sa.select(policies)
        .where(policies.c.name == name)
        .order_by(policies.c.version.desc())
        .limit(1)
    ).first()
    return None if row is None else _row(row)


def load(conn: Connection, name: str, version: int | None = None) -> PolicyRow:
    """Return version ``version`` (default: the newest) of policy ``name``.

    Raises
    ------
    NotFoundError
        When there is no such policy (suggesting the closest name) or no such version.
    """
    newest = latest(conn, name)
    if newest is None:
        known = conn.execute(sa.select(policies.c.name).distinct()).scalars().all()
        raise NotFoundError(f"policy {name!r} does not exist", hint=did_you_mean(name, known))
    if version is None or version == newest.version:
        return newest
    row = conn.execute(
        sa.select(policies).where(policies.c.name == name, policies.c.version == version)
    ).first()
    if row is None:
        raise NotFoundError(
            f"policy {name!r} has no version {version} (the newest is version {newest.version})"
        )
    return _row(row)


def insert(
    conn: Connection,
    *,
    name: str,
    version: int,
    digest: str,
    content: str,
    source: str,
    source_name: str,
    now: datetime,
    actor: str,
) -> PolicyRow:
    """Store a new policy version and return it."""
    row = PolicyRow(
        id=0,
        name=name,
        version=version,
        digest=digest,
        content=content,
        source=source,
        source_name=source_name,
        created_at=now,
        created_by=actor,
    )
    values = {k: v for k, v in vars(row).items() if k != "id"}
    new_id = conn.execute(sa.insert(policies).values(**values)).inserted_primary_key
    assert new_id is not None
    return replace(row, id=int(new_id[0]))


def by_id(conn: Connection, policy_id: int) -> PolicyRow:
    """Return the policy version with row id ``policy_id``."""
    return _row(conn.execute(sa.select(policies).where(policies.c.id == policy_id)).one())


def tiers_in_force(conn: Connection) -> dict[str, PolicyRow]:
    """Return the policy version in force for each governed tier."""
    query = sa.select(policy_tiers.c.tier, policies).join(
        policies, policies.c.id == policy_tiers.c.policy_id
    )
    return {row.tier: _row(row) for row in conn.execute(query)}


def set_tier(conn: Connection, tier: str, policy_id: int, *, now: datetime, actor: str) -> None:
    """Put the policy version ``policy_id`` in force for ``tier``."""
    values = {"policy_id": policy_id, "updated_at": now, "updated_by": actor}
    updated = conn.execute(
        sa.update(policy_tiers).where(policy_tiers.c.tier == tier).values(**values)
    )
    if updated.rowcount == 0:
        conn.execute(sa.insert(policy_tiers).values(tier=tier, **values))


def release_tier(conn: Connection, tier: str) -> None:
    """Leave ``tier`` without a policy."""
    conn.execute(sa.delete(policy_tiers).where(policy_tiers.c.tier == tier))


def names(conn: Connection) -> list[str]:
    """Return the name of every stored policy, sorted."""
    query = sa.select(policies.c.name).distinct().order_by(policies.c.name)
    return list(conn.execute(query).scalars())


def all_versions(conn: Connection) -> Iterator[PolicyRow]:
    """Yield every stored policy version, by name and version."""
    query = sa.select(policies).order_by(policies.c.name, policies.c.version)
    for row in conn.execute(query):
        yield _row(row)
