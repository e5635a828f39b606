"""Which metric callables ``MetricFrame`` computes from statistics, and on which inputs.

A callable is *recognised* when it is one of scikit-learn's, Fairlearn's or govml's metric
functions (also wrapped in ``functools.partial``) called with options whose result the
statistics give exactly: precision with ``average="binary"``, accuracy with
``normalize=True``, ROC AUC on a 0/1 ``y_true`` and 1-D scores, and so on. Anything else
(another option, a lambda, ``confusion_matrix``) is not recognised and is computed per group
on the rows instead; so is a recognised metric whose inputs fall outside what its
statistics cover (labels that are not binary for precision, say), where the function itself
then gives its own answer or error.

Functions are matched by identity (the object scikit-learn or Fairlearn exports), never by
name alone, and nothing is imported here: a package's functions can only be passed in once
the caller has imported it.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from govml.metrics import _base_metrics, performance
from govml.metrics._confusion import FloatArray, IntArray
from govml.metrics._registry import (
    NO_POSITIVES_AT_ALL,
    NO_WEIGHT,
    Computed,
    MetricSpec,
    Stats,
    _ratio,
    spec_for,
)
from govml.metrics._regression import RegressionMoments
from govml.metrics._scores import ScoreSamples
from govml.metrics._sklearn import SklearnMetric

StatsKind = Literal[
    "binary", "prediction", "multiclass", "score", "regression", "prediction_moments", "rows"
]
LabelRule = Literal["any", "classes", "rates", "zero_one"]
"""What the label values must be for the statistics to give the function's number.

``classes``: scikit-learn's classification metrics refuse continuous targets and labels of
mixed types, so the distinct values must be all strings, or all numbers with whole values.
``rates``: as ``classes``, and Fairlearn's rates, without ``pos_label``, take 1 as positive
only among {0, 1} or {-1, 1}. ``zero_one``: the ranking and probability metrics take the
greater label as positive, so ``y_true`` must be within {0, 1}.
"""


def _zero_one_loss(w: FloatArray, c: IntArray) -> Computed:
    accuracy = spec_for("accuracy")
    formula = accuracy.binary if w.shape[-1] == 2 else accuracy.multiclass
    assert formula is not None
    computed = formula(w, c)
    return Computed(1.0 - computed.value, 1.0 - computed.compat, computed.reasons)


def _mean_prediction(m: RegressionMoments) -> Computed:
    return _ratio(m.swp, m.sw, NO_WEIGHT, np.nan)


ZERO_ONE_LOSS = MetricSpec("zero_one_loss", (), binary=_zero_one_loss, multiclass=_zero_one_loss)
MEAN_PREDICTION = MetricSpec("mean_prediction", (), regression=_mean_prediction)


@functools.lru_cache(maxsize=32)
def fbeta_spec(beta: float) -> MetricSpec:
    """Return scikit-learn's F-beta, (1+β²)TP / (β²(TP+FN) + TP+FP), on binary counts."""
    b2 = beta * beta

    def formula(w: FloatArray, c: IntArray) -> Computed:
        tp, fp, fn = w[..., 1, 1], w[..., 0, 1], w[..., 1, 0]
        return _ratio((1 + b2) * tp, b2 * (tp + fn) + (tp + fp), NO_POSITIVES_AT_ALL, 0.0)

    return MetricSpec(f"fbeta_{beta}", (), binary=formula)


def single_class_cells(stats: Stats) -> NDArray[np.bool_]:
    """Return the groups whose ``y_true`` holds one class (scikit-learn's log loss refuses them)."""
    assert isinstance(stats, ScoreSamples)
    size = len(stats.groups)
    positives = np.bincount(stats.codes[stats.positive], minlength=size)
    rows = np.bincount(stats.codes, minlength=size)
    return np.asarray((positives == 0) | (positives == rows), dtype=np.bool_)


@dataclass(frozen=True)
class Known:
    """A recognised metric: how to compute it from statistics.

    Attributes
    ----------
    spec : MetricSpec or None
        Its formulas; None for ``count``, which is each group's number of rows.
    kinds : tuple
        The statistics it can be computed from, preferred first.
    pos_label : Any
        The positive label of binary and score statistics (None: Fairlearn's inference).
    labels : LabelRule
        What the label values must be (see ``LabelRule``).
    own : bool
        A govml function or metric name: its value where the statistics say "undefined" is
        its documented convention, so the rows are never needed.
    also_rows : callable or None
        Groups the function answers differently from the statistics (and must be asked).
    integer : bool
        The values are whole numbers (``count``).
    """

    spec: MetricSpec | None
    kinds: tuple[StatsKind, ...]
    pos_label: Any = 1
    labels: LabelRule = "any"
    own: bool = False
    also_rows: Callable[[Stats], NDArray[np.bool_]] | None = None
    integer: bool = False


