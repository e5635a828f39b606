"""The ML Test Score reads what the other commands show, section by section.

One store per test, on SQLite and PostgreSQL: model ``credit`` with two versions evaluated
under the policy in force, approved and promoted (version 2 holds staging and production),
and model ``trial`` evaluated once against a ``--policy`` file. Monitoring runs read a
prediction log written in the gateway's layout. Each test changes the facts a section
reads and checks the points and evidence of the tests they move, and the negative cases:
a one-off ``--policy`` evaluation is not the policy in force, a canary without a distinct
staging version is no canary, monitoring runs that ``govml monitor history`` shows are
never reported as missing.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from tests.integration.monitoring_logs import write_feedback, write_predictions
from tests.integration.test_lifecycle import Team

import govml

DAY = datetime(2026, 3, 2, tzinfo=UTC)
POLICY = """\
apiVersion: govml/v1
kind: Policy
metadata: {{name: {name}, owner: risk@example.com}}
tiers: [high]
data:
  - {{expect: no_nulls, columns: [x1, x2]}}
  - {{expect: no_personal_data}}
performance:
  - {{metric: accuracy, min: {accuracy}}}
fairness:
  sensitive: [group]
  min_group_size: 30
  rules: [{{metric: demographic_parity_difference, max: 0.9}}]
explainability: {{top_k: 2, sample_rows: 100}}
approvals: {{required: 2, roles: [approver, risk_officer]}}
monitoring:
  window: 1d
  drift: {{psi: {{warn: 0.1, alert: 0.25}}}}
  performance: [{{metric: accuracy, min: 0.75}}]
  on_critical: [rollback]
"""


def frame(n: int, seed: int, *, shift: float = 0.0, flip: float = 0.0) -> pd.DataFrame:
    """x1, x2 (x1 shifted by ``shift``), a group and the label; ``flip`` flips labels."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 2))
    y = (2 * x[:, 0] - 0.5 * x[:, 1] + rng.normal(scale=0.5, size=n) > 0).astype("int64")
    if flip:
        y = np.where(rng.random(n) < flip, 1 - y, y)
    group = np.where(rng.random(n) < 0.5, "a", "b")
    return pd.DataFrame({"x1": x[:, 0] + shift, "x2": x[:, 1], "group": group, "y": y})


class Scored:
    """The store every test here starts from (see the module docstring)."""

    def __init__(self, team: Team) -> None:
        self.team = team
        self.logs = team.home / "predictions"
        self.policy = self.write_policy("score-gate", accuracy=0.6)
        team["alice"].apply_policy(self.policy)
        self.data = team.tmp / "eval.csv"
        frame(600, seed=5).to_csv(self.data, index=False)
        bob = team["bob"]
        train = frame(2000, seed=0)
        self.models: dict[int, LogisticRegression] = {}
        bob.create_model("credit", risk_tier="high", description="d", intended_use="u")
        for number in (1, 2):
            fitted = self.register("credit", train, seed=number)
            self.models[number] = fitted
            ref = f"credit@{number}"
            assert self.evaluate(ref).status == "pass"
            team["carol"].approve(ref, comment="ok")
            team["erin"].approve(ref, comment="ok")
            team["frank"].promote(ref, to="staging")
            team["frank"].promote(ref, to="production")
        bob.create_model("trial", risk_tier="high", description="d", intended_use="u")
        self.register("trial", train, seed=3)
        trial = self.write_policy("trial-gate", accuracy=0.5)
        self.trial = self.evaluate("trial@1", policy=str(trial))

    def write_policy(self, name: str, *, accuracy: float) -> Path:
        path = self.team.tmp / f"{name}-{accuracy}.yaml"
        path.write_text(POLICY.format(name=name, accuracy=accuracy), encoding="utf-8")
        return path

    def register(self, model: str, train: pd.DataFrame, *, seed: int) -> LogisticRegression:
        part = train.sample(frac=0.8, random_state=seed)
        fitted = LogisticRegression().fit(part[["x1", "x2"]], part["y"])
        self.team["bob"].register_version(
            model, model=fitted, train_data=train[["x1", "x2", "y"]], target="y"
        )
        return fitted

    def evaluate(self, ref: str, **kwargs: Any) -> govml.Evaluation:
        return self.team["bob"].evaluate(ref, data=str(self.data), target="y", n_boot=50, **kwargs)

    def score(self, model: str = "credit") -> dict[str, tuple[float, str]]:
        """Return each test's points and its evidence (one string) from the JSON document."""
        document = json.loads(str(self.team["vic"].report("ml-test-score", model, format="json")))
        return {
            test["id"]: (test["points"], " | ".join(test["evidence"]))
            for section in document["sections"]
            for test in section["tests"]
        }

    def serve(self, version: int, data: pd.DataFrame, *, day: int, prefix: str) -> None:
        model = self.models[version]
        inputs = data[["x1", "x2"]]
        start = DAY + timedelta(days=day)
        ids = write_predictions(
            self.logs,
            "credit",
            version,
            inputs,
            model.predict(inputs),
            model.predict_proba(inputs),
            start=start,
            spacing=timedelta(hours=20) / len(data),
            prefix=prefix,
        )
        write_feedback(
            self.logs,
            "credit",
            ids,
            data["y"].to_numpy(),
            when=start + timedelta(hours=22),
            extra={"group": data["group"].tolist()},
            name=f"part-{prefix}.parquet",
        )

    def monitor(self, *, day: int) -> Any:
        start = DAY + timedelta(days=day)
        return self.team["frank"].monitor(
            "credit", since=start, until=start + timedelta(days=1), log_dir=self.logs
        )


