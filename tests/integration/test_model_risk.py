"""Model-risk lifecycle: the risk register (versioned, ledgered), retirement (aliases cleared,
promotion refused, history and audit verify intact) and revalidation (warned, then overdue and
promotion refused until a new evaluation and approval)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from tests.integration.test_lifecycle import Team

import govml
from govml.cli.main import invoke
from govml.errors import GateError
from govml.services.model_risk import ModelRiskService

POLICY = """\
apiVersion: govml/v1
kind: Policy
metadata: {name: gate-revalidate}
tiers: [high]
performance:
  - {metric: accuracy, min: 0.0}
approvals: {required: 2, roles: [approver, risk_officer]}
revalidation: {every: 30d, warn_before: 7d}
"""
RISKS = """\
risks:
  - risk: Income proxy for a protected attribute
    likelihood: medium
    impact: high
    mitigation: Quarterly fairness review
    owner: erin
    status: open
    review_date: 2027-03-01
  - {id: R9, risk: Drift after rate changes, likelihood: high, impact: medium,
     mitigation: PSI alerts, owner: carol, status: mitigated, review_date: 2027-01-15}
"""


@pytest.fixture
def team(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Team]:
    home = tmp_path / "home"
    home.mkdir()
    url = f"sqlite:///{home / 'govml.db'}"
    govml.connect(home, database_url=url, user="alice", create=True).close()
    made = Team(url, home, tmp_path)
    policy = tmp_path / "policy.yaml"
    policy.write_text(POLICY, encoding="utf-8")
    made["alice"].apply_policy(policy)
    ref = made.register("credit")
    made.evaluate(ref)
    made.approve_twice(ref)
    made["frank"].promote(ref, to="staging")
    made["frank"].promote(ref, to="production")
    monkeypatch.setenv("GOVML_HOME", str(home))
    monkeypatch.setenv("GOVML_DATABASE_URL", url)
    monkeypatch.delenv("GOVML_SERVER", raising=False)
    yield made
    made.close()


def cli(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], user: str, *args: str
) -> tuple[int, str, str]:
    monkeypatch.setenv("GOVML_USER", user)
    capsys.readouterr()
    code = invoke(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_risk_register_is_versioned_validated_and_ledgered(
    team: Team, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    risks = team.tmp / "risks.yaml"
    risks.write_text(RISKS, encoding="utf-8")
    args = ["risks", "set", "credit", "--file", str(risks), "--ticket", "JIRA-123", "--json"]
    code, out, err = cli(monkeypatch, capsys, "bob", *args)
    assert code == 0, err
    first = json.loads(out)
    assert first["revision"] == 1
    assert [r["id"] for r in first["risks"]] == ["R1", "R9"]
    assert first["risks"][0]["review_date"] == "2027-03-01"

    bad = team.tmp / "bad.yaml"
    bad.write_text(RISKS.replace("likelihood: high", "likelihood: huge"), encoding="utf-8")
    code, _, err = cli(monkeypatch, capsys, "bob", "risks", "set", "credit", "--file", str(bad))
    assert code == 2
    assert f"{bad}: risks[1].likelihood: 'huge' is not one of low, medium, high" in err
    code, _, err = cli(monkeypatch, capsys, "vic", "risks", "set", "credit", "--file", str(risks))
    assert code == 3, err
    code, _, err = cli(
        monkeypatch,
        capsys,
        "bob",
        "risks",
        "set",
        "credit",
        "--file",
        str(risks),
        "--ticket",
        "JIRA 123; rm -rf",
    )
    assert code == 2 and "ticket" in err

    risks.write_text(RISKS.replace("status: open", "status: accepted"), encoding="utf-8")
    assert cli(monkeypatch, capsys, "bob", "risks", "set", "credit", "--file", str(risks))[0] == 0
    code, out, _ = cli(monkeypatch, capsys, "vic", "risks", "history", "credit", "--json")
    history = json.loads(out)
    assert [h["revision"] for h in history] == [1, 2]
    assert history[0]["ticket"] == "JIRA-123" and history[0]["digest"] == first["digest"]
    code, out, _ = cli(
        monkeypatch, capsys, "vic", "risks", "show", "credit", "--revision", "1", "--json"
    )
    assert json.loads(out)["risks"][0]["status"] == "open"
    code, out, _ = cli(monkeypatch, capsys, "vic", "risks", "show", "credit", "--json")
    assert json.loads(out)["risks"][0]["status"] == "accepted"
    code, out, _ = cli(
        monkeypatch, capsys, "vic", "audit", "log", "--action", "risk_register.revised", "--json"
    )
    entries = json.loads(out)
    assert [e["payload"]["digest"] for e in entries] == [h["digest"] for h in history]


def test_retirement_clears_aliases_refuses_promotion_and_keeps_history(
    team: Team, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = cli(monkeypatch, capsys, "bob", "models", "retire", "credit", "--reason", "x")
    assert code == 3, err
    code, _, err = cli(monkeypatch, capsys, "frank", "models", "retire", "credit", "--reason", " ")
    assert code == 2 and "reason must not be empty" in err
    code, out, err = cli(
        monkeypatch,
        capsys,
        "frank",
        "models",
        "retire",
        "credit",
        "--reason",
        "replaced by credit-v2",
        "--ticket",
        "CHG0012345",
        "--json",
    )
    assert code == 0, err
    done = json.loads(out)
    assert done["aliases"] == {"production": 1, "staging": 1}
    assert team["vic"].get_version("credit@1").aliases == ()
    code, out, _ = cli(monkeypatch, capsys, "vic", "models", "show", "credit", "--json")
    assert json.loads(out)["retired"]["reason"] == "replaced by credit-v2"
    code, out, _ = cli(monkeypatch, capsys, "vic", "models", "show", "credit")
    assert "credit is retired" in out and "CHG0012345" in out
    assert [v.version for v in team["vic"].list_versions("credit")] == [1]
    with pytest.raises(GateError) as refused:
        team["frank"].promote("credit@1", to="staging")
    assert "was retired on" in refused.value.diagnostics()
    code, _, err = cli(monkeypatch, capsys, "frank", "models", "retire", "credit", "--reason", "x")
    assert code != 0 and "was retired on" in err
    code, _, err = cli(monkeypatch, capsys, "alice", "audit", "verify")
    assert code == 0, err
    code, out, _ = cli(
        monkeypatch, capsys, "vic", "audit", "log", "--action", "model.retired", "--json"
    )
    (entry,) = json.loads(out)
    assert entry["actor"] == "frank" and entry["payload"]["ticket"] == "CHG0012345"


def test_revalidation_warns_then_refuses_until_evaluated_and_approved_again(
    team: Team, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    frank = team["frank"]
    service = ModelRiskService(frank.ctx)
    real = frank.ctx.clock
    state = service.revalidation("credit")["versions"]
    assert {v["state"] for v in state} == {"ok"}
    frank.ctx.clock = lambda: real() + timedelta(days=25)
    assert {v["state"] for v in service.revalidation("credit")["versions"]} == {"due_soon"}
    # The monitoring run says so in its notes.
    empty = team.tmp / "no-log"
    empty.mkdir()
    run = frank.monitor("credit", log_dir=empty, dry_run=True)
    assert any(n.startswith("revalidation of credit@1 (") and "is due on" in n for n in run.notes)
    frank.ctx.clock = lambda: real() + timedelta(days=31)
    (overdue,) = {v["state"] for v in service.revalidation("credit")["versions"]}
    assert overdue == "overdue"
    # Production moves back and forth: version 1 cannot take production again when overdue.
    for name in ("bob", "carol", "erin"):
        team[name].ctx.clock = frank.ctx.clock
    team.register("credit")
    team.evaluate("credit@2")
    team.approve_twice("credit@2")
    frank.promote("credit@2", to="staging")
    frank.promote("credit@2", to="production")
    with pytest.raises(GateError) as refused:
        frank.promote("credit@1", to="production")
    assert "revalidation of credit@1 was due on" in refused.value.diagnostics()
    # A new evaluation and the approvals bound to it clear the way.
    team.evaluate("credit@1")
    team.approve_twice("credit@1")
    frank.promote("credit@1", to="production")
    code, out, _ = cli(monkeypatch, capsys, "vic", "models", "revalidation", "credit", "--json")
    assert code == 0 and json.loads(out)["every"] == "30d"


def test_tickets_are_ledgered_with_approvals_and_promotions(
    team: Team, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    ref = team.register("credit")
    team.evaluate(ref)
    bad = ["approve", ref, "--comment", "ok", "--ticket", "JIRA 1; <script>"]
    code, _, err = cli(monkeypatch, capsys, "carol", *bad)
    assert code == 2 and "ticket 'JIRA 1; <script>'" in err
    assert team["vic"].list_approvals(ref) == []
    code, out, err = cli(
        monkeypatch,
        capsys,
        "carol",
        "approve",
        ref,
        "--comment",
        "ok",
        "--ticket",
        "JIRA-7",
        "--json",
    )
    assert code == 0, err
    approval_id = json.loads(out)["id"]
    team["erin"].approve(ref, comment="risk accepted")
    code, out, err = cli(
        monkeypatch,
        capsys,
        "frank",
        "promote",
        ref,
        "--to",
        "staging",
        "--ticket",
        "CHG-42",
        "--json",
    )
    assert code == 0, err
    change_id = json.loads(out)["id"]
    code, out, _ = cli(
        monkeypatch, capsys, "vic", "audit", "log", "--action", "ticket.linked", "--json"
    )
    linked = [(e["subject"], e["payload"]) for e in json.loads(out)]
    assert linked == [
        ("model/credit/versions/2", {"ticket": "JIRA-7", "for": "approval", "id": approval_id}),
        ("model/credit", {"ticket": "CHG-42", "for": "promote", "id": change_id}),
    ]
    code, _, err = cli(monkeypatch, capsys, "alice", "audit", "verify")
    assert code == 0, err
