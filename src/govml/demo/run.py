"""``make demo``: train on Adult, register, gate on the example policy, mitigate, verify.

The steps: train a gradient-boosted pipeline on the Adult training split and register it
with its lineage; put ``examples/policies/credit-high-risk.yaml`` in force for the high
tier; evaluate version 1 on the test split (it fails the fairness rules: its selection
rate for women is a third of men's); post-process it with Fairlearn's ThresholdOptimizer
(demographic parity over sex and race groups), register that as version 2 and evaluate it
(it passes); write both HTML reports; promote it; then retrain, promote a third version,
serve it, send it drifted traffic and let `govml monitor` alert and roll it back; verify the
ledger.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import accuracy_score, roc_auc_score
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

import govml
from govml.cli.evaluate_cmds import STAGES
from govml.demo.adult import CATEGORICAL, NUMERIC, TARGET, load_adult
from govml.errors import GateError, GovmlError
from govml.evaluation import Evaluation

MODEL = "adult-income"
POLICY = Path(__file__).resolve().parents[3] / "examples" / "policies" / "credit-high-risk.yaml"
REPORTS = Path(".govml") / "reports"
STATUS_STYLE = {"pass": "green", "warn": "yellow", "fail": "red"}
console = Console(highlight=False, width=None if sys.stdout.isatty() else 120)


def build_pipeline(seed: int = 0, max_iter: int = 200) -> Pipeline:
    """Return the demo's scikit-learn pipeline (one-hot categoricals, scaled numerics, GBM)."""
    encode = ColumnTransformer(
        [
            ("categorical", OneHotEncoder(handle_unknown="ignore", min_frequency=20), CATEGORICAL),
            ("numeric", StandardScaler(), NUMERIC),
        ],
        sparse_threshold=0.0,
    )
    model = HistGradientBoostingClassifier(max_iter=max_iter, learning_rate=0.1, random_state=seed)
    return Pipeline([("encode", encode), ("model", model)])


def main() -> int:
    """Run the demo; return the process exit code."""
    client = govml.connect(create=True)  # the first run creates the store
    try:
        return _run(client)
    except GovmlError as exc:
        console.print(f"[red]error:[/] {exc.diagnostics()}")
        return exc.exit_code
    finally:
        client.close()


