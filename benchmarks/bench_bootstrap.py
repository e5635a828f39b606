"""Bootstrap confidence intervals: govml on statistics against Fairlearn's MetricFrame.

Usage::

    .venv/bin/python benchmarks/bench_bootstrap.py [--rows 10000000] [--replicates 1000]
        [--fairlearn-rows 100000] [--fairlearn-replicates 20]

Same synthetic race x sex data as ``bench_fairness.py`` (10 groups; selection rate, TPR,
FPR and accuracy). govml builds the per-group confusion counts once (one pass over the
rows, timed separately) and draws every replicate as a multinomial over the 40 cells, so
the replicates cost the same at any row count; intervals cover every group value, the
overall values and the differences and ratios between groups. Fairlearn's ``MetricFrame``
(``n_boot``, ``ci_quantiles``) resamples the rows in a Python loop, one full MetricFrame per
replicate; it is measured on ``--fairlearn-rows`` rows and ``--fairlearn-replicates``
replicates, and its time for the large case is *extrapolated* linearly in rows and
replicates (the rows marked "extrapolated"). govml is also run at Fairlearn's size.

Results (2-core AMD EPYC VM, Python 3.11, numpy 2.4, Fairlearn 0.15); runs vary by
about +-20 %:

    tool       rows        replicates  statistics s  bootstrap s  total s  measured
    govml      10,000,000  1,000       0.778         0.0078       0.786    yes
    govml      100,000     1,000       0.0059        0.0085       0.0144   yes
    Fairlearn  100,000     20          -             -            30.7     yes
    Fairlearn  100,000     1,000       -             -            1,537    extrapolated
    Fairlearn  10,000,000  1,000       -             -            153,665  extrapolated, linear

"statistics s" is the one pass over the rows (grouping two string columns dominates it);
"bootstrap s" is the 1,000 replicates with every interval.
"""

from __future__ import annotations

import argparse
import time
import warnings
from typing import Any

from rich.console import Console
from rich.table import Table

from bench_fairness import make_data

METRICS = ["selection_rate", "true_positive_rate", "false_positive_rate", "accuracy"]


def run_govml(data: dict[str, Any], replicates: int) -> tuple[float, float]:
    from govml.metrics import binary_confusion, bootstrap

    start = time.perf_counter()
    stats = binary_confusion(data["y"], data["y_pred"], sensitive_features=data["features"])
    built = time.perf_counter()
    result = bootstrap(stats, metrics=METRICS, n_boot=replicates, random_state=0)
    for metric in METRICS:
        result.group_intervals(metric)
        result.overall_interval(metric)
        for method in ("between_groups", "to_overall"):
            result.difference(metric, method)
            result.ratio(metric, method)
    done = time.perf_counter()
    return built - start, done - built


def run_fairlearn(data: dict[str, Any], replicates: int) -> float:
    import fairlearn.metrics as flm
    import sklearn.metrics as skm

    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        frame = flm.MetricFrame(
            metrics={
                "selection_rate": flm.selection_rate,
                "tpr": flm.true_positive_rate,
                "fpr": flm.false_positive_rate,
                "accuracy": skm.accuracy_score,
            },
            y_true=data["y"],
            y_pred=data["y_pred"],
            sensitive_features=data["features"],
            n_boot=replicates,
            ci_quantiles=[0.025, 0.975],
            random_state=0,
        )
        frame.difference_ci()
        frame.ratio_ci()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--replicates", type=int, default=1000)
    parser.add_argument("--fairlearn-rows", type=int, default=100_000)
    parser.add_argument("--fairlearn-replicates", type=int, default=20)
    args = parser.parse_args()

    big = make_data(args.rows)
    stats_s, boot_s = min((run_govml(big, args.replicates) for _ in range(3)), key=sum)
    del big
    small = make_data(args.fairlearn_rows)
    small_stats_s, small_boot_s = min(
        (run_govml(small, args.replicates) for _ in range(3)), key=sum
    )
    fairlearn_s = run_fairlearn(small, args.fairlearn_replicates)
    per_replicate = fairlearn_s / args.fairlearn_replicates

    table = Table(title="Bootstrap intervals (selection rate, TPR, FPR, accuracy; race x sex)")
    for column in (
        "tool",
        "rows",
        "replicates",
        "statistics s",
        "bootstrap s",
        "total s",
        "measured",
    ):
        table.add_column(column, justify="left" if column in ("tool", "measured") else "right")
    table.add_row(
        "govml",
        f"{args.rows:,}",
        f"{args.replicates:,}",
        f"{stats_s:.3g}",
        f"{boot_s:.3g}",
        f"{stats_s + boot_s:.3g}",
        "yes",
    )
    table.add_row(
        "govml",
        f"{args.fairlearn_rows:,}",
        f"{args.replicates:,}",
        f"{small_stats_s:.3g}",
        f"{small_boot_s:.3g}",
        f"{small_stats_s + small_boot_s:.3g}",
        "yes",
    )
    table.add_row(
        "Fairlearn",
        f"{args.fairlearn_rows:,}",
        f"{args.fairlearn_replicates:,}",
        "-",
        "-",
        f"{fairlearn_s:.3g}",
        "yes",
    )
    table.add_row(
        "Fairlearn",
        f"{args.fairlearn_rows:,}",
        f"{args.replicates:,}",
        "-",
        "-",
        f"{per_replicate * args.replicates:,.0f}",
        "extrapolated",
    )
    scale = args.rows / args.fairlearn_rows
    table.add_row(
        "Fairlearn",
        f"{args.rows:,}",
        f"{args.replicates:,}",
        "-",
        "-",
        f"{per_replicate * args.replicates * scale:,.0f}",
        "extrapolated (linear in rows)",
    )
    Console(width=120).print(table)


if __name__ == "__main__":
    main()
