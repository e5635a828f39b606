"""Bad input: each problem gets a clear message, and messages are module constants."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

import govml.metrics as gm
from govml.errors import InputError
from govml.metrics import MetricInputError
from govml.metrics._aggregate import BAD_AGG, BAD_METHOD
from govml.metrics._base_metrics import EMPTY_PREDICTIONS
from govml.metrics._groups import MISSING_SENSITIVE, NOT_A_FEATURE
from govml.metrics._registry import UNKNOWN_METRIC
from govml.metrics._scores import SCORE_OUT_OF_RANGE
from govml.metrics._validate import (
    BAD_WEIGHTS,
    EMPTY_INPUT,
    LENGTH_MISMATCH,
    MISSING_LABELS,
    NOT_BINARY,
    NOT_FINITE,
    NOT_ONE_DIMENSIONAL,
    POS_LABEL_NOT_FOUND,
    SINGLE_CLASS,
)
from govml.metrics.performance import NOT_PROBABILITIES
from govml.metrics.results import SMALL_GROUP


def _message(call: Any, *args: Any, **kwargs: Any) -> str:
    with pytest.raises(MetricInputError) as info:
        call(*args, **kwargs)
    assert isinstance(info.value, InputError) and isinstance(info.value, ValueError)
    return info.value.message


def test_lengths_that_differ_name_both_arguments_and_lengths() -> None:
    assert _message(gm.accuracy_score, [1, 0, 1], [1, 0]) == LENGTH_MISMATCH.format(
        first="y_true", first_len=3, second="y_pred", second_len=2
    )
    message = _message(gm.demographic_parity_difference, [1, 0], [1, 0], sensitive_features=["a"])
    assert message == LENGTH_MISMATCH.format(
        first="y_true", first_len=2, second="sensitive feature 'sensitive_feature_0'", second_len=1
    )
    assert _message(gm.recall_score, [1, 0], [1, 0], sample_weight=[1.0]) == LENGTH_MISMATCH.format(
        first="y_true", first_len=2, second="sample_weight", second_len=1
    )


def test_empty_input() -> None:
    assert _message(gm.precision_score, [], []) == EMPTY_INPUT.format(name="y_true")
    # Fairlearn's selection_rate reports the empty y_pred in its own words
    assert _message(gm.selection_rate, [], []) == EMPTY_PREDICTIONS


def test_missing_labels_name_the_argument_and_count() -> None:
    message = _message(gm.true_positive_rate, [1.0, np.nan, 0.0, np.nan], [1, 0, 0, 1])
    assert message == MISSING_LABELS.format(name="y_true", count=2, what="binary metrics")
    message = _message(gm.precision_score, [1, 0], pd.Series([1, None], dtype="Int64"))
    assert message == MISSING_LABELS.format(name="y_pred", count=1, what="binary metrics")


def test_non_binary_labels_name_the_values_found() -> None:
    message = _message(
        gm.equalized_odds_difference, [0, 1, 2], [0, 1, 1], sensitive_features=["a", "a", "b"]
    )
    assert message == NOT_BINARY.format(count=3, values="0, 1, 2")
    message = _message(gm.recall_score, ["no", "yes"], ["yes", "yes"])
    assert message == POS_LABEL_NOT_FOUND.format(pos_label=1, values="'no', 'yes'")
    assert gm.recall_score(["no", "yes"], ["yes", "yes"], pos_label="yes") == 1.0


def test_missing_sensitive_values_and_bad_feature_types() -> None:
    message = _message(
        gm.demographic_parity_ratio,
        [1, 0, 1],
        [1, 0, 0],
        sensitive_features=pd.Series(["a", None, "b"], name="sex"),
    )
    assert message == MISSING_SENSITIVE.format(name="sex", count=1)
    assert _message(gm.binary_confusion, [1], [1], sensitive_features=5) == NOT_A_FEATURE.format(
        type="int"
    )


def test_single_class_for_roc_auc() -> None:
    message = _message(gm.roc_auc_score, [1, 1, 1], [0.2, 0.5, 0.9])
    assert message == SINGLE_CLASS.format(value="positive", metric="ROC AUC")


def test_group_smaller_than_min_group_size_is_named_in_the_report() -> None:
    report = gm.fairness_report(
        [1, 0, 1, 0, 1], [1, 0, 0, 0, 1], sensitive_features={"g": list("aaaab")}, min_group_size=2
    )
    small = report.section("g").by_group["selection_rate"][1]
    assert small.group == ("b",) and small.reason == SMALL_GROUP.format(n=1, minimum=2)


def test_unknown_metric_names_suggest_the_closest() -> None:
    with pytest.raises(MetricInputError) as info:
        gm.fairness_report([1], [1], sensitive_features=["a"], metrics=["equalised_odds"])
    assert info.value.message == UNKNOWN_METRIC.format(name="equalised_odds")
    with pytest.raises(MetricInputError) as info:
        gm.metric_result(gm.binary_confusion([1], [1]), "acuracy")
    assert info.value.hint == "did you mean 'accuracy'?"


def test_bad_weights_scores_and_shapes() -> None:
    assert _message(
        gm.accuracy_score, [1, 0], [1, 0], sample_weight=[1.0, -1.0]
    ) == BAD_WEIGHTS.format(problem="minimum -1.0")
    assert _message(
        gm.accuracy_score, [1, 0], [1, 0], sample_weight=[1.0, np.nan]
    ) == BAD_WEIGHTS.format(problem="NaN or infinite values")
    assert _message(gm.log_loss, [1, 0], [1.5, 0.2]) == NOT_PROBABILITIES.format(metric="log_loss")
    assert _message(gm.roc_auc_score, [1, 0], [np.inf, 0.2]) == NOT_FINITE.format(
        name="y_score", count=1, what="score metrics"
    )
    assert _message(gm.score_histogram, [1, 0], [1.5, 0.2]) == SCORE_OUT_OF_RANGE.format(
        count=1, low=0.0, high=1.0, example=1.5
    )
    assert _message(gm.accuracy_score, np.zeros((2, 2)), [1, 0]) == NOT_ONE_DIMENSIONAL.format(
        name="y_true", shape=(2, 2)
    )


def test_bad_method_and_agg() -> None:
    assert _message(
        gm.demographic_parity_difference, [1], [1], sensitive_features=["a"], method="max"
    ) == (BAD_METHOD.format(method="max"))
    assert _message(
        gm.equalized_odds_difference, [1], [1], sensitive_features=["a"], agg="max"
    ) == (BAD_AGG.format(agg="max"))