@pytest.fixture
def scored(db_url: str, home: Path, tmp_path: Path) -> Iterator[Scored]:
    team = Team(db_url, home, tmp_path)
    made = Scored(team)
    yield made
    team.close()


def test_data_tests_count_only_evaluations_under_the_policy_in_force(scored: Scored) -> None:
    score = scored.score()
    points, evidence = score["data.1"]
    assert points == 1
    assert "no_nulls, personal_data ran in evaluation(s) 1, 2" in evidence
    assert "policy score-gate v1, in force, gates every evaluation on its data section" in evidence
    # The personal-data check is found by the name evaluations give it.
    assert score["data.5"][0] == 1
    assert "personal_data ran in evaluation(s) 1, 2" in score["data.5"][1]
    assert score["data.4"][0] == 1

    # A one-off evaluation against a --policy file is documented once, not the policy in force.
    used = scored.trial.document["policy"]
    assert (used["name"], used["source"]) == ("trial-gate", "file")
    trial = scored.score("trial")
    for test in ("data.1", "data.4", "data.5"):
        points, evidence = trial[test]
        assert points == 0.5, (test, evidence)
        assert "evaluation(s) 3 used policy trial-gate (a --policy file)" in evidence
        assert "none under policy score-gate v1, in force" in evidence

    # A new version of the policy in force makes every earlier evaluation stale.
    scored.team["alice"].apply_policy(scored.write_policy("score-gate", accuracy=0.55))
    points, evidence = scored.score()["data.1"]
    assert points == 0.5
    assert "none under policy score-gate v2, in force" in evidence


def test_model_tests_read_approvals_evaluations_and_monitored_performance(
    scored: Scored,
) -> None:
    score = scored.score()
    assert score["model.1"] == (
        1,
        "approved: credit@1, credit@2 | policy score-gate v1, in force, requires 2 approval(s) "
        "before production",
    )
    assert score["model.7"][0] == 1
    assert "demographic_parity_difference ran in evaluation(s) 1, 2" in score["model.7"][1]
    points, evidence = score["model.2"]
    assert points == 0
    assert evidence.endswith("but no monitoring run is recorded")
    assert score["model.4"] == (
        0,
        "no monitoring run is recorded: performance over time is unknown",
    )
    trial = scored.score("trial")
    assert trial["model.6"][0] == trial["model.7"][0] == 0.5

    scored.serve(2, frame(600, seed=7), day=0, prefix="d0")
    first = scored.monitor(day=0)
    online = first.report(2)
    (accuracy,) = [c for c in online.checks if c.check == "performance:accuracy"]
    offline = scored.team["vic"].get_evaluation(2).check("accuracy")["value"]
    points, evidence = scored.score()["model.2"]
    assert points == 1
    shown = f"{_number(offline)} offline (evaluation 2), {_number(accuracy.value)} online"
    assert f"accuracy of credit@2: {shown}" in evidence
    assert f"online values from monitoring run(s) {first.id}" in evidence
    points, evidence = scored.score()["model.4"]
    assert points == 0
    assert "no version's performance was measured on more than one window" in evidence

    scored.serve(2, frame(600, seed=8), day=1, prefix="d1")
    second = scored.monitor(day=1)
    points, evidence = scored.score()["model.4"]
    assert points == 0.5
    assert "accuracy of credit@2 measured on 2 windows ending 2026-03-03 00:00 UTC to " in evidence
    assert second.report(2).checks  # the second window was judged


