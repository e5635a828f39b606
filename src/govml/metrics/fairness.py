"""Fairlearn-compatible fairness metrics, computed from per-group confusion counts.

Same names, signatures and numbers as ``fairlearn.metrics`` 0.15, so that changing the
import is enough. Each function builds the per-group counts in one pass and aggregates the
few group values; nothing is recomputed row by row per group.

Fairlearn's edge cases are kept, since these functions promise its numbers:

- a group without actual positives has TPR 0.0 (and without actual negatives FPR 0.0),
  where the rate is really 0/0;
- when every prediction is negative, every selection rate is 0: the ratio is NaN (0/0) and
  the difference 0.0;
- groups that no row has (empty combinations of several features) take no part.

:func:`govml.metrics.fairness_report` gives the same aggregates with ``undefined`` and the
reason instead of those conventions.

Differences from Fairlearn: ``pos_label`` is 1 (Fairlearn infers it from labels in {0, 1}
or {-1, 1} and raises otherwise, so label sets such as {1, 2} work here and raise there);
errors are :class:`~govml.metrics.MetricInputError` (a ``ValueError``) with messages of
their own; non-binary predictions are refused.
"""

from __future__ import annotations

from typing import Any

from govml.metrics._aggregate import (
    Agg,
    Method,
    check_agg,
    check_method,
    difference,
    pair,
    ratio,
)
from govml.metrics._confusion import (
    BinaryConfusion,
    FloatArray,
    binary_confusion,
    prediction_confusion,
)
from govml.metrics._registry import spec_for


def _confusion(
    y_true: Any, y_pred: Any, sensitive_features: Any, sample_weight: Any, *, metric: str
) -> BinaryConfusion:
    # Selection rate reads y_pred only; like Fairlearn, y_true is then only length-checked.
    build = prediction_confusion if metric == "selection_rate" else binary_confusion
    return build(y_true, y_pred, sensitive_features=sensitive_features, sample_weight=sample_weight)


def _values(stats: BinaryConfusion, metric: str) -> tuple[FloatArray, FloatArray]:
    spec = spec_for(metric)
    return spec.compute(stats).compat, spec.compute(stats.overall()).compat


def _aggregate(stats: BinaryConfusion, metric: str, transform: str, method: Method) -> float:
    check_method(method)
    values, overall = _values(stats, metric)
    function = difference if transform == "difference" else ratio
    return float(function(values, overall[0], method, skipna=True))


def _one(
    metric: str,
    transform: str,
    y_true: Any,
    y_pred: Any,
    sensitive_features: Any,
    method: Method,
    sample_weight: Any,
) -> float:
    stats = _confusion(y_true, y_pred, sensitive_features, sample_weight, metric=metric)
    return _aggregate(stats, metric, transform, method)


def demographic_parity_difference(
    y_true: Any,
    y_pred: Any,
    *,
    sensitive_features: Any,
    method: Method = "between_groups",
    sample_weight: Any = None,
) -> float:
    """Return the spread of selection rates across groups.

    Parameters
    ----------
    y_true : array-like
        Actual labels (only their number is used).
    y_pred : array-like
        Predicted labels; 1 is the selected outcome.
    sensitive_features : array-like, DataFrame or dict
        One or several sensitive features; groups are their observed combinations.
    method : {"between_groups", "to_overall"}, default "between_groups"
        ``between_groups``: largest minus smallest group selection rate.
        ``to_overall``: largest absolute gap between a group and all rows.
    sample_weight : array-like, optional
        Row weights.

    Returns
    -------
    float
        0.0 when all groups select at the same rate, including when nobody is selected.
    """
    return _one(
        "selection_rate", "difference", y_true, y_pred, sensitive_features, method, sample_weight
    )


def demographic_parity_ratio(
    y_true: Any,
    y_pred: Any,
    *,
    sensitive_features: Any,
    method: Method = "between_groups",
    sample_weight: Any = None,
) -> float:
    """Return the smallest ratio of selection rates across groups.

    Parameters are those of :func:`demographic_parity_difference`. ``between_groups`` is
    the smallest group rate over the largest; ``to_overall`` the smallest of each group's
    rate over the overall rate (inverted when above 1).

    Returns
    -------
    float
        1.0 when all groups select at the same rate; NaN when nobody is selected (0/0), as
        in Fairlearn.
    """
    return _one(
        "selection_rate", "ratio", y_true, y_pred, sensitive_features, method, sample_weight
    )


def equal_opportunity_difference(
    y_true: Any,
    y_pred: Any,
    *,
    sensitive_features: Any,
    method: Method = "between_groups",
    sample_weight: Any = None,
) -> float:
    """Return the spread of true positive rates across groups.

    Parameters are those of :func:`demographic_parity_difference`; ``y_true`` holds the
    actual labels (positive label 1).

    Returns
    -------
    float
        A group without actual positives counts with TPR 0.0, as in Fairlearn.
    """
    return _one("recall", "difference", y_true, y_pred, sensitive_features, method, sample_weight)


def equal_opportunity_ratio(
    y_true: Any,
    y_pred: Any,
    *,
    sensitive_features: Any,
    method: Method = "between_groups",
    sample_weight: Any = None,
) -> float:
    """Return the smallest ratio of true positive rates across groups.

    Parameters are those of :func:`equal_opportunity_difference`.

    Returns
    -------
    float
        A group without actual positives counts with TPR 0.0 (so the ratio is 0.0, or NaN
        when every TPR is 0), as in Fairlearn.
    """
    return _one("recall", "ratio", y_true, y_pred, sensitive_features, method, sample_weight)