def _run(client: govml.GovmlClient) -> int:
    console.rule("[bold]govml demo: UCI Adult income model")
    with console.status("loading the Adult data…"):
        train = load_adult("train")
        test = load_adult("test")
    console.print(f"train {len(train):,} rows, test {len(test):,} rows, target '{TARGET}'")

    features = CATEGORICAL + NUMERIC
    pipeline = build_pipeline()
    started = time.perf_counter()
    with console.status("training a HistGradientBoosting pipeline…"):
        pipeline.fit(train[features], train[TARGET])
    scores = pipeline.predict_proba(test[features])[:, 1]
    metrics = {
        "accuracy": round(float(accuracy_score(test[TARGET], scores >= 0.5)), 6),
        "roc_auc": round(float(roc_auc_score(test[TARGET], scores)), 6),
    }
    console.print(
        f"trained in {time.perf_counter() - started:.1f} s: accuracy {metrics['accuracy']:.4f}, "
        f"ROC AUC {metrics['roc_auc']:.4f} on the test split"
    )

    client.init()
    _people(client)
    names = {m.name for m in client.list_models()}
    if MODEL not in names:
        client.create_model(
            MODEL,
            risk_tier="high",
            owner="model-risk@example.com",
            intended_use="Estimate whether annual income exceeds 50K USD, for research on "
            "fair credit pre-screening.",
            out_of_scope_use="Decisions about individuals without human review.",
            description="Gradient-boosted trees on the 1994 US census extract (UCI Adult).",
            tags={"domain": "credit", "dataset": "uci-adult"},
        )
        client.set_tag(
            MODEL,
            "limitations",
            "Trained on a 1994 census extract: incomes and group shares are not today's; "
            "sex and race are model inputs.",
        )
        console.print(f"created model [bold]{MODEL}[/] (risk tier high)")

    with console.status("fingerprinting data and registering the version…"):
        version = client.register_version(
            MODEL,
            model=pipeline,
            train_data=train,
            validation_data=test,
            target=TARGET,
            params=pipeline.named_steps["model"].get_params(),
            metrics=metrics,
            description="Demo version trained by `make demo`.",
        )
    console.print(f"registered [bold]{version.ref}[/]")
    lineage = Table(show_header=False, box=None, padding=(0, 2))
    lineage.add_column(style="bold")
    lineage.add_column(overflow="fold")
    lineage.add_row("artifact", f"{version.artifact_digest} ({version.artifact_size:,} bytes)")
    for ref in version.datasets:
        lineage.add_row(f"{ref.role} data", f"{ref.digest} ({ref.row_count:,} rows)")
    commit = version.code.get("git_commit")
    dirty = " (dirty)" if version.code.get("git_dirty") else ""
    lineage.add_row("code", f"{commit or 'not in a git repository'}{dirty}")
    env = version.environment
    lineage.add_row(
        "environment",
        f"Python {env['python']}, {len(env['packages'])} packages, {env['lock_digest']}",
    )
    console.print(lineage)

    loaded = client.load_model(version.ref)
    same = (loaded.predict(test[features]) == pipeline.predict(test[features])).all()
    console.print(f"reloaded {version.ref} from the artifact store: predictions identical: {same}")

    console.rule("[bold]policy gate")
    applied = client.apply_policy(POLICY, replace=True)
    console.print(applied.summary(), markup=False)
    first = _evaluate(client, version.ref, test)

    console.rule("[bold]fairness mitigation with Fairlearn's ThresholdOptimizer")
    from govml.mitigation import threshold_optimized

    with console.status("fitting group thresholds (demographic parity over sex and race)…"):
        mitigated = threshold_optimized(
            pipeline, train[features], train[TARGET], sensitive=["sex", "race"]
        )
        second_version = client.register_version(
            MODEL,
            model=mitigated,
            train_data=train,
            validation_data=test,
            target=TARGET,
            params={
                "mitigation": "ThresholdOptimizer",
                "constraints": "demographic_parity",
                "sensitive": "sex,race",
                "base_version": version.version,
            },
            description=f"{version.ref} post-processed with Fairlearn's ThresholdOptimizer "
            "(demographic parity over sex and race groups).",
        )
    console.print(f"registered [bold]{second_version.ref}[/]")
    second = _evaluate(client, second_version.ref, test)

    console.rule("[bold]promotion through the gates")
    promoted = _promote(client, version.ref, second_version.ref)
    if promoted:
        client.apply_policy(_write_policy(_policy_document()), replace=True)
        console.print(
            "the policy in force gains reason codes, referral of scores in "
            f"[{REFERRAL_BAND[0]}, {REFERRAL_BAND[1]}] to a risk officer, and "
            f"{RETENTION_DAYS} days of log retention"
        )
    served = promoted and _serving_step(test)
    monitored = promoted and _monitoring_step(client, train, test, second_version.ref)

    result = client.verify_ledger()
    console.print(
        f"[green]ledger verified[/]: {result.entries} entries, root {result.root_hash[:16]}…, "
        f"records match it ({result.models} model(s), {result.versions} version(s), "
        f"{result.evaluations} evaluation(s), {result.approvals} approval(s), "
        f"{result.alias_changes} alias change(s))"
    )
    _documents(client, second_version.ref)
    console.print(
        "next: `.venv/bin/govml evaluations list`, `.venv/bin/govml evaluations show "
        f"{second.id}`, `.venv/bin/govml audit log`, `.venv/bin/govml report ml-test-score "
        f"{MODEL}`"
    )
    console.print(
        "web UI: `.venv/bin/govml server`, then open http://127.0.0.1:8080/ and sign in with a "
        f"token from `.venv/bin/govml users token NAME`: {', '.join(APPROVERS)} (approvers), "
        f"{DEPLOYER} (deployer) or {client.whoami().name} (admin)"
    )
    passed = same and first.status == "fail" and second.status != "fail"
    return 0 if passed and promoted and served and monitored else 1


def _documents(client: govml.GovmlClient, ref: str) -> None:
    """Write the model card, the Annex IV documentation and the audit report (HTML)."""
    console.rule("[bold]documents")
    REPORTS.mkdir(parents=True, exist_ok=True)
    with console.status("writing the model card, Annex IV and the audit report…"):
        for kind, subject in (("model-card", ref), ("annex-iv", ref), ("audit", MODEL)):
            text = client.report(kind, subject, format="html")
            path = REPORTS / f"{kind}-{subject.replace('@', '-')}.html"
            path.write_text(str(text), encoding="utf-8")
            console.print(f"  {kind}: {path}")


