"""Performance metrics, computed from sufficient statistics.

Two ways in:

- Row-level functions with scikit-learn's and Fairlearn's names and numbers
  (``accuracy_score``, ``true_positive_rate``, ``roc_auc_score``, ...). Each builds the
  statistics of its input and reads the value off them; where scikit-learn replaces a 0/0
  by 0.0 (precision, recall, F1 with ``zero_division="warn"``) or Fairlearn does (the rates
  of its normalised confusion matrix), so do these, as their docstrings say.
- :func:`metric_result` and :func:`group_results`, which read any metric by name from
  stored statistics and say ``undefined`` with a reason instead of returning 0.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from govml.metrics._confusion import (
    binary_confusion,
    multiclass_confusion,
    prediction_confusion,
)
from govml.metrics._registry import Computed, MetricSpec, Stats, spec_for
from govml.metrics._regression import regression_moments
from govml.metrics._scores import score_samples
from govml.metrics._validate import SINGLE_CLASS, MetricInputError
from govml.metrics.results import SMALL_GROUP, MetricResult, result

NOT_PROBABILITIES = "{metric} needs probabilities in [0, 1]; y_prob has values outside"


def metric_result(stats: Stats, metric: str | MetricSpec) -> MetricResult:
    """Return ``metric`` over all groups of ``stats`` together.

    Parameters
    ----------
    stats : BinaryConfusion, MulticlassConfusion, ScoreSamples, ScoreHistogram or RegressionMoments
        Statistics built by this package (or rebuilt with ``from_dict``).
    metric : str or MetricSpec
        A metric name, e.g. ``"accuracy"``, ``"true_positive_rate"``, ``"roc_auc"``, or a
        spec such as :func:`govml.metrics.custom.expected_cost_spec`'s.

    Returns
    -------
    MetricResult
        Undefined, with the reason, where the metric is 0/0.

    Raises
    ------
    MetricInputError
        For an unknown metric name or one that these statistics cannot give.
    """
    spec = spec_for(metric)
    computed = spec.compute(stats.overall())
    name = metric if isinstance(metric, str) else spec.name
    return result(name, float(computed.value[0]), computed.reason(0))


def group_results(
    stats: Stats, metric: str | MetricSpec, *, min_group_size: int | None = None
) -> list[MetricResult]:
    """Return ``metric`` for every group of ``stats``, in the groups' order.

    Parameters
    ----------
    stats : statistics object
        As in :func:`metric_result`.
    metric : str or MetricSpec
        A metric name or spec.
    min_group_size : int, optional
        Groups with fewer rows are undefined, with the reason.

    Returns
    -------
    list of MetricResult

    Raises
    ------
    MetricInputError
        For an unknown metric name or one that these statistics cannot give.
    """
    spec = spec_for(metric)
    name = metric if isinstance(metric, str) else spec.name
    computed = spec.compute(stats)
    rows = stats.n_rows
    out = []
    for g, key in enumerate(stats.groups.keys):
        if min_group_size is not None and rows[g] < min_group_size:
            reason = SMALL_GROUP.format(n=int(rows[g]), minimum=min_group_size)
            out.append(MetricResult(metric=name, value=None, reason=reason, group=key))
        else:
            out.append(result(name, float(computed.value[g]), computed.reason(g), key))
    return out


def _compat(computed: Computed) -> float:
    return float(computed.compat[0])


def _binary(name: str, y_true: Any, y_pred: Any, sample_weight: Any, pos_label: Any) -> float:
    stats = binary_confusion(y_true, y_pred, sample_weight=sample_weight, pos_label=pos_label)
    return _compat(spec_for(name).compute(stats))


def accuracy_score(y_true: Any, y_pred: Any, *, sample_weight: Any = None) -> float:
    """Return the (weighted) share of rows whose prediction equals the label.

    Any number of classes. Equal to scikit-learn's ``accuracy_score``.
    """
    stats = multiclass_confusion(y_true, y_pred, sample_weight=sample_weight)
    return _compat(spec_for("accuracy").compute(stats))


def balanced_accuracy_score(y_true: Any, y_pred: Any, *, sample_weight: Any = None) -> float:
    """Return the mean recall over the classes present in ``y_true``.

    Any number of classes. Equal to scikit-learn's ``balanced_accuracy_score``
    (``adjusted=False``), which also leaves out classes absent from ``y_true``.
    """
    stats = multiclass_confusion(y_true, y_pred, sample_weight=sample_weight)
    return _compat(spec_for("balanced_accuracy").compute(stats))


def precision_score(
    y_true: Any, y_pred: Any, *, pos_label: Any = 1, sample_weight: Any = None
) -> float:
    """Return TP / (TP + FP); 0.0 when nothing is predicted positive (as scikit-learn)."""
    return _binary("precision", y_true, y_pred, sample_weight, pos_label)


def recall_score(
    y_true: Any, y_pred: Any, *, pos_label: Any = 1, sample_weight: Any = None
) -> float:
    """Return TP / (TP + FN); 0.0 when there are no actual positives (as scikit-learn)."""
    return _binary("recall", y_true, y_pred, sample_weight, pos_label)


def f1_score(y_true: Any, y_pred: Any, *, pos_label: Any = 1, sample_weight: Any = None) -> float:
    """Return 2TP / (2TP + FP + FN); 0.0 when that is 0/0 (as scikit-learn)."""
    return _binary("f1", y_true, y_pred, sample_weight, pos_label)


def specificity_score(
    y_true: Any, y_pred: Any, *, pos_label: Any = 1, sample_weight: Any = None
) -> float:
    """Return TN / (TN + FP); 0.0 when there are no actual negatives."""
    return _binary("specificity", y_true, y_pred, sample_weight, pos_label)


def true_positive_rate(
    y_true: Any, y_pred: Any, *, sample_weight: Any = None, pos_label: Any = 1
) -> float:
    """Return TP / (TP + FN); 0.0 without actual positives, as Fairlearn does."""
    return _binary("recall", y_true, y_pred, sample_weight, pos_label)


def true_negative_rate(
    y_true: Any, y_pred: Any, *, sample_weight: Any = None, pos_label: Any = 1
) -> float:
    """Return TN / (TN + FP); 0.0 without actual negatives, as Fairlearn does."""
    return _binary("specificity", y_true, y_pred, sample_weight, pos_label)


def false_positive_rate(
    y_true: Any, y_pred: Any, *, sample_weight: Any = None, pos_label: Any = 1
) -> float:
    """Return FP / (FP + TN); 0.0 without actual negatives, as Fairlearn does."""
    return _binary("false_positive_rate", y_true, y_pred, sample_weight, pos_label)


def false_negative_rate(
    y_true: Any, y_pred: Any, *, sample_weight: Any = None, pos_label: Any = 1
) -> float:
    """Return FN / (TP + FN); 0.0 without actual positives, as Fairlearn does."""
    return _binary("false_negative_rate", y_true, y_pred, sample_weight, pos_label)


def selection_rate(
    y_true: Any, y_pred: Any, *, pos_label: Any = 1, sample_weight: Any = None
) -> float:
    """Return the (weighted) share of rows predicted ``pos_label``, as Fairlearn.

    ``y_true`` is only checked for its length.
    """
    stats = prediction_confusion(y_true, y_pred, sample_weight=sample_weight, pos_label=pos_label)
    return _compat(spec_for("selection_rate").compute(stats))


def count(y_true: Any, y_pred: Any) -> int:
    """Return the number of rows, as Fairlearn's ``count`` (weights are not counted)."""
    stats = multiclass_confusion(y_true, y_pred)
    return int(stats.count.sum())


