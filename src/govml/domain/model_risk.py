"""Model-risk records and rules: risk register entries and revalidation due dates.

Pure: no database, web or CLI. A risk register is a list of `Risk` items (validated when
built, field errors named by position); revalidation is due ``every`` after a version's last
validation (its latest evaluation, to which approvals are bound), with a warning
``warn_before`` it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Final, Literal

from govml.errors import ValidationError
from govml.ledger.canonical import canonical_json

LEVELS: Final = ("low", "medium", "high")
STATUSES: Final = ("open", "mitigated", "accepted", "closed")
FIELDS: Final = (
    "id",
    "risk",
    "likelihood",
    "impact",
    "mitigation",
    "owner",
    "status",
    "review_date",
)
MAX_TEXT: Final = 2000
MAX_RISKS: Final = 1000


@dataclass(frozen=True, kw_only=True)
class Risk:
    """One entry of a model's risk register."""

    id: str
    risk: str
    likelihood: str
    impact: str
    mitigation: str
    owner: str
    status: str
    review_date: str

    def to_dict(self) -> dict[str, str]:
        """Return the entry as stored."""
        return {name: getattr(self, name) for name in FIELDS}


def _text(value: Any, where: str, *, required: bool = True) -> str:
    if value is None and not required:
        return ""
    if not isinstance(value, str) or (required and not value.strip()):
        raise ValidationError(f"{where}: give a non-empty text")
    if len(value) > MAX_TEXT:
        raise ValidationError(f"{where}: {len(value)} characters; at most {MAX_TEXT}")
    return value.strip()


def _choice(value: Any, where: str, choices: Sequence[str]) -> str:
    if value not in choices:
        raise ValidationError(f"{where}: {value!r} is not one of {', '.join(choices)}")
    return str(value)


def parse_risks(items: Any, *, source: str = "risks") -> list[Risk]:
    """Validate a list of risk entries (mappings); ids ``R1``, ``R2``... are given when absent.

    Raises
    ------
    ValidationError
        Naming the entry and field (``risks[2].likelihood: 'huge' is not one of ...``).
    """
    if not isinstance(items, list):
        raise ValidationError(f"{source}: give a list of risks")
    if len(items) > MAX_RISKS:
        raise ValidationError(f"{source}: {len(items)} risks; a register holds at most {MAX_RISKS}")
    out: list[Risk] = []
    seen: set[str] = set()
    for index, item in enumerate(items):
        where = f"{source}[{index}]"
        if not isinstance(item, dict):
            raise ValidationError(f"{where}: give a mapping with {', '.join(FIELDS[1:])}")
        unknown = sorted(set(item) - set(FIELDS))
        if unknown:
            raise ValidationError(f"{where}.{unknown[0]}: unknown field; use {', '.join(FIELDS)}")
        ident = _text(item.get("id", f"R{index + 1}"), f"{where}.id")
        if ident in seen:
            raise ValidationError(f"{where}.id: {ident!r} is listed twice")
        seen.add(ident)
        review = item.get("review_date")
        if isinstance(review, date):
            review = review.isoformat()
        try:
            date.fromisoformat(str(review))
        except ValueError:
            raise ValidationError(
                f"{where}.review_date: {review!r} is not a date (YYYY-MM-DD)"
            ) from None
        out.append(
            Risk(
                id=ident,
                risk=_text(item.get("risk"), f"{where}.risk"),
                likelihood=_choice(item.get("likelihood"), f"{where}.likelihood", LEVELS),
                impact=_choice(item.get("impact"), f"{where}.impact", LEVELS),
                mitigation=_text(item.get("mitigation"), f"{where}.mitigation", required=False),
                owner=_text(item.get("owner"), f"{where}.owner"),
                status=_choice(item.get("status", "open"), f"{where}.status", STATUSES),
                review_date=str(review),
            )
        )
    return out


def register_digest(risks: Sequence[Risk]) -> str:
    """Return ``sha256:`` of the canonical JSON of the register's entries."""
    return "sha256:" + hashlib.sha256(canonical_json([r.to_dict() for r in risks])).hexdigest()


RevalidationState = Literal["ok", "due_soon", "overdue", "never_validated"]


@dataclass(frozen=True, kw_only=True)
class RevalidationStatus:
    """Where a version stands against the policy's revalidation period."""

    state: RevalidationState
    validated_at: datetime | None
    due_at: datetime | None

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-safe dictionary."""
        return {
            "state": self.state,
            "validated_at": None if self.validated_at is None else self.validated_at.isoformat(),
            "due_at": None if self.due_at is None else self.due_at.isoformat(),
        }


def revalidation_status(
    validated_at: datetime | None, *, every: timedelta, warn_before: timedelta, now: datetime
) -> RevalidationStatus:
    """Return the revalidation state of a version last validated at ``validated_at``."""
    if validated_at is None:
        return RevalidationStatus(state="never_validated", validated_at=None, due_at=None)
    due = validated_at + every
    if now >= due:
        state: RevalidationState = "overdue"
    elif now >= due - warn_before:
        state = "due_soon"
    else:
        state = "ok"
    return RevalidationStatus(state=state, validated_at=validated_at, due_at=due)