APPROVERS = {"rita": "risk_officer", "sam": "approver"}
DEPLOYER = "dana"
REFERRAL_BAND = (0.48, 0.52)
ADVERSE = 0  # income <=50K: the outcome a credit pre-screen would refuse
RETENTION_DAYS = 400
# What each input means to an applicant, and the principal-reason wording when it weighed
# toward a refusal (income <=50K, class 0). Sex, race and native country have no code: a
# notice names them as they are.
REASON_CODES = [
    ("capital_gain", "CG", "Capital gains", "No or low capital gains"),
    ("capital_loss", "CL", "Capital losses", "Capital losses reported"),
    ("education_num", "ED", "Years of education", "Fewer years of education"),
    ("education", "EL", "Education level", "Education level"),
    ("occupation", "OC", "Occupation", "Occupation with lower incomes"),
    ("hours_per_week", "HW", "Hours worked per week", "Too few hours worked per week"),
    ("age", "AG", "Age", "Age"),
    ("fnlwgt", "FW", "Census sampling weight", "Census sampling weight"),
    ("workclass", "WC", "Type of employer", "Type of employment"),
    ("marital_status", "MS", "Household situation", "Household situation"),
    ("relationship", "RL", "Role in the household", "Role in the household"),
]


def _policy_document() -> dict[str, Any]:
    """Return the example policy with the sections that govern each decision added.

    Reason codes (adverse outcome: income <=50K), a referral band on the favourable score
    decided by a risk officer, and a retention period for the prediction log. Relative
    paths are made absolute, since the copy lives elsewhere.
    """
    import yaml

    document: dict[str, Any] = yaml.safe_load(POLICY.read_text(encoding="utf-8"))
    vulnerabilities = document.get("security", {}).get("vulnerabilities")
    if vulnerabilities and not Path(vulnerabilities["database"]).is_absolute():
        vulnerabilities["database"] = str((POLICY.parent / vulnerabilities["database"]).resolve())
    document["reason_codes"] = {
        "adverse_outcome": ADVERSE,
        "codes": [
            {"feature": feature, "code": code, "text": text, "adverse": adverse}
            for feature, code, text, adverse in REASON_CODES
        ],
    }
    document["oversight"] = {
        "refer": {"score_between": list(REFERRAL_BAND)},
        "reviewers": ["risk_officer"],
        "when_suspended": "refer",
    }
    document["retention"] = {"days": RETENTION_DAYS}
    return document


def _write_policy(document: dict[str, Any]) -> Path:
    import yaml

    path = REPORTS.parent / "demo-policy.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    return path


def _people(client: govml.GovmlClient) -> None:
    """Add the approvers and the deployer before any version they decide on is registered.

    Approving rights count only for versions registered after they were granted.
    """
    known = {user.name for user in client.list_users()}
    for name, role in [*APPROVERS.items(), (DEPLOYER, "deployer")]:
        if name not in known:
            client.add_user(name, roles=[role])
            console.print(f"added user [bold]{name}[/] ({role})")


def _promote(client: govml.GovmlClient, failed_ref: str, passed_ref: str) -> bool:
    """Refuse the failing version, then take the passing one to staging and production."""
    deployer = govml.connect(user=DEPLOYER)
    try:
        try:
            deployer.promote(failed_ref, to="staging")
        except GateError as refused:
            console.print(f"[red]refused[/]: {escape(refused.diagnostics())}")
        deployer.promote(passed_ref, to="staging", reason="passed the credit-high-risk policy")
        console.print(f"{passed_ref} → staging")
        ready = deployer.readiness(passed_ref, to="production")
        console.print(f"production needs: {'; '.join(ready.missing)}", markup=False)
        for name, role in APPROVERS.items():
            with govml.connect(user=name) as approver:
                approver.approve(passed_ref, comment=f"reviewed the evaluation as {role}")
            console.print(f"{name} ({role}) approved {passed_ref}")
        change = deployer.promote(passed_ref, to="production", reason="two approvals, gate passed")
        before = "" if change.previous is None else f" (was version {change.previous})"
        console.print(f"[green]{passed_ref} → production[/]{before}")
        return True
    finally:
        deployer.close()


