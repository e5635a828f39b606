"""monitoring.serving latency percentiles judged on the prediction log (each request once)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from govml.monitoring.logs import PredictionLogs
from govml.monitoring.serving_checks import serving_outcomes
from govml.monitoring.window import Window
from govml.policy.operations import ServingThresholds

DAY = datetime(2026, 3, 2, tzinfo=UTC)


def write_log(root: Path, latencies: np.ndarray, records_per_request: int) -> None:
    n = len(latencies)
    ids = [f"r{i}" for i in range(n) for _ in range(records_per_request)]
    rows = len(ids)
    folder = root / "model=credit" / "version=1" / f"date={DAY.date().isoformat()}"
    folder.mkdir(parents=True)
    table = pa.table(
        {
            "request_id": pa.array(ids),
            "record": pa.array(np.tile(np.arange(records_per_request, dtype=np.int32), n)),
            "time": pa.array(
                [DAY + timedelta(seconds=i) for i in range(rows)], type=pa.timestamp("us", "UTC")
            ),
            "variant": pa.array(["champion"] * (rows - 1) + ["shadow"]),
            "inputs": pa.StructArray.from_arrays([pa.array(np.zeros(rows))], names=["x1"]),
            "prediction": pa.array(np.zeros(rows, dtype=np.int64)),
            "latency_ms": pa.array(np.repeat(latencies, records_per_request)),
        }
    )
    pq.write_table(table, folder / "part-0.parquet")


def test_percentiles_equal_numpy_per_request_and_judge_the_thresholds(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    latencies = rng.gamma(2.0, 20.0, size=500)
    write_log(tmp_path, latencies, records_per_request=3)
    # The last record is a shadow copy: its request (r499) still counts through its other rows.
    thresholds = ServingThresholds(p50_ms=100.0, p99_ms=float(np.quantile(latencies, 0.99)) - 1)
    window = Window(start=DAY, end=DAY + timedelta(days=1))
    with PredictionLogs(tmp_path, "credit") as logs:
        files = logs.prediction_files([DAY.date()])[1]
        requests, values = logs.latency_quantiles(files, window, [0.5, 0.99])
        outcomes = serving_outcomes(logs, files, window, thresholds)
    assert requests == 500
    np.testing.assert_allclose(values, np.quantile(latencies, [0.5, 0.99]), rtol=1e-9)
    p50, p99 = outcomes
    assert (p50.check, p50.category, p50.status) == ("serving:p50_ms", "serving", "ok")
    assert p99.status == "alert" and "above the policy's" in p99.message
    assert p99.evidence == {"requests": 500}


def test_an_empty_window_is_insufficient(tmp_path: Path) -> None:
    write_log(tmp_path, np.array([5.0, 6.0]), records_per_request=1)
    later = Window(start=DAY + timedelta(days=2), end=DAY + timedelta(days=3))
    with PredictionLogs(tmp_path, "credit") as logs:
        files = logs.prediction_files([DAY.date()])[1]
        (outcome,) = serving_outcomes(logs, files, later, ServingThresholds(p95_ms=10.0))
    assert outcome.status == "insufficient" and outcome.value is None
