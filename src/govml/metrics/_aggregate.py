"""Differences and ratios across groups, on arrays whose last axis is the group.

Two readings of a missing group value (NaN):

- ``skipna=True`` is Fairlearn's ``MetricFrame``: pandas' min / max skip NaN, so a group
  without a value simply does not take part.
- ``skipna=False`` is govml's strict reading: any undefined group makes the aggregate
  undefined (NaN), and so does a ratio whose denominator is 0.

The definitions follow Fairlearn (``../shared/reference/fairness-metrics.md``):
difference between groups is max − min; to overall, max |m_g − m_overall|; ratio between
groups is min / max; to overall, the smallest r_g = m_g / m_overall, inverted when above 1.
"""

from __future__ import annotations

import warnings
from typing import Literal

import numpy as np

from govml.metrics._confusion import FloatArray
from govml.metrics._validate import MetricInputError

Method = Literal["between_groups", "to_overall"]
Agg = Literal["worst_case", "mean"]

BAD_METHOD = "method must be 'between_groups' or 'to_overall', got {method!r}"
BAD_AGG = "agg must be one of 'worst_case' or 'mean', got {agg}"


def check_method(method: str) -> None:
    """Raise unless ``method`` is a known comparison method.

    Raises
    ------
    MetricInputError
        For any other value.
    """
    if method not in ("between_groups", "to_overall"):
        raise MetricInputError(BAD_METHOD.format(method=method))


def check_agg(agg: str) -> None:
    """Raise unless ``agg`` is ``worst_case`` or ``mean``.

    Raises
    ------
    MetricInputError
        For any other value.
    """
    if agg not in ("worst_case", "mean"):
        raise MetricInputError(BAD_AGG.format(agg=agg))


def group_min(values: FloatArray, *, skipna: bool) -> FloatArray:
    """Return the smallest group value along the last axis."""
    return _reduce(np.nanmin if skipna else np.min, values)


def group_max(values: FloatArray, *, skipna: bool) -> FloatArray:
    """Return the largest group value along the last axis."""
    return _reduce(np.nanmax if skipna else np.max, values)


def _reduce(function: object, values: FloatArray) -> FloatArray:
    if values.shape[-1] == 0:
        return np.full(values.shape[:-1], np.nan)
    with warnings.catch_warnings():
        # An all-NaN slice is a missing result, not a problem worth a warning.
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.asarray(function(values, axis=-1), dtype=np.float64)  # type: ignore[operator]


def difference(
    values: FloatArray, overall: FloatArray, method: Method, *, skipna: bool
) -> FloatArray:
    """Return the difference across groups (see the module docstring)."""
    check_method(method)
    if method == "between_groups":
        reference = group_min(values, skipna=skipna)[..., None]
    else:
        reference = np.asarray(overall)[..., None]
    return group_max(np.abs(values - reference), skipna=skipna)


def ratio(values: FloatArray, overall: FloatArray, method: Method, *, skipna: bool) -> FloatArray:
    """Return the ratio across groups (see the module docstring)."""
    check_method(method)
    with np.errstate(divide="ignore", invalid="ignore"):
        if method == "between_groups":
            out = group_min(values, skipna=skipna) / group_max(values, skipna=skipna)
        else:
            r = values / np.asarray(overall)[..., None]
            r = np.where(r > 1, 1 / r, r)
            if not skipna:
                r = np.where(np.isfinite(r), r, np.nan)
            out = group_min(r, skipna=skipna)
    if not skipna:
        out = np.where(np.isfinite(out), out, np.nan)
    return np.asarray(out, dtype=np.float64)


def pair(tpr: float, fpr: float, agg: Agg, *, largest: bool, skipna: bool) -> float:
    """Combine the TPR and FPR aggregates of equalized odds.

    With ``skipna`` (Fairlearn): ``worst_case`` is Python's ``max`` (differences) or
    ``min`` (ratios) over the pair in the order (TPR, FPR), which keeps TPR when FPR is NaN
    and gives NaN when TPR is; ``mean`` is pandas' mean, which skips NaN. Without it, a NaN
    in either makes the result NaN.
    """
    check_agg(agg)
    values = (tpr, fpr)
    if not skipna and any(np.isnan(v) for v in values):
        return float("nan")
    if agg == "worst_case":
        return float(max(values) if largest else min(values))
    defined = [v for v in values if not np.isnan(v)]
    return float(sum(defined) / len(defined)) if defined else float("nan")


# Named fairness aggregates: the group metric(s) they compare and how. Equalized odds
# compares TPR and FPR and keeps the worse (or the mean) of the two.
NAMED: dict[str, tuple[tuple[str, ...], Literal["difference", "ratio"]]] = {
    "demographic_parity_difference": (("selection_rate",), "difference"),
    "demographic_parity_ratio": (("selection_rate",), "ratio"),
    "equal_opportunity_difference": (("recall",), "difference"),
    "equal_opportunity_ratio": (("recall",), "ratio"),
    "equalized_odds_difference": (("recall", "false_positive_rate"), "difference"),
    "equalized_odds_ratio": (("recall", "false_positive_rate"), "ratio"),
    "false_positive_rate_difference": (("false_positive_rate",), "difference"),
    "false_positive_rate_ratio": (("false_positive_rate",), "ratio"),
    "false_negative_rate_difference": (("false_negative_rate",), "difference"),
    "false_negative_rate_ratio": (("false_negative_rate",), "ratio"),
    "positive_predictive_value_difference": (("precision",), "difference"),
    "positive_predictive_value_ratio": (("precision",), "ratio"),
}


def strict_named(
    name: str,
    values: dict[str, FloatArray],
    overall: dict[str, FloatArray],
    method: Method,
    agg: Agg = "worst_case",
) -> FloatArray:
    """Return a named aggregate in the strict reading, for arrays of any leading shape.

    ``values`` maps each group metric to an array (..., G), ``overall`` to (...,).
    """
    check_agg(agg)
    metrics, transform = NAMED[name]
    function = difference if transform == "difference" else ratio
    parts = [function(values[m], overall[m], method, skipna=False) for m in metrics]
    if len(parts) == 1:
        return parts[0]
    if agg == "mean":
        return np.asarray((parts[0] + parts[1]) / 2, dtype=np.float64)
    pick = np.maximum if transform == "difference" else np.minimum
    return np.asarray(pick(parts[0], parts[1]), dtype=np.float64)
