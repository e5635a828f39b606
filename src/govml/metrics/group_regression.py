"""Fairness of a regression model: group errors and predictions from regression moments.

Per group, from `RegressionMoments` (n, Σw, Σwy, Σwŷ, Σw|y−ŷ|, Σw(y−ŷ)², ...): mean absolute
error, root mean squared error, mean squared error, mean prediction and mean residual
(y − ŷ, positive when the model predicts too low). Their differences and ratios between
groups and to the overall value follow Fairlearn's ``MetricFrame`` with scikit-learn's
regression metrics; ``bounded_group_loss`` is the largest group mean squared error (the
quantity Fairlearn's ``BoundedGroupLoss`` constraint bounds with ``SquareLoss``) and
``bounded_group_absolute_loss`` the largest group mean absolute error.

Bootstrap on the statistics. Regression moments have no finite set of cells to draw from,
so the rows of each group are dealt at random into at most ``blocks`` blocks (every row its
own block when the group has fewer rows) and the moments are kept per group and block: a
mergeable statistic like any other. A replicate draws, in every group, as many blocks as
the group has, with replacement, and adds up their moments: the row bootstrap exactly for
groups of up to ``blocks`` rows, and a bootstrap of block means (which have the same
expected spread) for larger ones. It is stratified: group sizes stay about fixed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from govml.metrics._confusion import FloatArray, group_codes
from govml.metrics._regression import RegressionMoments, regression_moments
from govml.metrics.group_values import Aggregate, GroupTable, fairness_section
from govml.metrics.report import FairnessSection

BLOCK = "govml:block"
DEFAULT_BLOCKS = 200
NO_WEIGHT = "the rows have no weight"

BASE_METRICS: tuple[str, ...] = (
    "mean_absolute_error",
    "root_mean_squared_error",
    "mean_squared_error",
    "mean_prediction",
    "mean_residual",
)

REPORTED: tuple[str, ...] = (
    "mean_absolute_error",
    "root_mean_squared_error",
    "mean_prediction",
    "mean_residual",
)
"""The group metrics shown per group: all in the target's unit (the mean squared error, in
its square, is the root mean squared error squared)."""

AGGREGATES: tuple[Aggregate, ...] = (
    Aggregate("mean_absolute_error_difference", "mean_absolute_error", "difference"),
    Aggregate("mean_absolute_error_ratio", "mean_absolute_error", "ratio"),
    Aggregate("root_mean_squared_error_difference", "root_mean_squared_error", "difference"),
    Aggregate("root_mean_squared_error_ratio", "root_mean_squared_error", "ratio"),
    Aggregate("mean_prediction_difference", "mean_prediction", "difference"),
    Aggregate("mean_prediction_ratio", "mean_prediction", "ratio"),
    Aggregate("mean_residual_difference", "mean_residual", "difference"),
    Aggregate("bounded_group_loss", "mean_squared_error", "worst"),
    Aggregate("bounded_group_absolute_loss", "mean_absolute_error", "worst"),
)
"""The regression fairness metrics a policy can name (``..._to_overall`` too, but for the
two ``bounded_group_*`` ones)."""

REGRESSION_FAIRNESS_METRICS: tuple[str, ...] = tuple(spec.name for spec in AGGREGATES)


def group_errors(sums: Mapping[str, FloatArray]) -> dict[str, FloatArray]:
    """Return the base metrics from summed moments of any shape (NaN without weight)."""
    sw = sums["sw"]
    with np.errstate(divide="ignore", invalid="ignore"):
        safe = np.where(sw > 0, sw, np.nan)
        mse = sums["sw_sq_err"] / safe
        return {
            "mean_absolute_error": sums["sw_abs_err"] / safe,
            "root_mean_squared_error": np.sqrt(mse),
            "mean_squared_error": mse,
            "mean_prediction": sums["swp"] / safe,
            "mean_residual": -sums["sw_err"] / safe,
        }


_SUMS = ("sw", "sw_abs_err", "sw_sq_err", "swp", "sw_err")


def _sums(moments: RegressionMoments) -> dict[str, FloatArray]:
    return {name: np.asarray(getattr(moments, name), dtype=np.float64) for name in _SUMS}


def blocked_moments(
    y_true: Any,
    y_pred: Any,
    *,
    sensitive_features: pd.DataFrame,
    sample_weight: Any = None,
    blocks: int = DEFAULT_BLOCKS,
    random_state: int = 0,
) -> RegressionMoments:
    """Return regression moments per group of all sensitive features and random block.

    Rows are dealt into blocks in a seeded random order within each group of all the
    sensitive features (so a group of up to ``blocks`` rows has one row per block).
    `RegressionMoments.marginal` gives any grouping, with or without the blocks.
    """
    frame = sensitive_features.reset_index(drop=True)
    if BLOCK in frame.columns:
        raise ValueError(f"a sensitive feature may not be named {BLOCK!r}")
    codes, _groups = group_codes(frame if len(frame.columns) else None, len(frame), "group")
    order = np.random.default_rng(random_state).permutation(len(frame))
    rank = np.zeros(len(frame), dtype=np.int64)
    rank[order] = pd.Series(codes[order]).groupby(codes[order]).cumcount().to_numpy()
    features = {c: frame[c] for c in frame.columns}
    features[BLOCK] = pd.Series(rank % blocks)
    return regression_moments(
        y_true,
        y_pred,
        sensitive_features=pd.DataFrame(features),
        sample_weight=sample_weight,
        missing="group",
    )


@dataclass(frozen=True, kw_only=True)
class Replication:
    """How a section's intervals are drawn: replicates, coverage, seed."""

    n_boot: int
    confidence: float
    random_state: int


