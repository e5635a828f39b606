"""Performance metrics from statistics against scikit-learn (and Fairlearn's rates), 1e-12."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import sklearn.metrics as skm
from hypothesis import given, settings
from hypothesis import strategies as st

import govml.metrics as gm
from govml.metrics import MetricFrame, metric_result, score_histogram, score_samples
from govml.metrics._ranking import ranking_metrics
from govml.metrics._registry import ONE_CLASS, spec_for

pytestmark = pytest.mark.filterwarnings("ignore")  # scikit-learn warns on 0/0, by design
TOL = {"rtol": 1e-12, "atol": 1e-12}


@st.composite
def rows(draw: Any, *, classes: int = 2) -> dict[str, Any]:
    n = draw(st.integers(1, 80))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    weighted = draw(st.booleans())
    return {
        "y": rng.integers(0, classes, n),
        "p": rng.integers(0, classes, n),
        "score": np.round(rng.random(n), draw(st.integers(1, 4))),  # ties on purpose
        "w": rng.uniform(0.05, 5, n) if weighted else None,
        "g": rng.choice(["a", "b", "c"], n),
        "target": rng.normal(draw(st.sampled_from([0.0, 3.0, 100.0])), 1.5, n),
        "noise": rng.normal(0, 1, n),
    }


def _sk_confusion(y: Any, p: Any, w: Any) -> np.ndarray:
    return skm.confusion_matrix(y, p, labels=[0, 1], sample_weight=w)


@given(d=rows())
@settings(max_examples=80, deadline=None)
def test_classification_metrics_equal_scikit_learn(d: dict[str, Any]) -> None:
    y, p, w = d["y"], d["p"], d["w"]
    cm = _sk_confusion(y, p, w)
    (tn, fp), (fn, tp) = cm
    sk = {
        "accuracy_score": skm.accuracy_score(y, p, sample_weight=w),
        "balanced_accuracy_score": skm.balanced_accuracy_score(y, p, sample_weight=w),
        "precision_score": skm.precision_score(y, p, sample_weight=w),
        "recall_score": skm.recall_score(y, p, sample_weight=w),
        "f1_score": skm.f1_score(y, p, sample_weight=w),
        "specificity_score": tn / (tn + fp) if tn + fp else 0.0,
        "false_positive_rate": fp / (tn + fp) if tn + fp else 0.0,
        "false_negative_rate": fn / (tp + fn) if tp + fn else 0.0,
        "selection_rate": np.average(p == 1, weights=w),
    }
    for name, expected in sk.items():
        np.testing.assert_allclose(getattr(gm, name)(y, p, sample_weight=w), expected, **TOL)
    assert gm.count(y, p) == len(y)


@given(d=rows(classes=4))
@settings(max_examples=40, deadline=None)
def test_multiclass_accuracy_equals_scikit_learn(d: dict[str, Any]) -> None:
    y, p, w = d["y"], d["p"], d["w"]
    np.testing.assert_allclose(
        gm.accuracy_score(y, p, sample_weight=w), skm.accuracy_score(y, p, sample_weight=w), **TOL
    )
    np.testing.assert_allclose(
        gm.balanced_accuracy_score(y, p, sample_weight=w),
        skm.balanced_accuracy_score(y, p, sample_weight=w),
        **TOL,
    )


@given(d=rows())
@settings(max_examples=80, deadline=None)
def test_score_metrics_equal_scikit_learn(d: dict[str, Any]) -> None:
    y, s, w = d["y"], d["score"], d["w"]
    np.testing.assert_allclose(
        gm.log_loss(y, s, sample_weight=w),
        skm.log_loss(y, s, sample_weight=w, labels=[0, 1]),
        **TOL,
    )
    np.testing.assert_allclose(
        gm.brier_score_loss(y, s, sample_weight=w),
        skm.brier_score_loss(y, s, sample_weight=w),
        **TOL,
    )
    if len(set(y)) == 2:
        np.testing.assert_allclose(
            gm.roc_auc_score(y, s, sample_weight=w), skm.roc_auc_score(y, s, sample_weight=w), **TOL
        )
    np.testing.assert_allclose(
        gm.average_precision_score(y, s, sample_weight=w),
        skm.average_precision_score(y, s, sample_weight=w),
        **TOL,
    )


@given(d=rows())
@settings(max_examples=80, deadline=None)
def test_regression_metrics_equal_scikit_learn(d: dict[str, Any]) -> None:
    y, w = d["target"], d["w"]
    pred = y + d["noise"]
    pairs = {
        "mean_absolute_error": skm.mean_absolute_error(y, pred, sample_weight=w),
        "mean_squared_error": skm.mean_squared_error(y, pred, sample_weight=w),
        "root_mean_squared_error": skm.root_mean_squared_error(y, pred, sample_weight=w),
        "mean_error": np.average(pred - y, weights=w),
    }
    if len(y) >= 2:
        pairs["r2_score"] = skm.r2_score(y, pred, sample_weight=w)
    for name, expected in pairs.items():
        np.testing.assert_allclose(getattr(gm, name)(y, pred, sample_weight=w), expected, **TOL)


@given(d=rows())
@settings(max_examples=40, deadline=None)
def test_group_values_equal_scikit_learn_on_each_group(d: dict[str, Any]) -> None:
    y, p, s, g, w = d["y"], d["p"], d["score"], d["g"], d["w"]
    frame = MetricFrame(
        metrics=["accuracy", "precision", "f1", "balanced_accuracy"],
        y_true=y,
        y_pred=p,
        sensitive_features=g,
        sample_weight=w,
    )
    scores = MetricFrame(
        metrics=["log_loss", "brier_score", "average_precision"],
        y_true=y,
        y_pred=s,
        sensitive_features=g,
        sample_weight=w,
    )
    for group in frame.by_group.index:
        mask = g == group
        gw = None if w is None else w[mask]
        row = frame.by_group.loc[group]
        np.testing.assert_allclose(
            row["accuracy"], skm.accuracy_score(y[mask], p[mask], sample_weight=gw), **TOL
        )
        np.testing.assert_allclose(
            row["precision"], skm.precision_score(y[mask], p[mask], sample_weight=gw), **TOL
        )
        np.testing.assert_allclose(
            row["f1"], skm.f1_score(y[mask], p[mask], sample_weight=gw), **TOL
        )
        np.testing.assert_allclose(
            row["balanced_accuracy"],
            skm.balanced_accuracy_score(y[mask], p[mask], sample_weight=gw),
            **TOL,
        )
        srow = scores.by_group.loc[group]
        np.testing.assert_allclose(
            srow["log_loss"], skm.log_loss(y[mask], s[mask], sample_weight=gw, labels=[0, 1]), **TOL
        )
        np.testing.assert_allclose(
            srow["brier_score"], skm.brier_score_loss(y[mask], s[mask], sample_weight=gw), **TOL
        )
        np.testing.assert_allclose(
            srow["average_precision"],
            skm.average_precision_score(y[mask], s[mask], sample_weight=gw),
            **TOL,
        )


@given(d=rows(), bins=st.sampled_from([3, 10, 100, 1000]))
@settings(max_examples=60, deadline=None)
def test_histogram_auc_is_exact_on_binned_scores_and_within_its_bound(
    d: dict[str, Any], bins: int
) -> None:
    y, s, w, g = d["y"], d["score"], d["w"], d["g"]
    hist = score_histogram(y, s, sensitive_features=g, sample_weight=w, bins=bins)
    samples = score_samples(y, s, sensitive_features=g, sample_weight=w)
    exact_auc, _, _, _ = ranking_metrics(samples)
    hist_auc, hist_ap, _, _ = ranking_metrics(hist)
    bound = hist.roc_auc_bound()
    bin_index = np.clip(np.searchsorted(hist.edges, s, side="right") - 1, 0, bins - 1)
    for k, (group,) in enumerate(hist.groups.keys):
        mask = g == group
        gw = None if w is None else w[mask]
        if len(set(y[mask])) == 2:
            binned = skm.roc_auc_score(y[mask], bin_index[mask], sample_weight=gw)
            np.testing.assert_allclose(hist_auc[k], binned, **TOL)
            assert abs(hist_auc[k] - exact_auc[k]) <= bound[k] + 1e-12
            np.testing.assert_allclose(
                hist_ap[k],
                skm.average_precision_score(y[mask], bin_index[mask], sample_weight=gw),
                **TOL,
            )
        else:
            assert np.isnan(hist_auc[k]) and np.isnan(exact_auc[k])
    # log loss and Brier from the histogram are exact
    for name in ("log_loss", "brier_score"):
        np.testing.assert_allclose(
            spec_for(name).compute(hist).value, spec_for(name).compute(samples).value, **TOL
        )


def test_fine_histogram_is_close_to_exact_on_continuous_scores() -> None:
    rng = np.random.default_rng(7)
    y = rng.integers(0, 2, 20_000)
    s = np.clip(rng.normal(0.4 + 0.2 * y, 0.2), 0, 1)
    hist = score_histogram(y, s)
    exact = skm.roc_auc_score(y, s)
    assert abs(metric_result(hist, "roc_auc").value - exact) <= hist.roc_auc_bound()[0]  # type: ignore[operator]
    assert hist.roc_auc_bound()[0] < 1e-4
    assert (
        abs(metric_result(hist, "average_precision").value - skm.average_precision_score(y, s))
        < 1e-3
    )  # type: ignore[operator]


def test_zero_division_conventions_follow_scikit_learn() -> None:
    assert gm.precision_score([1, 0], [0, 0]) == 0.0  # nothing predicted positive
    assert gm.recall_score([0, 0], [1, 0]) == 0.0  # no actual positives
    assert gm.f1_score([0, 0], [0, 0]) == 0.0
    assert gm.average_precision_score([0, 0, 0], [0.1, 0.5, 0.3]) == 0.0
    assert np.isnan(gm.r2_score([1.0], [2.0]))
    assert gm.r2_score([2.0, 2.0], [2.0, 2.0]) == 1.0
    assert gm.r2_score([2.0, 2.0], [2.0, 3.0]) == 0.0
    # probabilities of exactly 0 and 1 are clipped as scikit-learn does
    assert gm.log_loss([1, 0], [0.0, 1.0]) == skm.log_loss([1, 0], [0.0, 1.0])


def test_strict_results_are_undefined_with_reasons() -> None:
    stats = score_samples([1, 1, 1], [0.2, 0.4, 0.9])
    auc = metric_result(stats, "roc_auc")
    assert auc.undefined and auc.reason == ONE_CLASS
    tpr = metric_result(gm.binary_confusion([0, 0], [1, 0]), "true_positive_rate")
    assert tpr.value is None and "no actual positives" in (tpr.reason or "")
    r2 = metric_result(gm.regression_moments([2.0, 2.0], [2.0, 3.0]), "r2")
    assert r2.undefined and "constant" in (r2.reason or "")
