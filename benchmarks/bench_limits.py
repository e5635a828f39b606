"""govml beside the machine's floor and beside its anchors, each figure with its ratios.

Usage::

    .venv/bin/python benchmarks/bench_limits.py [--rows 1000000] [--repeats 5] [--no-anchors]

Each section lives in its own module (``limits_<section>.py``) with a ``<section>_rows()``
function; this script runs them in one process and prints one table per section.
"""

# sections: metrics

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import limits_metrics


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--no-anchors", action="store_true", help="skip Fairlearn / Evidently")
    args = parser.parse_args()
    limits_metrics.print_rows(
        limits_metrics.metrics_rows(args.rows, args.repeats, fairlearn=not args.no_anchors)
    )


if __name__ == "__main__":
    main()
