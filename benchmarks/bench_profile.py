"""Profile and fingerprint speed on 1,000,000 rows x 25 columns (20 numeric, 5 categorical).

Usage::

    .venv/bin/python benchmarks/bench_profile.py [--rows 1000000]

The data is generated once (seeded) and written to Parquet; each step then runs in a fresh
process that reads the file. "seconds" is the best of three runs of the step alone (reading
excluded). "RSS before" is the resident set once the table is loaded (Parquet reading leaves
memory in arrow's pool); "peak RSS" is the highest resident set during the step, measured by
resetting the kernel's peak mark (Linux) after loading, so peak - before is the step's cost.

Numeric columns: normal and log-normal floats with 2 % NaN, integers 0-99, bools.
Categorical columns: 5, 50, 500, 5,000 and 100,000 distinct strings (the last two exceed
the default 1,000 exact categories and so exercise the bounded summary).

Results (2-core AMD EPYC VM, Python 3.11, numpy 2.4, pyarrow 26); runs vary by about +-30 %:

    step         rows     columns  seconds  table MB  RSS before MB  peak RSS MB
    read         1000000  25       0.233    0         82             531
    profile      1000000  25       0.561    192       511            554
    digest       1000000  25       0.199    192       515            520
    fingerprint  1000000  25       1.069    192       519            522
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

CATEGORY_SIZES = (5, 50, 500, 5_000, 100_000)
STEPS = ("read", "profile", "digest", "fingerprint")


def make_table(rows: int, seed: int = 0) -> pa.Table:
    rng = np.random.default_rng(seed)
    columns: dict[str, Any] = {}
    for j in range(20):
        kind = j % 4
        if kind == 0:
            values: Any = rng.normal(50, 10, rows)
        elif kind == 1:
            values = rng.lognormal(8, 1.5, rows)
        elif kind == 2:
            values = rng.integers(0, 100, rows)
        else:
            values = rng.random(rows) < 0.3
        if kind < 2:
            values[rng.random(rows) < 0.02] = np.nan
        columns[f"num_{j}"] = values
    for j, size in enumerate(CATEGORY_SIZES):
        names = np.array([f"category_{i}" for i in range(size)])
        columns[f"cat_{j}"] = names[rng.integers(0, size, rows)]
    return pa.table(columns)


def run_step(step: str, path: Path) -> dict[str, Any]:
    from govml.datasets import fingerprint, profile, table_digest

    metadata = pq.read_metadata(path)
    # "read" keeps no table between runs, so its peak is the cost of one table.
    table = None if step == "read" else pq.read_table(path)
    actions = {
        "read": lambda: pq.read_table(path).num_rows,
        "profile": lambda: profile(table),
        "digest": lambda: table_digest(table),
        "fingerprint": lambda: fingerprint(table),
    }
    start_kb = reset_peak_rss()
    timings = []
    for _ in range(3):
        start = time.perf_counter()
        actions[step]()
        timings.append(time.perf_counter() - start)
    return {
        "rows": metadata.num_rows,
        "columns": metadata.num_columns,
        "seconds": min(timings),
        "start_rss_mb": start_kb / 1024,
        "peak_rss_mb": rss_kb("VmHWM") / 1024,
        "table_mb": 0 if table is None else table.nbytes / 2**20,
    }


def reset_peak_rss() -> int:
    """Reset the peak-RSS mark (Linux >= 4.0) so reading the input is not counted.

    Returns the resident set size at that moment, in kilobytes.
    """
    with contextlib.suppress(OSError):  # elsewhere the peak includes reading the input
        Path("/proc/self/clear_refs").write_text("5")
    return rss_kb("VmRSS")


def rss_kb(field: str) -> int:
    """Return ``VmRSS`` (current) or ``VmHWM`` (peak) in kilobytes."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(f"{field}:"):
                return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # kilobytes on Linux


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--step", choices=STEPS, help=argparse.SUPPRESS)
    parser.add_argument("--path", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.step:
        print(json.dumps(run_step(args.step, args.path)))
        return
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "data.parquet"
        pq.write_table(make_table(args.rows), path)
        print(
            f"{'step':<12} {'rows':<8} {'columns':<8} {'seconds':<8} "
            f"{'table MB':<9} {'RSS before MB':<14} peak RSS MB"
        )
        for step in STEPS:
            out = subprocess.run(
                [sys.executable, __file__, "--step", step, "--path", str(path)],
                check=True,
                capture_output=True,
                text=True,
            ).stdout
            r = json.loads(out)
            print(
                f"{step:<12} {r['rows']:<8} {r['columns']:<8} {r['seconds']:<8.3f} "
                f"{r['table_mb']:<9.0f} {r['start_rss_mb']:<14.0f} {r['peak_rss_mb']:.0f}"
            )


if __name__ == "__main__":
    main()
