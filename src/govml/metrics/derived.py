"""Fairlearn's ``make_derived_metric`` and the scalar metrics it generates.

:func:`make_derived_metric` turns a metric function into one that takes
``sensitive_features=`` and returns one aggregate across the groups (``difference``,
``ratio``, ``group_min`` or ``group_max``), exactly what a :class:`MetricFrame` over that
function gives. Fairlearn derives 25 such functions from its rates and scikit-learn's
metrics (``accuracy_score_difference``, ``roc_auc_score_group_min``, ...); they are here
with the same names and signatures, in :data:`GENERATED_METRICS`.

They are computed from statistics: the metric frame recognises scikit-learn's and
Fairlearn's functions and reads them off one vectorised pass (see
:mod:`govml.metrics._catalogue`); a function it does not recognise, or options the
statistics do not cover (``beta=`` of ``fbeta_score``), is called on each group's rows.
scikit-learn is imported only when one of its functions has to be called.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Sequence
from typing import Any

from govml.metrics import _base_metrics
from govml.metrics._sklearn import SklearnMetric
from govml.metrics._validate import MetricInputError
from govml.metrics.frame import MetricFrame

TRANSFORMS = ("difference", "group_min", "group_max", "ratio")
# Keyword arguments of the call that go to the aggregate, not to the metric.
TRANSFORM_PARAMETERS = ("method",)

METRIC_NOT_CALLABLE = "Supplied metric object must be callable"
METHOD_ARGUMENT = (
    "Callables which accept a '{0}' argument may not be passed to make_derived_metric()."
    " Please use functools.partial()"
)
INVALID_TRANSFORM = f"Transform must be one of {list(TRANSFORMS)}"


class DerivedMetric:
    """A metric aggregated across the groups of ``sensitive_features``.

    Called as ``f(y_true, y_pred, *, sensitive_features, **params)``: parameters named in
    ``sample_param_names`` are per-row sample parameters, ``method`` goes to
    ``difference`` / ``ratio``, and any other keyword is bound to the metric (its name
    then carries ``_<key>_<value>``, as Fairlearn names it).
    """

    def __init__(
        self,
        *,
        metric: Callable[..., Any],
        transform: str,
        sample_param_names: Sequence[str] | None,
    ) -> None:
        if not callable(metric):
            raise MetricInputError(METRIC_NOT_CALLABLE)
        try:
            parameters = inspect.signature(metric).parameters
        except (TypeError, ValueError):  # a builtin without a signature takes no 'method'
            parameters = {}  # type: ignore[assignment]
        for name in TRANSFORM_PARAMETERS:
            if name in parameters:
                raise MetricInputError(METHOD_ARGUMENT.format(name))
        if transform not in TRANSFORMS:
            raise MetricInputError(INVALID_TRANSFORM)
        self._metric = metric
        self._transform = transform
        self._sample_param_names = list(sample_param_names or [])
        self.__name__ = f"{getattr(metric, '__name__', 'metric')}_{transform}"

    def __call__(self, y_true: Any, y_pred: Any, *, sensitive_features: Any, **params: Any) -> Any:
        """Return the aggregate of the metric across the groups.

        Raises
        ------
        MetricInputError
            On bad input (see :class:`MetricFrame`); errors the metric raises propagate.
        """
        sample_params: dict[str, Any] = {}
        bound: dict[str, Any] = {}
        transform_params: dict[str, Any] = {}
        for key, value in params.items():
            if key in self._sample_param_names:
                sample_params[key] = value
            elif key in TRANSFORM_PARAMETERS:
                transform_params[key] = value
            else:
                bound[key] = value
        metric: Any = self._metric
        if bound:
            metric = functools.partial(self._metric, **bound)
            name = getattr(self._metric, "__name__", "metric")
            for key, value in sorted(bound.items()):
                name = f"{name}_{key}_{value}"
            metric.__name__ = name
        frame = MetricFrame(
            metrics=metric,
            y_true=y_true,
            y_pred=y_pred,
            sensitive_features=sensitive_features,
            sample_params=sample_params,
        )
        if self._transform == "difference":
            return frame.difference(**transform_params)
        if self._transform == "ratio":
            return frame.ratio(**transform_params)
        if self._transform == "group_min":
            return frame.group_min()
        return frame.group_max()

    def __repr__(self) -> str:
        return f"DerivedMetric({self.__name__})"


def make_derived_metric(
    *,
    metric: Callable[..., Any],
    transform: str,
    sample_param_names: list[str] | None = None,
) -> Callable[..., Any]:
    """Return ``metric`` aggregated across groups: a function taking ``sensitive_features=``.

    Same as Fairlearn's: the result of ``f(y_true, y_pred, sensitive_features=s, ...)``
    equals ``MetricFrame(metrics=metric, ...)`` followed by the ``transform`` method.

    Parameters
    ----------
    metric : callable
        ``metric(y_true, y_pred, **params)``; it may not take a ``method`` argument (bind
        one with ``functools.partial``).
    transform : {"difference", "group_min", "group_max", "ratio"}
        The aggregate; ``difference`` and ``ratio`` take ``method=`` when called.
    sample_param_names : list of str, optional
        The metric's per-row parameters; None means ``["sample_weight"]``, an empty list
        none.

    Raises
    ------
    MetricInputError
        A ``ValueError``, with Fairlearn's messages: ``metric`` not callable or taking
        ``method``, or an unknown ``transform``.
    """
    if sample_param_names is None:
        sample_param_names = ["sample_weight"]
    return DerivedMetric(metric=metric, transform=transform, sample_param_names=sample_param_names)


def _generated() -> dict[str, Callable[..., Any]]:
    spec: list[tuple[Callable[..., Any], tuple[str, ...]]] = [
        (_base_metrics.true_positive_rate, ("difference", "ratio")),
        (_base_metrics.true_negative_rate, ("difference", "ratio")),
        (_base_metrics.false_positive_rate, ("difference", "ratio")),
        (_base_metrics.false_negative_rate, ("difference", "ratio")),
        (_base_metrics.selection_rate, ("difference", "ratio")),
        (SklearnMetric("accuracy_score"), ("difference", "ratio", "group_min")),
        (SklearnMetric("zero_one_loss"), ("difference", "ratio", "group_max")),
        (SklearnMetric("balanced_accuracy_score"), ("group_min",)),
        (SklearnMetric("precision_score"), ("group_min",)),
        (SklearnMetric("recall_score"), ("group_min",)),
        (SklearnMetric("roc_auc_score"), ("group_min",)),
        (SklearnMetric("mean_absolute_error"), ("group_max",)),
        (SklearnMetric("mean_squared_error"), ("group_max",)),
        (SklearnMetric("r2_score"), ("group_min",)),
        (SklearnMetric("f1_score"), ("group_min",)),
        (SklearnMetric("log_loss"), ("group_max",)),
    ]
    generated: dict[str, Callable[..., Any]] = {}
    for metric, transforms in spec:
        for transform in transforms:
            function = make_derived_metric(
                metric=metric, transform=transform, sample_param_names=["sample_weight"]
            )
            generated[function.__name__] = function
    return generated


GENERATED_METRICS: dict[str, Callable[..., Any]] = _generated()
"""Fairlearn's 25 generated metrics by name (its ``_generated_metric_dict``)."""