def _scores(name: str, y_true: Any, y_score: Any, sample_weight: Any, pos_label: Any) -> Computed:
    stats = score_samples(y_true, y_score, sample_weight=sample_weight, pos_label=pos_label)
    if name in ("log_loss", "brier_score") and not stats.is_probability:
        raise MetricInputError(NOT_PROBABILITIES.format(metric=name))
    computed = spec_for(name).compute(stats)
    if name == "roc_auc" and np.isnan(computed.value[0]):
        value = "positive" if stats.positive.all() else "negative"
        raise MetricInputError(SINGLE_CLASS.format(value=value, metric="ROC AUC"))
    return computed


def roc_auc_score(
    y_true: Any, y_score: Any, *, sample_weight: Any = None, pos_label: Any = 1
) -> float:
    """Return the exact area under the ROC curve (ties count one half), as scikit-learn.

    Raises
    ------
    MetricInputError
        When ``y_true`` holds one class only (scikit-learn raises too).
    """
    return _compat(_scores("roc_auc", y_true, y_score, sample_weight, pos_label))


def average_precision_score(
    y_true: Any, y_score: Any, *, sample_weight: Any = None, pos_label: Any = 1
) -> float:
    """Return scikit-learn's average precision, Σ (Rₙ − Rₙ₋₁) Pₙ over distinct thresholds.

    0.0 when ``y_true`` has no positives, as scikit-learn 1.9 returns (with a warning).
    """
    return _compat(_scores("average_precision", y_true, y_score, sample_weight, pos_label))


