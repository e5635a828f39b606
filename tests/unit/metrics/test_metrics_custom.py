"""Business metrics: expected cost against a hand count, swapped labels, user functions."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import confusion_matrix

from govml.metrics import MetricInputError, binary_confusion, group_results, metric_result
from govml.metrics.custom import (
    CustomMetric,
    RowValues,
    confusion_metric,
    cost_range,
    expected_cost,
    expected_cost_spec,
    row_metric,
    row_value,
)

GERMAN = {"false_positive": 1.0, "false_negative": 5.0}


def test_expected_cost_is_the_cost_matrix_per_row() -> None:
    rng = np.random.default_rng(0)
    y, y_pred = rng.integers(0, 2, 500), rng.integers(0, 2, 500)
    weight = rng.random(500)
    tn, fp, fn, tp = confusion_matrix(y, y_pred, sample_weight=weight).ravel()
    costs = {"true_positive": 0.5, "false_positive": 1, "true_negative": 0.25, "false_negative": 5}
    expected = (0.5 * tp + fp + 0.25 * tn + 5 * fn) / weight.sum()
    assert expected_cost(y, y_pred, costs=costs, sample_weight=weight) == pytest.approx(expected)
    # German credit's labels: 1 good, 2 bad, bad the positive label.
    labels = np.where(y == 1, 2, 1)
    predicted = np.where(y_pred == 1, 2, 1)
    _, fp, fn, _ = confusion_matrix(labels, predicted, labels=[1, 2]).ravel()
    value = expected_cost(labels, predicted, costs=GERMAN, pos_label=2)
    assert value == pytest.approx((fp + 5 * fn) / 500)
    assert cost_range(GERMAN) == (0.0, 5.0)


def test_expected_cost_per_group_and_undefined_without_rows() -> None:
    stats = binary_confusion(
        [1, 0, 1, 1], [0, 0, 1, 0], sensitive_features=pd.Series(["a", "a", "b", "b"], name="g")
    )
    spec = expected_cost_spec(GERMAN)
    assert [r.value for r in group_results(stats, spec)] == [2.5, 2.5]
    assert metric_result(stats, spec).value == pytest.approx(10 / 4)
    empty = binary_confusion([1], [1], sample_weight=[0.0])
    assert metric_result(empty, spec).reason == "no rows with positive weight"


def test_costs_are_checked() -> None:
    with pytest.raises(MetricInputError, match="unknown confusion cell 'fn'"):
        expected_cost_spec({"fn": 5})
    with pytest.raises(MetricInputError, match="finite"):
        expected_cost_spec({"false_negative": float("nan")})


def test_swapped_counts_are_the_other_label_as_positive() -> None:
    rng = np.random.default_rng(1)
    y, y_pred = rng.integers(0, 2, 200), rng.integers(0, 2, 200)
    group = pd.Series(rng.choice(["a", "b"], 200), name="g")
    swapped = binary_confusion(y, y_pred, sensitive_features=group).swapped(0)
    direct = binary_confusion(y, y_pred, sensitive_features=group, pos_label=0)
    assert swapped.pos_label == 0
    np.testing.assert_array_equal(swapped.weight, direct.weight)
    np.testing.assert_array_equal(swapped.count, direct.count)


def test_a_confusion_metric_is_vectorised_and_its_failures_are_reasons() -> None:
    stats = binary_confusion(
        [1, 0, 1, 1], [0, 0, 1, 0], sensitive_features=pd.Series(["a", "a", "b", "b"], name="g")
    )
    share_missed = confusion_metric(direction="lower", low=0, high=1)(
        lambda tp, fp, tn, fn: fn / (tp + fn)
    )
    assert [r.value for r in group_results(stats, share_missed.spec("missed"))] == [1.0, 0.5]
    scalar = confusion_metric()(lambda tp, fp, tn, fn: float(tp.sum()))
    found = group_results(stats, scalar.spec("scalar"))
    assert found[0].reason == "scalar returned shape () for counts of shape (2,)"
    raising = confusion_metric()(lambda tp, fp, tn, fn: 1 / 0)
    found = group_results(stats, raising.spec("raising"))
    assert found[0].reason == "raising raised ZeroDivisionError: division by zero"
    nan = confusion_metric()(lambda tp, fp, tn, fn: tp * np.nan)
    assert metric_result(stats, nan.spec("nan")).reason == "nan returned no value (NaN)"


def test_a_row_metric_is_called_once_on_the_rows() -> None:
    rows = RowValues(y_true=np.array([1, 0, 1]), y_pred=np.array([1, 1, 1]), y_score=None)
    hits = row_metric(direction="higher")(lambda y, p, s: float(np.mean(y == p)))
    assert row_value("hits", hits, rows) == pytest.approx(2 / 3)
    with pytest.raises(MetricInputError, match="hits returned ndarray, not one number"):
        row_value("hits", row_metric()(lambda y, p, s: y), rows)
    with pytest.raises(MetricInputError, match="reads rows, not confusion counts"):
        hits.spec("hits")
    with pytest.raises(MetricInputError, match="low 1 is above its high 0"):
        CustomMetric(function=len, inputs="rows", low=1, high=0)
