"""`govml monitor` on a window of 10,000,000 logged predictions x 20 features, and Evidently.

Usage::

    .venv/bin/python benchmarks/bench_monitor.py [--rows 10000000] [--evidently-rows 1000000]

Set-up (not timed): a store in a temporary folder with one model version registered on a
200,000-row training table (15 numeric and 5 categorical features of
``bench_drift.make_table``, plus a label), so its training profile is stored; a policy with
a monitoring performance rule; a prediction log of ``--rows`` rows in the gateway's layout
(``model=bench/version=1/date=2026-03-02/part-*.parquet``, 500,000 rows per file, inputs as
a struct, prediction, class probabilities; 6 of the 20 features shifted) and feedback labels
for 10 % of them.

Each step runs in a fresh process whose peak resident set (``VmHWM``) is reported:

* ``govml monitor``: ``Client.monitor`` end to end on the one-day window: DuckDB reads the
  log in Arrow batches, drift statistics against the stored profile for the 20 features and
  the predictions, training-serving skew on day one (100,000 rows), the 1,000,000 labels
  joined by request id for the performance rule and label coverage, the run and its time
  series stored with their ledger entries. No SHAP (the version has no evaluation).
* ``Evidently``: ``Report([DataDriftPreset()])`` on pandas DataFrames of the same training
  table and the first ``--evidently-rows`` rows of the log's inputs (at 10M rows the
  DataFrames alone would take several GB and the run well over ten minutes), its time
  scaled linearly to ``--rows`` — an estimate, labelled as such. "agree" counts features
  where govml ran the same test and flagged drift (``warn`` or worse, Evidently's threshold)
  exactly where Evidently did.

Results: see benchmarks/README.md ("Monitoring").
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from bench_drift import CATEGORICAL, NUMERIC, make_table, peak_rss_mb

FEATURES = NUMERIC[:15] + CATEGORICAL
FILE_ROWS = 500_000
TRAIN_ROWS = 200_000
DAY = datetime(2026, 3, 2, tzinfo=UTC)
MODEL = "bench"
POLICY = """\
apiVersion: govml/v1
kind: Policy
metadata: {name: bench}
tiers: [minimal]
performance: [{metric: accuracy, min: 0.5}]
monitoring:
  window: 1d
  performance: [{metric: accuracy, min: 0.5}]
