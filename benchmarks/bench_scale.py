"""Fairness and drift statistics past one machine: numpy (chunked), DuckDB and Spark local[2].

Usage::

    .venv/bin/python benchmarks/bench_scale.py                      # 1M rows, minutes
    .venv/bin/python benchmarks/bench_scale.py --rows 10000000 --rows 100000000
    .venv/bin/python benchmarks/bench_scale.py --skip-evidently --engines duckdb,spark

Data: ``rows`` x 20 features (normal and log-normal floats with 2 % NaN, integers 0-99,
bools, four string columns of 5 to 500 values) plus a label, a decision, a score in [0, 1]
and two sensitive features (sex with 5 % missing, race with 5 values), written as Parquet
files of at most 10M rows (row groups of 1M). The reference is a profile of 1M rows of the
same distribution with another seed; the current data is shifted in four features.

Each engine computes, in a fresh process reading the Parquet folder, the fairness
statistics (weighted confusion counts per sex x race intersection, missing sex as a group;
the score histogram on 1,000 bins per intersection and label) and the drift statistics of
the 20 features against the reference profile. "seconds" is that work, reading included
(the engines read as they count); Spark's includes its session start. "peak MB" is the
highest resident set of the process and its children (Spark's JVM) sampled every 0.1 s.
"equal" says whether every count equals the numpy engine's and every float sum is within
1e-9 relative. Evidently's ``DataDriftPreset`` on a 1M-row sample of the same data is the
anchor: what a single-machine tool does with a sample of what the engines count whole.

Results: see benchmarks/README.md ("Scale: numpy, DuckDB and Spark").
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

FILE_ROWS = 10_000_000
GROUP_ROWS = 1_000_000
FEATURES = [f"f{j:02d}" for j in range(20)]
SHIFTED = {"f00", "f05", "f10", "f17"}
SENSITIVE = ["sex", "race"]
BINS = 1_000
ENGINES = ("numpy", "duckdb", "spark")


def make_chunk(rows: int, seed: int, *, shift: bool) -> pa.Table:
    rng = np.random.default_rng(seed)
    columns: dict[str, Any] = {}
    for j, name in enumerate(FEATURES):
        kind = j % 5
        if kind == 0:
            values: Any = rng.normal(50 + (5 if shift and name in SHIFTED else 0), 10, rows)
        elif kind == 1:
            values = rng.lognormal(8, 1.5, rows)
        elif kind == 2:
            values = rng.integers(0, 100, rows)
        elif kind == 3:
            values = rng.random(rows) < (0.45 if shift and name in SHIFTED else 0.3)
        else:
            size = (5, 50, 500, 20)[j // 5]
            labels = np.array([f"v{i}" for i in range(size)])
            values = labels[rng.integers(0, size, rows)]
        if kind < 2:
            values[rng.random(rows) < 0.02] = np.nan
        columns[name] = values
    score = rng.random(rows)
    columns["label"] = (rng.random(rows) < score).astype(np.int64)
    columns["decision"] = (score > 0.5).astype(np.int64)
    columns["score"] = score
    sex = np.where(rng.random(rows) < 0.5, "female", "male").astype(object)
    sex[rng.random(rows) < 0.05] = None
    columns["sex"] = sex
    columns["race"] = np.array(["a", "b", "c", "d", "e"])[rng.integers(0, 5, rows)]
    return pa.table(columns)


def write_data(folder: Path, rows: int, *, seed: int, shift: bool) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    written = 0
    part = 0
    while written < rows:
        size = min(FILE_ROWS, rows - written)
        with pq.ParquetWriter(
            folder / f"part-{part:04d}.parquet", make_chunk(1, 0, shift=shift).schema
        ) as out:
            done = 0
            while done < size:
                step = min(GROUP_ROWS, size - done)
                out.write_table(
                    make_chunk(step, seed * 100_003 + written + done, shift=shift),
                    row_group_size=GROUP_ROWS,
                )
                done += step
        written += size
        part += 1
    return folder


def run_engine(engine_name: str, data: Path, reference: Path, out: Path) -> None:
    """The work of one engine (runs in its own process)."""
    from govml.datasets import Profile
    from govml.engines import get_engine

    start = time.perf_counter()
    engine = get_engine(engine_name)
    profile = Profile.from_dict(json.loads(reference.read_text()))
    confusion = engine.binary_confusion(
        data, y_true="label", y_pred="decision", sensitive=SENSITIVE, missing="group"
    )
    histogram = engine.score_histogram(
        data, y_true="label", score="score", sensitive=SENSITIVE, bins=BINS, missing="group"
    )
    drift = engine.current_statistics(profile, data, columns=FEATURES)
    seconds = time.perf_counter() - start
    out.write_text(
        json.dumps(
            {
                "seconds": seconds,
                "confusion": confusion.to_dict(),
                "histogram": histogram.to_dict(),
                "drift": drift.to_dict(),
            }
        )
    )


def run_evidently(data: Path, reference_data: Path, out: Path) -> None:
    """Evidently's DataDriftPreset on a 1M-row sample (runs in its own process)."""
    import pyarrow.dataset as ds
    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset

    start = time.perf_counter()
    current = ds.dataset(str(data)).head(GROUP_ROWS, columns=FEATURES).to_pandas()
    reference = pq.read_table(reference_data, columns=FEATURES).to_pandas()
    for frame in (current, reference):  # Evidently's quantiles do not take bools
        for name in FEATURES:
            if frame[name].dtype == bool:
                frame[name] = frame[name].astype("int64")
    numeric = [c for c in FEATURES if current[c].dtype.kind in "fiub"]
    definition = DataDefinition(
        numerical_columns=numeric, categorical_columns=[c for c in FEATURES if c not in numeric]
    )
    Report([DataDriftPreset()]).run(
        Dataset.from_pandas(current, data_definition=definition),
        Dataset.from_pandas(reference, data_definition=definition),
    )
    out.write_text(json.dumps({"seconds": time.perf_counter() - start}))