@dataclass(frozen=True)
class _Entry:
    spec: MetricSpec | None
    kinds: tuple[StatsKind, ...]
    labels: LabelRule = "any"
    fixed: Mapping[str, Any] = field(default_factory=dict)
    free: tuple[str, ...] = ()
    pos_label: Any = 1
    pos_label_keyword: bool = False
    also_rows: Callable[[Stats], NDArray[np.bool_]] | None = None

    def known(self, keywords: Mapping[str, Any], *, own: bool) -> Known | None:
        pos_label = self.pos_label
        for key, value in keywords.items():
            if key == "pos_label" and self.pos_label_keyword:
                pos_label = value
            elif key in self.fixed:
                if not _same_option(value, self.fixed[key]):
                    return None
            elif key not in self.free:
                return None
        return Known(
            spec=self.spec,
            kinds=self.kinds,
            pos_label=pos_label,
            labels=self.labels,
            own=own,
            also_rows=self.also_rows,
            integer=self.spec is None,
        )


def _same_option(value: Any, expected: Any) -> bool:
    if expected is None or isinstance(expected, bool):
        return value is expected
    return isinstance(value, str | int | float) and value == expected


_LABELS: tuple[StatsKind, ...] = ("binary", "multiclass")
_BINARY: tuple[StatsKind, ...] = ("binary",)
_SELECTION: tuple[StatsKind, ...] = ("binary", "prediction")
_SCORE: tuple[StatsKind, ...] = ("score",)
_REGRESSION: tuple[StatsKind, ...] = ("regression",)
_ROWS: tuple[StatsKind, ...] = ("rows",)
_PRF = {"average": "binary", "labels": None}


def _sklearn_entries() -> dict[str, _Entry]:
    average = {"average": "macro"}
    regression = {"multioutput": "uniform_average"}
    return {
        "accuracy_score": _Entry(spec_for("accuracy"), _LABELS, "classes", {"normalize": True}),
        "balanced_accuracy_score": _Entry(
            spec_for("balanced_accuracy"), _LABELS, "classes", {"adjusted": False}
        ),
        "zero_one_loss": _Entry(ZERO_ONE_LOSS, _LABELS, "classes", {"normalize": True}),
        **{
            name: _Entry(
                spec_for(metric),
                _BINARY,
                "classes",
                _PRF,
                free=("zero_division",),
                pos_label_keyword=True,
            )
            for name, metric in (
                ("precision_score", "precision"),
                ("recall_score", "recall"),
                ("f1_score", "f1"),
            )
        },
        "roc_auc_score": _Entry(
            spec_for("roc_auc"),
            _SCORE,
            "zero_one",
            {**average, "max_fpr": None, "multi_class": "raise", "labels": None},
        ),
        "average_precision_score": _Entry(
            spec_for("average_precision"), _SCORE, "zero_one", {**average, "pos_label": 1}
        ),
        "log_loss": _Entry(
            spec_for("log_loss"),
            _SCORE,
            "zero_one",
            {"normalize": True, "labels": None},
            also_rows=single_class_cells,
        ),
        "brier_score_loss": _Entry(
            spec_for("brier_score"),
            _SCORE,
            "zero_one",
            {"pos_label": None, "labels": None, "scale_by_half": "auto"},
        ),
        "mean_absolute_error": _Entry(spec_for("mae"), _REGRESSION, fixed=regression),
        "mean_squared_error": _Entry(spec_for("mse"), _REGRESSION, fixed=regression),
        "root_mean_squared_error": _Entry(spec_for("rmse"), _REGRESSION, fixed=regression),
        "r2_score": _Entry(spec_for("r2"), _REGRESSION, fixed={**regression, "force_finite": True}),
    }


def _fairlearn_entries() -> dict[str, _Entry]:
    rates = {
        name: _Entry(spec_for(metric), _BINARY, "rates", pos_label=None, pos_label_keyword=True)
        for name, metric in (
            ("true_positive_rate", "recall"),
            ("true_negative_rate", "specificity"),
            ("false_positive_rate", "false_positive_rate"),
            ("false_negative_rate", "false_negative_rate"),
        )
    }
    return {
        **rates,
        "selection_rate": _Entry(spec_for("selection_rate"), _SELECTION, pos_label_keyword=True),
        "count": _Entry(None, _ROWS),
        "mean_prediction": _Entry(MEAN_PREDICTION, ("prediction_moments",)),
    }


