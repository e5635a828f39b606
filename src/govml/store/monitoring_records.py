"""SQL for monitoring: runs, their time series points and the actions taken on them."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Row

from govml.store.schema import monitoring_actions, monitoring_points, monitoring_runs


@dataclass(frozen=True)
class RunRow:
    """A stored monitoring run: its document (canonical JSON) and the digest over it."""

    id: int
    model_id: int
    window_start: datetime
    window_end: datetime
    status: str
    document: str
    digest: str


@dataclass(frozen=True)
class ActionRow:
    """A stored monitoring action (alert, rollback, webhook delivery) of a run."""

    id: int
    run_id: int
    model_id: int
    version: int
    action: str
    status: str
    dedupe: str | None
    detail: dict[str, Any]


@dataclass(frozen=True)
class PointRow:
    """A stored time series point: one check's status and value in one run."""

    id: int
    run_id: int
    version: int
    check: str
    category: str
    status: str
    value: float | None
    window_start: datetime
    window_end: datetime
    created_at: datetime


# -- writing ---------------------------------------------------------------------------------


def insert_run(
    conn: Connection,
    *,
    model_id: int,
    window_start: datetime,
    window_end: datetime,
    status: str,
    document: str,
    digest: str,
    actor: str,
    created_at: datetime,
) -> int:
    """Store a run's document; return the run's id."""
    run_id = conn.execute(
        sa.insert(monitoring_runs)
        .values(
            model_id=model_id,
            window_start=window_start,
            window_end=window_end,
            status=status,
            document=document,
            digest=digest,
            actor=actor,
            created_at=created_at,
        )
        .returning(monitoring_runs.c.id)
    ).scalar_one()
    return int(run_id)


def insert_points(conn: Connection, points: Sequence[Mapping[str, Any]]) -> None:
    """Store time series points (column name to value); nothing when there are none."""
    if points:
        conn.execute(sa.insert(monitoring_points), list(points))


def insert_action(
    conn: Connection,
    *,
    run_id: int,
    model_id: int,
    version: int,
    action: str,
    status: str,
    dedupe: str | None,
    detail: Mapping[str, Any],
    created_at: datetime,
) -> int:
    """Store an action of run ``run_id``; return its id.

    A ``dedupe`` key is unique per model: a second action with the same key fails.
    """
    action_id = conn.execute(
        sa.insert(monitoring_actions)
        .values(
            run_id=run_id,
            model_id=model_id,
            version=version,
            action=action,
            status=status,
            dedupe=dedupe,
            detail=dict(detail),
            created_at=created_at,
        )
        .returning(monitoring_actions.c.id)
    ).scalar_one()
    return int(action_id)


# -- reading ---------------------------------------------------------------------------------


def run_of_dedupe(conn: Connection, model_id: int, dedupe: str) -> int | None:
    """Return the run whose action of model ``model_id`` holds ``dedupe``, None if none does."""
    found = conn.execute(
        sa.select(monitoring_actions.c.run_id).where(
            monitoring_actions.c.model_id == model_id, monitoring_actions.c.dedupe == dedupe
        )
    ).scalar_one_or_none()
    return None if found is None else int(found)


def points(
    conn: Connection,
    model_id: int,
    *,
    version: int | None = None,
    check: str | None = None,
    limit: int | None = None,
) -> list[PointRow]:
    """Return model ``model_id``'s newest ``limit`` points, oldest first.

    ``check`` keeps one check or every check of a category.
    """
    query = sa.select(monitoring_points).where(monitoring_points.c.model_id == model_id)
    if version is not None:
        query = query.where(monitoring_points.c.version == version)
    if check is not None:
        query = query.where(
            sa.or_(monitoring_points.c.check == check, monitoring_points.c.category == check)
        )
    query = query.order_by(monitoring_points.c.id.desc())
    if limit is not None:
        query = query.limit(limit)
    rows = list(conn.execute(query))
    return [_point(row) for row in reversed(rows)]


def run_of_model(conn: Connection, model_id: int, run_id: int) -> RunRow | None:
    """Return run ``run_id`` when it is model ``model_id``'s, else None."""
    row = conn.execute(
        sa.select(monitoring_runs).where(
            monitoring_runs.c.id == run_id, monitoring_runs.c.model_id == model_id
        )
    ).first()
    return None if row is None else _run(row)


def actions_of_run(conn: Connection, run_id: int) -> list[ActionRow]:
    """Return the actions of run ``run_id`` in the order they were taken."""
    query = (
        sa.select(monitoring_actions)
        .where(monitoring_actions.c.run_id == run_id)
        .order_by(monitoring_actions.c.id)
    )
    return [_action(row) for row in conn.execute(query)]


def latest_run_ids(conn: Connection, model_id: int, limit: int) -> list[int]:
    """Return the ids of model ``model_id``'s newest ``limit`` runs, newest first."""
    query = (
        sa.select(monitoring_runs.c.id)
        .where(monitoring_runs.c.model_id == model_id)
        .order_by(monitoring_runs.c.id.desc())
        .limit(limit)
    )
    return [int(r) for r in conn.execute(query).scalars()]


def all_runs(conn: Connection) -> Iterator[RunRow]:
    """Yield every run, by id."""
    for row in conn.execute(sa.select(monitoring_runs).order_by(monitoring_runs.c.id)):
        yield _run(row)


def all_points(conn: Connection) -> Iterator[PointRow]:
    """Yield every time series point, by id."""
    for row in conn.execute(sa.select(monitoring_points).order_by(monitoring_points.c.id)):
        yield _point(row)


def all_actions(conn: Connection) -> Iterator[ActionRow]:
    """Yield every action, by id."""
    for row in conn.execute(sa.select(monitoring_actions).order_by(monitoring_actions.c.id)):
        yield _action(row)


def _run(row: Row[Any]) -> RunRow:
    return RunRow(
        id=row.id,
        model_id=row.model_id,
        window_start=row.window_start,
        window_end=row.window_end,
        status=row.status,
        document=row.document,
        digest=row.digest,
    )


def _point(row: Row[Any]) -> PointRow:
    return PointRow(
        id=row.id,
        run_id=row.run_id,
        version=row.version,
        check=row.check,
        category=row.category,
        status=row.status,
        value=row.value,
        window_start=row.window_start,
        window_end=row.window_end,
        created_at=row.created_at,
    )


def _action(row: Row[Any]) -> ActionRow:
    return ActionRow(
        id=row.id,
        run_id=row.run_id,
        model_id=row.model_id,
        version=row.version,
        action=row.action,
        status=row.status,
        dedupe=row.dedupe,
        detail=row.detail,
    )
