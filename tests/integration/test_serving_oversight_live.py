"""Each decision through a real `govml serve` on loopback: explanations with reason codes, the
referral band, the review queue, and suspend / resume within one poll interval.

credit@1 (a logistic regression on x1, x2) holds production; the policy in force for its tier
has reason codes and an oversight section.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import numpy as np
import pytest
import shap
from tests.integration.test_lifecycle import POLICY, Team
from tests.integration.test_serving_gateway import (
    MODEL,
    Served,
    build_store,
    read_log,
    record,
    serve,
    wait_for,
)

import govml

DECISIONS = """
reason_codes:
  adverse_outcome: 0
  codes:
    - {feature: x1, code: X1, text: First factor, adverse: First factor too low}
    - {feature: x2, code: X2, text: Second factor, adverse: Second factor too high}
oversight:
  refer: {score_between: [0.3, 0.7]}
  reviewers: [risk_officer]
"""


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Team]:
    tmp = tmp_path_factory.mktemp("overseen")
    home = tmp / "home"
    home.mkdir()
    url = f"sqlite:///{home / 'govml.db'}"
    govml.connect(home, database_url=url, user="alice", create=True).close()
    team = build_store(url, home, tmp)
    policy = tmp / "overseen.yaml"
    policy.write_text(POLICY.format(accuracy_min=0.0) + DECISIONS, encoding="utf-8")
    team["alice"].apply_policy(policy, replace=True)
    yield team
    team.close()


@pytest.fixture(scope="module")
def gateway(store: Team) -> Iterator[Served]:
    with serve(
        store.db_url, store.home, store.tmp, "--poll-seconds", "0.2", "--flush-seconds", "0.1"
    ) as served:
        yield served


@pytest.fixture
def http(gateway: Served) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=gateway.url, timeout=30, headers=gateway.headers) as client:
        yield client


def test_explanations_equal_shap_and_carry_reason_codes(store: Team, http: httpx.Client) -> None:
    rows = [record(i) for i in range(8)]
    answer = http.post("/predict?explain=2", json=rows).json()
    model = store["vic"].load_model(f"{MODEL}@1").raw
    frame = np.asarray([[row["x1"], row["x2"]] for row in rows])
    fingerprint = store["vic"].registry.dataset_fingerprint(
        store["vic"].get_version(f"{MODEL}@1").datasets[0].digest
    )
    means = {c["name"]: c["mean"] for c in fingerprint["profile"]["columns"]}
    background = np.asarray([[means["x1"], means["x2"]]])
    masker = shap.maskers.Independent(background, max_samples=1)
    expected = shap.LinearExplainer(model, masker).shap_values(frame)
    for row, explanation in enumerate(answer["explanations"]):
        got = {item["feature"]: item["contribution"] for item in explanation["contributions"]}
        assert got["x1"] == pytest.approx(expected[row, 0], abs=1e-6)
        assert got["x2"] == pytest.approx(expected[row, 1], abs=1e-6)
        if answer["decisions"][row] == "answered":  # a referred record has no reasons yet
            codes = {reason["code"] for reason in explanation["reasons"]}
            assert codes <= {"X1", "X2"}


def test_the_band_refers_and_a_reviewer_decides(
    store: Team, gateway: Served, http: httpx.Client
) -> None:
    rows = [record(100 + i) for i in range(40)]
    answer = http.post("/predict?explain=2", json=rows).json()
    referred = [i for i, decision in enumerate(answer["decisions"]) if decision == "referred"]
    assert referred and len(referred) < len(rows)
    for i, explanation in enumerate(answer["explanations"]):
        assert explanation["contributions"]
        if i in referred:  # no prediction, and no reasons for a decision nobody made yet
            assert answer["predictions"][i] is None
            assert "reasons" not in explanation and "adverse" not in explanation
        else:
            assert explanation["reasons"] and "adverse" in explanation
    erin = store["erin"]
    wait_for(lambda: len(erin.oversight.list(MODEL)) >= len(referred))  # type: ignore[attr-defined]
    queued = [r for r in erin.oversight.list(MODEL) if r.request_id == answer["request_id"]]  # type: ignore[attr-defined]
    assert [r.record for r in queued] == referred
    assert all(0.3 <= (r.score or 0) <= 0.7 for r in queued)
    decided = erin.oversight.decide(queued[0].id, decision=1, comment="checked")  # type: ignore[attr-defined]
    assert decided.decided_by == "erin"

    def logged() -> bool:
        log = read_log(gateway.log_dir)
        return bool((log["request_id"] == answer["request_id"]).sum() == len(rows))

    wait_for(logged)
    log = read_log(gateway.log_dir)
    mine = log.filter(log["request_id"] == answer["request_id"]).sort("record")
    assert mine["decision"].to_list() == answer["decisions"]
    for i in referred:  # the log keeps the model's reasons for the reviewer and the notice
        assert "reasons" in json.loads(mine["explanation"][i])
    store["alice"].verify_ledger()


def test_suspend_and_resume_reach_the_gateway_within_a_poll(
    store: Team, http: httpx.Client
) -> None:
    rows = [record(200 + i) for i in range(3)]
    store["frank"].oversight.suspend(MODEL, reason="incident 42")  # type: ignore[attr-defined]
    try:
        wait_for(lambda: http.post("/predict", json=rows).json()["decisions"] == ["referred"] * 3)
        answer = http.post("/predict", json=rows).json()
        assert "incident 42" in answer["referrals"][0]["reasons"][0]
    finally:
        store["erin"].oversight.resume(MODEL, reason="incident closed")  # type: ignore[attr-defined]
    wait_for(lambda: "referred" not in str(http.post("/predict", json=[record(1)]).json()))
    actions = [entry.action for entry in store["vic"].audit_log(model=MODEL)]
    assert "serving.suspended" in actions and "serving.resumed" in actions


def test_hostile_explain_values_are_422_not_500(http: httpx.Client) -> None:
    for value in ("999999", "-3", "1e9", "%00", "1&explain=2"):
        response = http.post(f"/predict?explain={value}", json=record(0))
        assert response.status_code == 422, value
        assert response.json()["errors"][0]["field"] == "explain"


def test_monitor_reports_referral_override_and_agreement(
    store: Team,
    gateway: Served,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from govml.cli.main import invoke

    with httpx.Client(base_url=gateway.url, timeout=30, headers=gateway.headers) as http:
        answer = http.post("/predict", json=[record(400 + i) for i in range(40)]).json()
    erin = store["erin"]

    def queued() -> list[Any]:
        return [r for r in erin.oversight.list(MODEL) if r.request_id == answer["request_id"]]  # type: ignore[attr-defined]

    wait_for(lambda: len(queued()) == answer["decisions"].count("referred"))
    erin.oversight.decide(queued()[0].id, decision=1, comment="checked")  # type: ignore[attr-defined]

    def logged() -> bool:
        log = read_log(gateway.log_dir)
        return bool((log["request_id"] == answer["request_id"]).sum() == 40)

    wait_for(logged)
    monkeypatch.setenv("GOVML_HOME", str(store.home))
    monkeypatch.setenv("GOVML_DATABASE_URL", store.db_url)
    monkeypatch.setenv("GOVML_USER", "bob")
    capsys.readouterr()
    invoke(["monitor", "run", MODEL, "--log-dir", str(gateway.log_dir), "--window", "1d", "--json"])
    out, _ = capsys.readouterr()
    figures = json.loads(out)["oversight"]
    assert figures["referred"] > 0 and figures["records"] > figures["referred"]
    assert figures["referral_rate"] == pytest.approx(figures["referred"] / figures["records"])
    assert figures["decided"] >= 1 and figures["override_rate"] is not None
    assert figures["agreement"] == pytest.approx(1 - figures["override_rate"])


def test_a_decision_notice_names_reasons_version_and_ledger_proof(
    store: Team,
    gateway: Served,
    http: httpx.Client,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from govml.cli.main import invoke

    rows = [record(300 + i) for i in range(30)]
    explained = http.post("/predict?explain=2", json=rows).json()
    plain = http.post("/predict", json=rows).json()
    adverse = next(i for i, p in enumerate(explained["predictions"]) if p == 0)
    referred = plain["decisions"].index("referred")
    erin = store["erin"]
    wait_for(lambda: any(r.request_id == plain["request_id"] for r in erin.oversight.list(MODEL)))  # type: ignore[attr-defined]
    case = next(
        r
        for r in erin.oversight.list(MODEL)
        if r.request_id == plain["request_id"] and r.record == referred
    )  # type: ignore[attr-defined]
    erin.oversight.decide(case.id, decision=1, comment="documents checked")  # type: ignore[attr-defined]
    monkeypatch.setenv("GOVML_HOME", str(store.home))
    monkeypatch.setenv("GOVML_DATABASE_URL", store.db_url)
    monkeypatch.setenv("GOVML_USER", "vic")

    def notice(request_id: str, position: int) -> dict[str, object]:
        capsys.readouterr()
        code = invoke(
            [
                "report",
                "decision",
                request_id,
                "--model",
                MODEL,
                "--log-dir",
                str(gateway.log_dir),
                "--record",
                str(position),
                "--json",
            ]
        )
        out, err = capsys.readouterr()
        assert code == 0, err
        return dict(json.loads(out))

    def ledgered() -> bool:
        return notice(explained["request_id"], adverse)["proof"]["ledger"] is not None  # type: ignore[index]

    wait_for(ledgered, timeout=30)
    first = notice(explained["request_id"], adverse)
    assert first["adverse"] is True and first["ref"] == f"{MODEL}@1"
    assert first["reasons"] == explained["explanations"][adverse]["reasons"]
    assert all(
        r["text"] in ("First factor too low", "Second factor too high") for r in first["reasons"]
    )  # type: ignore[union-attr]
    second = notice(plain["request_id"], referred)  # explained again from the logged inputs
    assert second["referred"] is True and second["final_decision"] == 1
    assert second["reviewed"]["decided_by"] == "erin" and second["proof"]["review"]  # type: ignore[index]
    capsys.readouterr()
    code = invoke(
        [
            "report",
            "decision",
            explained["request_id"],
            "--model",
            MODEL,
            "--log-dir",
            str(gateway.log_dir),
            "--record",
            str(adverse),
        ]
    )
    text, _ = capsys.readouterr()
    assert code == 0 and text.startswith("# Notice of adverse action")
    assert "First factor too low" in text or "Second factor too high" in text
    for bad in ("no-such-request", "\x00bad"):
        assert (
            invoke(["report", "decision", bad, "--model", MODEL, "--log-dir", str(gateway.log_dir)])
            != 0
        )


def test_a_reversed_decision_gets_the_reasons_of_the_final_decision(
    store: Team, gateway: Served, http: httpx.Client
) -> None:
    from govml.services.decision_notice import decision_notice, render_notice

    rows = [record(400 + i) for i in range(30)]
    answer = http.post("/predict?explain=2", json=rows).json()
    # A refused record with a factor in its favour (each explanation holds both inputs).
    refused = next(
        i
        for i, p in enumerate(answer["predictions"])
        if p == 0 and any(c["contribution"] > 0 for c in answer["explanations"][i]["contributions"])
    )
    toward_grant = sorted(
        (c for c in answer["explanations"][refused]["contributions"] if c["contribution"] > 0),
        key=lambda c: -c["contribution"],
    )
    erin = store["erin"]
    erin.oversight.override(  # type: ignore[attr-defined]
        MODEL,
        version=1,
        request_id=answer["request_id"],
        record=refused,
        model_decision=0,
        decision=1,
        comment="income verified",
    )

    def logged() -> bool:
        log = read_log(gateway.log_dir)
        return bool((log["request_id"] == answer["request_id"]).sum() == len(rows))

    wait_for(logged)
    ctx = store["vic"].ctx  # type: ignore[attr-defined]
    notice = decision_notice(ctx, MODEL, answer["request_id"], gateway.log_dir, record=refused)
    # The model refused; a person granted: no adverse-action notice, and the reasons are the
    # factors toward the grant, in the favourable wording.
    assert (notice["model_decision"], notice["final_decision"]) == (0, 1)
    assert notice["adverse"] is False and notice["reasons_for"] == "the reviewer's decision"
    assert [r["feature"] for r in notice["reasons"]] == [c["feature"] for c in toward_grant]
    assert all(r["text"] in ("First factor", "Second factor") for r in notice["reasons"])
    text = render_notice(notice)
    assert text.startswith("# Statement of reasons") and "toward the reviewer's decision" in text
    kept = decision_notice(ctx, MODEL, answer["request_id"], gateway.log_dir, record=0)
    if kept["final_decision"] == kept["model_decision"]:
        assert kept["reasons_for"] == "the model's decision"