def _govml_entries() -> dict[Callable[..., Any], _Entry]:
    binary: dict[Callable[..., Any], str] = {
        performance.precision_score: "precision",
        performance.recall_score: "recall",
        performance.f1_score: "f1",
        performance.specificity_score: "specificity",
        performance.true_positive_rate: "recall",
        performance.true_negative_rate: "specificity",
        performance.false_positive_rate: "false_positive_rate",
        performance.false_negative_rate: "false_negative_rate",
    }
    scores: dict[Callable[..., Any], str] = {
        performance.roc_auc_score: "roc_auc",
        performance.average_precision_score: "average_precision",
        performance.log_loss: "log_loss",
        performance.brier_score_loss: "brier_score",
    }
    regression: dict[Callable[..., Any], str] = {
        performance.mean_absolute_error: "mae",
        performance.mean_squared_error: "mse",
        performance.root_mean_squared_error: "rmse",
        performance.r2_score: "r2",
        performance.mean_error: "mean_error",
    }
    entries: dict[Callable[..., Any], _Entry] = {
        performance.accuracy_score: _Entry(spec_for("accuracy"), _LABELS),
        performance.balanced_accuracy_score: _Entry(spec_for("balanced_accuracy"), _LABELS),
        performance.selection_rate: _Entry(
            spec_for("selection_rate"), _SELECTION, pos_label_keyword=True
        ),
        performance.count: _Entry(None, _ROWS),
    }
    for function, metric in binary.items():
        entries[function] = _Entry(spec_for(metric), _BINARY, pos_label_keyword=True)
    for function, metric in scores.items():
        entries[function] = _Entry(spec_for(metric), _SCORE, pos_label_keyword=True)
    for function, metric in regression.items():
        entries[function] = _Entry(spec_for(metric), _REGRESSION)
    fairlearn = _fairlearn_entries()
    for name in fairlearn:
        entries[getattr(_base_metrics, name)] = fairlearn[name]
    return entries


_SKLEARN = _sklearn_entries()
_FAIRLEARN = _fairlearn_entries()
_GOVML = _govml_entries()


def recognise(metric: Any) -> Known | None:
    """Return how to compute ``metric`` from statistics, or None when only its rows can.

    ``metric`` is a metric name (govml's names and aliases: ``"selection_rate"``), a
    function, or a ``functools.partial`` of one with keyword arguments only.

    Raises
    ------
    MetricInputError
        For a string that is not a metric name (with the closest one).
    """
    if isinstance(metric, str):
        return _named(metric)
    keywords: dict[str, Any] = {}
    if isinstance(metric, functools.partial):
        if metric.args:
            return None
        keywords = dict(metric.keywords)
        metric = metric.func
    if isinstance(metric, SklearnMetric):
        return _with_beta(metric.name, keywords, own=False)
    try:
        entry = _GOVML.get(metric)
    except TypeError:  # an unhashable callable is nobody's metric
        return None
    if entry is not None:
        return entry.known(keywords, own=True)
    name = getattr(metric, "__name__", None)
    if not isinstance(name, str):
        return None
    if _exported(metric, "sklearn.metrics", name):
        return _with_beta(name, keywords, own=False)
    if name in _FAIRLEARN and _exported(metric, "fairlearn.metrics", name):
        return _FAIRLEARN[name].known(keywords, own=False)
    return None


def _named(name: str) -> Known:
    if name == "count":
        return Known(spec=None, kinds=_ROWS, own=True, integer=True)
    spec = spec_for(name)
    kinds: tuple[StatsKind, ...] = tuple(spec.kinds)
    if spec.name == "selection_rate":
        kinds = _SELECTION
    return Known(spec=spec, kinds=kinds, own=True)


def _with_beta(name: str, keywords: dict[str, Any], *, own: bool) -> Known | None:
    if name == "fbeta_score":
        beta = keywords.pop("beta", None)
        if not isinstance(beta, int | float) or isinstance(beta, bool) or not 0 < beta < np.inf:
            return None
        entry = _Entry(
            fbeta_spec(float(beta)),
            _BINARY,
            "classes",
            _PRF,
            free=("zero_division",),
            pos_label_keyword=True,
        )
        return entry.known(keywords, own=own)
    found = _SKLEARN.get(name)
    return None if found is None else found.known(keywords, own=own)


def _exported(metric: Any, module: str, name: str) -> bool:
    package = sys.modules.get(module)
    return package is not None and getattr(package, name, None) is metric


def labels_allow(rule: LabelRule, true_values: Sequence[Any], pred_values: Sequence[Any]) -> bool:
    """Return whether label values meet ``rule`` (the distinct values of y_true and y_pred)."""
    if rule == "any":
        return True
    if rule == "zero_one":
        return all(_is_number(v) and v in (0, 1) for v in true_values)
    values = [*true_values, *pred_values]
    if all(isinstance(v, str) for v in values):
        return True
    return all(_is_number(v) and float(v).is_integer() for v in values)


def rates_pos_label(true_values: Sequence[Any], pred_values: Sequence[Any]) -> Any:
    """Return Fairlearn's positive label for its rates without ``pos_label``: 1, or None."""
    values = {*true_values, *pred_values}
    if values <= {0, 1} or values <= {-1, 1}:
        return 1
    return None


def _is_number(value: Any) -> bool:
    return isinstance(value, bool | int | float | np.number)
