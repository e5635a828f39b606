"""Calibration by group from mergeable score bins: ECE, calibration-in-the-large, slope.

`CalibrationBins` keeps, per group, actual label (0 / 1) and bin of the score (``n_bins``
equal bins on [0, 1], a score on an inner edge in the lower bin, as scikit-learn's
``calibration_curve`` bins them): the rows, their weight and Σw·score.
Everything adds up across batches.

Per group:

- **expected calibration error** (ECE): Σ_b (W_b / W) · |observed rate_b − mean score_b|,
  the bin-weighted gap of scikit-learn's ``calibration_curve`` (``strategy="uniform"``);
- **calibration-in-the-large**: mean score − observed rate (positive: the scores promise
  more positives than there are);
- **calibration slope**: the slope of a logistic regression of the outcome on the logit of
  the score (1 when calibrated, below 1 when scores are too extreme), fitted on the bins:
  each bin's rows at the logit of the bin's mean score. With the default 10 bins this
  differs from the fit on rows by the spread of scores inside a bin; the tests bound it.

Fairness rules: ``expected_calibration_error`` (the worst group's ECE), ``calibration_gap``
(the difference of ECE between groups, or to the overall ECE) and
``calibration_in_the_large_difference``. Bootstrap intervals draw the cells group × label
× bin multinomially, as for confusion counts.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

import numpy as np
from numpy.typing import NDArray

from govml.metrics._confusion import FloatArray, IntArray, group_codes, scatter_add
from govml.metrics._groups import Groups, MissingPolicy
from govml.metrics._validate import MetricInputError, as_1d, as_float, as_weights, check_lengths
from govml.metrics.group_regression import Replication
from govml.metrics.group_values import Aggregate, GroupTable, fairness_section
from govml.metrics.report import FairnessSection

DEFAULT_BINS = 10
EPS = 1e-15
NOT_PROBABILITY = (
    "{count} score(s) are outside [0, 1] (e.g. {example}); calibration needs probabilities"
)
NO_BOTH = "the group needs rows of both outcomes for a slope"
NO_WEIGHT = "the group has no rows with weight"

BASE_METRICS = (
    "expected_calibration_error",
    "calibration_in_the_large",
    "calibration_slope",
)
AGGREGATES = (
    Aggregate("expected_calibration_error", "expected_calibration_error", "worst"),
    Aggregate("calibration_gap", "expected_calibration_error", "difference"),
    Aggregate("calibration_in_the_large_difference", "calibration_in_the_large", "difference"),
)
CALIBRATION_FAIRNESS_METRICS = tuple(a.name for a in AGGREGATES)


@dataclass(frozen=True, kw_only=True, eq=False)
class CalibrationBins:
    """Score bins per group and actual label (see the module docstring).

    Arrays have shape (G, 2, n_bins): ``count`` rows, ``weight`` Σw and ``score`` Σw·s, for
    actual label 0 (negative) and 1 (positive).
    """

    groups: Groups
    edges: FloatArray
    count: IntArray
    weight: FloatArray
    score: FloatArray

    kind = "calibration_bins"

    def __post_init__(self) -> None:
        shape = (len(self.groups), 2, len(self.edges) - 1)
        for field in fields(self)[2:]:
            if getattr(self, field.name).shape != shape:
                raise MetricInputError(f"{self.kind}: {field.name} needs shape {shape}")

    @property
    def n_rows(self) -> IntArray:
        """Rows per group."""
        return np.asarray(self.count.sum(axis=(1, 2)), dtype=np.int64)

    def _regroup(self, groups: Groups, position: NDArray[np.intp]) -> CalibrationBins:
        size = len(groups)
        sums = {
            f.name: scatter_add(getattr(self, f.name), position, size) for f in fields(self)[2:]
        }
        return CalibrationBins(groups=groups, edges=self.edges, **sums)

    def overall(self) -> CalibrationBins:
        """Return all rows as one group."""
        return self._regroup(Groups.single(), np.zeros(len(self.groups), dtype=np.intp))

    def marginal(self, names: list[str] | tuple[str, ...]) -> CalibrationBins:
        """Return the bins grouped by a subset of the sensitive features."""
        return self._regroup(*self.groups.marginal(names))

    def merge(self, other: CalibrationBins) -> CalibrationBins:
        """Return the bins of both batches together (groups aligned by value).

        Raises
        ------
        MetricInputError
            When the bin edges or the sensitive features differ.
        """
        if not np.array_equal(self.edges, other.edges):
            raise MetricInputError("cannot merge calibration bins with different edges")
        groups, ia, ib = self.groups.union(other.groups)
        size = len(groups)
        sums = {
            f.name: scatter_add(getattr(self, f.name), ia, size, getattr(other, f.name), ib)
            for f in fields(self)[2:]
        }
        return CalibrationBins(groups=groups, edges=self.edges, **sums)

    def reliability(self) -> list[dict[str, Any]]:
        """Return per group the non-empty bins: mean score, observed rate, weight."""
        out = []
        weight = self.weight.sum(axis=1)
        score = self.score.sum(axis=1)
        for g in range(len(self.groups)):
            used = np.flatnonzero(weight[g] > 0)
            out.append(
                {
                    "group": list(self.groups.keys[g]),
                    "mean_score": (score[g, used] / weight[g, used]).tolist(),
                    "observed_rate": (self.weight[g, 1, used] / weight[g, used]).tolist(),
                    "weight": weight[g, used].tolist(),
                }
            )
        return out

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict."""
        data: dict[str, Any] = {"kind": self.kind, "groups": self.groups.to_dict()}
        data["edges"] = self.edges.tolist()
        data.update({f.name: getattr(self, f.name).tolist() for f in fields(self)[2:]})
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CalibrationBins:
        """Rebuild from :meth:`to_dict` output."""
        return cls(
            groups=Groups.from_dict(data["groups"]),
            edges=np.asarray(data["edges"], dtype=np.float64),
            count=np.asarray(data["count"], dtype=np.int64),
            weight=np.asarray(data["weight"], dtype=np.float64),
            score=np.asarray(data["score"], dtype=np.float64),
        )