"""


def _label(table: pa.Table) -> np.ndarray:
    x = table.column("num_0").to_numpy(zero_copy_only=False)
    return (np.nan_to_num(x, nan=50.0) > 50).astype(np.int64)


def setup(folder: Path, rows: int) -> None:
    from sklearn.dummy import DummyClassifier

    import govml

    train = make_table(TRAIN_ROWS, shifted=False, seed=0).select(FEATURES)
    frame = train.to_pandas()
    frame["y"] = _label(train)
    home = folder / "home"
    with govml.connect(home, user="bench", create=True) as client:
        client.init()
        (folder / "policy.yaml").write_text(POLICY, encoding="utf-8")
        client.apply_policy(folder / "policy.yaml")
        client.create_model(MODEL, risk_tier="minimal")
        model = DummyClassifier(strategy="prior").fit(frame[FEATURES], frame["y"])
        client.register_version(MODEL, model=model, train_data=frame, target="y")
    logs = home / "predictions" / f"model={MODEL}"
    day = logs / "version=1" / f"date={DAY:%Y-%m-%d}"
    feedback = logs / "feedback" / f"date={DAY:%Y-%m-%d}"
    day.mkdir(parents=True)
    feedback.mkdir(parents=True)
    spacing = 86_000_000_000 // rows  # microseconds over the day
    for part, start in enumerate(range(0, rows, FILE_ROWS)):
        n = min(FILE_ROWS, rows - start)
        inputs = make_table(n, shifted=True, seed=100 + part).select(FEATURES)
        rng = np.random.default_rng(part)
        score = rng.random(n)
        ids = pa.array([f"r{start + i}" for i in range(n)], type=pa.string())
        micros = int(DAY.timestamp() * 1e6) + (np.arange(start, start + n) * spacing)
        times = pa.array(micros).cast(pa.timestamp("us", tz="UTC"))
        table = pa.table(
            {
                "request_id": ids,
                "record": pa.array(np.zeros(n, dtype=np.int32)),
                "time": times,
                "variant": pa.array(["champion"] * n, type=pa.string()),
                "inputs": pa.StructArray.from_arrays(
                    [c.combine_chunks() for c in inputs.columns], names=FEATURES
                ),
                "inputs_json": pa.array(["{}"] * n, type=pa.string()),
                "prediction": pa.array((score > 0.5).astype(np.int64)),
                "probabilities": pa.StructArray.from_arrays(
                    [pa.array(1 - score), pa.array(score)], names=["0", "1"]
                ),
                "latency_ms": pa.array(np.full(n, 1.0)),
            }
        )
        pq.write_table(table, day / f"part-{part:04d}.parquet")
        labelled = rng.random(n) < 0.1
        pq.write_table(
            pa.table(
                {
                    "request_id": ids.filter(pa.array(labelled)),
                    "record": pa.array(np.zeros(int(labelled.sum()), dtype=np.int32)),
                    "time": times.filter(pa.array(labelled)),
                    "label": pa.array(_label(inputs)[labelled]),
                }
            ),
            feedback / f"part-{part:04d}.parquet",
        )
    train.to_pandas().to_parquet(folder / "reference.parquet")


def run_govml(folder: Path) -> dict[str, Any]:
    import govml

    with govml.connect(folder / "home", user="bench") as client:
        started = time.perf_counter()
        run = client.monitor(MODEL, since=DAY, until=DAY + timedelta(days=1))
        seconds = time.perf_counter() - started
    (report,) = run.versions
    drift = {c.check.split(":", 1)[1]: c for c in report.checks if c.category == "data_drift"}
    return {
        "seconds": seconds,
        "rows": report.rows,
        "labelled": report.labelled,
        "status": run.status,
        "decisions": {k: c.status in ("warn", "alert", "critical") for k, c in drift.items()},
        "tests": {k: c.threshold.get("test") for k, c in drift.items()},
    }


def run_evidently(folder: Path, rows: int) -> dict[str, Any]:
    import pandas as pd
    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset

    reference = pd.read_parquet(folder / "reference.parquet")
    files = sorted((folder / "home" / "predictions").rglob("version=1/**/*.parquet"))
    needed = -(-rows // FILE_ROWS)
    parts = [
        pq.read_table(f, columns=["inputs"]).column("inputs").combine_chunks()
        for f in files[:needed]
    ]
    current = (
        pa.Table.from_batches([pa.RecordBatch.from_struct_array(p) for p in parts])
        .slice(0, rows)
        .to_pandas()
    )
    numeric = [c for c in FEATURES if c.startswith("num_")]
    categorical = [c for c in FEATURES if c.startswith("cat_")]
    definition = DataDefinition(numerical_columns=numeric, categorical_columns=categorical)
    started = time.perf_counter()
    snapshot = Report([DataDriftPreset()], include_tests=True).run(
        Dataset.from_pandas(current, data_definition=definition),
        Dataset.from_pandas(reference, data_definition=definition),
    )
    seconds = time.perf_counter() - started
    result = snapshot.dict()
    decisions, tests = {}, {}
    for metric in result["metrics"]:
        config = metric["config"]
        if config["type"].endswith("ValueDrift"):
            tests[config["column"]] = config["method"]
    for test in result["tests"]:
        params = test["metric_config"]["params"]
        if params["type"].endswith("ValueDrift"):
            decisions[params["column"]] = test["status"] == "FAIL"
    return {"seconds": seconds, "rows": rows, "decisions": decisions, "tests": tests}


EVIDENTLY_NAMES = {
    "wasserstein": "Wasserstein distance (normed)",
    "jensenshannon": "Jensen-Shannon distance",
    "ks": "K-S p_value",
    "chisquare": "chi-square p_value",
    "z": "Z-test p_value",
}


def measure(step: str, folder: Path, rows: int) -> dict[str, Any]:
    command = [
        sys.executable,
        __file__,
        "--child",
        step,
        "--data",
        str(folder),
        "--rows",
        str(rows),
    ]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"step {step} failed:\n{done.stderr}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--evidently-rows", type=int, default=1_000_000)
    parser.add_argument("--skip-evidently", action="store_true")
    parser.add_argument("--child")
    parser.add_argument("--data", type=Path)
    args = parser.parse_args()
    if args.child:
        if args.child == "govml":
            result = run_govml(args.data)
        else:
            result = run_evidently(args.data, args.rows)
        result["peak_rss_mb"] = peak_rss_mb()
        print(json.dumps(result))
        return
    with tempfile.TemporaryDirectory(prefix="govml-bench-monitor-") as tmp:
        folder = Path(tmp)
        started = time.perf_counter()
        setup(folder, args.rows)
        print(f"set-up (not timed): {time.perf_counter() - started:.0f} s", flush=True)
        ours = measure("govml", folder, args.rows)
        print(
            f"govml monitor: {ours['seconds']:.1f} s, peak RSS {ours['peak_rss_mb']:.0f} MB, "
            f"{ours['rows']:,} rows, {ours['labelled']:,} labelled, status {ours['status']}"
        )
        if args.skip_evidently:
            return
        theirs = measure("evidently", folder, args.evidently_rows)
        scaled = theirs["seconds"] * args.rows / theirs["rows"]
        agree = sum(
            EVIDENTLY_NAMES.get(ours["tests"][c]) == theirs["tests"].get(c)
            and ours["decisions"][c] == theirs["decisions"].get(c)
            for c in ours["decisions"]
        )
        print(
            f"Evidently DataDriftPreset on {theirs['rows']:,} rows: {theirs['seconds']:.1f} s, "
            f"peak RSS {theirs['peak_rss_mb']:.0f} MB; scaled to {args.rows:,} rows: "
            f"{scaled:.0f} s (estimate)"
        )
        total = len(ours["decisions"])
        print(f"speed-up {scaled / ours['seconds']:.0f}x (estimated), agree {agree}/{total}")
        print(json.dumps({"govml": ours, "evidently": theirs}, indent=1, default=str))


if __name__ == "__main__":
    main()
