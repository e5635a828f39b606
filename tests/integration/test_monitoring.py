"""govml monitor end to end: drift, performance, fairness, attribution, skew, actions.

Every test that touches the store runs on SQLite and on PostgreSQL. Prediction and feedback
logs are written in the gateway's Parquet layout by `monitoring_logs`.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from tests.integration.monitoring_logs import write_feedback, write_predictions
from tests.integration.test_lifecycle import Team

import govml

MODEL = "credit"
SECRET_ENV = "GOVML_TEST_MONITOR_SECRET"
SECRET = "s3cret-for-tests"
DAY = datetime(2026, 3, 2, tzinfo=UTC)

POLICY = """\
apiVersion: govml/v1
kind: Policy
metadata: {{name: watch, owner: risk@example.com}}
tiers: [high]
performance:
  - {{metric: accuracy, min: 0.6}}
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
  fairness: [{{metric: demographic_parity_difference, max: 0.5}}]
  on_alert: [notify]
  on_critical: [notify, rollback]
  notify: {{webhook: "{webhook}", secret_env: {secret_env}}}
"""


def frame(n: int, seed: int, *, shift: float = 0.0, flip: float = 0.0) -> pd.DataFrame:
    """x1, x2 (x1 shifted by ``shift``), a group and the label; ``flip`` flips labels."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 2))
    y = (2 * x[:, 0] - 0.5 * x[:, 1] + rng.normal(scale=0.5, size=n) > 0).astype("int64")
    if flip:
        y = np.where(rng.random(n) < flip, 1 - y, y)
    return pd.DataFrame(
        {
            "x1": x[:, 0] + shift,
            "x2": x[:, 1],
            "group": np.where(rng.random(n) < 0.5, "a", "b"),
            "y": y,
        }
    )


class Hook(BaseHTTPRequestHandler):
    """Records every delivery; answers with the status the server's ``plan`` pops."""

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        server: Any = self.server
        server.received.append({"headers": dict(self.headers), "body": body})
        status = server.plan.pop(0) if server.plan else 200
        self.send_response(status)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def hook() -> Iterator[Any]:
    server: Any = ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    server.received, server.plan = [], []
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


class Watched:
    """A store with model ``credit``: version 1 then version 2 in production, both
    evaluated (SHAP importance stored), and a prediction log folder."""

    def __init__(self, team: Team, hook: Any, monkeypatch: pytest.MonkeyPatch) -> None:
        self.team = team
        self.logs = team.home / "predictions"
        self.logs.mkdir()
        monkeypatch.setenv(SECRET_ENV, SECRET)
        url = f"http://127.0.0.1:{hook.server_address[1]}/hook"
        path = team.tmp / "watch.yaml"
        path.write_text(POLICY.format(webhook=url, secret_env=SECRET_ENV), encoding="utf-8")
        team["alice"].apply_policy(path)
        data = team.tmp / "eval.csv"
        frame(600, seed=5).to_csv(data, index=False)
        bob = team["bob"]
        bob.create_model(MODEL, risk_tier="high", description="d", intended_use="u")
        train = frame(2000, seed=0)
        self.models = {}
        for number, seed in ((1, 0), (2, 1)):
            part = train.sample(frac=0.8, random_state=seed)
            fitted = LogisticRegression().fit(part[["x1", "x2"]], part["y"])
            self.models[number] = fitted
            version = bob.register_version(
                MODEL, model=fitted, train_data=train[["x1", "x2", "y"]], target="y"
            )
            evaluation = bob.evaluate(version.ref, data=str(data), target="y", n_boot=50)
            assert evaluation.status != "fail", evaluation.failed()
            team["carol"].approve(version.ref, comment="ok")
            team["erin"].approve(version.ref, comment="ok")
            team["frank"].promote(version.ref, to="staging")
            team["frank"].promote(version.ref, to="production")

    def serve(
        self,
        version: int,
        data: pd.DataFrame,
        *,
        start: datetime = DAY,
        prefix: str = "r",
        labels: bool = True,
        label_delay: timedelta = timedelta(hours=22),
    ) -> list[str]:
        model = self.models[version]
        inputs = data[["x1", "x2"]]
        proba = model.predict_proba(inputs)
        ids = write_predictions(
            self.logs,
            MODEL,
            version,
            inputs,
            model.predict(inputs),
            proba,
            start=start,
            spacing=timedelta(hours=20) / max(len(data), 1),
            prefix=prefix,
        )
        if labels:
            write_feedback(
                self.logs,
                MODEL,
                ids,
                data["y"].to_numpy(),
                when=start + label_delay,
                extra={"group": data["group"].tolist()},
                name=f"part-{prefix}.parquet",
            )
        return ids

    def monitor(self, user: str = "frank", **kwargs: Any) -> Any:
        kwargs.setdefault("since", DAY)
        kwargs.setdefault("until", DAY + timedelta(days=1))
        return self.team[user].monitor(MODEL, log_dir=self.logs, **kwargs)