def regression_sections(
    blocked: RegressionMoments,
    *,
    min_group_size: int | None,
    intersections: bool,
    replication: Replication | None = None,
) -> tuple[FairnessSection, ...]:
    """Return one `FairnessSection` per grouping (each feature, then their intersection).

    ``blocked`` comes from `blocked_moments`; without ``replication`` there are no intervals.
    """
    features = tuple(n for n in blocked.groups.names if n != BLOCK)
    groupings: list[tuple[str, ...]] = [(f,) for f in features]
    if len(features) > 1 and intersections:
        groupings.append(features)
    return tuple(
        fairness_section(
            _table(blocked, grouping, replication),
            AGGREGATES,
            min_group_size=min_group_size,
            reported=REPORTED,
        )
        for grouping in groupings or [features]
    )


def _table(
    blocked: RegressionMoments, features: tuple[str, ...], replication: Replication | None
) -> GroupTable:
    moments = blocked.marginal(list(features))
    values = group_errors(_sums(moments))
    overall = {k: float(v[0]) for k, v in group_errors(_sums(moments.overall())).items()}
    replicates = replicates_overall = None
    confidence = 0.95
    if replication is not None:
        replicates, replicates_overall = _replicate(blocked, features, replication)
        confidence = replication.confidence

    def why(metric: str, g: int | None) -> str:
        return NO_WEIGHT

    return GroupTable(
        features=features,
        groups=moments.groups.keys,
        rows=moments.n,
        values=values,
        overall=overall,
        why=why,
        replicates=replicates,
        replicates_overall=replicates_overall,
        confidence=confidence,
    )


def _replicate(
    blocked: RegressionMoments, features: Sequence[str], replication: Replication
) -> tuple[dict[str, FloatArray], dict[str, FloatArray]]:
    """Return replicated base metrics per group (n_boot, G) and overall (n_boot,)."""
    cells = blocked.marginal([*features, BLOCK])
    groups, position = cells.groups.marginal(list(features))
    rng = np.random.default_rng(replication.random_state)
    sums = _sums(cells)
    n_boot, size = replication.n_boot, len(groups)
    totals = {name: np.zeros((n_boot, size)) for name in _SUMS}
    for g in range(size):
        mine = np.flatnonzero(position == g)
        k = len(mine)
        draws = rng.multinomial(k, np.full(k, 1.0 / k), size=n_boot).astype(np.float64)
        for name in _SUMS:
            totals[name][:, g] = draws @ sums[name][mine]
    per_group = group_errors(totals)
    overall = group_errors({name: totals[name].sum(axis=1) for name in _SUMS})
    return per_group, overall
