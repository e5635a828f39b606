"""The model card and Annex IV show the oversight set-up, referral and override figures,
suspensions and the retention policy, read from the policy and the ledger."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from tests.integration.test_lifecycle import POLICY, Team

from govml.domain.oversight import Referral

DECISIONS = """
reason_codes:
  adverse_outcome: 0
  codes:
    - {feature: x1, code: X1, text: First factor, adverse: First factor too low}
oversight:
  refer: {score_between: [0.4, 0.6], out_of_range: true}
  reviewers: [risk_officer]
  when_suspended: unavailable
retention: {days: 400, subject_key: [customer], pseudonymise: [customer]}
"""


@pytest.fixture
def team(db_url: str, home: Path, tmp_path: Path) -> Iterator[Team]:
    made = Team(db_url, home, tmp_path)
    policy = tmp_path / "decisions.yaml"
    policy.write_text(POLICY.format(accuracy_min=0.0) + DECISIONS, encoding="utf-8")
    made["alice"].apply_policy(policy)
    made.register("credit")
    yield made
    made.close()


def _referral(request_id: str) -> Referral:
    return Referral(
        version=1,
        request_id=request_id,
        record=0,
        reasons=["score 0.5 in the referral band [0.4, 0.6]"],
        score=0.5,
        model_decision=0,
        inputs_digest=None,
        referred_at=datetime(2026, 12, 7, tzinfo=UTC),
    )


def test_documents_show_oversight_figures_and_retention(team: Team, tmp_path: Path) -> None:
    oversight = team["gateway"].oversight
    oversight.record_referrals("credit", [_referral("d1"), _referral("d2"), _referral("d3")])
    pending = team["erin"].oversight.list("credit")
    team["erin"].oversight.decide(pending[0].id, decision=1, comment="verified")
    team["erin"].oversight.decide(pending[1].id, decision=0, comment="agree")
    team["frank"].oversight.suspend("credit", reason="incident 7")
    card = team["vic"].report("model-card", "credit@1", format="json")
    decisions = json.loads(card)["decisions"]
    assert (decisions["referrals"], decisions["decided"], decisions["overrides"]) == (3, 2, 1)
    assert decisions["override_rate"] == 0.5
    assert decisions["retention"]["days"] == 400
    assert decisions["suspensions"][0]["reason"] == "incident 7"
    text = str(team["vic"].report("model-card", "credit@1", format="md"))
    assert "Human oversight and data retention" in text
    assert "records whose favourable score is in [0.4, 0.6]" in text
    assert "prediction log kept 400 days" in text and "customer" in text
    annex = str(team["vic"].report("annex-iv", "credit@1", format="md"))
    assert "Human oversight in the serving path (EU AI Act Art. 14)" in annex
    assert "| 3 | 2 | 1 | 50.0% |" in annex
    assert "incident 7" in annex
    html = str(team["vic"].report("annex-iv", "credit@1", format="html"))
    (tmp_path / "annex.html").write_text(html, encoding="utf-8")
    assert "Reviewers (who decide referred cases" in html