@pytest.fixture
def watched(
    db_url: str, home: Path, tmp_path: Path, hook: Any, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Watched]:
    team = Team(db_url, home, tmp_path)
    made = Watched(team, hook, monkeypatch)
    yield made
    team.close()


def test_injected_drift_alerts_notifies_signed_and_rolls_back_once(
    watched: Watched, hook: Any
) -> None:
    drifted = frame(3000, seed=11, shift=1.5)
    watched.serve(2, drifted)
    run = watched.monitor()
    report = run.report(2)
    by_check = {c.check: c for c in report.checks}
    assert by_check["data_drift:x1"].status == "alert", by_check["data_drift:x1"].message
    assert by_check["data_drift:x2"].status in ("ok", "warn")
    assert by_check["performance:accuracy"].status == "critical"
    assert report.status == "critical"
    actions = {(a.action, a.status) for a in run.actions}
    assert ("rollback", "done") in actions and ("notify", "done") in actions
    assert watched.team["vic"].get_model(MODEL).aliases["production"] == 1

    # the webhook got one signed body naming the rollback
    (delivery,) = hook.received
    headers = {k.lower(): v for k, v in delivery["headers"].items()}
    mac = hmac.new(
        SECRET.encode(),
        headers["x-govml-timestamp"].encode() + b"." + delivery["body"],
        hashlib.sha256,
    )
    assert headers["x-govml-signature"] == "sha256=" + mac.hexdigest()
    body = json.loads(delivery["body"])
    assert body["event"] == "monitoring.alert" and body["rollback"]["status"] == "done"

    again = watched.monitor()
    assert again.report(2).status == "critical"
    assert {(a.action, a.status) for a in again.actions} >= {("rollback", "skipped")}
    assert watched.team["vic"].get_model(MODEL).aliases["production"] == 1
    rollbacks = [
        e for e in watched.team["vic"].audit_log(model=MODEL) if e.action == "alias.rolled_back"
    ]
    assert len(rollbacks) == 1
    assert len(hook.received) == 1  # the same window and status is not notified twice
    result = watched.team["alice"].verify_ledger()
    assert result.entries > 0 and result.monitoring_runs >= 2 and result.monitoring_actions >= 1


def test_same_distribution_traffic_raises_no_alert_over_ten_windows(watched: Watched) -> None:
    # Ten days of traffic drawn like the training data, each from its own seed; every
    # window is judged (drift, predictions, skew, performance, fairness, attribution).
    statuses = []
    for day in range(10):
        start = DAY + timedelta(days=day)
        watched.serve(2, frame(1500, seed=100 + day), start=start, prefix=f"d{day}")
        run = watched.monitor(since=start, until=start + timedelta(days=1))
        flagged = [c.message for c in run.report(2).checks if c.status in ("alert", "critical")]
        assert not flagged, flagged
        statuses.append(run.status)
    assert set(statuses) <= {"ok", "warn"}
    assert watched.team["vic"].get_model(MODEL).aliases["production"] == 2
    points = watched.team["vic"].monitor_history(MODEL, check="data_drift:x1")
    assert [p.window_start.day for p in points] == list(range(2, 12))


