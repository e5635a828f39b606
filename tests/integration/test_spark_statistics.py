"""The Spark engine (local[2]) computes the numpy path's statistics exactly.

One Spark session for the run (``spark``, tests/conftest.py); skipped, saying why, only
where Java or pyspark is missing. Counts equal exactly and float sums within 1e-9
relative, on the same Parquet files: weights, nulls, NaN and infinities, a missing-value
group, intersections, categories the reference lacks, values on sketch bucket boundaries
and scores on bin edges.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from tests.integration import test_monitoring
from tests.unit.engines.engine_cases import (
    current_table,
    reference_profile,
    same,
    scoring_table,
    write_parquet,
)

from govml.engines import get_engine
from govml.engines.spark_engine import java_available
from govml.metrics import MetricInputError

# One worker runs both Spark files: they share its Spark session (`spark` in conftest).
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("spark")]

# The monitoring tests' store with model credit in production, and their webhook receiver.
watched = test_monitoring.watched
hook = test_monitoring.hook

if importlib.util.find_spec("pyspark") is None:
    pytest.skip("pyspark is not installed (pip install 'govml[spark]')", allow_module_level=True)
if not java_available():
    pytest.skip("no Java on this machine: the Spark engine needs Java 17", allow_module_level=True)


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("spark")
    frame = scoring_table()
    return {
        "frame": frame,
        "path": write_parquet(frame, root / "scores"),
        "current": write_parquet(current_table(), root / "current"),
        "reference": reference_profile(frame.drop(columns=["empty"])),
    }


def test_group_statistics_equal_numpy(spark: Any, data: dict[str, Any]) -> None:
    numpy, engine = get_engine("numpy"), get_engine("spark", session=spark)
    frame = spark.read.parquet(str(data["path"]))  # a DataFrame as well as a path
    calls: list[tuple[str, dict[str, Any]]] = [
        (
            "binary_confusion",
            {
                "y_true": "default",
                "y_pred": "decision",
                "sensitive": ["sex", "age_band"],
                "weight": "weight",
                "missing": "group",
            },
        ),
        (
            "multiclass_confusion",
            {
                "y_true": "grade",
                "y_pred": "predicted_grade",
                "sensitive": ["region"],
                "missing": "group",
            },
        ),
        (
            "regression_moments",
            {
                "y_true": "loss",
                "y_pred": "predicted_loss",
                "sensitive": ["sex", "owner"],
                "weight": "weight",
                "missing": "group",
            },
        ),
        (
            "score_histogram",
            {
                "y_true": "default",
                "score": "score",
                "sensitive": ["sex"],
                "bins": 100,
                "weight": "weight",
                "missing": "group",
            },
        ),
    ]
    for method, kwargs in calls:
        expected = getattr(numpy, method)(data["path"], **kwargs).to_dict()
        source = frame if method == "binary_confusion" else data["path"]
        same(expected, getattr(engine, method)(source, **kwargs).to_dict(), method)


def test_profile_and_drift_counts_equal_numpy(spark: Any, data: dict[str, Any]) -> None:
    numpy, engine = get_engine("numpy"), get_engine("spark", session=spark)
    same(numpy.profile(data["path"]).to_dict(), engine.profile(data["path"]).to_dict())
    reference = data["reference"]
    expected = numpy.current_statistics(reference, data["current"])
    found = engine.current_statistics(reference, data["current"])
    same(expected.to_dict(), found.to_dict())
    sketch = found.column("income").sketch  # type: ignore[union-attr]
    current_income = np.sort(current_table()["income"].to_numpy())
    for q in (0.05, 0.5, 0.95):
        exact = float(np.quantile(current_income, q, method="lower"))
        estimate = sketch.quantile(q)
        assert estimate is not None
        assert abs(estimate - exact) <= sketch.relative_accuracy * abs(exact)


def test_bad_input_gives_the_numpy_message(spark: Any, tmp_path: Path) -> None:
    frame = scoring_table(200)
    frame["weight"] = frame["weight"].astype(object)
    frame.loc[3, "weight"] = -2.0
    path = write_parquet(frame, tmp_path / "bad", parts=1)
    messages = []
    for name, data in (("numpy", frame), ("spark", path)):
        options = {"session": spark} if name == "spark" else {}
        with pytest.raises(MetricInputError) as caught:
            get_engine(name, **options).binary_confusion(
                data, y_true="default", y_pred="decision", weight="weight"
            )
        messages.append(caught.value.message)
    assert messages[0] == messages[1]
    assert "found minimum -2.0" in messages[0]


def test_monitor_counts_the_window_with_spark_as_with_numpy(spark: Any, watched: Any) -> None:
    from datetime import timedelta

    from tests.integration.test_monitoring import DAY, frame

    watched.serve(2, frame(800, seed=7, shift=1.5))
    numpy_run = watched.monitor(dry_run=True)
    spark_run = watched.team["frank"].monitor(
        "credit",
        log_dir=watched.logs,
        since=DAY,
        until=DAY + timedelta(days=1),
        dry_run=True,
        engine="spark",
    )

    def drift(run: Any) -> dict[str, Any]:
        return {
            c.check: (c.status, c.value, c.evidence)
            for r in run.versions
            for c in r.checks
            if c.category in ("data_drift", "skew")
        }

    assert drift(numpy_run) and drift(spark_run) == drift(numpy_run)


def test_evaluate_takes_a_spark_dataframe(
    spark: Any, db_url: str, home: Path, tmp_path: Path
) -> None:
    import pandas as pd
    from tests.integration.test_lifecycle import Team

    team = Team(db_url, home, tmp_path)
    try:
        team["alice"].apply_policy(team.policy(accuracy_min=0.0))
        ref = team.register()
        frame = pd.read_csv(team.data)
        bob = team["bob"]
        from_pandas = bob.evaluate(ref, data=frame, target="y", n_boot=50)
        from_spark = bob.evaluate(ref, data=spark.createDataFrame(frame), target="y", n_boot=50)
    finally:
        team.close()

    def measured(evaluation: Any) -> dict[str, Any]:
        return {
            c["check"]: (c["status"], c.get("value"))
            for c in evaluation.checks
            if c["category"] != "data"  # a data fingerprint names its source
        }

    assert measured(from_spark) == measured(from_pandas)
    assert from_spark.status == from_pandas.status