def _evaluate(client: govml.GovmlClient, ref: str, data: object) -> Evaluation:
    """Evaluate ``ref`` on ``data`` with a progress bar; print the outcome; write the report."""
    from govml.reports import render

    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as progress:
        task = progress.add_task(f"evaluating {ref}", total=len(STAGES))

        def step(stage: str) -> None:
            done = STAGES.index(stage) if stage in STAGES else 0
            progress.update(task, completed=done, description=f"{ref}: {stage}")

        evaluation = client.evaluate(ref, data=data, target=TARGET, progress=step)
    document = evaluation.document
    counts = ", ".join(f"{n} {k}" for k, n in document["summary"].items() if n)
    style = STATUS_STYLE[evaluation.status]
    console.print(
        f"evaluation {evaluation.id} of {ref}: [{style}]{evaluation.status}[/] ({counts}) "
        f"in {document['duration_s']:.1f} s"
    )
    for check in evaluation.failed():
        console.print(f"  [red]✗[/] {check['check']}: {check['message']}", markup=True)
    REPORTS.mkdir(parents=True, exist_ok=True)
    path = REPORTS / f"{ref.replace('@', '-')}.html"
    path.write_text(
        render(
            document, "html", evidence=lambda name: client.evaluation_evidence(evaluation, name)
        ),
        encoding="utf-8",
    )
    console.print(f"  report: {path}")
    return evaluation


# -- production monitoring: drifted traffic through the gateway, alert, rollback -----------------