def calibration_bins(
    positive: Any,
    scores: Any,
    *,
    sensitive_features: Any = None,
    sample_weight: Any = None,
    n_bins: int = DEFAULT_BINS,
    missing: MissingPolicy = "error",
) -> CalibrationBins:
    """Build the calibration bins of scores against outcomes in one vectorised pass.

    Parameters
    ----------
    positive : array-like of bool
        Whether each row's actual outcome is the positive label.
    scores : array-like of float
        The predicted probability of the positive label; in [0, 1].
    sensitive_features, sample_weight, missing
        As in `govml.metrics.binary_confusion`.
    n_bins : int, default 10
        Equal bins on [0, 1].

    Raises
    ------
    MetricInputError
        On lengths that differ, scores that are not probabilities, bad weights.
    """
    truth = np.asarray(as_1d(positive, name="y_true")).astype(bool)
    s = as_float(as_1d(scores, name="y_score"), name="y_score", what="calibration")
    n_rows = check_lengths({"y_true": truth, "y_score": s})
    outside = (s < 0) | (s > 1)
    if outside.any():
        example = float(s[outside][0])
        raise MetricInputError(NOT_PROBABILITY.format(count=int(outside.sum()), example=example))
    if n_bins < 2:
        raise MetricInputError("n_bins must be at least 2")
    weights = as_weights(sample_weight, n_rows)
    w = np.ones(n_rows) if weights is None else weights
    codes, groups = group_codes(sensitive_features, n_rows, missing)
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    bins = np.searchsorted(edges[1:-1], s)
    cell = (codes * 2 + truth.astype(np.intp)) * n_bins + bins
    size = len(groups) * 2 * n_bins
    shape = (len(groups), 2, n_bins)

    def total(values: FloatArray) -> FloatArray:
        return np.asarray(
            np.bincount(cell, weights=values, minlength=size), dtype=np.float64
        ).reshape(shape)

    return CalibrationBins(
        groups=groups,
        edges=edges,
        count=np.asarray(np.bincount(cell, minlength=size).reshape(shape), dtype=np.int64),
        weight=total(w),
        score=total(w * s),
    )


