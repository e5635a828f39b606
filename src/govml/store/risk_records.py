"""SQL for the model-risk lifecycle: retirements, risk register revisions, validation times."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from govml.store.schema import (
    evaluations,
    model_aliases,
    model_retirements,
    model_versions,
    risk_registers,
)


def retirement(conn: Connection, mid: int) -> dict[str, Any] | None:
    """Return the retirement of model ``mid`` (who, when, why, ticket, aliases), or None."""
    row = conn.execute(
        sa.select(model_retirements).where(model_retirements.c.model_id == mid)
    ).first()
    if row is None:
        return None
    return {
        "retired_at": row.retired_at.isoformat(),
        "retired_by": row.retired_by,
        "reason": row.reason,
        "ticket": row.ticket,
        "aliases": dict(row.aliases),
    }


def retired_model_ids(conn: Connection) -> set[int]:
    """Return the ids of every retired model."""
    return {int(r[0]) for r in conn.execute(sa.select(model_retirements.c.model_id))}


def clear_aliases(conn: Connection, mid: int) -> dict[str, int]:
    """Remove every alias of model ``mid``; return what each pointed at (alias -> version)."""
    query = (
        sa.select(model_aliases.c.alias, model_versions.c.version)
        .join(model_versions, model_versions.c.id == model_aliases.c.version_id)
        .where(model_aliases.c.model_id == mid)
    )
    held = {str(row.alias): int(row.version) for row in conn.execute(query)}
    conn.execute(sa.delete(model_aliases).where(model_aliases.c.model_id == mid))
    return held


def insert_retirement(
    conn: Connection,
    *,
    mid: int,
    at: datetime,
    by: str,
    reason: str,
    ticket: str | None,
    aliases: dict[str, int],
) -> None:
    """Record the retirement of model ``mid``."""
    conn.execute(
        sa.insert(model_retirements).values(
            model_id=mid,
            retired_at=at,
            retired_by=by,
            reason=reason,
            ticket=ticket,
            aliases=aliases,
        )
    )


def register_revisions(conn: Connection, mid: int) -> list[dict[str, Any]]:
    """Return every revision of model ``mid``'s risk register, oldest first."""
    query = (
        sa.select(risk_registers)
        .where(risk_registers.c.model_id == mid)
        .order_by(risk_registers.c.revision)
    )
    return [
        {
            "revision": row.revision,
            "risks": list(row.risks),
            "digest": row.digest,
            "comment": row.comment,
            "ticket": row.ticket,
            "created_at": row.created_at.isoformat(),
            "created_by": row.created_by,
        }
        for row in conn.execute(query)
    ]


def latest_revision(conn: Connection, mid: int) -> int:
    """Return the newest revision number of the register (0 when it has none)."""
    found = conn.execute(
        sa.select(sa.func.max(risk_registers.c.revision)).where(risk_registers.c.model_id == mid)
    ).scalar()
    return int(found or 0)


def insert_revision(
    conn: Connection,
    *,
    mid: int,
    revision: int,
    risks: list[dict[str, Any]],
    digest: str,
    comment: str,
    ticket: str | None,
    at: datetime,
    by: str,
) -> None:
    """Store a new revision of the register (the primary key refuses a concurrent twin)."""
    conn.execute(
        sa.insert(risk_registers).values(
            model_id=mid,
            revision=revision,
            risks=risks,
            digest=digest,
            comment=comment,
            ticket=ticket,
            created_at=at,
            created_by=by,
        )
    )


def latest_evaluation_time(conn: Connection, mid: int, version: int) -> datetime | None:
    """Return when version ``version`` of model ``mid`` was last evaluated, or None."""
    found = conn.execute(
        sa.select(sa.func.max(evaluations.c.created_at)).where(
            evaluations.c.model_id == mid, evaluations.c.version == version
        )
    ).scalar()
    return found if isinstance(found, datetime) else None
