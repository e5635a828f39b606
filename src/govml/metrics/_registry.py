"""Every metric govml computes from statistics, by name, with two readings of 0/0.

Each metric yields, per group, a *strict* value (NaN where undefined, with the reason) and
the *compatible* value that scikit-learn and Fairlearn return on the same rows (they replace
some 0/0 by 0.0, see ``compat`` below). The formulas work on arrays with any leading axes,
so the bootstrap evaluates all replicates at once with the same code.

Confusion cells are indexed ``[..., actual, predicted]`` with 0 negative and 1 positive.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from govml.errors import did_you_mean
from govml.metrics._confusion import (
    BinaryConfusion,
    FloatArray,
    IntArray,
    MulticlassConfusion,
    weighted_sum,
)
from govml.metrics._ranking import ranking_metrics
from govml.metrics._regression import RegressionMoments
from govml.metrics._scores import ScoreHistogram, ScoreSamples
from govml.metrics._validate import MetricInputError

Kind = Literal["binary", "multiclass", "score", "regression"]
Stats = BinaryConfusion | MulticlassConfusion | ScoreSamples | ScoreHistogram | RegressionMoments
BoolArray = NDArray[np.bool_]

UNKNOWN_METRIC = "unknown metric {name!r}"
WRONG_STATS = "{metric} cannot be computed from {kind} statistics; it needs {needs}"

NO_WEIGHT = "no rows with positive weight"
NO_ACTUAL_POSITIVES = "no actual positives (TP + FN = 0)"
NO_ACTUAL_NEGATIVES = "no actual negatives (TN + FP = 0)"
NO_PREDICTED_POSITIVES = "no predicted positives (TP + FP = 0)"
NO_POSITIVES_AT_ALL = "no actual or predicted positives (2TP + FP + FN = 0)"
ONE_CLASS = "only one class is present in y_true"
NOT_PROBABILITIES = "the scores are not probabilities in [0, 1]"
FEWER_THAN_TWO_ROWS = "fewer than two rows"
CONSTANT_TARGET = "y_true is constant, so R² divides by zero variance"


@dataclass(frozen=True)
class Computed:
    """Per-group values of one metric: strict ``value`` (NaN = undefined) and ``compat``.

    ``reasons`` pairs a mask of undefined entries with the reason text; the first pair whose
    mask is set explains an entry.
    """

    value: FloatArray
    compat: FloatArray
    reasons: tuple[tuple[BoolArray, str], ...] = ()

    def reason(self, index: int | tuple[int, ...]) -> str | None:
        """Return why entry ``index`` is undefined, or None when it is defined."""
        if not np.isnan(self.value[index]):
            return None
        for mask, text in self.reasons:
            if mask[index]:
                return text
        return "undefined"


def _ratio(num: FloatArray, den: FloatArray, reason: str, compat_fill: float) -> Computed:
    empty = den == 0
    with np.errstate(divide="ignore", invalid="ignore"):
        value = np.where(empty, np.nan, num / np.where(empty, 1.0, den))
    return Computed(value, np.where(empty, compat_fill, value), ((empty, reason),))


# Binary confusion formulas: w is the weighted cells (..., 2, 2), c the row counts.
def _tp(w: FloatArray) -> FloatArray:
    return w[..., 1, 1]


def _fp(w: FloatArray) -> FloatArray:
    return w[..., 0, 1]


def _tn(w: FloatArray) -> FloatArray:
    return w[..., 0, 0]


def _fn(w: FloatArray) -> FloatArray:
    return w[..., 1, 0]


def _total(w: FloatArray) -> FloatArray:
    return np.asarray(w.sum(axis=(-2, -1)), dtype=np.float64)


def _accuracy(w: FloatArray, c: IntArray) -> Computed:
    return _ratio(_tp(w) + _tn(w), _total(w), NO_WEIGHT, np.nan)


def _selection_rate(w: FloatArray, c: IntArray) -> Computed:
    return _ratio(_tp(w) + _fp(w), _total(w), NO_WEIGHT, np.nan)


# Fairlearn's rates come from scikit-learn's row-normalised confusion matrix, which turns
# 0/0 into 0.0; precision and F1 follow scikit-learn's zero_division="warn", also 0.0.
def _tpr(w: FloatArray, c: IntArray) -> Computed:
    return _ratio(_tp(w), _tp(w) + _fn(w), NO_ACTUAL_POSITIVES, 0.0)


def _fnr(w: FloatArray, c: IntArray) -> Computed:
    return _ratio(_fn(w), _tp(w) + _fn(w), NO_ACTUAL_POSITIVES, 0.0)


def _tnr(w: FloatArray, c: IntArray) -> Computed:
    return _ratio(_tn(w), _tn(w) + _fp(w), NO_ACTUAL_NEGATIVES, 0.0)


def _fpr(w: FloatArray, c: IntArray) -> Computed:
    return _ratio(_fp(w), _tn(w) + _fp(w), NO_ACTUAL_NEGATIVES, 0.0)


def _precision(w: FloatArray, c: IntArray) -> Computed:
    return _ratio(_tp(w), _tp(w) + _fp(w), NO_PREDICTED_POSITIVES, 0.0)


def _f1(w: FloatArray, c: IntArray) -> Computed:
    return _ratio(2 * _tp(w), 2 * _tp(w) + _fp(w) + _fn(w), NO_POSITIVES_AT_ALL, 0.0)


def _balanced_accuracy(w: FloatArray, c: IntArray) -> Computed:
    # scikit-learn averages the recall of the classes present in y_true only.
    return _mean_recall(w)


def _count(w: FloatArray, c: IntArray) -> Computed:
    rows = c.sum(axis=(-2, -1)).astype(np.float64)
    return Computed(rows, rows)


def _multi_accuracy(w: FloatArray, c: IntArray) -> Computed:
    correct = np.trace(w, axis1=-2, axis2=-1)
    return _ratio(correct, w.sum(axis=(-2, -1)), NO_WEIGHT, np.nan)


def _mean_recall(w: FloatArray) -> Computed:
    support = w.sum(axis=-1)
    present = support > 0
    diagonal = np.diagonal(w, axis1=-2, axis2=-1)
    recall = np.divide(diagonal, support, out=np.zeros_like(diagonal), where=present)
    n_present = present.sum(axis=-1)
    none = n_present == 0
    with np.errstate(divide="ignore", invalid="ignore"):
        value = np.where(none, np.nan, recall.sum(axis=-1) / np.maximum(n_present, 1))
    return Computed(value, value, ((none, NO_WEIGHT),))


def _multi_balanced_accuracy(w: FloatArray, c: IntArray) -> Computed:
    return _mean_recall(w)


# Score statistics: ranking metrics and probability losses.
def _roc_auc(stats: ScoreSamples | ScoreHistogram) -> Computed:
    auc, _, pos, neg = ranking_metrics(stats)
    one_class = (pos == 0) | (neg == 0)
    return Computed(auc, auc, ((one_class, ONE_CLASS),))


def _average_precision(stats: ScoreSamples | ScoreHistogram) -> Computed:
    _, ap, pos, _ = ranking_metrics(stats)
    # scikit-learn 1.9 returns 0.0 (with a warning) when y_true has no positives.
    no_pos = pos == 0
    return Computed(ap, np.where(no_pos, 0.0, ap), ((no_pos, NO_ACTUAL_POSITIVES),))


def _probability_loss(stats: ScoreSamples | ScoreHistogram, which: int) -> Computed:
    n_groups = len(stats.groups)
    total = _score_weight(stats)
    sums = stats.loss_sums()
    if sums is None:
        nan = np.full(n_groups, np.nan)
        return Computed(nan, nan, ((np.ones(n_groups, dtype=np.bool_), NOT_PROBABILITIES),))
    return _ratio(sums[which], total, NO_WEIGHT, np.nan)


def _score_weight(stats: ScoreSamples | ScoreHistogram) -> FloatArray:
    if isinstance(stats, ScoreSamples):
        return weighted_sum(stats.codes, stats.weight, len(stats.groups))
    return np.asarray(stats.weight.sum(axis=(1, 2)), dtype=np.float64)


def _log_loss(stats: ScoreSamples | ScoreHistogram) -> Computed:
    return _probability_loss(stats, 0)


def _brier(stats: ScoreSamples | ScoreHistogram) -> Computed:
    return _probability_loss(stats, 1)


# Regression moments.
def _mae(m: RegressionMoments) -> Computed:
    return _ratio(m.sw_abs_err, m.sw, NO_WEIGHT, np.nan)


def _mse(m: RegressionMoments) -> Computed:
    return _ratio(m.sw_sq_err, m.sw, NO_WEIGHT, np.nan)


def _rmse(m: RegressionMoments) -> Computed:
    mse = _mse(m)
    return Computed(np.sqrt(mse.value), np.sqrt(mse.compat), mse.reasons)


def _mean_error(m: RegressionMoments) -> Computed:
    return _ratio(m.sw_err, m.sw, NO_WEIGHT, np.nan)


def _r2(m: RegressionMoments) -> Computed:
    few = m.n < 2
    constant = ~few & (m.m2_y == 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        r2 = 1.0 - m.sw_sq_err / m.m2_y
    value = np.where(few | constant, np.nan, r2)
    # scikit-learn: NaN below two rows; for constant y_true 1.0 if predictions are perfect
    # and 0.0 otherwise (force_finite=True).
    perfect = np.where(m.sw_sq_err == 0, 1.0, 0.0)
    compat = np.where(few, np.nan, np.where(constant, perfect, r2))
    return Computed(value, compat, ((few, FEWER_THAN_TWO_ROWS), (constant, CONSTANT_TARGET)))


ConfusionFormula = Callable[[FloatArray, IntArray], Computed]
ScoreFormula = Callable[[ScoreSamples | ScoreHistogram], Computed]
RegressionFormula = Callable[[RegressionMoments], Computed]


@dataclass(frozen=True)
class MetricSpec:
    """A metric: its canonical name, other accepted names and formulas per statistics kind."""

    name: str
    aliases: tuple[str, ...]
    binary: ConfusionFormula | None = None
    multiclass: ConfusionFormula | None = None
    score: ScoreFormula | None = None
    regression: RegressionFormula | None = None

    @property
    def kinds(self) -> tuple[Kind, ...]:
        """The statistics kinds this metric can be computed from, preferred first."""
        found: list[Kind] = []
        all_kinds: tuple[Kind, ...] = ("binary", "multiclass", "score", "regression")
        for kind in all_kinds:
            if getattr(self, kind) is not None:
                found.append(kind)
        return tuple(found)

    def compute(self, stats: Stats) -> Computed:
        """Return the per-group values from ``stats``.

        Raises
        ------
        MetricInputError
            When this metric cannot be computed from that kind of statistics.
        """
        kind = kind_of(stats)
        if kind == "binary" and self.binary is not None:
            assert isinstance(stats, BinaryConfusion)
            return self.binary(stats.weight, stats.count)
        if kind == "multiclass" and self.multiclass is not None:
            assert isinstance(stats, MulticlassConfusion)
            return self.multiclass(stats.weight, stats.count)
        if kind == "score" and self.score is not None:
            assert isinstance(stats, ScoreSamples | ScoreHistogram)
            return self.score(stats)
        if kind == "regression" and self.regression is not None:
            assert isinstance(stats, RegressionMoments)
            return self.regression(stats)
        raise MetricInputError(
            WRONG_STATS.format(metric=self.name, kind=kind, needs=" or ".join(self.kinds))
        )


SPECS: tuple[MetricSpec, ...] = (
    MetricSpec("accuracy", ("accuracy_score",), binary=_accuracy, multiclass=_multi_accuracy),
    MetricSpec(
        "balanced_accuracy",
        ("balanced_accuracy_score",),
        binary=_balanced_accuracy,
        multiclass=_multi_balanced_accuracy,
    ),
    MetricSpec(
        "precision",
        ("precision_score", "positive_predictive_value", "ppv"),
        binary=_precision,
    ),
    MetricSpec(
        "recall",
        ("recall_score", "true_positive_rate", "tpr", "sensitivity"),
        binary=_tpr,
    ),
    MetricSpec("f1", ("f1_score",), binary=_f1),
    MetricSpec(
        "specificity",
        ("specificity_score", "true_negative_rate", "tnr"),
        binary=_tnr,
    ),
    MetricSpec("false_positive_rate", ("fpr",), binary=_fpr),
    MetricSpec("false_negative_rate", ("fnr",), binary=_fnr),
    MetricSpec("selection_rate", (), binary=_selection_rate),
    MetricSpec("count", (), binary=_count, multiclass=_count),
    MetricSpec("log_loss", (), score=_log_loss),
    MetricSpec("brier_score", ("brier_score_loss",), score=_brier),
    MetricSpec("roc_auc", ("roc_auc_score",), score=_roc_auc),
    MetricSpec(
        "average_precision", ("average_precision_score", "pr_auc"), score=_average_precision
    ),
    MetricSpec("mean_absolute_error", ("mae",), regression=_mae),
    MetricSpec("mean_squared_error", ("mse",), regression=_mse),
    MetricSpec("root_mean_squared_error", ("rmse",), regression=_rmse),
    MetricSpec("r2", ("r2_score",), regression=_r2),
    MetricSpec("mean_error", ("bias", "mean_bias"), regression=_mean_error),
)

_BY_NAME: dict[str, MetricSpec] = {}
for _spec in SPECS:
    for _name in (_spec.name, *_spec.aliases):
        _BY_NAME[_name] = _spec


def metric_names() -> list[str]:
    """Return every accepted metric name (canonical names and aliases), sorted."""
    return sorted(_BY_NAME)


def spec_for(name: str | MetricSpec) -> MetricSpec:
    """Return the metric called ``name`` (a `MetricSpec` is returned as it is).

    A spec built outside this table (``expected_cost`` with its costs, a metric installed
    as an entry point) goes wherever a name does: per group, overall and in the bootstrap.

    Raises
    ------
    MetricInputError
        For an unknown name, suggesting the closest known one.
    """
    if isinstance(name, MetricSpec):
        return name
    try:
        return _BY_NAME[name]
    except KeyError:
        raise MetricInputError(
            UNKNOWN_METRIC.format(name=name), hint=did_you_mean(name, _BY_NAME)
        ) from None


def kind_of(stats: Any) -> Kind:
    """Return the kind of a statistics object.

    Raises
    ------
    MetricInputError
        When ``stats`` is not a govml statistics object.
    """
    if isinstance(stats, BinaryConfusion):
        return "binary"
    if isinstance(stats, MulticlassConfusion):
        return "multiclass"
    if isinstance(stats, ScoreSamples | ScoreHistogram):
        return "score"
    if isinstance(stats, RegressionMoments):
        return "regression"
    raise MetricInputError(f"not govml statistics: {type(stats).__name__}")


def needed_kind(specs: Sequence[MetricSpec]) -> Kind:
    """Return the one statistics kind that serves every metric in ``specs``.

    Confusion metrics prefer binary counts; when all of them also work on multiclass
    matrices (accuracy, balanced accuracy, count), multiclass is used, since it needs no
    positive label.

    Raises
    ------
    MetricInputError
        When the metrics need different kinds (say ROC AUC, which needs scores, with
        accuracy, which needs predicted labels).
    """
    if specs and all(s.multiclass is not None for s in specs):
        return "multiclass"
    first = specs[0].kinds[0]
    for spec in specs:
        if first not in spec.kinds:
            raise MetricInputError(
                f"{specs[0].name} and {spec.name} need different inputs "
                f"({first} statistics against {' or '.join(spec.kinds)}); "
                "compute them separately"
            )
    return first