def calibration_values(weight: FloatArray, score: FloatArray) -> dict[str, FloatArray]:
    """Return ECE, calibration-in-the-large and slope from arrays (..., 2, n_bins)."""
    per_bin = weight.sum(axis=-2)
    positives = weight[..., 1, :]
    scores = score.sum(axis=-2)
    total = per_bin.sum(axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        safe = np.where(total > 0, total, np.nan)
        ece = np.abs(positives - scores).sum(axis=-1) / safe
        citl = (scores.sum(axis=-1) - positives.sum(axis=-1)) / safe
        mean = np.clip(np.where(per_bin > 0, scores / per_bin, 0.5), EPS, 1 - EPS)
        x = np.log(mean / (1 - mean))
    slope = logistic_slope(x, positives, per_bin)
    return {
        "expected_calibration_error": ece,
        "calibration_in_the_large": citl,
        "calibration_slope": slope,
    }


def logistic_slope(
    x: FloatArray, positives: FloatArray, weight: FloatArray, *, iterations: int = 50
) -> FloatArray:
    """Return the slope b of P(y) = σ(a + b·x) fitted by Newton's method on binned data.

    ``x``, ``positives`` and ``weight`` have shape (..., n_bins); NaN where the bins hold
    only one outcome or one distinct x (the maximum likelihood has no finite slope).
    """
    a = np.zeros(x.shape[:-1])
    b = np.ones(x.shape[:-1])
    for _ in range(iterations):
        p = 1 / (1 + np.exp(-(a[..., None] + b[..., None] * x)))
        v = weight * p * (1 - p)
        r = positives - weight * p
        g0, g1 = r.sum(axis=-1), (r * x).sum(axis=-1)
        h00, h01, h11 = v.sum(axis=-1), (v * x).sum(axis=-1), (v * x * x).sum(axis=-1)
        det = h00 * h11 - h01 * h01
        with np.errstate(divide="ignore", invalid="ignore"):
            da = (h11 * g0 - h01 * g1) / det
            db = (h00 * g1 - h01 * g0) / det
        a = np.where(np.isfinite(da), a + da, a)
        b = np.where(np.isfinite(db), b + db, b)
    pos, tot = positives.sum(axis=-1), weight.sum(axis=-1)
    distinct = (weight > 0).sum(axis=-1) >= 2
    fitted = (pos > 0) & (pos < tot) & distinct & np.isfinite(b)
    return np.asarray(np.where(fitted, b, np.nan), dtype=np.float64)


def calibration_sections(
    bins: CalibrationBins,
    *,
    min_group_size: int | None,
    intersections: bool,
    replication: Replication | None = None,
) -> tuple[FairnessSection, ...]:
    """Return one `FairnessSection` per grouping with the calibration metrics."""
    features = bins.groups.names
    groupings: list[tuple[str, ...]] = [(f,) for f in features]
    if len(features) > 1 and intersections:
        groupings.append(tuple(features))
    draws = None
    if replication is not None:
        draws = _resample(bins, replication)
    out = []
    for grouping in groupings or [features]:
        part, position = bins.marginal(grouping), bins.groups.marginal(grouping)[1]
        values = calibration_values(part.weight, part.score)
        whole = part.overall()
        overall = {k: float(v[0]) for k, v in calibration_values(whole.weight, whole.score).items()}
        replicates = replicates_overall = None
        if draws is not None:
            regrouped = [
                scatter_add(np.moveaxis(d, 0, 1), position, len(part.groups)) for d in draws
            ]
            w, s = (np.moveaxis(r, 1, 0) for r in regrouped)
            replicates = calibration_values(w, s)
            replicates_overall = calibration_values(w.sum(axis=1), s.sum(axis=1))

        def why(metric: str, g: int | None, values: dict[str, FloatArray] = values) -> str:
            return NO_BOTH if metric == "calibration_slope" else NO_WEIGHT

        table = GroupTable(
            features=grouping,
            groups=part.groups.keys,
            rows=part.n_rows,
            values=values,
            overall=overall,
            why=why,
            replicates=replicates,
            replicates_overall=replicates_overall,
            confidence=0.95 if replication is None else replication.confidence,
        )
        out.append(fairness_section(table, AGGREGATES, min_group_size=min_group_size))
    return tuple(out)


def _resample(bins: CalibrationBins, replication: Replication) -> tuple[FloatArray, FloatArray]:
    """Return replicated weight and score sums, shape (n_boot, G, 2, n_bins)."""
    rng = np.random.default_rng(replication.random_state)
    counts = bins.count.ravel()
    total = int(counts.sum())
    drawn = rng.multinomial(total, counts / max(total, 1), size=replication.n_boot)
    drawn = drawn.reshape(replication.n_boot, *bins.count.shape)

    def per_row(sums: FloatArray) -> FloatArray:
        mean = np.divide(sums, bins.count, out=np.zeros_like(sums), where=bins.count > 0)
        return np.asarray(drawn * mean, dtype=np.float64)

    return per_row(bins.weight), per_row(bins.score)
