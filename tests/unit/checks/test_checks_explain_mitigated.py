"""Mitigated models are explained through their parts: closed forms and local accuracy."""

from __future__ import annotations

import itertools
import math
import warnings

import numpy as np
import pandas as pd
import pytest
from scipy.special import logit
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from govml.checks import explain
from govml.checks._composite import composite_plan, group_attribution
from govml.checks._shap import Run
from govml.flavors import LoadedModel, flavor_for, get_flavor
from govml.mitigation import MitigatedClassifier, exponentiated_gradient, threshold_optimized

pytest.importorskip("fairlearn", reason="fitting a mitigation needs fairlearn (govml[verify])")

FEATURES = ["sex", "race", "skill", "hours"]


def _frame(n: int, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    sex = rng.choice(["Female", "Male"], n, p=[0.4, 0.6])
    race = rng.choice(["A", "B", "C"], n, p=[0.6, 0.3, 0.1])
    skill = rng.normal(size=n) + 0.9 * (sex == "Male")
    hours = rng.normal(40, 8, n)
    y = (skill + 0.03 * (hours - 40) + rng.normal(0, 0.8, n) > 0.7).astype(int)
    return pd.DataFrame({"sex": sex, "race": race, "skill": skill, "hours": hours}), y


def _encoder() -> ColumnTransformer:
    return ColumnTransformer(
        [
            ("cat", OneHotEncoder(handle_unknown="ignore"), ["sex", "race"]),
            ("num", StandardScaler(), ["skill", "hours"]),
        ],
        sparse_threshold=0.0,
    )


def _loaded(model: object) -> LoadedModel:
    serialized = flavor_for(model).dump(model)
    return get_flavor(serialized.flavor).load(serialized.data, serialized.options)


@pytest.fixture(scope="module")
def data() -> tuple[pd.DataFrame, np.ndarray]:
    return _frame(2000, seed=3)


@pytest.fixture(scope="module")
def linear(data) -> Pipeline:
    X, y = data
    return Pipeline([("encode", _encoder()), ("model", LogisticRegression())]).fit(X, y)


@pytest.fixture(scope="module")
def boosted(data) -> Pipeline:
    X, y = data
    model = HistGradientBoostingClassifier(max_iter=40, random_state=0)
    return Pipeline([("encode", _encoder()), ("model", model)]).fit(X, y)


def _run(frame: pd.DataFrame, rows: int) -> Run:
    return Run(
        frame=frame,
        was_array=False,
        sample=np.arange(rows),
        background=np.arange(len(frame)),
        seed=0,
        max_evals=None,
    )


def test_threshold_offsets_are_attributed_to_the_sensitive_column_in_closed_form(
    data, linear
) -> None:
    X, y = data
    mitigated = threshold_optimized(linear, X, y, sensitive="sex")
    n = len(X)
    result = explain(_loaded(mitigated), X, sample_rows=n, background_rows=n)
    assert (result.explainer, result.level, result.output) == ("linear", "aggregated", "log_odds")
    assert result.parameters["composite"]["wrapper"] == "MitigatedClassifier"
    # Linear SHAP of the base: coef * (z - mean z), summed per input column; the offset
    # -logit(t_g) of one sensitive column: its value minus its mean over the rows.
    z = linear[0].transform(X)
    phi = (z - z.mean(axis=0)) * linear[-1].coef_[0]
    offsets = -logit(mitigated.thresholds_)[mitigated.group_index(X)]
    per_column = {
        "sex": phi[:, 0:2].sum(axis=1) + offsets - offsets.mean(),
        "race": phi[:, 2:5].sum(axis=1),
        "skill": phi[:, 5],
        "hours": phi[:, 6],
    }
    expected = {name: np.abs(values).mean() for name, values in per_column.items()}
    assert result.importance == pytest.approx(expected, rel=1e-6)


def test_tree_values_add_up_to_the_mitigated_log_odds(data, boosted) -> None:
    X, y = data
    mitigated = threshold_optimized(boosted, X, y, sensitive=["sex", "race"])
    model = _loaded(mitigated)
    plan = composite_plan(model, "auto", FEATURES)
    assert plan is not None
    values, scale, used = plan.values(_run(X, 300))
    assert (plan.chosen, plan.level, scale, used) == ("tree", "aggregated", "log_odds", 0)
    import shap

    expected_value = float(np.ravel(shap.TreeExplainer(boosted[-1]).expected_value)[0])
    offsets = mitigated.threshold_offsets("log_odds")[mitigated.group_index(X)]
    base = boosted.predict_proba(X.iloc[:300])[:, 1]
    wrapper_log_odds = logit(base) + offsets[:300]
    reconstructed = values[:, :, 0].sum(axis=1) + expected_value + offsets.mean()
    np.testing.assert_allclose(reconstructed, wrapper_log_odds, atol=1e-6)


def test_the_demo_like_wrapper_never_takes_the_permutation_explainer(data, boosted) -> None:
    X, y = data
    mitigated = threshold_optimized(boosted, X, y, sensitive=["sex", "race"])
    result = explain(_loaded(mitigated), X, sample_rows=200)
    assert result.explainer == "tree"
    assert result.fallback_reason is None
    assert result.parameters["composite"]["combined"].startswith("group thresholds")
    assert set(result.importance) == set(FEATURES)


def test_mixture_members_are_weighted_in_closed_form(data) -> None:
    X, y = data
    template = Pipeline([("encode", _encoder()), ("model", LogisticRegression())])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mixture = exponentiated_gradient(template, X, y, sensitive="sex")
    assert len(mixture.estimators_) >= 1
    n = len(X)
    result = explain(_loaded(mixture), X, sample_rows=n, background_rows=n)
    assert (result.explainer, result.output) == ("linear", "log_odds")
    assert result.parameters["composite"]["combined"] == "mixture weights"
    z = mixture.preprocessor_.transform(X)
    phi = sum(
        weight * (z - z.mean(axis=0)) * member.coef_[0]
        for weight, member in zip(mixture.weights_, mixture.estimators_, strict=True)
    )
    per_column = {
        "sex": phi[:, 0:2].sum(axis=1),
        "race": phi[:, 2:5].sum(axis=1),
        "skill": phi[:, 5],
        "hours": phi[:, 6],
    }
    expected = {name: np.abs(values).mean() for name, values in per_column.items()}
    assert result.importance == pytest.approx(expected, rel=1e-6)


def test_a_base_that_is_neither_tree_nor_linear_is_explained_alone(data) -> None:
    X, y = data
    base = Pipeline([("encode", _encoder()), ("model", KNeighborsClassifier(25))]).fit(X, y)
    mitigated = threshold_optimized(base, X, y, sensitive="sex")
    result = explain(_loaded(mitigated), X, sample_rows=30, background_rows=10)
    # The model-agnostic explainer runs on the base model only, on its probability, and
    # the thresholds are added on that scale.
    assert (result.explainer, result.output) == ("permutation", "probability")
    assert result.parameters["composite"]["wrapper"] == "MitigatedClassifier"
    assert result.importance["sex"] > 0


def test_an_explicit_model_agnostic_request_explains_the_whole_wrapper(data, linear) -> None:
    X, y = data
    mitigated = threshold_optimized(linear, X, y, sensitive="sex")
    result = explain(_loaded(mitigated), X, explainer="permutation", sample_rows=20)
    assert result.explainer == "permutation"
    assert "composite" not in result.parameters


def _brute_force_shapley(frame: pd.DataFrame, row: int, columns: list[str], h: np.ndarray):
    k = len(columns)

    def value(subset: tuple[str, ...]) -> float:
        match = np.ones(len(frame), dtype=bool)
        for name in subset:
            match &= (frame[name] == frame[name].iloc[row]).to_numpy()
        return float(h[match].mean())

    out = []
    for name in columns:
        others = [c for c in columns if c != name]
        total = 0.0
        for size in range(k):
            for subset in itertools.combinations(others, size):
                weight = math.factorial(size) * math.factorial(k - size - 1) / math.factorial(k)
                total += weight * (value((*subset, name)) - value(subset))
        out.append(total)
    return out


def test_group_attribution_is_the_exact_shapley_value() -> None:
    rng = np.random.default_rng(5)
    frame = pd.DataFrame(
        {
            "sex": rng.choice(["F", "M"], 400),
            "race": rng.choice(["A", "B", "C"], 400),
            "age": rng.choice(["young", "old"], 400),
        }
    )
    table = {key: rng.normal() for key in itertools.product("FM", "ABC", ["young", "old"])}
    h = np.array([table[key] for key in frame.itertuples(index=False, name=None)])
    sample = np.array([0, 7, 123, 399])
    columns = ("sex", "race", "age")
    phi = group_attribution(frame, sample, columns, h)
    for position, row in enumerate(sample):
        expected = _brute_force_shapley(frame, int(row), list(columns), h)
        np.testing.assert_allclose(phi[position], expected, atol=1e-12)
    # Efficiency: each row's values add up to its value minus the mean.
    np.testing.assert_allclose(phi.sum(axis=1), h[sample] - h.mean(), atol=1e-12)


def test_threshold_offsets_refuse_an_unknown_scale(data, linear) -> None:
    X, y = data
    mitigated: MitigatedClassifier = threshold_optimized(linear, X, y, sensitive="sex")
    with pytest.raises(ValueError, match="margin"):
        mitigated.threshold_offsets("margin")
