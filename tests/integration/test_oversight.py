"""The review queue, overrides and suspensions on a real store (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from tests.integration.test_lifecycle import Team

from govml.domain.oversight import Referral
from govml.errors import ForbiddenError, IntegrityError, NotFoundError, ValidationError
from govml.store.db import Store

POLICY = """\
apiVersion: govml/v1
kind: Policy
metadata: {name: overseen}
tiers: [high, unacceptable]
performance:
  - {metric: accuracy, min: 0.0}
approvals: {required: 2, roles: [approver, risk_officer]}
oversight:
  refer: {score_between: [0.4, 0.6]}
  reviewers: [reviewer, risk_officer]
"""


@pytest.fixture
def team(db_url: str, home: Path, tmp_path: Path) -> Iterator[Team]:
    made = Team(db_url, home, tmp_path)
    policy = tmp_path / "overseen.yaml"
    policy.write_text(POLICY, encoding="utf-8")
    made["alice"].apply_policy(policy)
    made.tokens["rosa"] = made["alice"].add_user("rosa", roles=["reviewer"]).token
    made.register("credit")
    yield made
    made.close()


def _referral(request_id: str, record: int = 0) -> Referral:
    return Referral(
        version=1,
        request_id=request_id,
        record=record,
        reasons=["score 0.5000 in the referral band [0.4, 0.6]"],
        score=0.5,
        model_decision=0,
        inputs_digest="sha256:" + "0" * 64,
        referred_at=datetime(2026, 12, 7, tzinfo=UTC),
    )


def test_referrals_wait_for_a_reviewer_and_every_step_is_ledgered(team: Team) -> None:
    gateway = team["gateway"].oversight
    assert gateway.record_referrals("credit", [_referral("r1"), _referral("r1", 1)]) == 2
    assert gateway.record_referrals("credit", [_referral("r1")]) == 0  # a retry adds nothing
    pending = team["rosa"].oversight.list("credit")
    assert [(item.request_id, item.record) for item in pending] == [("r1", 0), ("r1", 1)]
    first = pending[0]
    with pytest.raises(ForbiddenError, match="reviewer or risk_officer"):
        team["frank"].oversight.decide(first.id, decision=1, comment="looks fine")
    with pytest.raises(ForbiddenError):
        team["carol"].oversight.decide(first.id, decision=1, comment="approver, not reviewer")
    with pytest.raises(ValidationError, match="reason"):
        team["rosa"].oversight.decide(first.id, decision=1, comment="  ")
    decided = team["rosa"].oversight.decide(first.id, decision=1, comment="income verified")
    assert (decided.status, decided.decision, decided.override) == ("decided", 1, True)
    assert decided.decided_by == "rosa"
    with pytest.raises(IntegrityError, match="decided already by rosa"):
        team["erin"].oversight.decide(first.id, decision=0, comment="again")
    kept = team["erin"].oversight.decide(pending[1].id, decision=0, comment="agree")
    assert kept.override is False
    overridden = team["erin"].oversight.override(
        "credit", version=1, request_id="r2", model_decision=1, decision=0, comment="fraud"
    )
    assert (overridden.kind, overridden.override) == ("override", True)
    with pytest.raises(NotFoundError):
        team["rosa"].oversight.show("rf_nope")
    actions = [entry.action for entry in team["vic"].audit_log(model="credit")]
    assert actions.count("referral.opened") == 2
    assert actions.count("referral.decided") == 2
    assert actions.count("referral.overridden") == 1
    team["alice"].verify_ledger()
    entries = [e for e in team["vic"].audit_log(model="credit") if e.action.startswith("referral")]
    assert all("income verified" not in str(e.payload) for e in entries)  # only its digest


def test_a_decision_the_version_could_not_make_is_refused(team: Team) -> None:
    team["gateway"].oversight.record_referrals("credit", [_referral("r5")])
    (item,) = team["rosa"].oversight.list("credit")
    # credit@1 decides int64 classes: a text label or a boolean is no decision of it.
    for wrong in ("maybe", True, 0.5):
        with pytest.raises(ValidationError, match="decision: credit@1 decides int64 classes"):
            team["rosa"].oversight.decide(item.id, decision=wrong, comment="checked")
    assert team["rosa"].oversight.show(item.id).status == "pending"
    with pytest.raises(ValidationError, match="model_decision: credit@1 decides int64"):
        team["rosa"].oversight.override(
            "credit", version=1, request_id="r6", model_decision="no", decision=1, comment="c"
        )
    with pytest.raises(NotFoundError, match="no version 7"):
        team["rosa"].oversight.override(
            "credit", version=7, request_id="r6", model_decision=0, decision=1, comment="c"
        )
    with pytest.raises(ValidationError, match="version must be"):
        team["rosa"].oversight.override(
            "credit", version=0, request_id="r6", model_decision=0, decision=1, comment="c"
        )
    found = team["rosa"].oversight.find("credit", "r5")
    assert found.id == item.id
    with pytest.raises(NotFoundError, match="no referral or override of credit for request r5"):
        team["rosa"].oversight.find("credit", "r5", 3)
    decided = team["rosa"].oversight.decide(item.id, decision=1, comment="checked")
    assert decided.override is True


def test_a_changed_decision_is_named_by_audit_verify(team: Team) -> None:
    team["gateway"].oversight.record_referrals("credit", [_referral("r9")])
    (item,) = team["rosa"].oversight.list("credit")
    team["rosa"].oversight.decide(item.id, decision=0, comment="agree with the model")
    store = Store(team.db_url)
    try:
        with store.engine.begin() as conn:
            conn.execute(
                sa.text("UPDATE referrals SET decision = '1' WHERE id = :id"), {"id": item.id}
            )
    finally:
        store.dispose()
    with pytest.raises(IntegrityError, match=f"referral {item.id} differs from ledger entry"):
        team["alice"].verify_ledger()


def test_suspend_and_resume_need_a_deployer_or_risk_officer(team: Team) -> None:
    with pytest.raises(ForbiddenError, match="deployer or risk_officer"):
        team["bob"].oversight.suspend("credit", reason="drift")
    with pytest.raises(ValidationError, match="credit is running already: it was never"):
        team["frank"].oversight.resume("credit", reason="nothing to resume")
    with pytest.raises(ForbiddenError):
        team["rosa"].oversight.suspend("credit", reason="drift")
    held = team["erin"].oversight.suspend("credit", reason="complaints from applicants")
    assert held.suspended and held.updated_by == "erin"
    assert team["vic"].oversight.suspension("credit") is not None
    with pytest.raises(ValidationError, match="suspended already"):
        team["frank"].oversight.suspend("credit", reason="again")
    team["frank"].oversight.resume("credit", reason="fixed")
    assert team["vic"].oversight.suspension("credit") is None
    with pytest.raises(ValidationError, match=r"running already \(resumed at .* by frank"):
        team["frank"].oversight.resume("credit", reason="again")
    actions = [entry.action for entry in team["vic"].audit_log(model="credit")]
    assert actions[-2:] == ["serving.suspended", "serving.resumed"]
    team["alice"].verify_ledger()


def _cli(
    team: Team,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    user: str,
    *args: str,
) -> tuple[int, str, str]:
    from govml.cli.main import invoke

    monkeypatch.setenv("GOVML_HOME", str(team.home))
    monkeypatch.setenv("GOVML_DATABASE_URL", team.db_url)
    monkeypatch.setenv("GOVML_USER", user)
    monkeypatch.delenv("GOVML_SERVER", raising=False)
    code = invoke(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_the_command_line_lists_shows_decides_suspends_and_resumes(
    team: Team, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    team["gateway"].oversight.record_referrals("credit", [_referral("cli-1")])
    code, out, _ = _cli(team, monkeypatch, capsys, "vic", "review", "list", "credit", "--json")
    assert code == 0
    (item,) = json.loads(out)
    assert (item["request_id"], item["status"], item["model_decision"]) == ("cli-1", "pending", 0)
    code, out, _ = _cli(team, monkeypatch, capsys, "vic", "review", "show", item["id"], "--json")
    assert code == 0 and json.loads(out)["reasons"] == item["reasons"]
    code, _, err = _cli(
        team,
        monkeypatch,
        capsys,
        "frank",
        "review",
        "decide",
        item["id"],
        "--decision",
        "1",
        "--reason",
        "deployers do not review",
    )
    assert code != 0 and "reviewer or risk_officer" in err
    code, out, _ = _cli(
        team,
        monkeypatch,
        capsys,
        "rosa",
        "review",
        "decide",
        item["id"],
        "--decision",
        "1",
        "--reason",
        "documents checked",
        "--json",
    )
    assert code == 0
    decided = json.loads(out)
    assert (decided["decision"], decided["override"], decided["decided_by"]) == (1, True, "rosa")
    code, _, err = _cli(team, monkeypatch, capsys, "vic", "review", "show", "rf_' OR 1=1 --")
    assert code != 0 and "no referral" in err
    code, out, _ = _cli(
        team,
        monkeypatch,
        capsys,
        "erin",
        "serving",
        "suspend",
        "credit",
        "--reason",
        "audit",
        "--json",
    )
    assert code == 0 and json.loads(out)["suspended"] is True
    code, _, err = _cli(
        team, monkeypatch, capsys, "vic", "serving", "resume", "credit", "--reason", "x"
    )
    assert code != 0 and "deployer or risk_officer" in err
    code, out, _ = _cli(
        team, monkeypatch, capsys, "frank", "serving", "resume", "credit", "--reason", "ok"
    )
    assert code == 0