def _monitoring_step(client: govml.GovmlClient, train: Any, test: Any, serving_ref: str) -> bool:
    """Serve a new version, send it drifted traffic, and let `govml monitor` roll it back.

    A new version (the pipeline retrained with another seed and mitigated like the serving
    one) goes through the gates to production; the Adult test set with age shifted by
    15 years and hours per week by 20 is sent to `govml serve` with its true labels as
    feedback; `govml monitor` finds the drift and the broken accuracy rule, alerts a local
    webhook (signed) and rolls production back to ``serving_ref``'s version, once.
    """
    import os
    import secrets
    import socket
    import threading
    from datetime import UTC, datetime
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    import httpx
    import numpy as np
    import uvicorn

    from govml.cli.monitor_cmds import _oversight, _show_oversight, show_run
    from govml.client import settings_for
    from govml.mitigation import threshold_optimized
    from govml.monitoring import verify_signature
    from govml.serving import GatewayOptions, create_app

    console.rule("[bold]production monitoring: drifted traffic, alert, rollback")
    secret = os.environ.setdefault("GOVML_WEBHOOK_SECRET", secrets.token_hex(16))
    received: list[str] = []

    class Receiver(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            stamp = self.headers.get("X-Govml-Timestamp", "")
            ok = verify_signature(secret, stamp, body, self.headers.get("X-Govml-Signature", ""))
            event = json.loads(body)
            received.append(
                f"webhook received {event['event']} for {event['model']}@{event['version']} "
                f"({event['status']}), signature {'verified' if ok else 'INVALID'}"
            )
            self.send_response(204 if ok else 401)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    hook = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=hook.serve_forever, args=(0.05,), daemon=True).start()
    url = f"http://127.0.0.1:{hook.server_address[1]}/ml-alerts"
    # The example policy, its alerts pointed at a webhook receiver on this machine (and its
    # relative paths made absolute, since the copy lives elsewhere).
    document = _policy_document()
    document["monitoring"]["notify"]["webhook"] = url
    client.apply_policy(_write_policy(document), replace=True)
    console.print(f"policy alerts now go to {url} (signed with $GOVML_WEBHOOK_SECRET)")

    features = CATEGORICAL + NUMERIC
    with console.status("retraining with another seed, mitigating, registering…"):
        retrained = build_pipeline(seed=1).fit(train[features], train[TARGET])
        mitigated = threshold_optimized(
            retrained, train[features], train[TARGET], sensitive=["sex", "race"]
        )
        third = client.register_version(
            MODEL,
            model=mitigated,
            train_data=train,
            validation_data=test,
            target=TARGET,
            params={"mitigation": "ThresholdOptimizer", "seed": 1},
            description="The pipeline retrained with another seed, post-processed with "
            "ThresholdOptimizer like version 2.",
        )
    console.print(f"registered [bold]{third.ref}[/]")
    evaluation = _evaluate(client, third.ref, test)
    if evaluation.status == "fail":
        return False
    deployer = govml.connect(user=DEPLOYER)
    server: Any = None
    thread: threading.Thread | None = None
    try:
        for name in APPROVERS:
            with govml.connect(user=name) as approver:
                approver.approve(third.ref, comment="reviewed the evaluation")
        deployer.promote(third.ref, to="staging", reason="passed the policy")
        deployer.promote(third.ref, to="production", reason="two approvals, gate passed")
        console.print(f"[green]{third.ref} → production[/] (was {serving_ref})")

        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = int(probe.getsockname()[1])
        logs = (settings_for(None).home / "predictions").resolve()
        key = _gateway_key("the demo's traffic and labels")
        options = GatewayOptions(model=MODEL, log_dir=logs, flush_seconds=0.5, poll_seconds=0.5)
        server = uvicorn.Server(
            uvicorn.Config(
                create_app(options),
                host="127.0.0.1",
                port=port,
                log_level="warning",
                access_log=False,
            )
        )
        thread = threading.Thread(target=server.run, name="demo-monitored-gateway", daemon=True)
        thread.start()
        base = f"http://127.0.0.1:{port}"
        with httpx.Client(base_url=base, timeout=30, headers=_bearer(key)) as http:
            _wait_ready(http)
            drifted = test.copy()
            drifted["age"] = np.clip(drifted["age"] + 15, 17, 90)
            drifted["hours_per_week"] = np.clip(drifted["hours_per_week"] + 20, 1, 99)
            started = datetime.now(UTC)
            sent = _send(http, drifted, features)
            console.print(
                f"sent {sent:,} drifted records (age +15 years, hours per week +20) to "
                f"`govml serve` on {base}, with their true labels as feedback"
            )
            _wait_logged(logs, third.version, sent)
            with console.status("govml monitor adult-income…"):
                run = deployer.monitor(MODEL, since=started, shap_rows=50)
            show_run(run)
            figures = _oversight(deployer, MODEL, str(logs), run)
            if figures is not None:  # referral rate by the policy's sensitive groups
                _show_oversight(figures)
            for line in received:
                console.print(f"  {line}")
            time.sleep(1.5)  # the gateway follows the alias change
            champion = http.get("/version").json()["champion"]["ref"]
            console.print(f"the gateway followed the rollback: it now answers with {champion}")
        again = deployer.monitor(MODEL, since=run.window.start, until=run.window.end, shap_rows=50)
        skipped = [a.detail for a in again.actions if a.action == "rollback"]
        console.print(f"monitoring the same window again: rollback {', '.join(skipped)}")
        entries = [
            e
            for e in client.audit_log(model=MODEL)
            if e.seq >= (run.ledger_seq or 0)
            and (e.action.startswith("monitoring.") or e.action == "alias.rolled_back")
        ]
        table = Table(title="ledger", title_justify="left")
        for column in ("seq", "action", "subject", "what"):
            table.add_column(column)
        for entry in entries:
            table.add_row(str(entry.seq), entry.action, entry.subject, _what(entry.payload))
        console.print(table)
        rollbacks = [e for e in entries if e.action == "monitoring.rollback"]
        return len(rollbacks) == 1 and deployer.get_model(MODEL).aliases.get("production") == int(
            serving_ref.split("@")[1]
        )
    finally:
        if server is not None and thread is not None:
            server.should_exit = True
            thread.join(timeout=60)
        deployer.close()
        hook.shutdown()


def _what(payload: dict[str, Any]) -> str:
    """Say in a few words what a monitoring or rollback ledger entry records."""
    detail = payload.get("detail") or {}
    if "to_version" in detail:
        return f"production {detail['from_version']} → {detail['to_version']}"
    if "delivered" in detail:
        return f"{detail['event']} {'delivered' if detail['delivered'] else 'not delivered'}"
    if payload.get("action") == "alert":
        return f"{detail.get('status')}: {len(detail.get('checks', []))} check(s) flagged"
    if "reason" in payload:
        return f"to version {payload['version']}: {payload['reason']}"[:70]
    return str(payload.get("status") or detail.get("status", ""))


