"""Risk register entries and revalidation dates (pure rules)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from govml.domain.model_risk import MAX_RISKS, parse_risks, register_digest, revalidation_status
from govml.errors import ValidationError

ENTRY = {
    "risk": "Proxy discrimination",
    "likelihood": "medium",
    "impact": "high",
    "owner": "erin",
    "review_date": date(2027, 3, 1),
}


def test_entries_get_ids_defaults_and_a_stable_digest() -> None:
    risks = parse_risks([ENTRY, {**ENTRY, "id": "R7", "status": "accepted"}])
    assert [(r.id, r.status, r.mitigation) for r in risks] == [
        ("R1", "open", ""),
        ("R7", "accepted", ""),
    ]
    assert risks[0].review_date == "2027-03-01"
    assert register_digest(risks) == register_digest(
        parse_risks([ENTRY, {**ENTRY, "id": "R7", "status": "accepted"}])
    )
    assert register_digest(risks) != register_digest(risks[:1])


@pytest.mark.parametrize(
    ("item", "needle"),
    [
        (
            {**ENTRY, "impact": "severe"},
            "risks[0].impact: 'severe' is not one of low, medium, high",
        ),
        ({**ENTRY, "review_date": "next year"}, "risks[0].review_date: 'next year' is not a date"),
        ({**ENTRY, "owner": ""}, "risks[0].owner: give a non-empty text"),
        ({**ENTRY, "colour": "red"}, "risks[0].colour: unknown field"),
        ({**ENTRY, "risk": "x" * 2001}, "risks[0].risk: 2001 characters; at most 2000"),
        ("just text", "risks[0]: give a mapping"),
    ],
)
def test_bad_entries_name_the_field(item: object, needle: str) -> None:
    with pytest.raises(ValidationError, match=None) as caught:
        parse_risks([item])
    assert needle in caught.value.message


def test_duplicates_and_size_are_refused() -> None:
    with pytest.raises(ValidationError, match="listed twice"):
        parse_risks([{**ENTRY, "id": "A"}, {**ENTRY, "id": "A"}])
    with pytest.raises(ValidationError, match="at most"):
        parse_risks([ENTRY] * (MAX_RISKS + 1))


def test_revalidation_states() -> None:
    validated = datetime(2026, 1, 1, tzinfo=UTC)
    every, warn = timedelta(days=365), timedelta(days=30)

    def state(days: int) -> str:
        now = validated + timedelta(days=days)
        return revalidation_status(validated, every=every, warn_before=warn, now=now).state

    assert [state(d) for d in (0, 334, 335, 364, 365, 900)] == [
        "ok",
        "ok",
        "due_soon",
        "due_soon",
        "overdue",
        "overdue",
    ]
    never = revalidation_status(None, every=every, warn_before=warn, now=validated)
    assert never.state == "never_validated" and never.due_at is None
