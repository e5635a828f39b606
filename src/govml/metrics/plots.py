"""Fairlearn's two metric plots: models compared on two metrics, ROC curves by group.

Same signatures and results as ``fairlearn.metrics.plot_model_comparison`` and
``plot_roc_curve_by_group``, drawn with matplotlib (imported when a plot is drawn; a
``RuntimeError`` says how to install it when it is absent). The numbers drawn are govml's:
the metrics are called as given, and each group's area under the curve comes from a
:class:`~govml.metrics.MetricFrame` over ``roc_auc_score``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from govml.metrics._features import SENSITIVE_BASE, feature_columns
from govml.metrics._validate import MetricInputError

MATPLOTLIB_MISSING = (
    "Please make sure to install matplotlib to use the plotting functions (pip install matplotlib)"
)
INCONSISTENT_LENGTH = "{0} must have the same number of rows"
AXIS_LABELS = "Key word argument axis_labels should be a list or tuple of two strings."
POINT_LABELS_POSITION = "Key word argument point_labels_position is not a two-tuple."
NOT_BOOLEAN = "{0} must be a boolean, got {1}"
POINT_LABELS = "point_labels must be a boolean or a list of labels, got {0}"
NO_METRIC = "plot_model_comparison needs both x_axis_metric and y_axis_metric"


def _pyplot() -> Any:
    try:
        import matplotlib.pyplot as plt
    except ImportError:
        raise RuntimeError(MATPLOTLIB_MISSING) from None
    return plt


def plot_model_comparison(
    *,
    y_preds: Any,
    y_true: Any = None,
    sensitive_features: Any = None,
    x_axis_metric: Callable[..., float | int] | None = None,
    y_axis_metric: Callable[..., float | int] | None = None,
    ax: Any = None,
    axis_labels: bool | list[str] | tuple[str, str] = True,
    point_labels: bool | list[Any] = False,
    point_labels_position: list[float] | tuple[float, float] = (0, 0),
    legend: bool = False,
    show_plot: bool = False,
    **kwargs: Any,
) -> Any:
    """Scatter several models' predictions on two metrics; return the matplotlib Axes.

    Parameters
    ----------
    y_preds : dict of name to predictions, or a sequence of predictions
        One entry per model, each as long as ``y_true``.
    y_true : array-like
        The actual labels or values.
    sensitive_features : array-like, optional
        Passed to a metric that takes ``sensitive_features=`` (a fairness metric); a
        metric that does not take it is called with ``y_true`` and ``y_pred`` only.
    x_axis_metric, y_axis_metric : callable
        The metrics of the two axes.
    ax : matplotlib Axes, optional
        Where to draw; a new figure otherwise.
    axis_labels : bool or two strings
        Label the axes with the metrics' names, or with these labels.
    point_labels : bool or list
        Annotate the points with the models' names (the dict's keys, else 0, 1, ...) or
        with these labels.
    point_labels_position : two numbers
        Offset of the annotations, in data coordinates.
    legend : bool
        Draw a legend (of the ``label=`` given in ``kwargs``).
    show_plot : bool
        Call ``pyplot.show()``.
    **kwargs
        Passed to ``Axes.scatter``.

    Raises
    ------
    MetricInputError
        On lengths that differ, bad option types, or a missing metric.
    RuntimeError
        When matplotlib is not installed.
    """
    plt = _pyplot()
    if x_axis_metric is None or y_axis_metric is None:
        raise MetricInputError(NO_METRIC)
    names, predictions = _models(y_preds)
    truth = np.asarray(y_true)
    if predictions.shape[1] != len(truth):
        raise MetricInputError(INCONSISTENT_LENGTH.format("y_true and the rows of y_preds"))
    if isinstance(axis_labels, list | tuple):
        if len(axis_labels) != 2:
            raise MetricInputError(AXIS_LABELS)
    elif not isinstance(axis_labels, bool):
        raise MetricInputError(AXIS_LABELS)
    for value, name in ((legend, "legend"), (show_plot, "show_plot")):
        if not isinstance(value, bool):
            raise MetricInputError(NOT_BOOLEAN.format(name, type(value).__name__))
    labels = _point_labels(point_labels, names)
    if not (
        isinstance(point_labels_position, list | tuple)
        and len(point_labels_position) == 2
        and all(isinstance(v, int | float) for v in point_labels_position)
    ):
        raise MetricInputError(POINT_LABELS_POSITION)
    features = None if sensitive_features is None else _features(sensitive_features, len(truth))
    x = np.array([_call(x_axis_metric, truth, p, features) for p in predictions])
    y = np.array([_call(y_axis_metric, truth, p, features) for p in predictions])
    if ax is None:
        ax = plt.subplots()[1]
    ax.scatter(x, y, **kwargs)
    if axis_labels is True:
        ax.set_xlabel(_metric_name(x_axis_metric))
        ax.set_ylabel(_metric_name(y_axis_metric))
    elif isinstance(axis_labels, list | tuple):
        ax.set_xlabel(axis_labels[0])
        ax.set_ylabel(axis_labels[1])
    if labels is not None:
        dx, dy = point_labels_position
        for i, label in enumerate(labels):
            ax.annotate(str(label), (x[i] + dx, y[i] + dy))
    if legend:
        ax.legend()
    if show_plot:
        plt.show()
    return ax


def plot_roc_curve_by_group(
    y_true: Any,
    y_score: Any,
    *,
    sensitive_features: Any,
    ax: Any = None,
    plot_overall: bool = True,
    plot_chance_level: bool = True,
    pos_label: Any = None,
    title: str | None = None,
) -> Any:
    """Draw a ROC curve per group (and overall) with each area under it; return the Axes.

    Groups are the combinations of the sensitive features' values (``"a,b"`` for several
    features); rows whose features are missing are drawn in the overall curve only, as
    Fairlearn does. A group needs both classes for its curve.

    Raises
    ------
    MetricInputError
        When ``y_true`` and ``y_score`` differ in length or a feature does.
    RuntimeError
        When matplotlib is not installed.
    """
    plt = _pyplot()
    from sklearn.metrics import roc_auc_score, roc_curve

    truth, score = np.asarray(y_true), np.asarray(y_score)
    if len(score) != len(truth):
        raise MetricInputError(INCONSISTENT_LENGTH.format("y_true and y_score"))
    groups = _group_labels(sensitive_features, len(truth))
    if ax is None:
        ax = plt.subplots()[1]
    for group in sorted(groups.dropna().unique(), key=str):
        rows = (groups == group).to_numpy()
        fpr, tpr, _ = roc_curve(truth[rows], score[rows], pos_label=pos_label)
        auc = _auc(roc_auc_score, truth[rows], score[rows], pos_label)
        ax.plot(fpr, tpr, label=f"{group} (AUC = {auc:.2f})")
    if plot_overall:
        fpr, tpr, _ = roc_curve(truth, score, pos_label=pos_label)
        auc = _auc(roc_auc_score, truth, score, pos_label)
        ax.plot(fpr, tpr, color="black", linestyle="--", label=f"Overall (AUC = {auc:.2f})")
    if plot_chance_level:
        ax.plot([0, 1], [0, 1], color="grey", linestyle=":", label="Chance level (AUC = 0.5)")
    ax.set_xlabel("False Positive Rate")
    ax.set_ylabel("True Positive Rate")
    if title is not None:
        ax.set_title(title)
    ax.legend(loc="lower right")
    return ax


def _models(y_preds: Any) -> tuple[list[Any], np.ndarray[Any, Any]]:
    if isinstance(y_preds, Mapping):
        names = list(y_preds)
        predictions = np.array([np.asarray(v) for v in y_preds.values()])
    else:
        predictions = np.asarray(y_preds)
        names = list(range(len(predictions)))
    if predictions.ndim == 1:
        predictions = predictions.reshape(1, -1)
        names = names[:1] or [0]
    return names, predictions


def _point_labels(point_labels: Any, names: list[Any]) -> list[Any] | None:
    if isinstance(point_labels, list):
        if len(point_labels) != len(names):
            raise MetricInputError(INCONSISTENT_LENGTH.format("point_labels and y_preds"))
        return point_labels
    if isinstance(point_labels, bool):
        return names if point_labels else None
    raise MetricInputError(POINT_LABELS.format(type(point_labels).__name__))


def _features(sensitive_features: Any, n_rows: int) -> Any:
    columns = feature_columns(sensitive_features, base=SENSITIVE_BASE, n_rows=n_rows)
    if len(columns) == 1:
        return np.asarray(columns[0][1])
    return pd.DataFrame({name: np.asarray(column) for name, column in columns})


def _call(metric: Callable[..., Any], truth: Any, pred: Any, features: Any) -> float:
    if features is not None:
        try:
            return float(metric(truth, pred, sensitive_features=features))
        except TypeError:  # the metric takes no sensitive_features: a performance metric
            pass
    return float(metric(truth, pred))


def _metric_name(metric: Any) -> str:
    name = str(getattr(metric, "__name__", type(metric).__name__))
    return name.replace("_", " ")


def _group_labels(sensitive_features: Any, n_rows: int) -> pd.Series[Any]:
    columns = feature_columns(sensitive_features, base=SENSITIVE_BASE, n_rows=n_rows)
    frame = pd.DataFrame({name: np.asarray(column, dtype=object) for name, column in columns})
    missing = frame.isna().any(axis=1)
    labels = frame.astype(str).agg(",".join, axis=1).astype(object)
    labels[missing] = None
    return labels


def _auc(roc_auc_score: Callable[..., float], truth: Any, score: Any, pos_label: Any) -> float:
    if pos_label is not None:
        truth = np.asarray(truth == pos_label, dtype=np.int64)
    if len(np.unique(truth)) < 2:
        return float("nan")
    return float(roc_auc_score(truth, score))
