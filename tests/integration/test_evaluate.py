"""`govml evaluate`: gates, storage, exit codes, bad input, outside predictions, tampering."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder

import govml
from govml.cli.main import invoke
from govml.errors import InputError, IntegrityError, ValidationError
from govml.metrics import demographic_parity_ratio, roc_auc_score
from govml.policy import InvalidPolicyError
from govml.store.schema import model_aliases, model_versions

FEATURES = ["x1", "x2", "group"]

POLICY = """\
apiVersion: govml/v1
kind: Policy
metadata: {{name: test-policy, owner: risk@example.com}}
tiers: [high]
undefined: {undefined}
data:
  - {{expect: no_nulls, columns: [x1, x2]}}
  - {{expect: between, column: x1, min: -10, max: 10}}
  - {{expect: schema_matches_training, allow_extra_columns: true}}
performance:
  - {{metric: roc_auc, min: 0.7}}
  - {{metric: accuracy, min: 0.6, vs_champion: {{max_drop: 0.05}}}}
fairness:
  sensitive: [sex]
  min_group_size: 30
  reference_groups: {{sex: M}}
  rules:
    - {{metric: demographic_parity_ratio, min: {dp_min}}}
    - {{metric: equalized_odds_difference, max: 0.5, confidence: 0.95, n_boot: 200}}
explainability:
  top_k: 2
  stability_vs_production: {{min_overlap: 0.5}}
  forbidden_in_top_k: [sex]
  sample_rows: 100
security:
  serialization: safe_only
  sbom: true
documentation:
  required: [description, intended_use]
"""


def _frame(n: int = 2000, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x1 = rng.normal(size=n)
    x2 = rng.normal(size=n)
    group = rng.choice(["a", "b", "c"], size=n)
    sex = rng.choice(["F", "M"], size=n)
    logit = 1.5 * x1 - x2 + (group == "a") * 0.5
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype("int64")
    return pd.DataFrame({"x1": x1, "x2": x2, "group": group, "sex": sex, "y": y})


def _pipeline() -> Pipeline:
    encode = ColumnTransformer(
        [("cat", OneHotEncoder(handle_unknown="ignore"), ["group"])], remainder="passthrough"
    )
    return Pipeline([("encode", encode), ("model", LogisticRegression())])


@pytest.fixture
def cli_env(db_url: str, home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Point the CLI at the test's store."""
    monkeypatch.setenv("GOVML_HOME", str(home))
    monkeypatch.setenv("GOVML_DATABASE_URL", db_url)
    monkeypatch.setenv("GOVML_USER", "alice")


def _policy(tmp_path: Path, *, dp_min: float = 0.5, undefined: str = "fail") -> Path:
    path = tmp_path / "policy.yaml"
    path.write_text(POLICY.format(dp_min=dp_min, undefined=undefined), encoding="utf-8")
    return path


@pytest.fixture
def registered(client: govml.Client, tmp_path: Path) -> tuple[govml.Client, Path]:
    frame = _frame()
    model = _pipeline().fit(frame[FEATURES], frame["y"])
    client.create_model(
        "scorer", risk_tier="high", description="A test scorer.", intended_use="Tests."
    )
    client.register_version("scorer", model=model, train_data=frame[[*FEATURES, "y"]], target="y")
    data = tmp_path / "validation.csv"
    _frame(seed=1).to_csv(data, index=False)
    return client, data


