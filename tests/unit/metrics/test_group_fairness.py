"""Regression, multiclass and calibration fairness: known answers and mergeability.

Known answers come from Fairlearn's ``MetricFrame`` with scikit-learn's metrics on the same
vectors (regression, each class against the rest) and scikit-learn's ``calibration_curve``.
"""

from __future__ import annotations

import functools
import warnings

import numpy as np
import pandas as pd
import pytest
from fairlearn.metrics import (
    MetricFrame,
    demographic_parity_difference,
    demographic_parity_ratio,
    equal_opportunity_difference,
    equalized_odds_difference,
    equalized_odds_ratio,
    mean_prediction,
)
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.calibration import calibration_curve
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import mean_absolute_error, mean_squared_error, root_mean_squared_error

from govml.metrics._confusion import multiclass_confusion
from govml.metrics.calibration import (
    CALIBRATION_FAIRNESS_METRICS,
    CalibrationBins,
    calibration_bins,
    calibration_sections,
)
from govml.metrics.group_multiclass import multiclass_sections
from govml.metrics.group_regression import (
    REGRESSION_FAIRNESS_METRICS,
    Replication,
    blocked_moments,
    regression_sections,
)
from govml.policy.vocabulary import CALIBRATION_DISPARITIES, GROUP_RULE_METRICS

REGRESSION = {
    "mean_absolute_error": mean_absolute_error,
    "root_mean_squared_error": root_mean_squared_error,
    "mean_prediction": mean_prediction,
    "mean_residual": lambda y, p: float(np.mean(np.asarray(y) - np.asarray(p))),
}


def _sensitive(rng: np.random.Generator, n: int) -> pd.DataFrame:
    return pd.DataFrame({"sex": rng.choice(["f", "m"], n), "age": rng.choice(["y", "m", "o"], n)})


@pytest.fixture(scope="module")
def regression() -> tuple[np.ndarray, np.ndarray, pd.DataFrame]:
    rng = np.random.default_rng(7)
    n = 600
    frame = _sensitive(rng, n)
    y = rng.gamma(2.0, 1500.0, n)
    pred = y * rng.lognormal(0.0, 0.3, n) + np.where(frame["sex"] == "f", 300.0, 0.0)
    return y, pred, frame


def test_the_policy_names_every_group_metric() -> None:
    assert set(GROUP_RULE_METRICS) == {*REGRESSION_FAIRNESS_METRICS, *CALIBRATION_FAIRNESS_METRICS}
    assert set(CALIBRATION_DISPARITIES) < set(CALIBRATION_FAIRNESS_METRICS)


@pytest.mark.parametrize("method", ["between_groups", "to_overall"])
def test_regression_disparities_equal_fairlearn_metric_frame(
    regression: tuple[np.ndarray, np.ndarray, pd.DataFrame], method: str
) -> None:
    y, pred, frame = regression
    sections = regression_sections(
        blocked_moments(y, pred, sensitive_features=frame), min_group_size=None, intersections=True
    )
    assert [s.features for s in sections] == [("sex",), ("age",), ("sex", "age")]
    suffix = "" if method == "between_groups" else "_to_overall"
    for section in sections:
        features = frame[list(section.features)]
        for base, function in REGRESSION.items():
            frame_ = MetricFrame(
                metrics=function, y_true=y, y_pred=pred, sensitive_features=features
            )
            found = section.disparities[f"{base}_difference{suffix}"].value
            assert found == pytest.approx(frame_.difference(method=method), rel=1e-10, abs=1e-9)
            if base != "mean_residual":
                found = section.disparities[f"{base}_ratio{suffix}"].value
                assert found == pytest.approx(frame_.ratio(method=method), rel=1e-10)
            groups = [r.value for r in section.by_group[base]]
            assert groups == pytest.approx(list(frame_.by_group), rel=1e-10)


