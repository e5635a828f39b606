"""Differential tests against Fairlearn 0.15: functions and MetricFrame, 1e-12."""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import fairlearn.metrics as flm
import numpy as np
import pandas as pd
import pytest
import sklearn.metrics as skm
from hypothesis import given, settings
from hypothesis import strategies as st

import govml.metrics as gm
from govml.metrics import MetricFrame, MetricInputError
from govml.metrics._registry import UNKNOWN_METRIC

pytestmark = pytest.mark.filterwarnings("ignore")
VECTORS = json.loads((Path(__file__).parents[2] / "vectors" / "fairness.json").read_text())
FUNCTIONS = [
    "demographic_parity_difference",
    "demographic_parity_ratio",
    "equal_opportunity_difference",
    "equal_opportunity_ratio",
    "equalized_odds_difference",
    "equalized_odds_ratio",
    "false_positive_rate_difference",
    "false_positive_rate_ratio",
    "false_negative_rate_difference",
    "false_negative_rate_ratio",
]
METHODS = ["between_groups", "to_overall"]


def _same(a: float, b: float) -> None:
    np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12, equal_nan=True)


@pytest.mark.parametrize("vector", VECTORS["vectors"], ids=lambda v: v["name"])
def test_reference_vectors(vector: dict[str, Any]) -> None:
    y, p, g = vector["y_true"], vector["y_pred"], vector["groups"]
    for case in vector["fairlearn"]:
        kwargs = {"method": case["method"], "sample_weight": case.get("sample_weight")}
        if "agg" in case:
            kwargs["agg"] = case["agg"]
        ours = getattr(gm, case["metric"])(y, p, sensitive_features=g, **kwargs)
        theirs = getattr(flm, case["metric"])(y, p, sensitive_features=g, **kwargs)
        _same(ours, theirs)
        if case["expected"] is None:
            assert np.isnan(ours)
        else:
            assert ours == pytest.approx(case["expected"], abs=1e-5)
    for metric, expected in vector.get("by_group", {}).items():
        frame = MetricFrame(metrics=metric, y_true=y, y_pred=p, sensitive_features=g)
        assert frame.by_group.to_dict() == pytest.approx(expected, abs=1e-5)


@st.composite
def data(draw: Any) -> dict[str, Any]:
    n = draw(st.integers(2, 50))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    two = draw(st.booleans())
    sex = rng.choice(["F", "M", "X"], n)
    race = rng.choice([1, 2, 3], n)
    features = pd.DataFrame({"sex": sex, "race": race}) if two else sex
    y_rate, p_rate = (
        draw(st.sampled_from([0.0, 0.1, 0.5, 1.0])),
        draw(st.sampled_from([0.0, 0.5, 0.9])),
    )
    return {
        "y": (rng.random(n) < y_rate).astype(int) if draw(st.booleans()) else rng.integers(0, 2, n),
        "p": (rng.random(n) < p_rate).astype(int),
        "sf": features,
        "w": rng.uniform(0.1, 4, n) if draw(st.booleans()) else None,
    }


@given(d=data(), name=st.sampled_from(FUNCTIONS), method=st.sampled_from(METHODS))
@settings(max_examples=80, deadline=None)
def test_functions_equal_fairlearn_on_random_data(
    d: dict[str, Any], name: str, method: str
) -> None:
    kwargs: dict[str, Any] = {
        "sensitive_features": d["sf"],
        "method": method,
        "sample_weight": d["w"],
    }
    _same(getattr(gm, name)(d["y"], d["p"], **kwargs), getattr(flm, name)(d["y"], d["p"], **kwargs))
    if "odds" in name:
        kwargs["agg"] = "mean"
        _same(
            getattr(gm, name)(d["y"], d["p"], **kwargs),
            getattr(flm, name)(d["y"], d["p"], **kwargs),
        )


@given(d=data())
@settings(max_examples=25, deadline=None)
def test_metric_frame_equals_fairlearn(d: dict[str, Any]) -> None:
    ours = MetricFrame(
        metrics={
            "sr": gm.selection_rate,
            "tpr": "true_positive_rate",
            "fpr": gm.false_positive_rate,
            "acc": "accuracy",
        },
        y_true=d["y"],
        y_pred=d["p"],
        sensitive_features=d["sf"],
        sample_weight=d["w"],
    )
    metrics = {
        "sr": flm.selection_rate,
        "tpr": flm.true_positive_rate,
        "fpr": flm.false_positive_rate,
        "acc": skm.accuracy_score,
    }
    theirs = flm.MetricFrame(
        metrics=metrics,
        y_true=d["y"],
        y_pred=d["p"],
        sensitive_features=d["sf"],
        sample_params={k: {"sample_weight": d["w"]} for k in metrics},
    )
    pd.testing.assert_frame_equal(
        ours.by_group,
        theirs.by_group,
        check_dtype=False,
        check_index_type=False,
        rtol=1e-12,
        atol=1e-12,
    )
    pd.testing.assert_series_equal(ours.overall, theirs.overall, rtol=1e-12, atol=1e-12)
    for ours_value, theirs_value in [
        (ours.group_min(), theirs.group_min()),
        (ours.group_max(), theirs.group_max()),
        *[(ours.difference(method=m), theirs.difference(method=m)) for m in METHODS],
        *[(ours.ratio(method=m), theirs.ratio(method=m)) for m in METHODS],
    ]:
        pd.testing.assert_series_equal(
            ours_value, theirs_value, check_names=False, rtol=1e-12, atol=1e-12
        )


