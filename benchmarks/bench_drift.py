"""Data drift on 1,000,000 rows x 25 columns: govml against Evidently's DataDriftPreset.

Usage::

    .venv/bin/python benchmarks/bench_drift.py [--rows 1000000] [--skip-evidently]

Reference and current data (20 numeric and 5 categorical columns, seeded; 6 numeric and
1 categorical column of the current data are shifted) are written once to Parquet. Each
tool then runs in a fresh process that reads the files, so that its peak resident set
(``VmHWM`` of that process: interpreter, libraries, data and computation) is comparable:

* ``evidently``: ``Report([DataDriftPreset()])`` on the two pandas DataFrames, with the
  columns declared numerical / categorical; per-column decisions from its tests.
* ``govml profile reference``: ``profile(reference)``, done once when a model version is
  registered; the profile is stored as JSON.
* ``govml drift vs stored profile``: ``data_drift(stored profile, "current.parquet")`` —
  the reference data is not read; the current file is read and counted 32,768 rows at a
  time and the batch statistics merged (reading included in the time).
* ``govml drift vs stored profile, current table in memory``: the same with the current
  data already read into one Arrow table (reading excluded).
* ``govml drift on raw frames``: ``data_drift(reference DataFrame, current DataFrame)``,
  what Evidently is given: above 100,000 rows the reference is profiled with the stored
  profile's sketches and the current frame counted against it batch by batch.
* ``govml drift exact``: ``data_drift(reference table, current table, method="exact")``,
  every test on the raw values.

The Parquet files are written in row groups of 100,000 rows, as a prediction log written
in batches would be.

Both tools use their default tests (the same choice: Wasserstein for numeric columns with
more than 5 values, Jensen–Shannon otherwise). "seconds" is the drift computation alone
(best of three for govml, one run for Evidently), reading excluded except where said;
"memory" is Evidently's peak over govml's; "agree" counts the columns where govml ran
the same test as Evidently and reached the same decision.

Results (2-core AMD EPYC VM shared with other jobs, Python 3.11, numpy 2.4, pyarrow 26,
Evidently 0.7.23; runs vary by about 10 %):

    step                                       seconds  peak RSS MB  speed-up  memory  agree
    Evidently DataDriftPreset                   93.257         2834
    govml profile reference (once)               0.360          731
    govml drift vs profile, current Parquet      0.598          311      156x    9.1x  25/25
    govml drift vs profile, current in memory    0.433          735      216x    3.9x  25/25
    govml drift exact (raw data both sides)      4.705         1182       20x    2.4x  25/25

The memory of the in-memory rows is mostly ``pyarrow.parquet.read_table`` reading the
whole file (the table alone is 219 MB; interpreter and libraries take 208 MB); drift on
the stored profile counts the file in batches and needs neither.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

NUMERIC = [f"num_{j}" for j in range(20)]
CATEGORICAL = [f"cat_{j}" for j in range(5)]
CATEGORY_SIZES = (2, 5, 30, 200, 1000)
STEPS = ("evidently", "profile", "drift", "table", "frames", "exact")
ROW_GROUP_ROWS = 100_000
SIDES = ("reference", "current")


def make_table(rows: int, *, shifted: bool, seed: int) -> pa.Table:
    """Return realistic columns; ``shifted`` moves 6 numeric columns and 1 categorical."""
    rng = np.random.default_rng(seed)
    s = 1.0 if shifted else 0.0
    columns: dict[str, Any] = {}
    for j, name in enumerate(NUMERIC):
        kind = j % 5
        move = s if j % 3 == 0 and j < 16 else 0.0  # columns 0, 3, 6, 9, 12 and 15 shift
        if kind == 0:
            values: Any = rng.normal(50 + 3 * move, 10, rows)
        elif kind == 1:
            values = rng.lognormal(8 + 0.3 * move, 1.0, rows)
        elif kind == 2:
            values = rng.integers(0, 100, rows).astype(np.float64) + 20 * move
        elif kind == 3:
            values = rng.choice(4, rows, p=[0.4 - 0.2 * move, 0.3, 0.2, 0.1 + 0.2 * move])
        else:
            values = rng.uniform(0, 1 + move, rows)
        if kind in (0, 1):
            values[rng.random(rows) < 0.02] = np.nan
        columns[name] = values
    for j, (name, size) in enumerate(zip(CATEGORICAL, CATEGORY_SIZES, strict=True)):
        weights = 1.0 / np.arange(1, size + 1)
        if shifted and j == 1:
            weights = weights[::-1]
        labels = np.array([f"value_{i}" for i in range(size)])
        columns[name] = labels[rng.choice(size, rows, p=weights / weights.sum())]
    return pa.table(columns)


def peak_rss_mb() -> float:
    """Peak resident set of this process since it started, in MB.

    ``VmHWM`` is the peak of this process's own address space. ``ru_maxrss`` is the
    fallback off Linux; on Linux it also carries the parent's peak across fork and exec,
    which here would be the memory used to generate the data.
    """
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def best_of(action: Any, repeat: int) -> tuple[float, Any]:
    best, result = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        result = action()
        best = min(best, time.perf_counter() - start)
    return best, result


def run_evidently(data: Path) -> dict[str, Any]:
    import pandas as pd
    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset

    reference = pd.read_parquet(data / "reference.parquet")
    current = pd.read_parquet(data / "current.parquet")
    definition = DataDefinition(numerical_columns=NUMERIC, categorical_columns=CATEGORICAL)
    start = time.perf_counter()
    snapshot = Report([DataDriftPreset()], include_tests=True).run(
        Dataset.from_pandas(current, data_definition=definition),
        Dataset.from_pandas(reference, data_definition=definition),
    )
    seconds = time.perf_counter() - start
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
    return {"seconds": seconds, "decisions": decisions, "tests": tests}


def run_govml(step: str, data: Path) -> dict[str, Any]:
    from govml.datasets import Profile, profile
    from govml.metrics.drift import data_drift

    stored = data / "profile.json"
    if step == "profile":
        reference = pq.read_table(data / "reference.parquet")
        seconds, result = best_of(lambda: profile(reference), 3)
        stored.write_text(json.dumps(result.to_dict()), encoding="utf-8")
        return {"seconds": seconds}
    if step == "frames":
        frames = [pq.read_table(data / f"{side}.parquet").to_pandas() for side in SIDES]
        seconds, report = best_of(lambda: data_drift(*frames), 3)
    elif step == "exact":
        reference = pq.read_table(data / "reference.parquet")
        current = pq.read_table(data / "current.parquet")
        seconds, report = best_of(lambda: data_drift(reference, current, method="exact"), 3)
    else:
        ref = Profile.from_dict(json.loads(stored.read_text(encoding="utf-8")))
        source = data / "current.parquet"
        if step == "table":
            source = pq.read_table(source)
        seconds, report = best_of(lambda: data_drift(ref, source), 3)
    return {
        "seconds": seconds,
        "decisions": {c.column: c.drifted for c in report.columns},
        "tests": {c.column: c.test for c in report.columns},
    }


def child(step: str, data: Path) -> None:
    result = run_evidently(data) if step == "evidently" else run_govml(step, data)
    result["peak_rss_mb"] = peak_rss_mb()
    print(json.dumps(result))


def measure(step: str, data: Path) -> dict[str, Any]:
    command = [sys.executable, __file__, "--child", step, "--data", str(data)]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"step {step} failed:\n{done.stderr}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


# Evidently's display names of the tests govml calls by their registry names.
EVIDENTLY_NAMES = {
    "wasserstein": "Wasserstein distance (normed)",
    "jensenshannon": "Jensen-Shannon distance",
    "ks": "K-S p_value",
    "chisquare": "chi-square p_value",
    "z": "Z-test p_value",
}


def report(rows: int, results: dict[str, dict[str, Any]]) -> None:
    from rich.console import Console
    from rich.table import Table

    labels = {
        "evidently": "Evidently DataDriftPreset",
        "profile": "govml profile reference (once, at registration)",
        "drift": "govml drift vs stored profile (current Parquet file)",
        "table": "govml drift vs stored profile, current table in memory",
        "frames": "govml drift on raw frames (reference profiled, current streamed)",
        "exact": "govml drift exact (raw reference and current)",
    }
    table = Table(title=f"Data drift, {rows:,} rows x 25 columns (reference and current)")
    for header in ("step", "seconds", "peak RSS MB", "speed-up", "memory ratio", "agree"):
        table.add_column(header, justify="left" if header == "step" else "right")
    base = results.get("evidently")
    for step, result in results.items():
        speed = memory = agree = ""
        # Profiling the reference is a one-off at registration, not a drift run.
        if base is not None and step not in ("evidently", "profile"):
            speed = f"{base['seconds'] / result['seconds']:.0f}x"
            memory = f"{base['peak_rss_mb'] / result['peak_rss_mb']:.1f}x"
        if base is not None and "decisions" in result and step != "evidently":
            same = sum(
                result["decisions"][c] == base["decisions"][c]
                and EVIDENTLY_NAMES[result["tests"][c]] == base["tests"][c]
                for c in base["decisions"]
            )
            agree = f"{same}/{len(base['decisions'])}"
        table.add_row(
            labels[step],
            f"{result['seconds']:.3f}",
            f"{result['peak_rss_mb']:.0f}",
            speed,
            memory,
            agree,
        )
    Console(width=130).print(table)
    drifted = [c for c, d in results["drift"]["decisions"].items() if d]
    print(f"govml drifted columns: {', '.join(drifted)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--skip-evidently", action="store_true")
    parser.add_argument("--child", choices=STEPS)
    parser.add_argument("--data", type=Path)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.data)
        return
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp)
        for name, shifted, seed in (("reference", False, 1), ("current", True, 2)):
            table = make_table(args.rows, shifted=shifted, seed=seed)
            pq.write_table(table, data / f"{name}.parquet", row_group_size=ROW_GROUP_ROWS)
        steps = [s for s in STEPS if not (args.skip_evidently and s == "evidently")]
        results = {step: measure(step, data) for step in steps}
    report(args.rows, results)


if __name__ == "__main__":
    main()