def test_evaluation_passes_is_stored_and_verified(
    registered: tuple[govml.Client, Path], tmp_path: Path
) -> None:
    client, data = registered
    evaluation = client.evaluate(
        "scorer@1", policy=_policy(tmp_path), data=str(data), target="y", n_boot=200
    )
    assert evaluation.status == "pass", evaluation.failed()
    document = evaluation.document
    assert document["subject"] == {
        "model": "scorer",
        "version": 1,
        "label": None,
        "risk_tier": "high",
    }
    assert document["inputs"]["pos_label"] == 1
    assert document["inputs"]["task"] == "binary"
    names = [check["check"] for check in evaluation.checks]
    assert len(names) == len(set(names))
    for expected in (
        "serialization",
        "no_nulls",
        "between:x1",
        "schema_matches",
        "roc_auc",
        "accuracy",
        "accuracy_vs_champion",
        "demographic_parity_ratio:sex",
        "equalized_odds_difference:sex",
        "feature_importance",
        "stability",
        "forbidden_in_top_k",
        "sbom",
        "documentation",
    ):
        assert expected in names
    # The numbers are the metrics engine's (checked against scikit-learn / Fairlearn there).
    frame = pd.read_csv(data)
    model = client.load_model("scorer@1")
    scores = model.predict_proba(frame[FEATURES])[:, 1]
    assert evaluation.check("roc_auc")["value"] == pytest.approx(
        roc_auc_score(frame["y"], scores), abs=1e-12
    )
    dp = demographic_parity_ratio(
        frame["y"], model.predict(frame[FEATURES]), sensitive_features=frame["sex"]
    )
    assert evaluation.check("demographic_parity_ratio:sex")["value"] == pytest.approx(dp)
    eod = evaluation.check("equalized_odds_difference:sex")
    low, high = eod["interval"]
    assert low <= eod["value"] <= high
    assert eod["evidence"]["replicates"] == 200
    assert (
        "no version of scorer holds the production alias"
        in (evaluation.check("accuracy_vs_champion")["message"])
    )
    # Evidence artifacts are stored and readable.
    for name in ("fairness_report", "explanation", "drift", "sbom"):
        blob = client.evaluation_evidence(evaluation, name)
        assert blob is not None and json.loads(blob)
    assert set(document["timings"]) >= {"data", "predict", "fairness", "total"}
    # Stored whole, listed, and replayed by audit verify.
    again = client.get_evaluation(evaluation.id)
    assert again.document == evaluation.document
    assert again.digest == evaluation.digest
    assert [e.id for e in client.list_evaluations(model="scorer")] == [evaluation.id]
    assert client.verify_ledger().evaluations == 1
    log = client.audit_log(action="evaluation.recorded")
    assert log[-1].payload["document_digest"] == evaluation.digest


def test_failing_rule_exits_1_and_is_stored(
    registered: tuple[govml.Client, Path], tmp_path: Path, cli_env: None
) -> None:
    client, data = registered
    policy = _policy(tmp_path, dp_min=0.99)
    args = ["evaluate", "scorer@1", "--policy", str(policy)]
    args += ["--data", str(data), "--target", "y", "--n-boot", "200", "--json"]
    code = invoke(args)
    assert code == 1
    [stored] = client.list_evaluations()
    assert stored.status == "fail"
    assert [c["check"] for c in stored.failed()] == ["demographic_parity_ratio:sex"]


