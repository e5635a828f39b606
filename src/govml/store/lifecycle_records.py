"""SQL for the lifecycle: decisions on versions, alias holders and alias changes."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Row

from govml.domain.lifecycle import AliasChange, Approval
from govml.store.schema import alias_events, approvals, model_aliases, model_versions, models


def model_names(conn: Connection) -> dict[int, str]:
    """Return the name of every model, by id."""
    return {row.id: row.name for row in conn.execute(sa.select(models.c.id, models.c.name))}


# -- decisions -------------------------------------------------------------------------------


def insert_approval(conn: Connection, mid: int, approval: Approval) -> int:
    """Store a decision on a version of model ``mid``; return its id."""
    approval_id = conn.execute(
        sa.insert(approvals)
        .values(
            model_id=mid,
            version=approval.version,
            decision=approval.decision,
            role=approval.role,
            comment=approval.comment,
            actor=approval.actor,
            created_at=approval.created_at,
            evaluation_id=approval.evaluation_id,
            policy_digest=approval.policy_digest,
        )
        .returning(approvals.c.id)
    ).scalar_one()
    return int(approval_id)


def _approval(row: Row[Any], name: str) -> Approval:
    return Approval(
        id=row.id,
        model=name,
        version=row.version,
        decision=row.decision,
        role=row.role,
        comment=row.comment,
        actor=row.actor,
        created_at=row.created_at,
        evaluation_id=row.evaluation_id,
        policy_digest=row.policy_digest,
    )


def approvals_of(conn: Connection, mid: int, name: str, version: int) -> list[Approval]:
    """Return every decision on version ``version`` of model ``mid`` (``name``), oldest first."""
    query = (
        sa.select(approvals)
        .where(approvals.c.model_id == mid, approvals.c.version == version)
        .order_by(approvals.c.id)
    )
    return [_approval(row, name) for row in conn.execute(query)]


def all_approvals(conn: Connection, names: dict[int, str]) -> Iterator[Approval]:
    """Yield every decision on every version, by id."""
    for row in conn.execute(sa.select(approvals).order_by(approvals.c.id)):
        yield _approval(row, names[row.model_id])


# -- aliases ---------------------------------------------------------------------------------


def holder(conn: Connection, mid: int, alias: str) -> int | None:
    """Return the version of model ``mid`` holding ``alias``, None when it is free."""
    found = conn.execute(
        sa.select(model_versions.c.version)
        .join(model_aliases, model_aliases.c.version_id == model_versions.c.id)
        .where(model_aliases.c.model_id == mid, model_aliases.c.alias == alias)
    ).scalar_one_or_none()
    return None if found is None else int(found)


def holders(conn: Connection, names: dict[int, str]) -> dict[tuple[str, str], int]:
    """Return the version holding each alias, by (model name, alias)."""
    query = sa.select(
        model_aliases.c.model_id, model_aliases.c.alias, model_versions.c.version
    ).join(model_versions, model_versions.c.id == model_aliases.c.version_id)
    return {(names[row.model_id], row.alias): int(row.version) for row in conn.execute(query)}


def move_alias(conn: Connection, mid: int, change: AliasChange) -> int:
    """Give ``change.alias`` to ``change.version`` and record the change; return its id.

    The alias row is inserted when the alias was free (``change.previous`` is None) and
    updated otherwise; the primary key of `model_aliases` keeps one version per alias.
    """
    version_id = conn.execute(
        sa.select(model_versions.c.id).where(
            model_versions.c.model_id == mid, model_versions.c.version == change.version
        )
    ).scalar_one()
    values = {"version_id": version_id, "updated_at": change.created_at, "updated_by": change.actor}
    if change.previous is None:
        conn.execute(sa.insert(model_aliases).values(model_id=mid, alias=change.alias, **values))
    else:
        conn.execute(
            sa.update(model_aliases)
            .where(model_aliases.c.model_id == mid, model_aliases.c.alias == change.alias)
            .values(**values)
        )
    event_id = conn.execute(
        sa.insert(alias_events)
        .values(
            model_id=mid,
            alias=change.alias,
            action=change.action,
            version=change.version,
            previous=change.previous,
            reason=change.reason,
            evaluation_id=change.evaluation_id,
            policy_digest=change.policy_digest,
            approvals=list(change.approvals),
            actor=change.actor,
            created_at=change.created_at,
        )
        .returning(alias_events.c.id)
    ).scalar_one()
    return int(event_id)


def _change(row: Row[Any], name: str) -> AliasChange:
    return AliasChange(
        id=row.id,
        model=name,
        alias=row.alias,
        action=row.action,
        version=row.version,
        previous=row.previous,
        reason=row.reason,
        actor=row.actor,
        created_at=row.created_at,
        evaluation_id=row.evaluation_id,
        policy_digest=row.policy_digest,
        approvals=tuple(row.approvals),
    )


def alias_changes(
    conn: Connection, mid: int, name: str, alias: str | None = None
) -> list[AliasChange]:
    """Return the promotions and rollbacks of model ``mid`` (one alias), oldest first."""
    query = sa.select(alias_events).where(alias_events.c.model_id == mid)
    if alias is not None:
        query = query.where(alias_events.c.alias == alias)
    return [_change(row, name) for row in conn.execute(query.order_by(alias_events.c.id))]


def all_alias_changes(conn: Connection, names: dict[int, str]) -> Iterator[AliasChange]:
    """Yield every promotion and rollback, by id."""
    for row in conn.execute(sa.select(alias_events).order_by(alias_events.c.id)):
        yield _change(row, names[row.model_id])
