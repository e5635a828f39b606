"""Per-group regression moments, weighted, mergeable across batches.

For each group: the row count ``n`` and the weighted sums Σw, Σwy, Σwy², Σwŷ, Σwŷ², Σwyŷ,
Σw|y−ŷ|. Two more sums are kept directly, Σw(ŷ−y) and Σw(y−ŷ)², and the centred sum of
squares of y, M2 = Σw(y−ȳ)²: expanding them from the raw moments (Σy² − 2Σyŷ + Σŷ²) loses
digits exactly when predictions are good or y has a large mean, and the metrics must agree
with scikit-learn to 1e-12. M2 merges with the parallel update of Chan, Golub and LeVeque.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

import numpy as np
from numpy.typing import NDArray

from govml.metrics._confusion import (
    FloatArray,
    IntArray,
    check_dict_kind,
    check_kind,
    group_codes,
    row_count,
    scatter_add,
    weighted_sum,
)
from govml.metrics._groups import Groups, MissingPolicy
from govml.metrics._validate import MetricInputError, as_1d, as_float, as_weights, check_lengths

_SUMS = ("sw", "swy", "swy2", "swp", "swp2", "swyp", "sw_abs_err", "sw_err", "sw_sq_err")


@dataclass(frozen=True, kw_only=True, eq=False)
class RegressionMoments:
    """Moments of actual values ``y`` and predictions ``ŷ`` per group (see module doc).

    Every field after ``groups`` is an array with one entry per group. ``sw_err`` is
    Σw(ŷ−y) (the sign of the mean error: positive when predictions are too high) and
    ``m2_y`` is Σw(y−ȳ)² with ȳ the weighted mean of y in the group.
    """

    groups: Groups
    n: IntArray
    sw: FloatArray
    swy: FloatArray
    swy2: FloatArray
    swp: FloatArray
    swp2: FloatArray
    swyp: FloatArray
    sw_abs_err: FloatArray
    sw_err: FloatArray
    sw_sq_err: FloatArray
    m2_y: FloatArray

    kind = "regression_moments"

    def __post_init__(self) -> None:
        for field in fields(self)[1:]:
            array = getattr(self, field.name)
            if array.shape != (len(self.groups),):
                raise MetricInputError(
                    f"{self.kind}: {field.name} has shape {array.shape}, "
                    f"expected ({len(self.groups)},)"
                )
        if np.any(self.n < 0) or np.any(self.sw < 0):
            raise MetricInputError(f"{self.kind}: counts and weights must be non-negative")

    @property
    def n_rows(self) -> IntArray:
        """Rows per group."""
        return self.n

    def overall(self) -> RegressionMoments:
        """Return the moments of all rows together, as one group."""
        return _combine(Groups.single(), [(self, np.zeros(len(self.groups), dtype=np.intp))])

    def marginal(self, names: list[str] | tuple[str, ...]) -> RegressionMoments:
        """Return the moments grouped by a subset of the sensitive features."""
        groups, position = self.groups.marginal(names)
        return _combine(groups, [(self, position)])

    def merge(self, other: RegressionMoments) -> RegressionMoments:
        """Return the moments of both batches together (groups aligned by value).

        Raises
        ------
        MetricInputError
            When the sensitive features differ.
        """
        check_kind(other, RegressionMoments)
        groups, ia, ib = self.groups.union(other.groups)
        return _combine(groups, [(self, ia), (other, ib)])

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict."""
        data: dict[str, Any] = {"kind": self.kind, "groups": self.groups.to_dict()}
        data.update({f.name: getattr(self, f.name).tolist() for f in fields(self)[1:]})
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RegressionMoments:
        """Rebuild from :meth:`to_dict` output.

        Raises
        ------
        MetricInputError
            When the dict is of another kind or its arrays have the wrong shape.
        """
        check_dict_kind(data, cls.kind)
        sums = {name: np.asarray(data[name], dtype=np.float64) for name in (*_SUMS, "m2_y")}
        n = np.asarray(data["n"], dtype=np.int64)
        return cls(groups=Groups.from_dict(data["groups"]), n=n, **sums)


def regression_moments(
    y_true: Any,
    y_pred: Any,
    *,
    sensitive_features: Any = None,
    sample_weight: Any = None,
    missing: MissingPolicy = "error",
) -> RegressionMoments:
    """Build per-group regression moments in a vectorised pass over the rows.

    Parameters
    ----------
    y_true, y_pred : array-like
        Actual values and predictions; finite numbers.
    sensitive_features : array-like, DataFrame or dict, optional
        One or several sensitive features; None makes one group of all rows.
    sample_weight : array-like, optional
        Non-negative row weights.
    missing : {"error", "group"}, default "error"
        What a missing value in a sensitive feature does.

    Returns
    -------
    RegressionMoments

    Raises
    ------
    MetricInputError
        On lengths that differ, empty input, values that are not finite numbers, bad
        weights or missing sensitive values.
    """
    truth = as_1d(y_true, name="y_true")
    pred = as_1d(y_pred, name="y_pred")
    n_rows = check_lengths({"y_true": truth, "y_pred": pred})
    y = as_float(truth, name="y_true", what="regression metrics")
    p = as_float(pred, name="y_pred", what="regression metrics")
    weights = as_weights(sample_weight, n_rows)
    w = np.ones(n_rows) if weights is None else weights
    codes, groups = group_codes(sensitive_features, n_rows, missing)
    size = len(groups)

    def total(values: FloatArray) -> FloatArray:
        return weighted_sum(codes, values, size)

    err = p - y
    sw, swy = total(w), total(w * y)
    mean = _safe_ratio(swy, sw)
    return RegressionMoments(
        groups=groups,
        n=row_count(codes, size),
        sw=sw,
        swy=swy,
        swy2=total(w * y * y),
        swp=total(w * p),
        swp2=total(w * p * p),
        swyp=total(w * y * p),
        sw_abs_err=total(w * np.abs(err)),
        sw_err=total(w * err),
        sw_sq_err=total(w * err * err),
        m2_y=total(w * (y - mean[codes]) ** 2),
    )


def _combine(
    groups: Groups, parts: list[tuple[RegressionMoments, NDArray[np.intp]]]
) -> RegressionMoments:
    """Add the groups of ``parts`` into ``groups`` at the given positions.

    The sums add; the centred sums of squares combine as
    M2 = Σ_k M2_k + Σ_k w_k (ȳ_k − ȳ)², which is Chan et al.'s pairwise update written for
    any number of parts at once.
    """
    size = len(groups)
    n = np.zeros(size, dtype=np.int64)
    sums = {name: np.zeros(size) for name in _SUMS}
    for part, pos in parts:
        n += scatter_add(part.n, pos, size)
        for name in _SUMS:
            sums[name] += scatter_add(getattr(part, name), pos, size)
    mean = _safe_ratio(sums["swy"], sums["sw"])
    m2 = np.zeros(size)
    for part, pos in parts:
        part_mean = _safe_ratio(part.swy, part.sw)
        spread = part.m2_y + part.sw * (part_mean - mean[pos]) ** 2
        m2 += scatter_add(spread, pos, size)
    return RegressionMoments(groups=groups, n=n, m2_y=m2, **sums)


def _safe_ratio(num: FloatArray, den: FloatArray) -> FloatArray:
    """Return num / den, and 0 where den is 0 (a group without weight has no mean)."""
    out = np.zeros_like(num, dtype=np.float64)
    np.divide(num, den, out=out, where=den != 0)
    return out