def _wait_ready(http: Any, timeout: float = 60.0) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if http.get("/ready").status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise GovmlError("the gateway did not become ready in time")


def _send(http: Any, frame: Any, features: list[str], batch: int = 500) -> int:
    sent = 0
    for start in range(0, len(frame), batch):
        part = frame.iloc[start : start + batch]
        records = json.loads(part[features].to_json(orient="records"))
        answer = http.post("/predict", json={"records": records})
        answer.raise_for_status()
        request_id = answer.json()["request_id"]
        labels = part[TARGET].tolist()
        feedback = [
            {"request_id": request_id, "record": i, "label": int(label)}
            for i, label in enumerate(labels)
        ]
        http.post("/feedback", json={"feedback": feedback}).raise_for_status()
        sent += len(part)
    return sent


def _wait_logged(logs: Path, version: int, expected: int, timeout: float = 30.0) -> None:
    import pyarrow.parquet as pq

    folder = logs / f"model={MODEL}" / f"version={version}"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        files = [f for f in folder.rglob("*.parquet") if not f.name.startswith(".")]
        if sum(pq.read_metadata(f).num_rows for f in files) >= expected:
            return
        time.sleep(0.3)
    raise GovmlError(f"the gateway did not write {expected} predictions to {folder} in time")


# -- serving: the production version behind `govml serve`, sent the Adult test set --------------


def _serving_step(test: Any) -> bool:
    """Serve ``adult-income@production`` on a free port and send it the test set in batches.

    The gateway runs in this process (uvicorn in a thread), checks every record against the
    version's signature, answers with the decision and the class probabilities, and logs each
    prediction to Parquet; the true labels go to ``/feedback``. One record with a wrong type
    shows a refusal. The gateway stops (its log written) before the next step.
    """
    import socket
    import threading

    import httpx
    import pyarrow.parquet as pq
    import uvicorn

    from govml.client import settings_for
    from govml.serving import GatewayOptions, create_app

    console.rule("[bold]serving the production version: `govml serve`")
    log_dir = (settings_for(None).home / "predictions").resolve()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    key = _gateway_key("the demo's scoring client")
    app = create_app(GatewayOptions(model=MODEL, log_dir=log_dir, flush_seconds=1.0))
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)
    )
    thread = threading.Thread(target=server.run, name="demo-gateway", daemon=True)
    thread.start()
    features = CATEGORICAL + NUMERIC
    batch = 1000
    latencies: list[float] = []
    records = 0
    referred: list[int] = []  # rows of the test set the gateway referred to a person
    try:
        with httpx.Client(
            base_url=f"http://127.0.0.1:{port}", timeout=60, headers=_bearer(key)
        ) as http:
            deadline = time.monotonic() + 60
            while not server.started or http.get("/ready").status_code != 200:
                if time.monotonic() > deadline or not thread.is_alive():
                    console.print("[red]the gateway did not start[/]")
                    return False
                time.sleep(0.05)
            version = http.get("/version").json()["champion"]["ref"]
            console.print(f"gateway for {version} on http://127.0.0.1:{port}")
            started = time.perf_counter()
            for offset in range(0, len(test), batch):
                part = test.iloc[offset : offset + batch]
                columns = {  # missing values (NaN in pandas) are JSON nulls
                    name: [None if v != v else v for v in part[name].tolist()] for name in features
                }
                sent = time.perf_counter()
                answer = http.post("/predict", json={"columns": columns})
                latencies.append(time.perf_counter() - sent)
                if answer.status_code != 200:
                    console.print(f"[red]refused[/]: {answer.text[:300]}")
                    return False
                body = answer.json()
                records += len(body["predictions"])
                referred += [offset + item["record"] for item in body.get("referrals", [])]
                labels = [
                    {"request_id": body["request_id"], "record": i, "label": int(label)}
                    for i, label in enumerate(part[TARGET])
                ]
                http.post("/feedback", json=labels).raise_for_status()
            elapsed = time.perf_counter() - started
            single = {name: test[name].iloc[:1].tolist()[0] for name in features}
            # A few referred applicants again, explained: one refused by the model goes on.
            again = json.loads(test.iloc[referred[:20]][features].to_json(orient="records"))
            explained = http.post("/predict?explain=3", json={"records": again}).json()
            wrong = http.post("/predict", json={**single, "age": "forty"})
            anonymous = http.post("/predict", json=single, headers={"Authorization": ""})
            console.print(
                f"scored {records:,} records in {len(latencies)} requests of {batch:,}: "
                f"{records / elapsed:,.0f} records/s with the labels sent as feedback, median "
                f"{1000 * sorted(latencies)[len(latencies) // 2]:.0f} ms per request; "
                f"{len(referred):,} referred to a person (score in the referral band)"
            )
            console.print(
                f'a record with age "forty" → {wrong.status_code}: '
                f"{wrong.json()['errors'][0]['message']}",
                markup=False,
            )
            console.print(
                f"a request without a key → {anonymous.status_code}: "
                f"{anonymous.json()['errors'][0]['message']}",
                markup=False,
            )
    finally:
        server.should_exit = True
        thread.join(timeout=60)
    logged = sum(
        pq.read_metadata(path).num_rows
        for path in log_dir.glob(f"model={MODEL}/version=*/date=*/*.parquet")
    )
    console.print(f"prediction log: {log_dir} ({logged:,} predictions so far)")
    decided = _decision_step(explained, log_dir)
    return (
        decided
        and records == len(test)
        and wrong.status_code == 422
        and anonymous.status_code == 401
        and logged >= records
    )