def test_bounded_group_loss_is_the_largest_group_loss(
    regression: tuple[np.ndarray, np.ndarray, pd.DataFrame],
) -> None:
    y, pred, frame = regression
    (sex, *_rest) = regression_sections(
        blocked_moments(y, pred, sensitive_features=frame), min_group_size=None, intersections=False
    )
    squared = MetricFrame(
        metrics=mean_squared_error, y_true=y, y_pred=pred, sensitive_features=frame["sex"]
    )
    absolute = MetricFrame(
        metrics=mean_absolute_error, y_true=y, y_pred=pred, sensitive_features=frame["sex"]
    )
    assert sex.disparities["bounded_group_loss"].value == pytest.approx(squared.group_max())
    assert sex.disparities["bounded_group_absolute_loss"].value == pytest.approx(
        absolute.group_max()
    )


def test_regression_intervals_cover_the_point_and_are_seeded(
    regression: tuple[np.ndarray, np.ndarray, pd.DataFrame],
) -> None:
    y, pred, frame = regression
    blocked = blocked_moments(y, pred, sensitive_features=frame, blocks=50)
    replication = Replication(n_boot=300, confidence=0.9, random_state=3)
    first = regression_sections(
        blocked, min_group_size=None, intersections=False, replication=replication
    )
    again = regression_sections(
        blocked, min_group_size=None, intersections=False, replication=replication
    )
    found = first[0].disparities["mean_prediction_difference"]
    assert found.interval == again[0].disparities["mean_prediction_difference"].interval
    assert found.interval is not None and found.value is not None
    assert found.interval[0] <= found.value <= found.interval[1]
    assert found.replicates == 300


def test_a_small_group_is_not_judged(
    regression: tuple[np.ndarray, np.ndarray, pd.DataFrame],
) -> None:
    y, pred, frame = regression
    frame = frame.assign(sex=np.where(np.arange(len(y)) < 5, "x", frame["sex"]))
    (sex, *_rest) = regression_sections(
        blocked_moments(y, pred, sensitive_features=frame), min_group_size=30, intersections=False
    )
    assert sex.by_group["mean_absolute_error"][-1].value is None
    kept = frame["sex"] != "x"
    frame_ = MetricFrame(
        metrics=mean_absolute_error,
        y_true=y[kept],
        y_pred=pred[kept],
        sensitive_features=frame["sex"][kept],
    )
    found = sex.disparities["mean_absolute_error_difference"].value
    assert found == pytest.approx(frame_.difference())


