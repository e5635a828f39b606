"""`govml evaluate --engine spark` measures what the in-memory evaluation measures.

On the real Adult data (a scikit-learn pipeline, registered), Spark in local mode
(local[2]) reads the Parquet folder; the model scores every row in a pandas UDF
(``mapInPandas``) and the statistics are aggregated by Spark. The stored evaluation's
performance and fairness checks equal the in-memory evaluation's on the same rows: counts
and every confusion-count metric exactly (bootstrap intervals included), log loss and Brier
score within 1e-9, ROC AUC within the score histogram's documented bound. Checks that need
rows say so: a calibration rule is undefined on the engine path; with a sample smaller than
the data, a data check that passes on the sample is undefined and the row count is the
data's. Skipped, saying why, where pyspark, Java or the shared datasets are missing.
"""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

import govml
from govml.cli.main import invoke
from govml.demo.adult import CATEGORICAL, NUMERIC, TARGET, load_adult
from govml.errors import InputError
from govml.evaluation import Evaluation

# One worker runs both Spark files: they share its Spark session (`spark` in conftest).
pytestmark = [pytest.mark.datasets, pytest.mark.slow, pytest.mark.xdist_group("spark")]

if importlib.util.find_spec("pyspark") is None:
    pytest.skip("pyspark is not installed (pip install 'govml[spark]')", allow_module_level=True)

from govml.engines.spark_engine import java_available  # noqa: E402  (pyspark is there)

if not java_available():
    pytest.skip("no Java on this machine: the Spark engine needs Java 17", allow_module_level=True)

EVAL_ROWS = 8000
POLICY = """\
apiVersion: govml/v1
kind: Policy
metadata: {name: adult-lake, owner: risk@example.com}
tiers: [minimal]
data:
  - {expect: no_nulls, columns: [age, hours_per_week]}
performance:
  - {metric: accuracy, min: 0.5}
  - {metric: recall, min: 0.1}
  - {metric: roc_auc, min: 0.5}
  - {metric: log_loss, max: 2}
  - {metric: brier_score, max: 1}
fairness:
  sensitive: [sex, race]
  min_group_size: 30
  rules:
    - {metric: demographic_parity_difference, max: 0.9}
    - {metric: equalized_odds_difference, max: 0.9, confidence: 0.95, n_boot: 200}
    - {metric: equal_opportunity_difference, max: 0.9}
    - {metric: expected_calibration_error, max: 0.5}
"""


