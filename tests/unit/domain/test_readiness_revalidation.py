"""The revalidation condition of the production gate: under a policy whose ``revalidation``
blocks promotion, the version's latest evaluation under the policy must be newer than
``revalidation.every``; otherwise the gate lists it as missing (staging is not concerned)."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from tests.unit.domain.test_readiness import NOW, PASSED, POLICY, judge

from govml.domain.lifecycle import Readiness

EVERY = replace(POLICY, revalidate_every=timedelta(days=30), revalidation_text="30d")


def test_a_recent_evaluation_meets_the_revalidation_condition() -> None:
    recent = replace(PASSED, created_at=NOW - timedelta(days=29))
    ready = judge(policy=EVERY, evaluations=(recent,))
    assert ready.ready, ready.missing
    condition = ready.conditions[-1]
    assert condition.name == "revalidation" and condition.met
    assert "due for revalidation on" in condition.detail and "every 30d" in condition.detail
    assert Readiness.from_dict(ready.to_dict()) == ready


def test_an_overdue_evaluation_keeps_the_version_out_of_production() -> None:
    old = replace(PASSED, created_at=NOW - timedelta(days=30))
    ready = judge(policy=EVERY, evaluations=(old,))
    assert not ready.ready
    (missing,) = ready.missing
    assert missing.startswith("revalidation of credit@1 was due on 2026-01-21")
    assert "evaluate it again and get it approved" in missing
    assert judge(alias="staging", policy=EVERY, evaluations=(old,)).ready


def test_without_the_rule_or_a_dated_evaluation_there_is_no_condition() -> None:
    old = replace(PASSED, created_at=NOW - timedelta(days=300))
    assert judge(policy=POLICY, evaluations=(old,)).ready
    assert "revalidation" not in [c.name for c in judge(policy=EVERY).conditions]