def test_infrastructure_canary_needs_a_distinct_staging_version(scored: Scored) -> None:
    frank = scored.team["frank"]
    score = scored.score()
    assert score["infrastructure.6"] == (0, "serving mode is off: no challenger is served")
    assert score["infrastructure.4"][0] == 1
    assert "credit@2 to production on evaluation 2" in score["infrastructure.4"][1]
    assert score["infrastructure.7"] == (
        0.5,
        "a previous production version exists to roll back to; no rollback was exercised",
    )

    # A canary of the version production already serves is no canary (the gateway serves none).
    frank.configure_serving("credit", mode="canary", share=0.2)
    points, evidence = scored.score()["infrastructure.6"]
    assert points == 0
    assert "credit@2 holds both staging and production: no challenger is served" in evidence
    # Nor is a canary of a model that has no staging version.
    frank.configure_serving("trial", mode="canary", share=0.2)
    points, evidence = scored.score("trial")["infrastructure.6"]
    assert points == 0
    assert "no version holds staging: no challenger is served" in evidence

    scored.register("credit", frame(2000, seed=0), seed=9)
    assert scored.evaluate("credit@3").status == "pass"
    frank.promote("credit@3", to="staging")
    configured = frank.audit_log(model="credit", action="serving.configured")[-1]
    points, evidence = scored.score()["infrastructure.6"]
    assert points == 1
    assert evidence == (
        "credit@3 (staging) answers 20 % of the traffic as a canary beside credit@2 "
        f"(production) (ledger entry {configured.seq})"
    )
    frank.configure_serving("credit", mode="shadow")
    points, evidence = scored.score()["infrastructure.6"]
    assert points == 0.5
    assert "credit@3 (staging) runs in shadow beside credit@2 (production)" in evidence

    frank.rollback("credit", reason="drill")
    assert scored.score()["infrastructure.7"] == (
        1,
        "rolled back 1 time(s); last to version 1 (drill)",
    )


def test_monitoring_tests_read_the_runs_monitor_history_shows(scored: Scored) -> None:
    score = scored.score()
    for test in ("monitoring.2", "monitoring.3", "monitoring.7"):
        points, evidence = score[test]
        assert points == 0
        assert evidence.endswith("but no monitoring run is recorded"), evidence

    scored.serve(2, frame(600, seed=7), day=0, prefix="d0")
    first = scored.monitor(day=0)
    scored.serve(2, frame(600, seed=8, shift=1.5, flip=0.4), day=1, prefix="d1")
    second = scored.monitor(day=1)
    assert second.report(2).status == "critical"
    history = scored.team["vic"].monitor_history("credit")
    runs = sorted({p.run_id for p in history})
    assert runs == [first.id, second.id]

    score = scored.score()
    for test, what in (
        ("monitoring.2", "drift of serving inputs from training"),
        ("monitoring.3", "training–serving skew"),
        ("monitoring.7", "performance on served data"),
    ):
        points, evidence = score[test]
        assert points == 1, (test, evidence)
        assert f"{what} measured in monitoring run(s)" in evidence
        assert "no monitoring run is recorded" not in evidence
    drift = [p for p in history if p.category == "data_drift"]
    assert (
        f"drift of serving inputs from training measured in monitoring run(s) "
        f"{first.id}, {second.id} ({len(drift)} point(s)"
    ) in score["monitoring.2"][1]
    assert "worst status alert" in score["monitoring.2"][1]
    assert (
        "policy score-gate v1, in force, sets the drift levels every run applies (psi)"
        in (score["monitoring.2"][1])
    )
    assert "worst status critical" in score["monitoring.7"][1]
    # The critical run rolled production back to version 1: the score says so too.
    assert score["infrastructure.7"][0] == 1
    registered = scored.team["vic"].get_version("credit@1").created_at
    assert score["monitoring.4"] == (
        0,
        f"production is credit@1, registered {registered:%Y-%m-%d %H:%M} UTC (0 day(s) before "
        "this report) | no monitoring rule alerts on a model's age",
    )

    # Runs made under a policy since replaced are documented once, not the policy in force.
    scored.team["alice"].apply_policy(scored.write_policy("score-gate", accuracy=0.55))
    points, evidence = scored.score()["monitoring.2"]
    assert points == 0.5
    assert "no run under policy score-gate v2, in force, measured it" in evidence


def _number(value: float | None) -> str:
    from govml.documents._common import number_text

    return number_text(value)