def _equalized_odds(
    transform: str,
    y_true: Any,
    y_pred: Any,
    sensitive_features: Any,
    method: Method,
    sample_weight: Any,
    agg: Agg,
) -> float:
    check_agg(agg)
    stats = _confusion(y_true, y_pred, sensitive_features, sample_weight, metric="recall")
    tpr = _aggregate(stats, "recall", transform, method)
    fpr = _aggregate(stats, "false_positive_rate", transform, method)
    return pair(tpr, fpr, agg, largest=transform == "difference", skipna=True)


def equalized_odds_difference(
    y_true: Any,
    y_pred: Any,
    *,
    sensitive_features: Any,
    method: Method = "between_groups",
    sample_weight: Any = None,
    agg: Agg = "worst_case",
) -> float:
    """Return the larger (or mean) of the TPR and FPR differences across groups.

    Parameters
    ----------
    y_true, y_pred, sensitive_features, method, sample_weight
        As in :func:`demographic_parity_difference`.
    agg : {"worst_case", "mean"}, default "worst_case"
        Take the larger of the two differences, or their mean.

    Returns
    -------
    float
        Groups without actual positives (negatives) count with TPR (FPR) 0.0, as in
        Fairlearn. With ``worst_case`` a NaN TPR difference gives NaN and a NaN FPR
        difference is ignored (Python's ``max`` in that order, as Fairlearn); ``mean``
        skips NaN.

    Raises
    ------
    MetricInputError
        For an unknown ``agg`` or ``method``, and on bad input.
    """
    return _equalized_odds(
        "difference", y_true, y_pred, sensitive_features, method, sample_weight, agg
    )


def equalized_odds_ratio(
    y_true: Any,
    y_pred: Any,
    *,
    sensitive_features: Any,
    method: Method = "between_groups",
    sample_weight: Any = None,
    agg: Agg = "worst_case",
) -> float:
    """Return the smaller (or mean) of the TPR and FPR ratios across groups.

    Parameters are those of :func:`equalized_odds_difference`.

    Returns
    -------
    float
        As Fairlearn: 0/0 rates count as 0.0, a ratio whose largest rate is 0 is NaN;
        ``worst_case`` is Python's ``min`` over (TPR ratio, FPR ratio), ``mean`` skips NaN.

    Raises
    ------
    MetricInputError
        For an unknown ``agg`` or ``method``, and on bad input.
    """
    return _equalized_odds("ratio", y_true, y_pred, sensitive_features, method, sample_weight, agg)


def false_positive_rate_difference(
    y_true: Any,
    y_pred: Any,
    *,
    sensitive_features: Any,
    method: Method = "between_groups",
    sample_weight: Any = None,
) -> float:
    """Return the spread of false positive rates across groups (FPR parity).

    Parameters are those of :func:`equal_opportunity_difference`. A group without actual
    negatives counts with FPR 0.0, as in Fairlearn's function of the same name.
    """
    return _one(
        "false_positive_rate",
        "difference",
        y_true,
        y_pred,
        sensitive_features,
        method,
        sample_weight,
    )


def false_positive_rate_ratio(
    y_true: Any,
    y_pred: Any,
    *,
    sensitive_features: Any,
    method: Method = "between_groups",
    sample_weight: Any = None,
) -> float:
    """Return the smallest ratio of false positive rates across groups.

    Parameters are those of :func:`equal_opportunity_difference`; NaN when every group's
    FPR is 0 (0/0), as in Fairlearn.
    """
    return _one(
        "false_positive_rate", "ratio", y_true, y_pred, sensitive_features, method, sample_weight
    )


def false_negative_rate_difference(
    y_true: Any,
    y_pred: Any,
    *,
    sensitive_features: Any,
    method: Method = "between_groups",
    sample_weight: Any = None,
) -> float:
    """Return the spread of false negative rates across groups (FNR parity).

    Parameters are those of :func:`equal_opportunity_difference`. A group without actual
    positives counts with FNR 0.0, as in Fairlearn's function of the same name.
    """
    return _one(
        "false_negative_rate",
        "difference",
        y_true,
        y_pred,
        sensitive_features,
        method,
        sample_weight,
    )


def false_negative_rate_ratio(
    y_true: Any,
    y_pred: Any,
    *,
    sensitive_features: Any,
    method: Method = "between_groups",
    sample_weight: Any = None,
) -> float:
    """Return the smallest ratio of false negative rates across groups.

    Parameters are those of :func:`equal_opportunity_difference`; NaN when every group's
    FNR is 0 (0/0), as in Fairlearn.
    """
    return _one(
        "false_negative_rate", "ratio", y_true, y_pred, sensitive_features, method, sample_weight
    )


def positive_predictive_value_difference(
    y_true: Any,
    y_pred: Any,
    *,
    sensitive_features: Any,
    method: Method = "between_groups",
    sample_weight: Any = None,
) -> float:
    """Return the spread of precision (PPV) across groups (predictive parity).

    Parameters are those of :func:`equal_opportunity_difference`. A group without predicted
    positives counts with precision 0.0, as scikit-learn's ``precision_score`` gives.
    """
    return _one(
        "precision", "difference", y_true, y_pred, sensitive_features, method, sample_weight
    )


def positive_predictive_value_ratio(
    y_true: Any,
    y_pred: Any,
    *,
    sensitive_features: Any,
    method: Method = "between_groups",
    sample_weight: Any = None,
) -> float:
    """Return the smallest ratio of precision (PPV) across groups.

    Parameters are those of :func:`positive_predictive_value_difference`; NaN when every
    group's precision is 0.
    """
    return _one("precision", "ratio", y_true, y_pred, sensitive_features, method, sample_weight)
