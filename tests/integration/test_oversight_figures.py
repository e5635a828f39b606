"""Referral rate, override rate and reviewer agreement by the policy's sensitive groups, from a
prediction log in the gateway's layout and the review queue of a real store."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from tests.integration.test_lifecycle import Team

from govml.domain.oversight import Referral
from govml.services.oversight_figures import oversight_figures

POLICY = """\
apiVersion: govml/v1
kind: Policy
metadata: {name: overseen-by-group}
tiers: [high, unacceptable]
performance:
  - {metric: accuracy, min: 0.0}
fairness:
  sensitive: [sex]
  rules:
    - {metric: demographic_parity_ratio, min: 0.0}
oversight:
  refer: {score_between: [0.4, 0.6]}
  reviewers: [risk_officer]
"""
NOW = datetime.now(UTC)


@pytest.fixture
def team(db_url: str, home: Path, tmp_path: Path) -> Iterator[Team]:
    made = Team(db_url, home, tmp_path)
    policy = tmp_path / "overseen.yaml"
    policy.write_text(POLICY, encoding="utf-8")
    made["alice"].apply_policy(policy)
    made.register("credit")
    yield made
    made.close()


def _log(root: Path) -> None:
    """Ten records of request r1: F on 0-3 (two referred), M on 4-9 (one referred)."""
    folder = root / "model=credit" / "version=1" / f"date={NOW.date().isoformat()}"
    folder.mkdir(parents=True)
    sexes = ["F"] * 4 + ["M"] * 6
    referred = {0, 1, 4}
    table = pa.table(
        {
            "request_id": ["r1"] * 10,
            "record": list(range(10)),
            "time": [NOW - timedelta(minutes=5)] * 10,
            "variant": ["champion"] * 10,
            "decision": ["referred" if i in referred else "answered" for i in range(10)],
            "inputs": [{"x1": 0.0, "x2": 0.0, "sex": sex} for sex in sexes],
        }
    )
    pq.write_table(table, folder / "part-1.parquet")


def _referral(record: int) -> Referral:
    return Referral(
        version=1,
        request_id="r1",
        record=record,
        reasons=["score in the band"],
        score=0.5,
        model_decision=0,
        inputs_digest="sha256:" + "0" * 64,
        referred_at=NOW - timedelta(minutes=5),
    )


def test_referral_override_and_agreement_are_reported_by_group(team: Team, tmp_path: Path) -> None:
    logs = tmp_path / "predictions"
    _log(logs)
    team["gateway"].oversight.record_referrals("credit", [_referral(i) for i in (0, 1, 4)])
    cases = {case.record: case for case in team["erin"].oversight.list("credit")}
    team["erin"].oversight.decide(cases[0].id, decision=1, comment="documents checked")
    team["erin"].oversight.decide(cases[1].id, decision=0, comment="agree")
    team["erin"].oversight.decide(cases[4].id, decision=0, comment="agree")
    team["erin"].oversight.override(
        "credit", version=1, request_id="r1", record=7, model_decision=1, decision=0, comment="c"
    )
    ctx = team["vic"].ctx
    end = datetime.now(UTC) + timedelta(minutes=1)  # the overrides are recorded now
    figures = oversight_figures(ctx, "credit", logs, NOW - timedelta(hours=1), end)
    assert (figures["records"], figures["referred"], figures["decided"]) == (10, 3, 4)
    assert figures["referral_rate"] == pytest.approx(0.3)
    assert figures["override_rate"] == pytest.approx(0.5)
    assert figures["sensitive"] == ["sex"]
    groups = {row["group"]: row for row in figures["by_group"]}
    assert set(groups) == {"sex=F", "sex=M"}
    women, men = groups["sex=F"], groups["sex=M"]
    assert (women["records"], women["decided"]) == (4, 2)
    assert women["referral_rate"] == pytest.approx(0.5)
    assert women["override_rate"] == pytest.approx(0.5) and women["agreement"] == 0.5
    assert (men["records"], men["decided"]) == (6, 2)
    assert men["referral_rate"] == pytest.approx(1 / 6)
    assert men["override_rate"] == pytest.approx(0.5) and men["agreement"] == 0.5
    # A decided case whose record is not in the window's log is not put in a group.
    team["erin"].oversight.override(
        "credit", version=1, request_id="r2", record=0, model_decision=1, decision=1, comment="c"
    )
    end = datetime.now(UTC) + timedelta(minutes=1)
    figures = oversight_figures(ctx, "credit", logs, NOW - timedelta(hours=1), end)
    groups = {row["group"]: row for row in figures["by_group"]}
    assert groups["not in the log"]["decided"] == 1 and groups["not in the log"]["records"] == 0
