"""Robustness, baseline and training-data measurements: known answers and properties."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.dummy import DummyClassifier
from sklearn.linear_model import LinearRegression, LogisticRegression

from govml.checks.baseline import fit_baseline, metric_value
from govml.checks.robustness import (
    Decider,
    categorical_columns,
    counterfactual_flips,
    monotone_violations,
    numeric_columns,
    perturb,
)
from govml.checks.training_data import aggregate, base_rates, representation


def _frame(n: int = 200, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "income": rng.normal(50.0, 10.0, n),
            "age": rng.integers(18, 80, n),
            "city": rng.choice(["a", "b", "c"], n),
            "sex": rng.choice(["f", "m"], n),
        }
    )


def test_columns_are_told_apart_by_kind() -> None:
    frame = _frame()
    assert numeric_columns(frame) == ["income", "age"]
    assert categorical_columns(frame) == ["city", "sex"]


@settings(max_examples=30, deadline=None)
@given(st.floats(min_value=0.05, max_value=1.0), st.integers(min_value=0, max_value=2**16))
def test_a_swapped_category_is_always_another_observed_value(rate: float, seed: int) -> None:
    frame = _frame(seed=seed % 7)
    out = perturb(frame, "category_swap", rate, ["city"], np.random.default_rng(seed))
    changed = out["city"] != frame["city"]
    assert set(out["city"]) <= set(frame["city"])
    assert changed.mean() <= rate + 4 * np.sqrt(rate * (1 - rate) / len(frame)) + 1e-9
    assert (out.drop(columns="city") == frame.drop(columns="city")).all().all()


def test_perturbations_are_seeded_and_keep_integer_columns_integer() -> None:
    frame = _frame()
    first = perturb(frame, "numeric_noise", 0.1, ["income", "age"], np.random.default_rng(3))
    again = perturb(frame, "numeric_noise", 0.1, ["income", "age"], np.random.default_rng(3))
    pd.testing.assert_frame_equal(first, again)
    assert first["age"].dtype == frame["age"].dtype
    noise = (first["income"] - frame["income"]).std()
    assert noise == pytest.approx(0.1 * frame["income"].std(), rel=0.2)
    holes = perturb(frame, "missing_values", 0.5, ["city", "age"], np.random.default_rng(1))
    assert 0.35 < holes["city"].isna().mean() < 0.65
    assert holes["age"].isna().any()


def _decider(model: object, regression: bool = False) -> Decider:
    def decide(frame: pd.DataFrame) -> np.ndarray:
        return np.asarray(model.predict(frame))  # type: ignore[attr-defined]

    def score(frame: pd.DataFrame) -> np.ndarray:
        if regression:
            return decide(frame)
        return np.asarray(model.predict_proba(frame))[:, 1]  # type: ignore[attr-defined]

    return Decider(decide=decide, score=score, regression=regression)


def test_a_linear_score_is_monotone_in_the_direction_of_its_coefficient() -> None:
    frame = _frame()[["income", "age"]]
    target = 2.0 * frame["income"] - 0.5 * frame["age"]
    model = LinearRegression().fit(frame, target)
    decider = _decider(model, regression=True)
    assert monotone_violations(decider, frame, "income", "increasing")[0] == 0.0
    assert monotone_violations(decider, frame, "income", "decreasing")[0] == 1.0
    rate, count, step = monotone_violations(decider, frame, "age", "increasing")
    assert (rate, count) == (1.0, len(frame))
    assert step == max(1.0, round(0.1 * frame["age"].std()))


def test_counterfactual_flips_count_only_the_swapped_feature_s_effect() -> None:
    frame = _frame(400)
    features = pd.get_dummies(frame[["income", "sex"]], dtype=float)
    by_sex = LogisticRegression().fit(features, frame["sex"] == "f")

    class OnFrame:
        def predict(self, data: pd.DataFrame) -> np.ndarray:
            encoded = pd.get_dummies(data[["income", "sex"]], dtype=float)
            encoded = encoded.reindex(columns=features.columns, fill_value=0.0)
            return np.asarray(by_sex.predict(encoded))

    found = counterfactual_flips(
        _decider(OnFrame()),
        frame,
        frame["sex"],
        "sex",
        [],
        frame,
        frame["sex"],
        np.random.default_rng(0),
    )
    assert found.groups == ["f", "m"]
    assert found.rates == [1.0, 1.0]
    blind = LogisticRegression().fit(frame[["income"]], frame["sex"] == "f")

    class Blind:
        def predict(self, data: pd.DataFrame) -> np.ndarray:
            return np.asarray(blind.predict(data[["income"]]))

    none = counterfactual_flips(
        _decider(Blind()),
        frame,
        frame["sex"],
        "sex",
        [],
        frame,
        frame["sex"],
        np.random.default_rng(0),
    )
    assert none.flipped == [0, 0]
    assert sum(none.rows) == len(frame)


def test_the_majority_baseline_equals_scikit_learn_s_dummy() -> None:
    frame = _frame()
    labels = (frame["income"] > 55).to_numpy()
    fitted = fit_baseline("majority", frame, labels, frame, regression=False, positive=True)
    dummy = DummyClassifier(strategy="prior").fit(frame, labels)
    assert np.array_equal(fitted.predictions, dummy.predict(frame))
    assert metric_value("accuracy", labels, fitted.predictions, None) == pytest.approx(
        max(labels.mean(), 1 - labels.mean())
    )
    assert metric_value("roc_auc", labels, fitted.predictions, fitted.scores) == 0.5
    linear = fit_baseline("linear", frame, labels, frame, regression=False, positive=True)
    assert metric_value("roc_auc", labels, linear.predictions, linear.scores) > 0.95


def test_training_data_measures_equal_pandas() -> None:
    frame = _frame()
    frame.loc[:4, "sex"] = None
    found = representation(frame, "sex")
    assert found.groups == ["f", "m", None]
    assert sum(found.rows) == len(frame) and found.rows[-1] == 5
    rates = base_rates(frame, "city", "sex", "f")
    labelled = frame[frame["sex"].notna()]
    expected = (labelled["sex"] == "f").groupby(labelled["city"]).mean()
    assert rates.base_rates == pytest.approx(list(expected))
    assert aggregate(frame, "mean_between", "income") == pytest.approx(frame["income"].mean())
    assert aggregate(frame, "quantile_between", "age", 0.25) == pytest.approx(
        np.quantile(frame["age"], 0.25)
    )
    assert aggregate(frame, "distinct_count", "city") == 3
    assert aggregate(frame, "max_share", "city") == pytest.approx(
        frame["city"].value_counts(normalize=True).max()
    )
    with pytest.raises(ValueError, match="'city' is not numeric"):
        aggregate(frame, "mean_between", "city")
