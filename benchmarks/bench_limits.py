"""govml beside the machine's floor and beside its anchors, each figure with its ratios.

Usage::

    .venv/bin/python benchmarks/bench_limits.py [--rows 1000000] [--repeats 5] [--no-anchors]
        [--sections metrics,drift,ledger] [--ledger-entries 1000000]
        [--backends sqlite,postgres] [--shapes 1,1000]

Each section lives in its own module (``limits_<section>.py``) with a ``<section>_rows()``
function returning rows of the same keys (case, govml seconds, floor seconds, govml / floor,
anchor seconds, anchor / govml, whether the results are the same); this script runs them in
one run and prints one table per section. A section whose module is absent is skipped.

- metrics (``limits_metrics.py``): fairness statistics against one ``np.bincount`` pass and
  against Fairlearn;
- drift (``limits_drift.py``): ``data_drift`` on two raw 1,000,000 x 25 frames against one
  numpy pass per column and against Evidently's DataDriftPreset;
- ledger (``limits_ledger.py``): ``audit verify`` of 1,000,000 entries against reading and
  hashing every row once and against govml's own earlier figures.

Results: benchmarks/README.md ("At the limit").
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

TITLES = {
    "metrics": "Fairness metrics: govml, the bincount floor, Fairlearn",
    "drift": "Data drift, {rows:,} rows x 25 columns: govml, one numpy pass, Evidently",
    "ledger": "audit verify: govml, reading and hashing every row once, govml before",
}


def section_rows(name: str, args: argparse.Namespace) -> list[dict[str, Any]] | None:
    """Run one section; None when its module is absent."""
    try:
        module = importlib.import_module(f"limits_{name}")
    except ModuleNotFoundError as error:
        if error.name != f"limits_{name}":
            raise
        return None
    anchors = not args.no_anchors
    if name == "metrics":
        rows: list[dict[str, Any]] = module.metrics_rows(args.rows, args.repeats, fairlearn=anchors)
    elif name == "drift":
        rows = module.drift_rows(args.rows, evidently=anchors)
    else:
        rows = module.ledger_rows(
            args.ledger_entries,
            tuple(args.backends.split(",")),
            tuple(int(shape) for shape in args.shapes.split(",")),
        )
    return rows


def print_rows(title: str, rows: list[dict[str, Any]]) -> None:
    """Print one section's rows as a table."""
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title)
    for column in ("case", "govml s", "floor s", "x floor", "anchor", "anchor s", "speed-up"):
        table.add_column(column, justify="left" if column in ("case", "anchor") else "right")
    table.add_column("same", justify="right")

    def fmt(value: Any, spec: str) -> str:
        return "" if value is None else format(value, spec)

    for row in rows:
        table.add_row(
            row["case"],
            fmt(row["govml_s"], ".4f"),
            fmt(row["floor_s"], ".4f"),
            fmt(row["x_floor"], ".1f"),
            row["anchor"] or "",
            fmt(row["anchor_s"], ".2f"),
            fmt(row["speedup"], ".1f"),
            "" if row["same"] is None else str(row["same"]),
        )
    Console(width=150).print(table)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--no-anchors", action="store_true", help="skip Fairlearn / Evidently")
    parser.add_argument("--sections", default="metrics,drift,ledger")
    parser.add_argument("--ledger-entries", type=int, default=1_000_000)
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--shapes", default="1", help="entries per tree head, e.g. 1,1000")
    args = parser.parse_args()
    print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}")
    for name in args.sections.split(","):
        rows = section_rows(name, args)
        if rows is None:
            print(f"section {name}: benchmarks/limits_{name}.py is absent, skipped")
            continue
        print_rows(TITLES[name].format(rows=args.rows), rows)
    print(f"load average after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
