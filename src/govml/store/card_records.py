"""SQL for the model card's editable fields: one append-only row per revision."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from govml.store.schema import model_card_revisions, models


@dataclass(frozen=True, kw_only=True)
class CardRevisionRow:
    """One stored revision of a model's card fields."""

    model: str
    revision: int
    fields: dict[str, Any]
    changed: tuple[str, ...]
    created_at: datetime
    created_by: str


def revisions(conn: Connection, name: str | None = None) -> list[CardRevisionRow]:
    """Return the card revisions of model ``name`` (of every model when None).

    Ordered by model name, then revision.
    """
    query = (
        sa.select(model_card_revisions, models.c.name)
        .join(models, models.c.id == model_card_revisions.c.model_id)
        .order_by(models.c.name, model_card_revisions.c.revision)
    )
    if name is not None:
        query = query.where(models.c.name == name)
    return [
        CardRevisionRow(
            model=row.name,
            revision=row.revision,
            fields=dict(row.fields),
            changed=tuple(row.changed),
            created_at=row.created_at,
            created_by=row.created_by,
        )
        for row in conn.execute(query)
    ]


def insert_revision(
    conn: Connection,
    *,
    model_id: int,
    revision: int,
    fields: Mapping[str, Any],
    changed: Sequence[str],
    created_at: datetime,
    created_by: str,
) -> None:
    """Store one revision of a model's card fields."""
    conn.execute(
        sa.insert(model_card_revisions).values(
            model_id=model_id,
            revision=revision,
            fields=dict(fields),
            changed=list(changed),
            created_at=created_at,
            created_by=created_by,
        )
    )