def log_loss(y_true: Any, y_prob: Any, *, sample_weight: Any = None, pos_label: Any = 1) -> float:
    """Return the (weighted) mean binary cross-entropy, natural log.

    ``y_prob`` is the probability of ``pos_label``; each class probability is clipped to
    ``[eps, 1 - eps]`` as scikit-learn does. Unlike scikit-learn, a ``y_true`` with one
    class is accepted (the loss is well defined).

    Raises
    ------
    MetricInputError
        When a probability is outside [0, 1].
    """
    return _compat(_scores("log_loss", y_true, y_prob, sample_weight, pos_label))


def brier_score_loss(
    y_true: Any, y_prob: Any, *, sample_weight: Any = None, pos_label: Any = 1
) -> float:
    """Return the (weighted) mean of (y − p)², y being 1 for ``pos_label``.

    Raises
    ------
    MetricInputError
        When a probability is outside [0, 1].
    """
    return _compat(_scores("brier_score", y_true, y_prob, sample_weight, pos_label))


def _regression(name: str, y_true: Any, y_pred: Any, sample_weight: Any) -> float:
    stats = regression_moments(y_true, y_pred, sample_weight=sample_weight)
    return _compat(spec_for(name).compute(stats))


def mean_absolute_error(y_true: Any, y_pred: Any, *, sample_weight: Any = None) -> float:
    """Return the (weighted) mean of |y − ŷ|."""
    return _regression("mean_absolute_error", y_true, y_pred, sample_weight)


def mean_squared_error(y_true: Any, y_pred: Any, *, sample_weight: Any = None) -> float:
    """Return the (weighted) mean of (y − ŷ)²."""
    return _regression("mean_squared_error", y_true, y_pred, sample_weight)


def root_mean_squared_error(y_true: Any, y_pred: Any, *, sample_weight: Any = None) -> float:
    """Return the square root of the (weighted) mean squared error."""
    return _regression("root_mean_squared_error", y_true, y_pred, sample_weight)


def r2_score(y_true: Any, y_pred: Any, *, sample_weight: Any = None) -> float:
    """Return 1 − Σw(y−ŷ)² / Σw(y−ȳ)², as scikit-learn.

    NaN with fewer than two rows; for a constant ``y_true``, 1.0 if the predictions are
    perfect and 0.0 otherwise (scikit-learn's ``force_finite=True``).
    """
    return _regression("r2", y_true, y_pred, sample_weight)


def mean_error(y_true: Any, y_pred: Any, *, sample_weight: Any = None) -> float:
    """Return the (weighted) mean of ŷ − y: positive when predictions run high."""
    return _regression("mean_error", y_true, y_pred, sample_weight)