def test_single_metric_frame_is_shaped_like_fairlearn() -> None:
    y, p, g = [1, 0, 1, 1, 0, 1], [1, 1, 0, 1, 0, 0], pd.Series(list("aabbcc"), name="grp")
    ours = MetricFrame(metrics=gm.selection_rate, y_true=y, y_pred=p, sensitive_features=g)
    theirs = flm.MetricFrame(metrics=flm.selection_rate, y_true=y, y_pred=p, sensitive_features=g)
    pd.testing.assert_series_equal(ours.by_group, theirs.by_group)
    assert ours.overall == pytest.approx(theirs.overall, abs=1e-12)
    assert ours.difference() == pytest.approx(theirs.difference(), abs=1e-12)
    assert ours.ratio(method="to_overall") == pytest.approx(
        theirs.ratio(method="to_overall"), abs=1e-12
    )


def test_metric_frame_accepts_scikit_learn_and_fairlearn_functions() -> None:
    y, p, g = [1, 0, 1, 1, 0, 1], [1, 1, 0, 1, 0, 0], list("aabbcc")
    frame = MetricFrame(
        metrics={"recall": skm.recall_score, "fnr": flm.false_negative_rate, "n": flm.count},
        y_true=y,
        y_pred=p,
        sensitive_features=g,
        sample_params={"recall": {"sample_weight": None}},
    )
    assert list(frame.by_group["n"]) == [2, 2, 2]
    assert frame.by_group["recall"].tolist() == pytest.approx([1.0, 0.5, 0.0])


def test_metric_frame_refuses_unknown_names_and_runs_arbitrary_callables() -> None:
    with pytest.raises(MetricInputError) as info:
        MetricFrame(metrics="selection_rat", y_true=[1], y_pred=[1], sensitive_features=["a"])
    assert info.value.message == UNKNOWN_METRIC.format(name="selection_rat")
    assert info.value.hint == "did you mean 'selection_rate'?"
    assert isinstance(info.value, ValueError)  # code catching Fairlearn's ValueError still works

    def custom(y_true: Any, y_pred: Any) -> float:
        return float(len(y_true)) / 10

    frame = MetricFrame(
        metrics=custom, y_true=[1, 0, 1], y_pred=[1, 1, 1], sensitive_features=["a", "b", "b"]
    )
    assert frame.by_group.to_dict() == {"a": 0.1, "b": 0.2}
    assert frame.overall == pytest.approx(0.3)


def test_edge_cases_documented_in_the_docstrings() -> None:
    y, g = [1, 1, 0, 0], ["a", "a", "b", "b"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # group b has no positives: TPR 0.0, so the gap is group a's TPR
        assert gm.equal_opportunity_difference(y, [1, 0, 0, 1], sensitive_features=g) == 0.5
        assert gm.demographic_parity_difference(y, [0, 0, 0, 0], sensitive_features=g) == 0.0
        assert np.isnan(gm.demographic_parity_ratio(y, [0, 0, 0, 0], sensitive_features=g))
        # a NaN TPR ratio makes worst_case NaN; mean skips it (Python max/min, pandas mean)
        both = {"sensitive_features": g}
        _same(
            gm.equalized_odds_ratio(y, [0, 0, 1, 0], **both),
            flm.equalized_odds_ratio(y, [0, 0, 1, 0], **both),
        )
        _same(
            gm.equalized_odds_ratio(y, [0, 0, 1, 0], agg="mean", **both),
            flm.equalized_odds_ratio(y, [0, 0, 1, 0], agg="mean", **both),
        )


def test_positive_predictive_value_parity() -> None:
    y, p, g = [1, 0, 1, 1, 0, 1], [1, 1, 0, 1, 1, 1], list("aabbcc")
    ppv = [
        skm.precision_score(np.array(y)[m], np.array(p)[m])
        for m in (slice(0, 2), slice(2, 4), slice(4, 6))
    ]
    assert gm.positive_predictive_value_difference(y, p, sensitive_features=g) == pytest.approx(
        max(ppv) - min(ppv)
    )
    assert gm.positive_predictive_value_ratio(y, p, sensitive_features=g) == pytest.approx(
        min(ppv) / max(ppv)
    )


def test_selection_rate_reads_predictions_only_like_fairlearn() -> None:
    y_true = np.array([0.3, 2.5, -1.0, 7.0])  # not labels at all: only the length matters
    p, g = np.array([1, 0, 1, 1]), np.array(["a", "a", "b", "b"])
    kwargs: dict[str, Any] = {"sensitive_features": g}
    _same(
        gm.demographic_parity_difference(y_true, p, **kwargs),
        flm.demographic_parity_difference(y_true, p, **kwargs),
    )
    _same(gm.selection_rate(y_true, p), flm.selection_rate(y_true, p))
    frame = MetricFrame(metrics="selection_rate", y_true=y_true, y_pred=p, sensitive_features=g)
    assert frame.by_group.tolist() == [0.5, 1.0]
