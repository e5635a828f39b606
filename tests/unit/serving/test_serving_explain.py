"""Per-decision explanations equal SHAP's own values for the same model and rows (1e-6)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
import shap
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestRegressor
from sklearn.linear_model import LogisticRegression
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from tests.unit.serving.serving_fakes import training_frame

from govml.datasets import profile
from govml.domain.signature import infer_signature
from govml.flavors import LoadedModel, flavor_for
from govml.serving.explain import LINEAR, OCCLUSION, TREE_SHAP, DecisionExplainer

FEATURES = ["age", "income", "city"]
NUMERIC = ["age", "income"]


def _loaded(model: Any) -> LoadedModel:
    serialized = flavor_for(model).dump(model)
    return flavor_for(model).load(serialized.data, serialized.options)


def _explainer(model: Any, frame: pd.DataFrame, features: list[str]) -> DecisionExplainer:
    X = frame[features]
    signature = infer_signature(X, model.predict(X.head(5)))
    inputs = tuple(signature.inputs)
    return DecisionExplainer(_loaded(model), inputs, profile(X).to_dict(), "m@1")


def _encoder() -> ColumnTransformer:
    return ColumnTransformer(
        [("city", OneHotEncoder(handle_unknown="ignore"), ["city"])], remainder=StandardScaler()
    )


def _by_source(values: np.ndarray, sources: list[int], width: int) -> np.ndarray:
    out = np.zeros((values.shape[0], width))
    for column, source in enumerate(sources):
        out[:, source] += values[:, column]
    return out


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    return training_frame(n=300, seed=3)


@pytest.fixture(scope="module")
def rows(frame: pd.DataFrame) -> pd.DataFrame:
    return training_frame(n=25, seed=9)[FEATURES]


def test_histgradientboosting_pipeline_equals_tree_explainer(
    frame: pd.DataFrame, rows: pd.DataFrame
) -> None:
    model = Pipeline([("encode", _encoder()), ("model", HistGradientBoostingClassifier())])
    model.fit(frame[FEATURES], frame["y"])
    explainer = _explainer(model, frame, FEATURES)
    got = explainer.explain(rows, None)
    assert got.method == TREE_SHAP and got.output == "log-odds of class 1"
    tree = shap.TreeExplainer(model[-1])
    expected = tree.shap_values(model[:-1].transform(rows))
    # city's three one-hot columns come first, then age and income.
    wanted = _by_source(np.asarray(expected), [2, 2, 2, 0, 1], 3)
    np.testing.assert_allclose(got.values, wanted, atol=1e-6, rtol=0)
    np.testing.assert_allclose(got.base, float(np.ravel(tree.expected_value)[0]), atol=1e-6)
    margin = model.decision_function(rows[FEATURES])
    np.testing.assert_allclose(got.base + got.values.sum(axis=1), margin, atol=1e-6)


def test_logistic_pipeline_equals_linear_explainer_at_the_training_baseline(
    frame: pd.DataFrame, rows: pd.DataFrame
) -> None:
    model = Pipeline([("encode", _encoder()), ("model", LogisticRegression(max_iter=500))])
    model.fit(frame[FEATURES], frame["y"])
    explainer = _explainer(model, frame, FEATURES)
    got = explainer.explain(rows, None)
    assert got.method == LINEAR
    assert explainer.baseline is not None
    background = model[:-1].transform(explainer.baseline)
    masker = shap.maskers.Independent(background, max_samples=1)
    linear = shap.LinearExplainer(model[-1], masker)
    expected = linear.shap_values(model[:-1].transform(rows))
    wanted = _by_source(np.asarray(expected), [2, 2, 2, 0, 1], 3)
    np.testing.assert_allclose(got.values, wanted, atol=1e-6, rtol=0)
    np.testing.assert_allclose(got.base, float(np.ravel(linear.expected_value)[0]), atol=1e-6)
    margin = model.decision_function(rows[FEATURES])
    np.testing.assert_allclose(got.base + got.values.sum(axis=1), margin, atol=1e-6)
    # The baseline is the profile's mean income and most frequent city.
    assert explainer.baseline["income"].iloc[0] == pytest.approx(frame["income"].mean())
    assert explainer.baseline["city"].iloc[0] == frame["city"].mode().iloc[0]


def test_lightgbm_native_contributions_equal_tree_explainer(
    frame: pd.DataFrame, rows: pd.DataFrame
) -> None:
    lightgbm = pytest.importorskip("lightgbm")
    model = lightgbm.LGBMClassifier(n_estimators=30, verbose=-1).fit(frame[NUMERIC], frame["y"])
    got = _explainer(model, frame, NUMERIC).explain(rows[NUMERIC], None)
    assert got.method == TREE_SHAP
    expected = np.asarray(shap.TreeExplainer(model).shap_values(rows[NUMERIC]))
    expected = expected[:, :, 1] if expected.ndim == 3 else expected
    np.testing.assert_allclose(got.values, expected, atol=1e-6, rtol=0)


def test_xgboost_native_contributions_equal_tree_explainer(
    frame: pd.DataFrame, rows: pd.DataFrame
) -> None:
    xgboost = pytest.importorskip("xgboost")
    model = xgboost.XGBClassifier(n_estimators=30, max_depth=3).fit(frame[NUMERIC], frame["y"])
    got = _explainer(model, frame, NUMERIC).explain(rows[NUMERIC], None)
    assert got.method == TREE_SHAP
    expected = np.asarray(shap.TreeExplainer(model).shap_values(rows[NUMERIC]))
    np.testing.assert_allclose(got.values, expected, atol=1e-5, rtol=1e-5)


def test_regressor_tree_values_add_up_to_the_prediction(frame: pd.DataFrame) -> None:
    model = RandomForestRegressor(n_estimators=10, random_state=0).fit(
        frame[NUMERIC], frame["income"] * 2
    )
    got = _explainer(model, frame, NUMERIC).explain(frame[NUMERIC].head(5), None)
    assert got.output == "prediction"
    np.testing.assert_allclose(
        got.base + got.values.sum(axis=1), model.predict(frame[NUMERIC].head(5)), atol=1e-6
    )


def test_other_models_are_explained_by_named_occlusion(
    frame: pd.DataFrame, rows: pd.DataFrame
) -> None:
    model = Pipeline([("encode", _encoder()), ("model", KNeighborsClassifier())])
    model.fit(frame[FEATURES], frame["y"])
    explainer = _explainer(model, frame, FEATURES)
    got = explainer.explain(rows.head(3), None)
    assert got.method == OCCLUSION and "not Shapley values" in explainer.note
    assert explainer.baseline is not None
    # Known answer: income's value is the score change when income alone takes its baseline.
    record = rows.head(1).reset_index(drop=True)
    moved = record.copy()
    moved["income"] = explainer.baseline["income"].iloc[0]
    change = model.predict_proba(record)[0, 1] - model.predict_proba(moved)[0, 1]
    assert got.values[0, 1] == pytest.approx(change, abs=1e-12)
    assert got.base[0] == pytest.approx(model.predict_proba(explainer.baseline)[0, 1])