def test_cli_list_show_and_reports(
    registered: tuple[govml.Client, Path],
    tmp_path: Path,
    cli_env: None,
    capsys: pytest.CaptureFixture[str],
) -> None:
    _client, data = registered
    policy = _policy(tmp_path)
    html = tmp_path / "out" / "report.html"
    base: list[str] = []
    args = [*base, "evaluate", "scorer@1", "--policy", str(policy), "--data", str(data)]
    args += ["--target", "y", "--sensitive", "sex", "--n-boot", "200", "--report", str(html)]
    assert invoke(args) == 0
    out = capsys.readouterr().out
    assert "demographic_parity_ratio:sex" in out
    assert "evaluation 1" in out
    text = html.read_text(encoding="utf-8")
    assert text.lstrip().lower().startswith("<!doctype html")
    assert "data:image/png;base64" in text
    assert invoke([*base, "evaluations", "list", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [item["id"] for item in listed] == [1]
    markdown = tmp_path / "report.md"
    assert invoke([*base, "evaluations", "show", "1", "--json", "--report", str(markdown)]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["id"] == 1 and shown["status"] == "pass"
    assert "roc_auc" in markdown.read_text(encoding="utf-8")
    assert invoke([*base, "evaluations", "show", "7"]) == 2
    assert "evaluation 7 does not exist" in capsys.readouterr().err


def test_missing_columns_are_named_at_once_and_nothing_is_stored(
    registered: tuple[govml.Client, Path], tmp_path: Path
) -> None:
    client, _ = registered
    data = tmp_path / "partial.csv"
    _frame().drop(columns=["sex", "x1"]).to_csv(data, index=False)
    with pytest.raises(ValidationError) as caught:
        client.evaluate("scorer@1", policy=_policy(tmp_path), data=str(data), target="y")
    message = str(caught.value)
    assert "2 column(s)" in message
    assert "'x1'" in message and "'sex'" in message and "sensitive feature" in message
    assert client.list_evaluations() == []


def test_empty_data_and_usage_errors_exit_2(
    registered: tuple[govml.Client, Path],
    tmp_path: Path,
    cli_env: None,
    capsys: pytest.CaptureFixture[str],
) -> None:
    client, data = registered
    empty = tmp_path / "empty.csv"
    _frame().head(0).to_csv(empty, index=False)
    policy = str(_policy(tmp_path))
    base = ["evaluate"]
    assert invoke([*base, "scorer@1", "--policy", policy, "--data", str(empty), "--target", "y"])
    assert "has no rows" in capsys.readouterr().err
    version_args = [*base, "scorer@1", "--policy", policy, "--data", str(data), "--target", "y"]
    no_version = [*base, "--policy", policy, "--data", str(data), "--target", "y"]
    cases = [
        (no_version, "give a model version"),
        ([*no_version, "--prediction-column", "y"], "need a --label"),
        ([*version_args, "--report", "out.pdf"], ".pdf"),
        ([*version_args, "--pos-label", "7"], "positive label 7"),
        ([*base, "scorer@9", "--policy", policy, "--data", str(data), "--target", "y"], "9"),
    ]
    for args, text in cases:
        assert invoke(args) == 2, args
        assert text in capsys.readouterr().err, args
    assert client.list_evaluations() == []


def test_metric_that_does_not_apply_names_the_policy_line(
    client: govml.Client, tmp_path: Path
) -> None:
    frame = _frame()
    frame["amount"] = frame["x1"] * 3.0 + 0.5
    model = LinearRegression().fit(frame[["x1", "x2"]], frame["amount"])
    client.create_model("pricer", risk_tier="high")
    client.register_version(
        "pricer", model=model, train_data=frame[["x1", "x2", "amount"]], target="amount"
    )
    policy = tmp_path / "regression.yaml"
    policy.write_text(
        "apiVersion: govml/v1\nkind: Policy\nmetadata: {name: p}\ntiers: [high]\n"
        "performance:\n  - {metric: mean_absolute_error, max: 1.0}\n"
        "  - {metric: roc_auc, min: 0.7}\n",
        encoding="utf-8",
    )
    with pytest.raises(InvalidPolicyError) as caught:
        client.evaluate("pricer@1", policy=policy, data=frame, target="amount")
    [problem] = caught.value.errors
    assert (problem.line, problem.path) == (7, "performance[1].metric")
    assert "roc_auc does not apply to pricer@1" in problem.message
    assert "regression" in problem.message
    assert client.list_evaluations() == []


def test_schema_differences(registered: tuple[govml.Client, Path], tmp_path: Path) -> None:
    client, _ = registered
    policy = _policy(tmp_path)
    # A column the model does not read changed type: the schema check fails, stored.
    frame = _frame(seed=2)
    frame["y"] = frame["y"].astype(float)
    evaluation = client.evaluate("scorer@1", policy=policy, data=frame, target="y", n_boot=200)
    schema = evaluation.check("schema_matches")
    assert schema["outcome"] == "fail"
    assert "y" in schema["message"]
    # A feature the model reads has another type: the schema check fails, the checks that
    # read predictions are not run, and the evaluation is stored as failing.
    broken = _frame(seed=2)
    broken["x1"] = "text"
    evaluation = client.evaluate("scorer@1", policy=policy, data=broken, target="y")
    assert evaluation.status == "fail"
    assert evaluation.check("schema_matches")["outcome"] == "fail"
    assert evaluation.check("roc_auc")["reason"] == "not run: data check schema_matches failed"
    assert len(client.list_evaluations()) == 2


def test_outside_predictions_are_audited_and_stored(client: govml.Client, tmp_path: Path) -> None:
    frame = _frame()
    rng = np.random.default_rng(3)
    frame["vendor_score"] = np.clip(frame["x1"] * 0.2 + 0.5 + rng.normal(0, 0.1, len(frame)), 0, 1)
    frame["vendor_decision"] = (frame["vendor_score"] >= 0.5).astype("int64")
    data = tmp_path / "scored.csv"
    frame.to_csv(data, index=False)
    evaluation = client.evaluate(
        label="vendor-scorecard",
        policy=_policy(tmp_path, undefined="warn"),
        data=str(data),
        target="y",
        prediction_column="vendor_decision",
        score_column="vendor_score",
        n_boot=200,
    )
    document = evaluation.document
    assert document["subject"]["model"] is None
    assert document["subject"]["label"] == "vendor-scorecard"
    assert evaluation.subject == "vendor-scorecard"
    expected_auc = roc_auc_score(frame["y"], frame["vendor_score"])
    assert evaluation.check("roc_auc")["value"] == pytest.approx(expected_auc, abs=1e-12)
    for name in ("feature_importance", "environment", "documentation", "schema_matches"):
        check = evaluation.check(name)
        assert (check["status"], check["outcome"]) == ("undefined", "warn"), name
    assert client.verify_ledger().evaluations == 1
    assert client.list_evaluations()[0].subject == "vendor-scorecard"


def test_champion_comparison_and_stability(
    registered: tuple[govml.Client, Path], tmp_path: Path
) -> None:
    client, data = registered
    policy = _policy(tmp_path)
    first = client.evaluate("scorer@1", policy=policy, data=str(data), target="y", n_boot=200)
    # A weaker second version; version 1 holds production (set directly until promotion
    # lands, the row the lifecycle service will write).
    frame = _frame()
    weak = _pipeline().fit(frame[FEATURES].assign(x1=0.0), frame["y"])
    client.register_version("scorer", model=weak, train_data=frame[[*FEATURES, "y"]], target="y")
    with client.ctx.store.write() as conn:
        row = conn.execute(
            sa.select(model_versions.c.id, model_versions.c.model_id).where(
                model_versions.c.version == 1
            )
        ).one()
        conn.execute(
            sa.insert(model_aliases).values(
                model_id=row.model_id,
                alias="production",
                version_id=row.id,
                updated_at=datetime.now(UTC),
                updated_by="test",
            )
        )
    second = client.evaluate("scorer@2", policy=policy, data=str(data), target="y", n_boot=200)
    versus = second.check("accuracy_vs_champion")
    assert versus["outcome"] == "fail"
    assert versus["evidence"]["champion"] == "scorer@1"
    assert versus["value"] < -0.05
    assert second.document["champion"] == {"model": "scorer", "version": 1}
    stability = second.check("stability")
    assert stability["status"] in ("pass", "fail")
    assert stability["evidence"]["production_top"] == first.check("feature_importance")["value"]


def test_corrupted_artifact_is_refused(
    registered: tuple[govml.Client, Path], tmp_path: Path
) -> None:
    client, data = registered
    version = client.get_version("scorer@1")
    path = client.ctx.artifacts.path_for(version.artifact_digest)
    path.chmod(0o644)
    path.write_bytes(path.read_bytes()[:-10] + b"0123456789")
    with pytest.raises(IntegrityError) as caught:
        client.evaluate("scorer@1", policy=_policy(tmp_path), data=str(data), target="y")
    assert str(path) in str(caught.value) or version.artifact_digest in str(caught.value)
    assert client.list_evaluations() == []


def test_tampered_evaluation_is_named(
    registered: tuple[govml.Client, Path], tmp_path: Path
) -> None:
    client, data = registered
    evaluation = client.evaluate(
        "scorer@1", policy=_policy(tmp_path, dp_min=0.99), data=str(data), target="y", n_boot=200
    )
    assert evaluation.status == "fail"
    with client.ctx.store.write() as conn:
        if client.ctx.store.dialect == "sqlite":
            conn.execute(sa.text("DROP TRIGGER evaluations_no_update"))
        else:
            conn.execute(sa.text("DROP TRIGGER evaluations_append_only ON evaluations"))
        conn.execute(sa.text("UPDATE evaluations SET status = 'pass'"))
    with pytest.raises(IntegrityError, match="evaluation 1 was changed after it was recorded"):
        client.verify_ledger()


def test_evaluations_are_append_only(registered: tuple[govml.Client, Path], tmp_path: Path) -> None:
    client, data = registered
    client.evaluate("scorer@1", policy=_policy(tmp_path), data=str(data), target="y", n_boot=200)
    with (
        pytest.raises(sa.exc.DatabaseError, match="append-only"),
        client.ctx.store.write() as conn,
    ):
        conn.execute(sa.text("DELETE FROM evaluations"))


class _Payload:
    """Pickles to a call of os.system: what a malicious model file does when unpickled."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str]]:
        import os

        return (os.system, (f"touch {self.marker}",))


def test_malicious_artifact_is_scanned_and_never_loaded(
    registered: tuple[govml.Client, Path], tmp_path: Path
) -> None:
    import pickle

    client, data = registered
    marker = tmp_path / "executed"
    digest = client.ctx.artifacts.put_bytes(pickle.dumps(_Payload(marker)))
    # Someone with write access to the database points version 1 at the payload (its digest
    # is right, so only the scan stands between it and the unpickler).
    with client.ctx.store.write() as conn:
        if client.ctx.store.dialect == "sqlite":
            conn.execute(sa.text("DROP TRIGGER model_versions_no_update"))
        else:
            conn.execute(sa.text("DROP TRIGGER model_versions_append_only ON model_versions"))
        conn.execute(sa.text("UPDATE model_versions SET artifact_digest = :d"), {"d": digest})
    evaluation = client.evaluate(
        "scorer@1", policy=_policy(tmp_path), data=str(data), target="y", n_boot=200
    )
    assert not marker.exists()
    scan = evaluation.check("serialization")
    assert scan["outcome"] == "fail"
    assert "os" in json.dumps(scan["evidence"]) and "system" in json.dumps(scan["evidence"])
    assert evaluation.status == "fail"
    assert evaluation.check("roc_auc")["reason"].startswith("the artifact was refused")
    assert evaluation.check("feature_importance")["status"] == "undefined"
    with pytest.raises(IntegrityError):  # and audit verify names the changed version
        client.verify_ledger()


def test_outside_text_labels_need_the_positive_label_named(
    client: govml.Client, tmp_path: Path
) -> None:
    frame = _frame(n=400)
    frame["y"] = np.where(frame["y"] == 1, "bad", "good")
    frame["vendor_decision"] = np.where(frame["x1"] > 0, "bad", "good")
    data = tmp_path / "scored.csv"
    frame.to_csv(data, index=False)
    request = {
        "label": "vendor-scorecard",
        "policy": _policy(tmp_path, undefined="warn"),
        "data": str(data),
        "target": "y",
        "prediction_column": "vendor_decision",
        "n_boot": 50,
    }
    with pytest.raises(InputError, match="cannot tell the positive label of target 'y'"):
        client.evaluate(**request)
    assert client.list_evaluations() == []
    evaluation = client.evaluate(**request, pos_label="bad")
    assert evaluation.document["inputs"]["pos_label"] == "bad"
    expected = float(np.mean(frame["vendor_decision"] == frame["y"]))
    assert evaluation.check("accuracy")["value"] == pytest.approx(expected)


def test_an_assumed_favourable_outcome_is_said_in_the_note_and_the_report(
    registered: tuple[govml.Client, Path], tmp_path: Path
) -> None:
    from govml.reports import render, report_format

    client, data = registered
    evaluation = client.evaluate(
        "scorer@1", policy=_policy(tmp_path), data=str(data), target="y", n_boot=200
    )
    inputs = evaluation.document["inputs"]
    assert (inputs["favourable_label"], inputs["favourable_label_source"]) == (1, "assumed")
    assert any(
        note.startswith("the favourable outcome was assumed to be the positive label 1")
        for note in evaluation.document["notes"]
    )
    assumed = "(favourable outcome assumed: the positive label 1)"
    assert evaluation.check("demographic_parity_ratio:sex")["message"].endswith(assumed)
    assert assumed not in evaluation.check("equalized_odds_difference:sex")["message"]
    text = render(
        evaluation.document,
        report_format("report.md"),
        evidence=lambda name: client.evaluation_evidence(evaluation, name),
    )
    assert assumed in text
