"""A ``MetricFrame`` shaped like Fairlearn's, computed from per-group statistics.

The constructor checks the input and builds the statistics in one pass; group values,
overall values and every aggregate are computed the first time they are asked for, from
those statistics (a few numbers per group), never from the rows again.

Metrics may be given by name (``"selection_rate"``), as this package's functions, or as
the scikit-learn / Fairlearn functions of the same names (``sklearn.metrics.recall_score``,
``fairlearn.metrics.true_positive_rate``), which are recognised and computed from the
statistics. Other callables are refused: a statistic cannot evaluate arbitrary code.

Not supported from Fairlearn's ``MetricFrame``: ``control_features``, per-metric sample
parameters other than a shared ``sample_weight`` / ``pos_label``, and ``n_boot`` (use
:meth:`MetricFrame.bootstrap`, which resamples the statistics).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd

from govml.errors import did_you_mean
from govml.metrics import performance
from govml.metrics._aggregate import Method, difference, group_max, group_min, ratio
from govml.metrics._confusion import (
    BinaryConfusion,
    FloatArray,
    MulticlassConfusion,
    binary_confusion,
    multiclass_confusion,
    prediction_confusion,
)
from govml.metrics._groups import Groups, MissingPolicy
from govml.metrics._registry import MetricSpec, Stats, metric_names, needed_kind, spec_for
from govml.metrics._regression import regression_moments
from govml.metrics._scores import score_samples
from govml.metrics._validate import MetricInputError, sort_key
from govml.metrics.bootstrap import NOT_CONFUSION, BootstrapResult, bootstrap

UNSUPPORTED_CALLABLE = (
    "MetricFrame computes metrics from statistics and cannot run {name}; pass a metric "
    "name or a govml / scikit-learn / Fairlearn metric function"
)
NO_METRICS = "MetricFrame needs at least one metric"
BAD_SAMPLE_PARAMS = (
    "sample_params may only hold 'sample_weight' and 'pos_label' shared by every metric"
)

# Foreign functions are recognised by their package and name, without importing them.
_FOREIGN_PACKAGES = ("sklearn", "fairlearn")
_OWN_FUNCTIONS: dict[Callable[..., Any], str] = {
    getattr(performance, name): name
    for name in dir(performance)
    if not name.startswith("_") and name in metric_names()
}


class MetricFrame:
    """Metrics per group, overall, and their differences and ratios.

    Parameters
    ----------
    metrics : str, callable, list of them, or dict of name to str / callable
        A single metric gives Series / scalar results (like a bare callable in
        Fairlearn); a list or dict gives DataFrame / Series results with one column each.
    y_true, y_pred : array-like
        Actual labels and predictions (labels, scores for ranking metrics, or values for
        regression metrics).
    sensitive_features : array-like, DataFrame or dict
        One or several sensitive features; groups are their combinations.
    sample_weight : array-like, optional
        Row weights.
    pos_label : scalar, default 1
        The positive label for binary metrics.
    sample_params : dict, optional
        Fairlearn-style ``{"sample_weight": w}`` (or the same per metric); accepted for
        drop-in use.
    missing : {"error", "group"}, default "error"
        What a missing sensitive value does: raise (as Fairlearn) or form its own group.
    min_group_size : int, optional
        Groups with fewer rows get NaN and take no part in the aggregates.

    Raises
    ------
    MetricInputError
        On bad input, unknown metric names (with a suggestion), or callables that are not
        known metrics.
    """

    def __init__(
        self,
        *,
        metrics: Any,
        y_true: Any,
        y_pred: Any,
        sensitive_features: Any,
        sample_weight: Any = None,
        pos_label: Any = 1,
        sample_params: Mapping[str, Any] | None = None,
        missing: MissingPolicy = "error",
        min_group_size: int | None = None,
    ) -> None:
        self._single = isinstance(metrics, str) or callable(metrics)
        self._columns, self._specs = _resolve(metrics)
        sample_weight, pos_label = _sample_params(sample_params, sample_weight, pos_label)
        self._min_group_size = min_group_size
        self.stats: Stats = _build(
            needed_kind(self._specs),
            y_true,
            y_pred,
            sensitive_features=sensitive_features,
            sample_weight=sample_weight,
            pos_label=pos_label,
            missing=missing,
            # Like Fairlearn, selection rates and counts do not look at y_true's values.
            predictions_only={s.name for s in self._specs} <= {"selection_rate", "count"},
        )

    @property
    def groups(self) -> Groups:
        """The observed groups."""
        return self.stats.groups

    @cached_property
    def _group_values(self) -> FloatArray:
        values = np.column_stack([spec.compute(self.stats).compat for spec in self._specs])
        if self._min_group_size is not None:
            values[self.stats.n_rows < self._min_group_size] = np.nan
        return values

    @cached_property
    def _overall_values(self) -> FloatArray:
        overall = self.stats.overall()
        return np.array([spec.compute(overall).compat[0] for spec in self._specs])

    def _shape(self, values: FloatArray) -> Any:
        if self._single:
            return float(values[0])
        return pd.Series(values, index=pd.Index(self._columns), dtype=np.float64)

    @cached_property
    def by_group(self) -> pd.Series[float] | pd.DataFrame:
        """Metric values per group (Series for a single metric, else DataFrame).

        Indexed like Fairlearn: by the feature's values, or a MultiIndex over every
        combination of the features' values, with NaN where no row has the combination.
        """
        frame = pd.DataFrame(
            self._group_values, index=_group_index(self.groups), columns=self._columns
        )
        if len(self.groups.names) > 1:
            frame = frame.reindex(_product_index(self.groups))
        return frame.iloc[:, 0] if self._single else frame

    @property
    def overall(self) -> Any:
        """Metric values over all rows (a float for a single metric, else a Series)."""
        return self._shape(self._overall_values)

    def group_min(self) -> Any:
        """Return the smallest group value of each metric (groups without a value skipped)."""
        return self._shape(group_min(self._group_values.T, skipna=True))

    def group_max(self) -> Any:
        """Return the largest group value of each metric (groups without a value skipped)."""
        return self._shape(group_max(self._group_values.T, skipna=True))

    def difference(self, method: Method = "between_groups") -> Any:
        """Return max − min across groups, or the largest |group − overall|.

        Parameters
        ----------
        method : {"between_groups", "to_overall"}, default "between_groups"
            Compare groups with each other or with the overall value.
        """
        return self._shape(
            difference(self._group_values.T, self._overall_values, method, skipna=True)
        )

    def ratio(self, method: Method = "between_groups") -> Any:
        """Return min / max across groups, or the smallest group / overall ratio (≤ 1).

        Parameters
        ----------
        method : {"between_groups", "to_overall"}, default "between_groups"
            Compare groups with each other or with the overall value.
        """
        return self._shape(ratio(self._group_values.T, self._overall_values, method, skipna=True))

    def bootstrap(
        self,
        *,
        n_boot: int = 1000,
        confidence: float = 0.95,
        stratified: bool = False,
        random_state: int | np.random.Generator | None = None,
    ) -> BootstrapResult:
        """Return percentile intervals for every group metric, difference and ratio.

        See :func:`govml.metrics.bootstrap`. Needs confusion statistics (classification
        metrics from predicted labels).
        """
        if not isinstance(self.stats, BinaryConfusion | MulticlassConfusion):
            raise MetricInputError(NOT_CONFUSION.format(kind=self.stats.kind))
        return bootstrap(
            self.stats,
            metrics=[spec.name for spec in self._specs],
            n_boot=n_boot,
            confidence=confidence,
            stratified=stratified,
            random_state=random_state,
            min_group_size=self._min_group_size,
        )


def _resolve(metrics: Any) -> tuple[list[str], list[MetricSpec]]:
    if isinstance(metrics, str) or callable(metrics):
        items: list[tuple[str, Any]] = [(_label(metrics), metrics)]
    elif isinstance(metrics, Mapping):
        items = [(str(k), v) for k, v in metrics.items()]
    elif isinstance(metrics, Sequence):
        items = [(_label(m), m) for m in metrics]
    else:
        raise MetricInputError(UNSUPPORTED_CALLABLE.format(name=type(metrics).__name__))
    if not items:
        raise MetricInputError(NO_METRICS)
    return [label for label, _ in items], [_spec(m) for _, m in items]


def _label(metric: Any) -> str:
    return metric if isinstance(metric, str) else str(getattr(metric, "__name__", metric))


def _spec(metric: Any) -> MetricSpec:
    if isinstance(metric, str):
        return spec_for(metric)
    if metric in _OWN_FUNCTIONS:
        return spec_for(_OWN_FUNCTIONS[metric])
    name = getattr(metric, "__name__", None)
    package = str(getattr(metric, "__module__", "")).split(".")[0]
    if package in _FOREIGN_PACKAGES and isinstance(name, str) and name in metric_names():
        return spec_for(name)
    described = name or type(metric).__name__
    raise MetricInputError(
        UNSUPPORTED_CALLABLE.format(name=described),
        hint=did_you_mean(str(described), metric_names()),
    )


def _sample_params(
    params: Mapping[str, Any] | None, sample_weight: Any, pos_label: Any
) -> tuple[Any, Any]:
    if not params:
        return sample_weight, pos_label
    shared: dict[str, Any] = {}
    nested = all(isinstance(v, Mapping) for v in params.values())
    for entry in params.values() if nested else [params]:
        for key, value in entry.items():
            if key not in ("sample_weight", "pos_label"):
                raise MetricInputError(BAD_SAMPLE_PARAMS)
            if key in shared and not _same(shared[key], value):
                raise MetricInputError(BAD_SAMPLE_PARAMS)
            shared[key] = value
    return shared.get("sample_weight", sample_weight), shared.get("pos_label", pos_label)


def _same(a: Any, b: Any) -> bool:
    return a is b or bool(np.array_equal(np.asarray(a), np.asarray(b)))


def _build(
    kind: str,
    y_true: Any,
    y_pred: Any,
    *,
    sensitive_features: Any,
    sample_weight: Any,
    pos_label: Any,
    missing: MissingPolicy,
    predictions_only: bool,
) -> Stats:
    common = {
        "sensitive_features": sensitive_features,
        "sample_weight": sample_weight,
        "missing": missing,
    }
    if kind == "binary" and predictions_only:
        return prediction_confusion(y_true, y_pred, pos_label=pos_label, **common)
    if kind == "binary":
        return binary_confusion(y_true, y_pred, pos_label=pos_label, **common)
    if kind == "multiclass":
        return multiclass_confusion(y_true, y_pred, **common)
    if kind == "score":
        return score_samples(y_true, y_pred, pos_label=pos_label, **common)
    return regression_moments(y_true, y_pred, **common)


def _group_index(groups: Groups) -> pd.Index[Any]:
    index: pd.Index[Any]
    if len(groups.names) == 1:
        index = pd.Index([key[0] for key in groups.keys], name=groups.names[0])
    else:
        index = pd.MultiIndex.from_tuples(list(groups.keys), names=list(groups.names))
    return index


def _product_index(groups: Groups) -> pd.MultiIndex:
    levels = [
        sorted({key[f] for key in groups.keys}, key=sort_key) for f in range(len(groups.names))
    ]
    return pd.MultiIndex.from_product(levels, names=list(groups.names))