@settings(max_examples=40, deadline=None)
@given(
    st.integers(min_value=20, max_value=120),
    st.integers(min_value=1, max_value=19),
    st.integers(min_value=0, max_value=2**16),
)
def test_regression_moments_with_blocks_merge_to_the_whole(n: int, cut: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    frame = _sensitive(rng, n)
    y, pred = rng.normal(size=n), rng.normal(size=n)
    cut = n * cut // 20
    whole = blocked_moments(y, pred, sensitive_features=frame).marginal(["sex", "age"])
    parts = [
        blocked_moments(y[s], pred[s], sensitive_features=frame.iloc[s]).marginal(["sex", "age"])
        for s in (slice(0, cut), slice(cut, n))
    ]
    merged = parts[0].merge(parts[1])
    for name in ("n", "sw", "sw_abs_err", "sw_sq_err", "swp", "sw_err", "m2_y"):
        assert getattr(merged, name) == pytest.approx(getattr(whole, name), rel=1e-9, abs=1e-9)


MULTICLASS = {
    "demographic_parity_difference": demographic_parity_difference,
    "demographic_parity_ratio": demographic_parity_ratio,
    "equalized_odds_difference": equalized_odds_difference,
    "equalized_odds_ratio": equalized_odds_ratio,
    "equal_opportunity_difference": equal_opportunity_difference,
}


@pytest.mark.parametrize("method", ["between_groups", "to_overall"])
def test_multiclass_disparities_equal_fairlearn_one_class_against_the_rest(method: str) -> None:
    rng = np.random.default_rng(11)
    n = 900
    frame = _sensitive(rng, n)
    y = rng.choice(["A", "B", "C"], n)
    pred = np.where(rng.random(n) < 0.6, y, rng.choice(["A", "B", "C"], n))
    stats = multiclass_confusion(y, pred, sensitive_features=frame)
    suffix = "" if method == "between_groups" else "_to_overall"
    for section in multiclass_sections(stats, min_group_size=None, intersections=True):
        features = frame[list(section.features)]
        for name, function in MULTICLASS.items():
            per_class = {
                c: function(y == c, pred == c, sensitive_features=features, method=method)
                for c in "ABC"
            }
            for c, expected in per_class.items():
                found = section.disparities[f"{name}{suffix}@{c}"].value
                assert found == pytest.approx(expected, rel=1e-12)
            worst = min if name.endswith("_ratio") else max
            found = section.disparities[f"{name}{suffix}"].value
            assert found == pytest.approx(worst(per_class.values()), rel=1e-12)


def test_a_class_missing_from_a_group_leaves_the_worst_class_undefined() -> None:
    y = np.array(["A", "B", "C", "A", "B", "A"] * 10)
    pred = y.copy()
    group = np.array(["f", "f", "f", "m", "m", "m"] * 10)  # no C in group m
    stats = multiclass_confusion(y, pred, sensitive_features={"sex": group})
    (section,) = multiclass_sections(stats, min_group_size=None, intersections=True)
    found = section.disparities["equalized_odds_difference"]
    assert found.value is None and "'C'" in (found.reason or "")
    assert section.disparities["demographic_parity_difference"].value is not None


def test_multiclass_intervals_come_from_the_confusion_cells() -> None:
    rng = np.random.default_rng(5)
    y = rng.choice([0, 1, 2], 500)
    pred = np.where(rng.random(500) < 0.7, y, 2)
    group = rng.choice(["a", "b"], 500)
    stats = multiclass_confusion(y, pred, sensitive_features={"g": group})
    replication = Replication(n_boot=200, confidence=0.95, random_state=0)
    (section,) = multiclass_sections(
        stats, min_group_size=None, intersections=True, replication=replication
    )
    found = section.disparities["demographic_parity_difference"]
    assert found.interval is not None and found.value is not None
    assert found.interval[0] <= found.value <= found.interval[1]


@pytest.fixture(scope="module")
def scores() -> tuple[np.ndarray, np.ndarray, pd.DataFrame]:
    rng = np.random.default_rng(3)
    n = 4000
    frame = pd.DataFrame({"sex": rng.choice(["f", "m"], n)})
    score = rng.beta(2, 3, n)
    score[:6] = [0.1, 0.2, 0.5, 1.0, 0.0, 0.9]  # on the bins' edges
    truth = rng.random(n) < np.where(frame["sex"] == "f", score, score**1.4)
    return truth, score, frame


def test_calibration_equals_scikit_learn_calibration_curve(
    scores: tuple[np.ndarray, np.ndarray, pd.DataFrame],
) -> None:
    truth, score, frame = scores
    bins = calibration_bins(truth, score, sensitive_features=frame)
    (section,) = calibration_sections(bins, min_group_size=None, intersections=True)
    eces = []
    for g, (value,) in enumerate(section.groups):
        mine = (frame["sex"] == value).to_numpy()
        observed, predicted = calibration_curve(truth[mine], score[mine], n_bins=10)
        counts = np.bincount(np.searchsorted(np.linspace(0, 1, 11)[1:-1], score[mine]))
        counts = counts[counts > 0]
        ece = float(np.sum(counts / counts.sum() * np.abs(observed - predicted)))
        eces.append(ece)
        assert section.by_group["expected_calibration_error"][g].value == pytest.approx(ece)
        large = score[mine].mean() - truth[mine].mean()
        assert section.by_group["calibration_in_the_large"][g].value == pytest.approx(large)
        reliability = bins.marginal(["sex"]).reliability()[g]
        assert reliability["observed_rate"] == pytest.approx(list(observed))
        assert reliability["mean_score"] == pytest.approx(list(predicted))
    assert section.disparities["calibration_gap"].value == pytest.approx(max(eces) - min(eces))
    assert section.disparities["expected_calibration_error"].value == pytest.approx(max(eces))


def test_calibration_slope_is_close_to_the_fit_on_rows(
    scores: tuple[np.ndarray, np.ndarray, pd.DataFrame],
) -> None:
    truth, score, frame = scores
    (section,) = calibration_sections(
        calibration_bins(truth, score, sensitive_features=frame),
        min_group_size=None,
        intersections=True,
    )
    clipped = np.clip(score, 1e-15, 1 - 1e-15)
    logit = np.log(clipped / (1 - clipped))
    for g, (value,) in enumerate(section.groups):
        mine = (frame["sex"] == value).to_numpy()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            fit = LogisticRegression(C=np.inf).fit(logit[mine, None], truth[mine])
        assert section.by_group["calibration_slope"][g].value == pytest.approx(
            fit.coef_[0][0], abs=0.06
        )


def test_calibration_of_perfect_scores_is_near_zero() -> None:
    rng = np.random.default_rng(0)
    score = rng.random(200_000)
    truth = rng.random(200_000) < score
    (section,) = calibration_sections(
        calibration_bins(truth, score), min_group_size=None, intersections=True
    )
    assert section.by_group["expected_calibration_error"][0].value < 0.01
    assert section.by_group["calibration_slope"][0].value == pytest.approx(1.0, abs=0.05)


@settings(max_examples=40, deadline=None)
@given(st.integers(min_value=2, max_value=200), st.integers(min_value=0, max_value=2**16))
def test_calibration_bins_merge_to_the_whole(n: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    score, truth = rng.random(n), rng.random(n) < 0.4
    group = rng.choice(["a", "b", "c"], n)
    build = functools.partial(calibration_bins, n_bins=7)
    whole = build(truth, score, sensitive_features={"g": group})
    cut = int(rng.integers(1, n))
    merged = build(truth[:cut], score[:cut], sensitive_features={"g": group[:cut]}).merge(
        build(truth[cut:], score[cut:], sensitive_features={"g": group[cut:]})
    )
    again = CalibrationBins.from_dict(merged.to_dict())
    assert again.groups == whole.groups
    for name in ("count", "weight", "score"):
        assert getattr(again, name) == pytest.approx(getattr(whole, name))


def test_scores_outside_zero_one_are_refused() -> None:
    with pytest.raises(ValueError, match=r"outside \[0, 1\]"):
        calibration_bins([True, False], [0.2, 1.5])


def test_the_block_bootstrap_spreads_as_the_row_bootstrap() -> None:
    rng = np.random.default_rng(21)
    n = 4000
    group = rng.choice(["a", "b"], n)
    y = rng.gamma(2.0, 1.0, n)
    pred = y + rng.normal(np.where(group == "a", 0.0, 0.3), 1.0)
    replication = Replication(n_boot=1000, confidence=0.9, random_state=0)
    (section,) = regression_sections(
        blocked_moments(y, pred, sensitive_features=pd.DataFrame({"g": group})),
        min_group_size=None,
        intersections=True,
        replication=replication,
    )
    found = section.disparities["mean_absolute_error_difference"].interval
    assert found is not None
    # The same interval from rows resampled within each group (stratified), in numpy.
    error = np.abs(y - pred)
    draws = []
    mine = {g: error[group == g] for g in ("a", "b")}
    for _ in range(1000):
        means = [rng.choice(v, size=len(v)).mean() for v in mine.values()]
        draws.append(abs(means[0] - means[1]))
    low, high = np.quantile(draws, [0.05, 0.95])
    assert (found[1] - found[0]) / (high - low) == pytest.approx(1.0, abs=0.2)
    assert found[0] == pytest.approx(low, abs=0.2 * (high - low))


@settings(max_examples=40, deadline=None)
@given(st.integers(min_value=10, max_value=150), st.integers(min_value=0, max_value=2**16))
def test_multiclass_disparities_of_merged_batches_equal_the_whole(n: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    y, pred = rng.choice([0, 1, 2], n), rng.choice([0, 1, 2], n)
    group = rng.choice(["a", "b"], n)
    cut = int(rng.integers(1, n))
    whole = multiclass_confusion(y, pred, sensitive_features={"g": group})
    merged = multiclass_confusion(y[:cut], pred[:cut], sensitive_features={"g": group[:cut]}).merge(
        multiclass_confusion(y[cut:], pred[cut:], sensitive_features={"g": group[cut:]})
    )
    (first,) = multiclass_sections(whole, min_group_size=None, intersections=True)
    (second,) = multiclass_sections(merged, min_group_size=None, intersections=True)
    assert first.disparities.keys() == second.disparities.keys()
    for name, found in first.disparities.items():
        other = second.disparities[name]
        assert (found.value is None) == (other.value is None), name
        if found.value is not None:
            assert found.value == pytest.approx(other.value, abs=1e-12), name