true_positive_rate_difference = GENERATED_METRICS["true_positive_rate_difference"]
true_positive_rate_ratio = GENERATED_METRICS["true_positive_rate_ratio"]
true_negative_rate_difference = GENERATED_METRICS["true_negative_rate_difference"]
true_negative_rate_ratio = GENERATED_METRICS["true_negative_rate_ratio"]
selection_rate_difference = GENERATED_METRICS["selection_rate_difference"]
selection_rate_ratio = GENERATED_METRICS["selection_rate_ratio"]
accuracy_score_difference = GENERATED_METRICS["accuracy_score_difference"]
accuracy_score_ratio = GENERATED_METRICS["accuracy_score_ratio"]
accuracy_score_group_min = GENERATED_METRICS["accuracy_score_group_min"]
zero_one_loss_difference = GENERATED_METRICS["zero_one_loss_difference"]
zero_one_loss_ratio = GENERATED_METRICS["zero_one_loss_ratio"]
zero_one_loss_group_max = GENERATED_METRICS["zero_one_loss_group_max"]
balanced_accuracy_score_group_min = GENERATED_METRICS["balanced_accuracy_score_group_min"]
precision_score_group_min = GENERATED_METRICS["precision_score_group_min"]
recall_score_group_min = GENERATED_METRICS["recall_score_group_min"]
roc_auc_score_group_min = GENERATED_METRICS["roc_auc_score_group_min"]
mean_absolute_error_group_max = GENERATED_METRICS["mean_absolute_error_group_max"]
mean_squared_error_group_max = GENERATED_METRICS["mean_squared_error_group_max"]
r2_score_group_min = GENERATED_METRICS["r2_score_group_min"]
f1_score_group_min = GENERATED_METRICS["f1_score_group_min"]
log_loss_group_max = GENERATED_METRICS["log_loss_group_max"]
