"""SQL of human oversight: the review queue (referrals) and model suspensions."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Row

from govml.store.schema import models, referrals, serving_suspensions


@dataclass(frozen=True, kw_only=True)
class ReferralRow:
    """A stored referral or override (``model`` is the model's name)."""

    id: str
    model: str
    version: int
    request_id: str
    record: int
    kind: str
    reasons: list[str]
    score: float | None
    model_decision: Any
    inputs_digest: str | None
    referred_at: datetime
    referred_by: str
    status: str
    decision: Any
    override: bool | None
    comment: str | None
    decided_at: datetime | None
    decided_by: str | None

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-safe dictionary."""
        return {
            "id": self.id,
            "model": self.model,
            "version": self.version,
            "request_id": self.request_id,
            "record": self.record,
            "kind": self.kind,
            "reasons": list(self.reasons),
            "score": self.score,
            "model_decision": self.model_decision,
            "inputs_digest": self.inputs_digest,
            "referred_at": self.referred_at.isoformat(),
            "referred_by": self.referred_by,
            "status": self.status,
            "decision": self.decision,
            "override": self.override,
            "comment": self.comment,
            "decided_at": None if self.decided_at is None else self.decided_at.isoformat(),
            "decided_by": self.decided_by,
        }


def _row(row: Row[Any]) -> ReferralRow:
    return ReferralRow(
        id=row.id,
        model=row.name,
        version=row.version,
        request_id=row.request_id,
        record=row.record,
        kind=row.kind,
        reasons=list(row.reasons),
        score=row.score,
        model_decision=row.model_decision,
        inputs_digest=row.inputs_digest,
        referred_at=row.referred_at,
        referred_by=row.referred_by,
        status=row.status,
        decision=row.decision,
        override=row.override,
        comment=row.comment,
        decided_at=row.decided_at,
        decided_by=row.decided_by,
    )


def _select() -> sa.Select[Any]:
    return sa.select(referrals, models.c.name).join(models, models.c.id == referrals.c.model_id)


def insert_referral(conn: Connection, mid: int, values: Mapping[str, Any]) -> None:
    """Insert one referral row of model ``mid``."""
    conn.execute(sa.insert(referrals).values(model_id=mid, **values))


def existing_keys(conn: Connection, mid: int, request_ids: list[str]) -> set[tuple[str, int]]:
    """Return the (request id, record) pairs of model ``mid`` already in the queue."""
    if not request_ids:
        return set()
    rows = conn.execute(
        sa.select(referrals.c.request_id, referrals.c.record).where(
            referrals.c.model_id == mid, referrals.c.request_id.in_(sorted(set(request_ids)))
        )
    ).all()
    return {(row.request_id, row.record) for row in rows}


def load_referral(conn: Connection, referral_id: str) -> ReferralRow | None:
    """Return referral ``referral_id``, or None."""
    row = conn.execute(_select().where(referrals.c.id == referral_id)).first()
    return None if row is None else _row(row)


def find_referral(conn: Connection, mid: int, request_id: str, record: int) -> ReferralRow | None:
    """Return the referral of one record of one request, or None."""
    row = conn.execute(
        _select().where(
            referrals.c.model_id == mid,
            referrals.c.request_id == request_id,
            referrals.c.record == record,
        )
    ).first()
    return None if row is None else _row(row)


def list_referrals(
    conn: Connection, mid: int | None, *, status: str | None, limit: int
) -> list[ReferralRow]:
    """Return referrals, oldest first, of one model (or all) and one status (or any)."""
    query = _select()
    if mid is not None:
        query = query.where(referrals.c.model_id == mid)
    if status is not None:
        query = query.where(referrals.c.status == status)
    query = query.order_by(
        referrals.c.referred_at, referrals.c.request_id, referrals.c.record
    ).limit(limit)
    return [_row(row) for row in conn.execute(query).all()]


def all_referrals(conn: Connection) -> list[ReferralRow]:
    """Return every referral (for audit replay)."""
    return [_row(row) for row in conn.execute(_select().order_by(referrals.c.id)).all()]


def decide_referral(conn: Connection, referral_id: str, values: Mapping[str, Any]) -> bool:
    """Record a decision on a pending referral; False when it was decided meanwhile."""
    result = conn.execute(
        sa.update(referrals)
        .where(referrals.c.id == referral_id, referrals.c.status == "pending")
        .values(status="decided", **values)
    )
    return bool(result.rowcount)


def referral_counts(conn: Connection, mid: int) -> dict[str, int]:
    """Return the number of referrals and overrides of model ``mid`` by kind and status."""
    rows = conn.execute(
        sa.select(referrals.c.kind, referrals.c.status, sa.func.count())
        .where(referrals.c.model_id == mid)
        .group_by(referrals.c.kind, referrals.c.status)
    ).all()
    return {f"{kind}.{status}": int(count) for kind, status, count in rows}


# -- suspensions ---------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class SuspensionRow:
    """A model's suspension state (``model`` is its name)."""

    model: str
    suspended: bool
    reason: str
    updated_at: datetime
    updated_by: str


def load_suspension(conn: Connection, mid: int) -> SuspensionRow | None:
    """Return model ``mid``'s suspension state, or None when it was never suspended."""
    row = conn.execute(
        sa.select(serving_suspensions, models.c.name)
        .join(models, models.c.id == serving_suspensions.c.model_id)
        .where(serving_suspensions.c.model_id == mid)
    ).first()
    if row is None:
        return None
    return SuspensionRow(
        model=row.name,
        suspended=row.suspended,
        reason=row.reason,
        updated_at=row.updated_at,
        updated_by=row.updated_by,
    )


def save_suspension(conn: Connection, mid: int, values: Mapping[str, Any]) -> None:
    """Insert or replace model ``mid``'s suspension state."""
    exists = conn.execute(
        sa.select(serving_suspensions.c.model_id).where(serving_suspensions.c.model_id == mid)
    ).first()
    if exists is None:
        conn.execute(sa.insert(serving_suspensions).values(model_id=mid, **values))
    else:
        conn.execute(
            sa.update(serving_suspensions)
            .where(serving_suspensions.c.model_id == mid)
            .values(**values)
        )


def all_suspensions(conn: Connection) -> list[SuspensionRow]:
    """Return every model's suspension state (for audit replay)."""
    rows = conn.execute(
        sa.select(serving_suspensions, models.c.name).join(
            models, models.c.id == serving_suspensions.c.model_id
        )
    ).all()
    return [
        SuspensionRow(
            model=row.name,
            suspended=row.suspended,
            reason=row.reason,
            updated_at=row.updated_at,
            updated_by=row.updated_by,
        )
        for row in rows
    ]