def test_a_failing_webhook_is_retried_and_the_failure_recorded(
    watched: Watched, hook: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from govml.monitoring import webhook

    monkeypatch.setattr(webhook, "DEFAULT_BACKOFF", 0.01)
    hook.plan = [500, 503, 502, 500]
    watched.serve(2, frame(1500, seed=3, shift=1.5), labels=False)
    run = watched.monitor()
    assert run.report(2).status == "alert"  # drift, but no labels: not critical
    (notify,) = [a for a in run.actions if a.action == "notify"]
    assert notify.status == "failed"
    assert [a["status_code"] for a in notify.attempts] == [500, 503, 502, 500]
    assert len(hook.received) == 4
    ids = {h["headers"]["X-Govml-Delivery"] for h in hook.received}
    assert len(ids) == 1  # one delivery, four attempts
    (entry,) = [
        e for e in watched.team["vic"].audit_log(model=MODEL) if e.action == "monitoring.webhook"
    ]
    assert entry.payload["status"] == "failed"
    assert entry.payload["detail"]["delivered"] is False
    assert len(entry.payload["detail"]["attempts"]) == 4
    # A failed delivery is tried again by the next run on the same window, and a 4xx is final.
    hook.plan = [404]
    again = watched.monitor()
    (notify,) = [a for a in again.actions if a.action == "notify"]
    assert notify.status == "failed" and len(notify.attempts) == 1
    assert "rollback" not in {a.action for a in run.actions}  # alert only: on_alert is notify


def test_too_few_rows_say_so_instead_of_alerting(watched: Watched, hook: Any) -> None:
    watched.serve(2, frame(60, seed=4, shift=3.0))
    run = watched.monitor()
    report = run.report(2)
    assert report.status == "insufficient"
    by_check = {c.check: c for c in report.checks}
    assert "fewer than the 200 needed" in by_check["rows"].message
    assert by_check["performance:accuracy"].status == "insufficient"
    assert "fewer than 200" in by_check["performance:accuracy"].message
    assert not [c for c in report.checks if c.category == "data_drift"]
    assert any("drift and attribution are not judged" in n for n in report.notes)
    assert [a.action for a in run.actions] == [] and hook.received == []


def test_labels_below_the_minimum_are_reported_with_their_coverage(watched: Watched) -> None:
    data = frame(1000, seed=6)
    ids = watched.serve(2, data, labels=False)
    write_feedback(
        watched.logs, MODEL, ids[:120], data["y"].to_numpy()[:120], when=DAY + timedelta(hours=23)
    )
    run = watched.monitor()
    coverage = {c.check: c for c in run.report(2).checks}["label_coverage"]
    assert coverage.status == "insufficient"
    assert coverage.value == pytest.approx(0.12)
    assert "120 of 1,000 served rows labelled (12.0%)" in coverage.message


def test_labels_that_cannot_be_true_are_skipped_and_named_not_fatal(watched: Watched) -> None:
    data = frame(1000, seed=8)
    ids = watched.serve(2, data, labels=False)
    truth = data["y"].to_numpy()
    labels = truth.copy()
    labels[:3] = [7, 9, 7]  # classes the model does not have
    write_feedback(watched.logs, MODEL, ids[:600], labels[:600], when=DAY + timedelta(hours=21))
    write_feedback(
        watched.logs,
        MODEL,
        ids[600:602],
        ["yes", "no"],  # not even of the predictions' type
        when=DAY + timedelta(hours=21),
        name="part-text.parquet",
    )
    run = watched.monitor(dry_run=True)  # used to fail the whole window
    report = run.report(2)
    coverage = {c.check: c for c in report.checks}["label_coverage"]
    assert report.labelled == 597
    assert coverage.evidence["skipped_labels"] == 5
    assert coverage.evidence["skipped_examples"][:2] == [
        f"{ids[0]} record 0: label '7' is not one of the classes 0, 1",
        f"{ids[1]} record 0: label '9' is not one of the classes 0, 1",
    ]
    assert (
        f"{ids[600]} record 0: label 'yes' is not a int64" in coverage.evidence["skipped_examples"]
    )
    assert "5 label(s) skipped as they cannot be true" in coverage.message
    assert any("skipped as they cannot be true" in note for note in report.notes)
    performance = {c.check: c for c in report.checks}["performance:accuracy"]
    assert performance.status in ("ok", "critical") and performance.value is not None


def test_the_latest_label_counts_and_corrections_are_counted(watched: Watched) -> None:
    data = frame(1000, seed=9)
    ids = watched.serve(2, data, labels=False)
    truth = data["y"].to_numpy()
    # Every label wrong at first (accuracy breaks its rule), then 800 corrected.
    write_feedback(watched.logs, MODEL, ids, 1 - truth, when=DAY + timedelta(hours=21))
    write_feedback(
        watched.logs,
        MODEL,
        ids[:800],
        truth[:800],
        when=DAY + timedelta(hours=22),
        extra={"correction": [True] * 800},
        name="part-corrections.parquet",
    )
    run = watched.monitor(dry_run=True)
    checks = {c.check: c for c in run.report(2).checks}
    assert checks["label_coverage"].evidence["corrections"] == 800
    assert "800 of the labels are corrections" in checks["label_coverage"].message
    model = watched.models[2]
    predicted = model.predict(data[["x1", "x2"]])
    expected = (
        np.sum(predicted[:800] == truth[:800]) + np.sum(predicted[800:] != truth[800:])
    ) / 1000
    assert checks["performance:accuracy"].value == pytest.approx(expected)


def test_fairness_drift_from_a_sensitive_attribute_in_the_feedback(watched: Watched) -> None:
    data = frame(2000, seed=8)
    data.loc[data["group"] == "a", "x1"] += 2.5  # group a now nearly always predicted 1,
    data.loc[data["group"] == "b", "x1"] -= 2.5  # group b nearly never
    watched.serve(2, data)
    run = watched.monitor(dry_run=True)
    assert run.id is None and run.actions == ()
    (fair,) = [c for c in run.report(2).checks if c.category == "fairness"]
    assert fair.check == "fairness:demographic_parity_difference:group"
    assert fair.status == "critical" and fair.value is not None and fair.value > 0.5


def test_training_serving_skew_is_judged_on_the_first_day(watched: Watched) -> None:
    watched.serve(2, frame(800, seed=9, shift=1.0), labels=False)
    later = DAY + timedelta(days=3)
    watched.serve(2, frame(800, seed=10), start=later, prefix="later", labels=False)
    run = watched.monitor(since=later, until=later + timedelta(days=1))
    checks = {c.check: c for c in run.report(2).checks}
    assert checks["data_drift:x1"].status == "ok"  # today looks like training...
    assert checks["skew:x1"].status == "alert"  # ...but day one did not
    assert "day one (2026-03-02" in checks["skew:x1"].message


def test_bad_input_gets_clear_errors(watched: Watched, tmp_path: Path) -> None:
    frank = watched.team["frank"]
    with pytest.raises(govml.errors.NotFoundError, match="credti") as info:
        frank.monitor("credti", log_dir=watched.logs)
    assert "credit" in info.value.diagnostics()
    with pytest.raises(govml.errors.InputError, match="no prediction log folder at"):
        frank.monitor(MODEL, log_dir=tmp_path / "nowhere")
    with pytest.raises(govml.errors.InputError, match="is not a length"):
        frank.monitor(MODEL, window="yesterday", log_dir=watched.logs)
    with pytest.raises(govml.errors.InputError, match="is not a date or time"):
        frank.monitor(MODEL, since="last tuesday", log_dir=watched.logs)
    with pytest.raises(govml.errors.InputError, match="the window is empty"):
        frank.monitor(MODEL, since="2026-03-02", until="2026-03-01", log_dir=watched.logs)
    bad = watched.logs / f"model={MODEL}" / "version=2" / "date=2026-03-02"
    bad.mkdir(parents=True)
    (bad / "part-broken.parquet").write_bytes(b"not parquet at all")
    with pytest.raises(govml.errors.InputError, match="cannot read the prediction log of credit"):
        watched.monitor()
    with pytest.raises(govml.errors.ForbiddenError, match="contributor, deployer or admin"):
        (bad / "part-broken.parquet").unlink()
        watched.serve(2, frame(300, seed=1))
        watched.monitor(user="vic")


def test_history_cli_textfile_and_audit_verify(
    watched: Watched, tmp_path: Path, capsys: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from govml.cli.main import invoke
    from govml.services.monitoring import verify_monitoring_records

    watched.serve(2, frame(1200, seed=12))
    monkeypatch.setenv("GOVML_HOME", str(watched.team.home))
    monkeypatch.setenv("GOVML_DATABASE_URL", watched.team.db_url)
    monkeypatch.setenv("GOVML_USER", "frank")
    store: list[str] = []
    gauges = tmp_path / "govml.prom"
    args = [
        *store,
        "monitor",
        MODEL,
        "--since",
        "2026-03-02",
        "--until",
        "2026-03-03",
        "--log-dir",
        str(watched.logs),
        "--textfile",
        str(gauges),
        "--json",
    ]
    assert invoke(args) == 0
    run = json.loads(capsys.readouterr().out)
    assert run["status"] == "ok" and run["versions"][0]["version"] == 2
    history = [*store, "monitor", "history", MODEL, "--check", "prediction_drift", "--json"]
    assert invoke(history) == 0
    (point,) = json.loads(capsys.readouterr().out)
    assert point["run_id"] == run["id"] and point["status"] == "ok"
    assert invoke([*store, "monitor", "show", MODEL, str(run["id"])]) == 0
    assert "version 2: ok" in capsys.readouterr().out
    assert invoke([*store, "monitor", MODEL, "--window", "2x"]) == 2
    assert "window '2x' is not a length" in capsys.readouterr().err
    text = gauges.read_text()
    labels = 'category="data_drift",check="data_drift:x1",model="credit",version="2"'
    assert f"govml_monitoring_check_status{{{labels}}} 0.0" in text
    assert 'govml_monitoring_rows{model="credit",version="2"} 1200.0' in text
    store_obj = watched.team["alice"].ctx.store
    with store_obj.read() as conn:
        counts = verify_monitoring_records(conn)
    assert counts["monitoring_runs"] == 1
    assert counts["monitoring_points"] == len(run["versions"][0]["checks"])


def choice(task: dict[str, Any]) -> dict[str, Any]:
    """The first choice result of a task's first annotation."""
    return dict(task["annotations"][0]["result"][0])


def test_labelling_tasks_round_trip_into_feedback(watched: Watched, tmp_path: Path) -> None:
    data = frame(1000, seed=13)
    watched.serve(2, data, labels=False)
    frank = watched.team["frank"]
    tasks = frank.export_labelling_tasks(
        MODEL, since=DAY, until=DAY + timedelta(days=1), log_dir=watched.logs, limit=25
    )
    assert len(tasks) == 25
    scores = [t["predictions"][0]["score"] for t in tasks]
    assert scores == sorted(scores) and scores[0] < 0.6  # least confident first
    first = tasks[0]
    assert set(first["data"]) >= {"x1", "x2", "govml_request_id", "govml_record", "govml_text"}
    assert first["predictions"][0]["result"][0]["type"] == "choices"
    # Label Studio's export: annotations with a choice; one cancelled, one foreign.
    truth = dict(zip([f"r-{i}" for i in range(len(data))], data["y"], strict=True))
    annotated = []
    for task in tasks:
        label = str(truth[task["data"]["govml_request_id"]])
        annotated.append(
            {
                **task,
                "annotations": [
                    {
                        "result": [
                            {
                                "from_name": "label",
                                "to_name": "record",
                                "type": "choices",
                                "value": {"choices": [label]},
                            }
                        ]
                    }
                ],
            }
        )
    annotated[0]["annotations"][0]["was_cancelled"] = True
    annotated.append(
        {
            "data": {"govml_request_id": "nope", "govml_record": 0},
            "annotations": annotated[1]["annotations"],
        }
    )
    for refused in ("frank", "vic"):  # deployer, viewer: refused before anything is read
        with pytest.raises(govml.errors.ForbiddenError, match="importing labels"):
            watched.team[refused].import_labels(MODEL, annotated, log_dir=tmp_path / "nowhere")
    bob = watched.team["bob"]  # a contributor
    out_of_class = {
        **annotated[2],
        "annotations": [{"result": [{**choice(annotated[2]), "value": {"choices": ["7"]}}]}],
    }
    result = bob.import_labels(MODEL, [*annotated, out_of_class], log_dir=watched.logs)
    assert result["written"] == 24 and result["corrections"] == 0
    reasons = sorted(item["reason"] for item in result["skipped"])
    assert reasons == [
        "label '7' is not one of the classes 0, 1",
        "no annotation (or only cancelled ones)",
        "not in the prediction log",
    ]
    written = Path(result["file"])
    assert result["digest"] == "sha256:" + hashlib.sha256(written.read_bytes()).hexdigest()
    (entry,) = bob.audit_log(model=MODEL, action="monitoring.labels_imported")
    assert entry.actor == "bob" and entry.payload["digest"] == result["digest"]
    assert (entry.payload["written"], entry.payload["skipped"]) == (24, 3)
    run = watched.monitor(dry_run=True)
    assert run.report(2).labelled == 24
    again = bob.import_labels(MODEL, annotated[1:3], log_dir=watched.logs)
    assert (again["written"], again["corrections"]) == (2, 2)  # labelled before: corrections
    assert watched.monitor(dry_run=True).report(2).labelled == 24
    bob.verify_ledger()


def test_client_mode_monitors_the_servers_log(watched: Watched, hook: Any) -> None:
    from govml.remote import RemoteClient
    from govml.server import create_app
    from govml.server.background import serving
    from govml.settings import load_settings

    team = watched.team
    watched.serve(2, frame(1500, seed=14, shift=1.5))  # the server's home: its own log
    settings = load_settings(home=team.home, database_url=team.db_url)
    with serving(create_app(settings)) as url:
        remote = RemoteClient(load_settings(server=url, token=team.tokens["frank"]))
        try:
            with pytest.raises(govml.errors.InputError, match="server's own"):
                remote.monitor(MODEL, log_dir=watched.logs)
            run = remote.monitor(MODEL, since=DAY, until=DAY + timedelta(days=1))
            assert run.status == "critical" and run.actor == "frank"
            assert ("rollback", "done") in {(a.action, a.status) for a in run.actions}
            assert (
                remote.monitor_run(MODEL, run.id or 0).to_dict()
                == team["vic"].monitor_run(MODEL, run.id or 0).to_dict()
            )
            assert [r.id for r in remote.latest_monitor_runs(MODEL)] == [run.id]
            points = remote.monitor_history(MODEL, check="data_drift")
            assert {p.check for p in points} == {"data_drift:x1", "data_drift:x2"}
            tasks = remote.export_labelling_tasks(
                MODEL, since=DAY, until=DAY + timedelta(days=1), limit=3
            )
            assert len(tasks) == 3
            with pytest.raises(govml.errors.ForbiddenError, match="frank"):
                remote.import_labels(MODEL, [])
            contributor = RemoteClient(load_settings(server=url, token=team.tokens["bob"]))
            try:
                assert contributor.import_labels(MODEL, [])["written"] == 0
            finally:
                contributor.close()
        finally:
            remote.close()


@pytest.mark.slow  # 20-24 s: `govml monitor --every` in its own process until SIGTERM
def test_every_loop_stops_cleanly_on_sigterm(watched: Watched, tmp_path: Path) -> None:
    import os
    import signal
    import subprocess
    import sys
    import time

    watched.serve(2, frame(400, seed=15), start=datetime.now(UTC) - timedelta(hours=1))
    env = {
        **os.environ,
        "GOVML_HOME": str(watched.team.home),
        "GOVML_DATABASE_URL": watched.team.db_url,
        "GOVML_USER": "frank",
    }
    command = [
        sys.executable,
        "-c",
        "from govml.cli.main import run; run()",
        "monitor",
        MODEL,
        "--every",
        "1h",
        "--window",
        "1d",
    ]
    process = subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    deadline = time.monotonic() + 60
    runs: list[Any] = []
    while not runs and time.monotonic() < deadline:
        time.sleep(0.3)
        runs = watched.team["vic"].latest_monitor_runs(MODEL)
    process.send_signal(signal.SIGTERM)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 0, err
    assert runs and "next run in" in out
    assert "received SIGTERM: stopping after this run" in out
    assert "stopped after 1 run(s)" in out


def test_a_contributor_records_the_run_but_the_rollback_is_refused(
    watched: Watched, hook: Any
) -> None:
    watched.serve(2, frame(1500, seed=16, shift=1.5))
    run = watched.monitor(user="bob")
    (rollback,) = [a for a in run.actions if a.action == "rollback"]
    assert rollback.status == "refused" and "deployer" in rollback.detail
    assert watched.team["vic"].get_model(MODEL).aliases["production"] == 2
    log = watched.team["vic"].audit_log(model=MODEL)
    assert [e.action for e in log if e.action.startswith("monitoring.rollback")] == [
        "monitoring.rollback_refused"
    ]
    # The deployer's run on the same window does it, once.
    again = watched.monitor()
    assert ("rollback", "done") in {(a.action, a.status) for a in again.actions}


def test_audit_replay_names_a_changed_point(watched: Watched, db_url: str) -> None:
    import sqlalchemy as sa

    from govml.errors import IntegrityError
    from govml.services.monitoring import verify_monitoring_records

    if not db_url.startswith("sqlite"):
        pytest.skip("the tampering goes around SQLite's append-only trigger")
    watched.serve(2, frame(800, seed=17), labels=False)
    watched.monitor()
    store = watched.team["alice"].ctx.store
    with store.write() as conn:
        conn.execute(sa.text("DROP TRIGGER monitoring_points_no_update"))
        conn.execute(
            sa.text("UPDATE monitoring_points SET value = 0.0 WHERE \"check\" = 'data_drift:x1'")
        )
    with store.read() as conn, pytest.raises(IntegrityError, match=r"data_drift:x1, version 2"):
        verify_monitoring_records(conn)
    with pytest.raises(IntegrityError, match=r"data_drift:x1, version 2"):
        watched.team["alice"].verify_ledger()  # `govml audit verify` runs the same replay