def tree_rss_mb(pid: int) -> float:
    import psutil

    try:
        process = psutil.Process(pid)
        members = [process, *process.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0.0
    total = 0
    for member in members:
        try:
            total += member.memory_info().rss
        except psutil.NoSuchProcess:
            continue
    return total / 1e6


def measured(command: list[str]) -> float:
    """Run ``command``; return the peak resident set of its process tree, in MB."""
    process = subprocess.Popen(command)
    peak = 0.0
    stop = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not stop.wait(0.1):
            peak = max(peak, tree_rss_mb(process.pid))

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    code = process.wait()
    stop.set()
    thread.join()
    if code != 0:
        raise SystemExit(f"{command[2:4]} failed with exit code {code}")
    return peak


def equal(a: Any, b: Any) -> bool:
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(equal(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return isinstance(b, list) and len(a) == len(b) and all(map(equal, a, b))
    if isinstance(a, float) and isinstance(b, int | float):
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)
    return bool(a == b)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, action="append", help="repeatable; default 1M")
    parser.add_argument("--engines", default=",".join(ENGINES))
    parser.add_argument("--skip-evidently", action="store_true")
    parser.add_argument("--work", type=Path, help="folder for the data (default: a temp dir)")
    parser.add_argument(
        "--run", nargs=4, metavar=("ENGINE", "DATA", "REF", "OUT"), help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    if args.run:
        name, data, ref, out = args.run
        if name == "evidently":
            run_evidently(Path(data), Path(ref), Path(out))
        else:
            run_engine(name, Path(data), Path(ref), Path(out))
        return
    from govml.datasets import profile

    engines = [e for e in args.engines.split(",") if e]
    with tempfile.TemporaryDirectory(dir=args.work) as tmp:
        work = Path(tmp)
        reference_data = work / "reference.parquet"
        pq.write_table(make_chunk(GROUP_ROWS, 999, shift=False), reference_data)
        reference = work / "reference.json"
        reference.write_text(json.dumps(profile(reference_data).to_dict()))
        print(f"{'rows':>12} {'engine':<10} {'seconds':>9} {'rows/s':>12} {'peak MB':>9}  equal")
        for rows in args.rows or [GROUP_ROWS]:
            data = write_data(work / f"data-{rows}", rows, seed=1, shift=True)
            results: dict[str, Any] = {}
            for name in [*engines, *([] if args.skip_evidently else ["evidently"])]:
                out = work / f"{name}-{rows}.json"
                peak = measured(
                    [
                        sys.executable,
                        __file__,
                        "--run",
                        name,
                        str(data),
                        str(reference_data if name == "evidently" else reference),
                        str(out),
                    ]
                )
                result = json.loads(out.read_text())
                results[name] = result
                same = "-"
                if name != "evidently" and "numpy" in results and name != "numpy":
                    base = results["numpy"]
                    same = (
                        "yes"
                        if all(
                            equal(base[k], result[k]) for k in ("confusion", "histogram", "drift")
                        )
                        else "NO"
                    )
                shown = GROUP_ROWS if name == "evidently" else rows
                print(
                    f"{shown:>12,} {name:<10} {result['seconds']:>9.1f} "
                    f"{shown / result['seconds']:>12,.0f} {peak:>9,.0f}  {same}",
                    flush=True,
                )
            for path in data.glob("*.parquet"):
                path.unlink()


if __name__ == "__main__":
    main()