def _decision_step(explained: dict[str, Any], log_dir: Path) -> bool:
    """One referred case: its reasons, a risk officer's decision, and the notice sent.

    ``explained`` is the gateway's answer to referred applicants sent again with
    ``?explain=3``: the first the model would refuse is the case a person decides.
    """
    from govml.client import Client
    from govml.services.decision_notice import decision_notice, render_notice

    console.rule("[bold]one decision: referred, decided by a person, the notice")
    request_id = explained["request_id"]
    reviewer = next(name for name, role in APPROVERS.items() if role == "risk_officer")
    with govml.connect(user=reviewer) as person:
        if not isinstance(person, Client):  # the demo's store is local
            raise GovmlError("the demo runs on a local store, not a govml server")
        cases = [
            person.oversight.find(MODEL, request_id, item["record"])
            for item in explained.get("referrals", [])
        ]
        if not cases:
            console.print("[red]no record was referred[/]")
            return False
        case = next((c for c in cases if c.model_decision == ADVERSE), cases[0])
        contributions = explained["explanations"][case.record]["contributions"]
        top = ", ".join(f"{item['feature']} {item['contribution']:+.2f}" for item in contributions)
        console.print(
            f"request {request_id} record {case.record}: referred ({'; '.join(case.reasons)}), "
            f"in the review queue as {case.id}; what moved the score: {top}"
        )
        case = person.oversight.decide(
            case.id,
            decision=case.model_decision,
            comment="payslips and tax return checked: income below the threshold",
        )
        notice = decision_notice(person.ctx, MODEL, request_id, log_dir, record=case.record)
    console.print(
        f"{reviewer} (risk officer) decided {case.decision} "
        f"({'overriding' if case.override else 'agreeing with'} the model's "
        f"{case.model_decision})"
    )
    path = REPORTS / "decision-notice.md"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_notice(notice), encoding="utf-8")
    listed = "; ".join(reason["text"] for reason in notice["reasons"])
    ledger = notice["proof"]["ledger"] or {}
    console.print(
        f"{'adverse-action notice' if notice['adverse'] else 'statement of reasons'} for the "
        f"applicant: {path}: {listed} (log file in ledger entry {ledger.get('seq')}, review "
        f"in entries {', '.join(str(seq) for seq in notice['proof']['review'])})"
    )
    return notice["final_decision"] == case.decision and bool(notice["proof"]["review"])


def _gateway_key(holder: str) -> str:
    """Issue a gateway key of the model (predict and feedback) as the deployer."""
    with govml.connect(user=DEPLOYER) as deployer:
        issued = deployer.issue_gateway_key(
            MODEL, scopes=["predict", "feedback"], expires_in_days=1, description=holder
        )
    console.print(
        f"{DEPLOYER} issued gateway key {issued.key.key_id} (predict, feedback) for {holder}; "
        "only its SHA-256 is stored"
    )
    return issued.secret


def _bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


if __name__ == "__main__":
    sys.exit(main())
