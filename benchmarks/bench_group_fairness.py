"""Regression fairness and calibration by group: govml on statistics against Fairlearn.

Usage::

    .venv/bin/python benchmarks/bench_group_fairness.py [--rows 200000] [--replicates 1000]
        [--fairlearn-replicates 5]

Synthetic data: sex x age band (10 groups), a continuous target and prediction, and a
binary outcome with a score. Regression: govml builds regression moments per group and
random block in one pass, then every group MAE / RMSE / mean prediction / mean residual,
their differences and ratios for each sex, age band and their intersection, and
``--replicates`` block-bootstrap replicates of all of them. Fairlearn's ``MetricFrame``
computes the same group MAE, RMSE and mean prediction from the rows, and its own bootstrap
(``n_boot``) resamples the rows once per replicate; it is run with
``--fairlearn-replicates`` and extrapolated linearly to ``--replicates``. Calibration:
govml's score bins and every group's ECE, calibration-in-the-large and slope with their
replicates, beside scikit-learn's ``calibration_curve`` run once per group.

Results (2-core AMD EPYC VM shared with other jobs, load average about 15; Python 3.11,
numpy 2.4, Fairlearn 0.15, scikit-learn 1.9), ``--rows 200000 --fairlearn-replicates 5``;
on a machine this loaded runs vary by far more than +-20 %:

    task                                             seconds   measured
    govml regression: moments per group + block      0.12      yes
    govml regression: 3 groupings, 1,000 replicates  0.45      yes
    Fairlearn MetricFrame, 3 metrics, intersection   9.0       yes
    Fairlearn MetricFrame n_boot=5                   50.6      yes
    Fairlearn MetricFrame n_boot=1,000               10,100    extrapolated
    govml calibration: bins                          0.043     yes
    govml calibration: 3 groupings, 1,000 replicates 2.19      yes
    scikit-learn calibration_curve per intersection  0.105     yes (no intervals)
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
import pandas as pd
from rich.console import Console
from rich.table import Table

from govml.metrics.calibration import calibration_bins, calibration_sections
from govml.metrics.group_regression import Replication, blocked_moments, regression_sections


def _data(rows: int) -> tuple[pd.DataFrame, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {"sex": rng.choice(["f", "m"], rows), "age": rng.choice(list("abcde"), rows)}
    )
    y = rng.gamma(2.0, 1500.0, rows)
    pred = y * rng.lognormal(0.0, 0.3, rows)
    score = rng.random(rows)
    truth = rng.random(rows) < score
    return frame, y, pred, score, truth


def _timed(function: object) -> tuple[float, object]:
    started = time.perf_counter()
    out = function()  # type: ignore[operator]
    return time.perf_counter() - started, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--replicates", type=int, default=1000)
    parser.add_argument("--fairlearn-replicates", type=int, default=5)
    args = parser.parse_args()
    frame, y, pred, score, truth = _data(args.rows)
    replication = Replication(n_boot=args.replicates, confidence=0.95, random_state=0)
    table = Table(title=f"{args.rows:,} rows, {args.replicates:,} replicates")
    for column in ("task", "seconds", "measured"):
        table.add_column(column)

    moments_s, blocked = _timed(lambda: blocked_moments(y, pred, sensitive_features=frame))
    table.add_row("govml regression: moments per group + block", f"{moments_s:.3g}", "yes")
    boot_s, _ = _timed(
        lambda: regression_sections(
            blocked,  # type: ignore[arg-type]
            min_group_size=30,
            intersections=True,
            replication=replication,
        )
    )
    table.add_row(
        f"govml regression: 3 groupings, {args.replicates:,} reps", f"{boot_s:.3g}", "yes"
    )

    from fairlearn.metrics import MetricFrame, mean_prediction
    from sklearn.metrics import mean_absolute_error, root_mean_squared_error

    metrics = {
        "mae": mean_absolute_error,
        "rmse": root_mean_squared_error,
        "mean_prediction": mean_prediction,
    }
    point_s, _ = _timed(
        lambda: MetricFrame(
            metrics=metrics, y_true=y, y_pred=pred, sensitive_features=frame[["sex", "age"]]
        ).difference()
    )
    table.add_row("Fairlearn MetricFrame, 3 metrics, intersection", f"{point_s:.3g}", "yes")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fl_boot_s, _ = _timed(
            lambda: MetricFrame(
                metrics=metrics,
                y_true=y,
                y_pred=pred,
                sensitive_features=frame[["sex", "age"]],
                n_boot=args.fairlearn_replicates,
                ci_quantiles=[0.025, 0.975],
                random_state=0,
            )
        )
    table.add_row(
        f"Fairlearn MetricFrame n_boot={args.fairlearn_replicates}", f"{fl_boot_s:.3g}", "yes"
    )
    scaled = fl_boot_s * args.replicates / args.fairlearn_replicates
    table.add_row(
        f"Fairlearn MetricFrame n_boot={args.replicates:,}", f"{scaled:.3g}", "extrapolated"
    )

    bins_s, bins = _timed(lambda: calibration_bins(truth, score, sensitive_features=frame))
    table.add_row("govml calibration: bins", f"{bins_s:.3g}", "yes")
    cal_s, _ = _timed(
        lambda: calibration_sections(
            bins,  # type: ignore[arg-type]
            min_group_size=30,
            intersections=True,
            replication=replication,
        )
    )
    table.add_row(
        f"govml calibration: 3 groupings, {args.replicates:,} reps", f"{cal_s:.3g}", "yes"
    )
    from sklearn.calibration import calibration_curve

    def curves() -> None:
        for _, rows in frame.groupby(["sex", "age"]).indices.items():
            calibration_curve(truth[rows], score[rows], n_bins=10)

    curve_s, _ = _timed(curves)
    table.add_row("scikit-learn calibration_curve per intersection", f"{curve_s:.3g}", "yes")
    Console().print(table)


if __name__ == "__main__":
    main()
