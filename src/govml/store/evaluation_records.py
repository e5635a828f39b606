"""SQL for evaluations: one immutable row per `govml evaluate` run."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Row

from govml.errors import NotFoundError
from govml.store.schema import evaluations, models


@dataclass(frozen=True, kw_only=True)
class EvaluationRow:
    """One stored evaluation, as the table holds it (``model`` is the model's name)."""

    id: int
    model: str | None
    version: int | None
    label: str | None
    status: str
    policy_name: str
    policy_digest: str
    data_digest: str
    document: str
    document_digest: str
    created_at: datetime
    created_by: str


def _select() -> sa.Select[Any]:
    return sa.select(evaluations, models.c.name.label("model_name")).select_from(
        evaluations.outerjoin(models, models.c.id == evaluations.c.model_id)
    )


def _row(row: Row[Any]) -> EvaluationRow:
    return EvaluationRow(
        id=row.id,
        model=row.model_name,
        version=row.version,
        label=row.label,
        status=row.status,
        policy_name=row.policy_name,
        policy_digest=row.policy_digest,
        data_digest=row.data_digest,
        document=row.document,
        document_digest=row.document_digest,
        created_at=row.created_at,
        created_by=row.created_by,
    )


def next_id(conn: Connection) -> int:
    """Return the id the next evaluation will get (inside the write transaction)."""
    current = conn.execute(sa.select(sa.func.max(evaluations.c.id))).scalar_one_or_none()
    return 1 if current is None else int(current) + 1


def insert(
    conn: Connection,
    *,
    id: int,
    model_id: int | None,
    version: int | None,
    label: str | None,
    status: str,
    policy_name: str,
    policy_digest: str,
    data_digest: str,
    document: str,
    document_digest: str,
    now: datetime,
    actor: str,
) -> None:
    """Insert one evaluation row."""
    conn.execute(
        sa.insert(evaluations).values(
            id=id,
            model_id=model_id,
            version=version,
            label=label,
            status=status,
            policy_name=policy_name,
            policy_digest=policy_digest,
            data_digest=data_digest,
            document=document,
            document_digest=document_digest,
            created_at=now,
            created_by=actor,
        )
    )


def load(conn: Connection, evaluation_id: int) -> EvaluationRow:
    """Return evaluation ``evaluation_id``.

    Raises
    ------
    NotFoundError
        When there is no such evaluation (saying how many there are).
    """
    row = conn.execute(_select().where(evaluations.c.id == evaluation_id)).first()
    if row is None:
        newest = conn.execute(sa.select(sa.func.max(evaluations.c.id))).scalar_one_or_none()
        known = "no evaluations are stored" if newest is None else f"the newest is {newest}"
        raise NotFoundError(f"evaluation {evaluation_id} does not exist ({known})")
    return _row(row)


def select(
    conn: Connection,
    *,
    model_id: int | None = None,
    version: int | None = None,
    status: str | None = None,
    limit: int | None = None,
) -> list[EvaluationRow]:
    """Return evaluations, newest first, optionally of one model (and version) or status."""
    query = _select().order_by(evaluations.c.id.desc())
    if model_id is not None:
        query = query.where(evaluations.c.model_id == model_id)
    if version is not None:
        query = query.where(evaluations.c.version == version)
    if status is not None:
        query = query.where(evaluations.c.status == status)
    if limit is not None:
        query = query.limit(limit)
    return [_row(row) for row in conn.execute(query)]


def iter_all(conn: Connection) -> Iterator[EvaluationRow]:
    """Yield every evaluation, oldest first."""
    for row in conn.execute(_select().order_by(evaluations.c.id)):
        yield _row(row)