@pytest.fixture(scope="module")
def lake(shared_datasets: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A trained pipeline, its training frame, and the test split as a Parquet folder."""
    folder = tmp_path_factory.mktemp("lake")
    train = load_adult("train", shared_datasets).sample(5000, random_state=0)
    test = load_adult("test", shared_datasets).sample(EVAL_ROWS, random_state=1)
    frames = []
    for frame in (train, test):
        frame = frame.reset_index(drop=True)
        frame[CATEGORICAL] = frame[CATEGORICAL].fillna("missing")
        frames.append(frame)
    train, test = frames
    model = Pipeline(
        [
            (
                "columns",
                ColumnTransformer(
                    [
                        ("categories", OneHotEncoder(handle_unknown="ignore"), CATEGORICAL),
                        ("numbers", StandardScaler(), NUMERIC),
                    ]
                ),
            ),
            ("model", LogisticRegression(max_iter=2000)),
        ]
    )
    model.fit(train[CATEGORICAL + NUMERIC], train[TARGET])
    test["decision"] = model.predict(test[CATEGORICAL + NUMERIC])
    test["score"] = model.predict_proba(test[CATEGORICAL + NUMERIC])[:, 1]
    table = folder / "scores"
    table.mkdir()
    for index, part in enumerate(np.array_split(test, 3)):  # a folder of files, as a lake has
        part.to_parquet(table / f"part-{index}.parquet", index=False)
    policy = folder / "policy.yaml"
    policy.write_text(POLICY, encoding="utf-8")
    return {"model": model, "train": train, "test": test, "table": table, "policy": policy}


@pytest.fixture
def store(
    home: Path, lake: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> Iterator[govml.Client]:
    """An embedded store (alice: its admin) with the version and the policy in force."""
    monkeypatch.setenv("GOVML_HOME", str(home))
    monkeypatch.setenv("GOVML_USER", "alice")
    for name in ("GOVML_DATABASE_URL", "GOVML_SERVER", "GOVML_TOKEN", "GOVML_TRUSTED_TYPES"):
        monkeypatch.delenv(name, raising=False)
    client = govml.connect(home, user="alice", create=True)
    client.init()
    client.create_model("adult", risk_tier="minimal")
    client.register_version(
        "adult",
        model=lake["model"],
        train_data=lake["train"][CATEGORICAL + NUMERIC + [TARGET]],
        target=TARGET,
    )
    client.apply_policy(lake["policy"])
    yield client
    client.close()


def _checks(evaluation: Evaluation) -> dict[str, dict[str, Any]]:
    return {
        c["check"]: c for c in evaluation.checks if c["category"] in ("performance", "fairness")
    }


def _same_measures(in_memory: Evaluation, on_spark: Evaluation) -> None:
    ours, theirs = _checks(on_spark), _checks(in_memory)
    assert ours.keys() == theirs.keys()
    for name, expected in theirs.items():
        got = ours[name]
        if name.startswith("expected_calibration_error"):
            assert expected["status"] in ("pass", "warn", "fail")
            assert got["status"] == "undefined" and "needs every row" in got["reason"]
            continue
        assert got["status"] == expected["status"], name
        if name == "roc_auc":  # from the 10,000-bin score histogram: within its bound
            assert got["value"] == pytest.approx(expected["value"], abs=1e-3)
        elif name in ("log_loss", "brier_score"):
            assert got["value"] == pytest.approx(expected["value"], rel=1e-9)
        else:  # counts, and what is computed from them (bootstrap intervals included)
            assert got["value"] == expected["value"], name
            assert got.get("interval") == expected.get("interval"), name
    confusion = theirs["accuracy"]["evidence"]["confusion"]
    assert ours["accuracy"]["evidence"]["confusion"] == confusion
    assert sum(confusion.values()) == EVAL_ROWS


def test_spark_evaluation_scores_every_row_and_equals_the_in_memory_one(
    spark: Any, store: govml.Client, lake: dict[str, Any]
) -> None:
    table = lake["table"]
    in_memory = store.evaluate("adult@1", data=pq.read_table(table), target=TARGET, n_boot=200)
    on_spark = store.evaluate("adult@1", data=str(table), target=TARGET, n_boot=200, engine="spark")
    _same_measures(in_memory, on_spark)
    data = on_spark.document["data"]
    assert data["rows"] == EVAL_ROWS and data["source"] == str(table)
    assert data["engine"] == {
        "name": "spark",
        "sample_rows": EVAL_ROWS,
        "digest_of": "schema, row count and profile",
    }
    # The sample is every row, so the row checks read every row: the data check passes.
    assert on_spark.check("no_nulls")["status"] == "pass"
    assert any("computed by the spark engine" in note for note in on_spark.document["notes"])
    # Drift against the training profile, counted by Spark, equals the in-memory counts.
    drift = json.loads(store.evaluation_evidence(on_spark, "drift") or b"{}")
    expected = json.loads(store.evaluation_evidence(in_memory, "drift") or b"{}")
    assert drift and drift == expected


def test_spark_evaluation_of_outside_predictions_with_a_sample(
    spark: Any, store: govml.Client, lake: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    table = lake["table"]
    columns = {"prediction_column": "decision", "score_column": "score", "label": "batch-2026-11"}
    in_memory = store.evaluate(
        data=pq.read_table(table), target=TARGET, n_boot=200, policy=lake["policy"], **columns
    )
    code = invoke(
        [
            "evaluate",
            "--data", str(table), "--target", TARGET, "--policy", str(lake["policy"]),
            "--prediction-column", "decision", "--score-column", "score",
            "--label", "batch-2026-11", "--n-boot", "200",
            "--engine", "spark", "--sample-rows", "500", "--json",
        ]
    )  # fmt: skip
    out = capsys.readouterr().out
    assert code in (0, 1), out
    document = json.loads(out)
    on_spark = Evaluation(id=document["id"], document=document, digest="")
    _same_measures(in_memory, on_spark)
    assert document["data"]["rows"] == EVAL_ROWS
    assert document["data"]["engine"]["sample_rows"] == 500
    check = on_spark.check("no_nulls")
    assert check["status"] == "undefined"
    assert "sample of 500 of 8,000 rows" in check["reason"]


def test_engine_errors_name_what_is_wrong(
    spark: Any, store: govml.Client, lake: dict[str, Any], tmp_path: Path
) -> None:
    with pytest.raises(InputError, match="--engine duckdb"):
        store.evaluate("adult@1", data=str(lake["table"]), target=TARGET, engine="duckdb")
    with pytest.raises(InputError, match="Spark cannot read"):
        store.evaluate("adult@1", data=str(tmp_path / "absent"), target=TARGET, engine="spark")
    with pytest.raises(InputError, match="S3AFileSystem") as raised:  # no hadoop-aws here
        store.evaluate("adult@1", data="s3a://lake/scores", target=TARGET, engine="spark")
    assert raised.value.hint is not None and "hadoop-aws" in raised.value.hint
    assert (
        invoke(["evaluate", "adult@1", "--data", "x", "--target", "y", "--engine", "pandas"]) == 2
    )
