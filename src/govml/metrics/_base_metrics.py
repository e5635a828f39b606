"""Fairlearn's base metrics, with its signatures, numbers and error messages.

``fairlearn.metrics`` exports the four rates, ``selection_rate``, ``mean_prediction`` and
``count`` as row functions; these are the same functions computed from govml's statistics,
for code that changes only its import:

- the rates take ``sample_weight`` and ``pos_label`` positionally too, and without
  ``pos_label`` take 1 as the positive label, which the labels must then be within {0, 1}
  or {-1, 1}; a rate that is 0/0 (a group without actual positives for the TPR) is 0.0;
- ``selection_rate`` and ``mean_prediction`` read ``y_pred`` only;
- ``count`` is the number of rows, whatever they hold.

Scalars are one-row inputs (``selection_rate(1, 1) == 1``), as in Fairlearn. Two
differences, both govml's rules for every metric: labels may not be missing (NaN, None),
and weights may not be negative.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from govml.metrics._confusion import binary_confusion
from govml.metrics._registry import spec_for
from govml.metrics._validate import (
    EMPTY_INPUT,
    LENGTH_MISMATCH,
    MetricInputError,
    as_1d,
    as_float,
    as_weights,
    check_labels,
)

EMPTY_PREDICTIONS = "Empty y_pred passed to selection_rate function."
TOO_MANY_LABELS = "Must have no more than two unique y values"
RATES_NEED_POS_LABEL = "If pos_label is not specified, values must be from {0, 1} or {-1, 1}"
POS_LABEL_NOT_IN_LABELS = "Must have pos_label in y values"

# Fairlearn's own name for the message, for code that imports it to match on it.
_EMPTY_INPUT_PREDICTIONS_ERROR_MESSAGE = EMPTY_PREDICTIONS


def as_rows(value: Any) -> NDArray[Any]:
    """Return ``value`` as an array of rows, squeezed, with a scalar as one row (Fairlearn's)."""
    array = np.asarray(value)
    if array.size > 1:
        return np.squeeze(array)
    return array.reshape(array.size)


def rate_pos_label(y_true: NDArray[Any], y_pred: NDArray[Any], pos_label: Any) -> Any:
    """Return the positive label of Fairlearn's rates, checking the labels as Fairlearn does.

    Raises
    ------
    MetricInputError
        On missing labels, more than two label values, ``pos_label`` not among two values,
        or, without ``pos_label``, labels outside {0, 1} and {-1, 1}.
    """
    labels, _ = check_labels({"y_true": y_true, "y_pred": y_pred}, what="binary metrics")
    if pos_label is None:
        if not (set(labels) <= {0, 1} or set(labels) <= {-1, 1}):
            raise MetricInputError(RATES_NEED_POS_LABEL)
        pos_label = 1
    if len(labels) > 2:
        raise MetricInputError(TOO_MANY_LABELS)
    if len(labels) == 2 and pos_label not in labels:
        raise MetricInputError(POS_LABEL_NOT_IN_LABELS)
    return pos_label


def _rate(metric: str, y_true: Any, y_pred: Any, sample_weight: Any, pos_label: Any) -> float:
    truth, pred = as_1d(as_rows(y_true), name="y_true"), as_1d(as_rows(y_pred), name="y_pred")
    positive = rate_pos_label(truth, pred, pos_label)
    stats = binary_confusion(truth, pred, sample_weight=sample_weight, pos_label=positive)
    return float(spec_for(metric).compute(stats).compat[0])


def true_positive_rate(
    y_true: Any, y_pred: Any, sample_weight: Any = None, pos_label: Any = None
) -> float:
    """Return TP / (TP + FN), the recall; 0.0 without actual positives.

    Parameters
    ----------
    y_true, y_pred : array-like
        Actual and predicted labels: at most two values together.
    sample_weight : array-like, optional
        Non-negative row weights.
    pos_label : scalar, optional
        The positive label; without it, 1, and the labels must be within {0, 1} or {-1, 1}.

    Raises
    ------
    MetricInputError
        On the labels Fairlearn refuses (see :func:`rate_pos_label`) and on bad input.
    """
    return _rate("recall", y_true, y_pred, sample_weight, pos_label)


def true_negative_rate(
    y_true: Any, y_pred: Any, sample_weight: Any = None, pos_label: Any = None
) -> float:
    """Return TN / (TN + FP), the specificity; 0.0 without actual negatives.

    Parameters are those of :func:`true_positive_rate`.
    """
    return _rate("specificity", y_true, y_pred, sample_weight, pos_label)


def false_positive_rate(
    y_true: Any, y_pred: Any, sample_weight: Any = None, pos_label: Any = None
) -> float:
    """Return FP / (FP + TN); 0.0 without actual negatives.

    Parameters are those of :func:`true_positive_rate`.
    """
    return _rate("false_positive_rate", y_true, y_pred, sample_weight, pos_label)


def false_negative_rate(
    y_true: Any, y_pred: Any, sample_weight: Any = None, pos_label: Any = None
) -> float:
    """Return FN / (TP + FN); 0.0 without actual positives.

    Parameters are those of :func:`true_positive_rate`.
    """
    return _rate("false_negative_rate", y_true, y_pred, sample_weight, pos_label)


def selection_rate(
    y_true: Any, y_pred: Any, *, pos_label: Any = 1, sample_weight: Any = None
) -> float:
    """Return the (weighted) share of predictions equal to ``pos_label``.

    Parameters
    ----------
    y_true : array-like
        Only its length is checked (against ``y_pred``).
    y_pred : array-like
        Predictions: any number of distinct values.
    pos_label : scalar, default 1
        The selected outcome.
    sample_weight : array-like, optional
        Non-negative row weights.

    Raises
    ------
    MetricInputError
        On an empty ``y_pred`` (Fairlearn's message), lengths that differ, or bad weights.
    """
    pred = as_1d(as_rows(y_pred), name="y_pred")
    if len(pred) == 0:
        raise MetricInputError(EMPTY_PREDICTIONS)
    _check_length(y_true, len(pred))
    selected = np.asarray(pred == pos_label)
    if selected.shape != pred.shape:  # a comparison numpy could not make: nothing matches
        selected = np.zeros(pred.shape, dtype=np.bool_)
    weights = as_weights(sample_weight, len(pred))
    if weights is None:
        return float(np.count_nonzero(selected) / len(pred))
    return float(np.dot(selected, weights) / weights.sum())


def mean_prediction(y_true: Any, y_pred: Any, sample_weight: Any = None) -> float:
    """Return the (weighted) mean of ``y_pred``; ``y_true`` is ignored (it may be None).

    Raises
    ------
    MetricInputError
        On an empty or non-numeric ``y_pred`` or bad weights.
    """
    pred = as_1d(as_rows(y_pred), name="y_pred")
    if len(pred) == 0:
        raise MetricInputError(EMPTY_INPUT.format(name="y_pred"))
    values = as_float(pred, name="y_pred", what="mean_prediction")
    weights = as_weights(sample_weight, len(values))
    if weights is None:
        return float(np.dot(values, np.ones(len(values))) / len(values))
    return float(np.dot(values, weights) / weights.sum())


def count(y_true: Any, y_pred: Any) -> int:
    """Return the number of rows of ``y_true`` (``y_pred`` only has to be as long).

    Raises
    ------
    MetricInputError
        When the lengths differ.
    """
    rows = len(as_rows(y_true))
    _check_length(y_pred, rows, first="y_pred")
    return rows


def _check_length(other: Any, n_rows: int, *, first: str = "y_true") -> None:
    if other is None:
        return
    length = len(as_rows(other))
    if length != n_rows:
        names = ("y_true", "y_pred") if first == "y_pred" else ("y_pred", "y_true")
        raise MetricInputError(
            LENGTH_MISMATCH.format(
                first=names[0], first_len=n_rows, second=names[1], second_len=length
            )
        )
