"""SHAP importance: known answers from closed forms and from the frameworks' own TreeSHAP."""

from __future__ import annotations

import json

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest
import xgboost as xgb
from sklearn.compose import ColumnTransformer
from sklearn.decomposition import PCA
from sklearn.ensemble import HistGradientBoostingRegressor, RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from govml.checks import Explanation, explain
from govml.demo.adult import CATEGORICAL, NUMERIC, TARGET, datasets_dir, load_adult
from govml.demo.run import build_pipeline
from govml.errors import InputError
from govml.flavors import LoadedModel, flavor_for, get_flavor
from govml.flavors.sklearn import SklearnModel


def _loaded(model: object) -> LoadedModel:
    serialized = flavor_for(model).dump(model)
    return get_flavor(serialized.flavor).load(serialized.data, serialized.options)


@pytest.fixture(scope="module")
def data() -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(0)
    n = 240
    frame = pd.DataFrame(
        {
            "a": rng.normal(size=n),
            "b": rng.normal(size=n),
            "color": rng.choice(["red", "green", "blue"], size=n),
            "unused": rng.normal(size=n),
        }
    )
    signal = 2 * frame["a"] + 1.5 * (frame["color"] == "red") + rng.normal(scale=0.5, size=n)
    return frame, (signal > 0.5).to_numpy().astype(int)


def _preprocessing() -> ColumnTransformer:
    # "unused" is dropped by the transformer: the model never sees it.
    return ColumnTransformer(
        [("num", StandardScaler(), ["a", "b"]), ("cat", OneHotEncoder(), ["color"])],
        remainder="drop",
    )


def test_linear_pipeline_sums_one_hot_contributions_per_input_column(data: tuple) -> None:
    frame, y = data
    pipeline = Pipeline([("pre", _preprocessing()), ("lr", LogisticRegression())]).fit(frame, y)
    n = len(frame)
    result = explain(_loaded(pipeline), frame, sample_rows=n, background_rows=n)
    assert (result.explainer, result.level, result.output) == ("linear", "aggregated", "log_odds")
    # Closed form of interventional linear SHAP: coef * (x - background mean), summed over
    # each input column's transformed features.
    z = pipeline[0].transform(frame)
    phi = (z - z.mean(axis=0)) * pipeline[-1].coef_[0]
    expected = {
        "a": np.abs(phi[:, 0]).mean(),
        "b": np.abs(phi[:, 1]).mean(),
        "color": np.abs(phi[:, 2:5].sum(axis=1)).mean(),
        "unused": 0.0,
    }
    assert result.importance == pytest.approx(expected, rel=1e-6)
    assert list(result.importance) == result.top(4) == ["a", "color", "b", "unused"]


def test_multiclass_importance_is_the_sum_over_classes(data: tuple) -> None:
    frame, _ = data
    y = np.digitize(frame["a"], [-0.5, 0.5])
    model = LogisticRegression().fit(frame[["a", "b"]], y)
    n = len(frame)
    result = explain(_loaded(model), frame[["a", "b"]], sample_rows=n, background_rows=n)
    x = frame[["a", "b"]].to_numpy()
    per_class = [np.abs((x - x.mean(axis=0)) * coef).mean(axis=0) for coef in model.coef_]
    assert [result.importance["a"], result.importance["b"]] == pytest.approx(
        np.sum(per_class, axis=0), rel=1e-6
    )


def test_tree_pipeline_matches_xgboost_own_tree_shap(data: tuple) -> None:
    frame, y = data
    booster_model = xgb.XGBClassifier(n_estimators=25, max_depth=3)
    pipeline = Pipeline([("pre", _preprocessing()), ("xgb", booster_model)]).fit(frame, y)
    # skops refuses XGBoost objects inside a scikit-learn pipeline; wrap the object directly.
    result = explain(SklearnModel(raw=pipeline, classes=None), frame, sample_rows=len(frame))
    assert (result.explainer, result.level, result.output) == ("tree", "aggregated", "log_odds")
    z = pipeline[0].transform(frame)
    contributions = pipeline[-1].get_booster().predict(xgb.DMatrix(z), pred_contribs=True)[:, :-1]
    groups = {"a": [0], "b": [1], "color": [2, 3, 4]}
    expected = {
        name: np.abs(contributions[:, cols].sum(axis=1)).mean() for name, cols in groups.items()
    }
    expected["unused"] = 0.0
    assert result.importance == pytest.approx(expected, rel=1e-4, abs=1e-6)


def test_bare_boosters_match_their_native_contributions(data: tuple) -> None:
    frame, y = data
    x = frame[["a", "b", "unused"]]
    lgbm = lgb.LGBMClassifier(n_estimators=20, verbose=-1).fit(x, y)
    result = explain(_loaded(lgbm), frame, sample_rows=len(frame))  # extra columns are ignored
    native = lgbm.booster_.predict(x, pred_contrib=True)[:, :-1]
    assert (result.explainer, result.level) == ("tree", "input")
    assert [result.importance[c] for c in x.columns] == pytest.approx(
        np.abs(native).mean(axis=0), rel=1e-6
    )
    # XGBoost with a native categorical column given as text, as its flavor accepts it.
    categorical = frame.assign(color=frame["color"].astype("category"))
    model = xgb.XGBClassifier(n_estimators=20, enable_categorical=True, tree_method="hist")
    model.fit(categorical, y)
    result = explain(_loaded(model), frame, sample_rows=len(frame))
    native = model.get_booster().predict(
        xgb.DMatrix(categorical, enable_categorical=True), pred_contribs=True
    )[:, :-1]
    expected = dict(zip(categorical.columns, np.abs(native).mean(axis=0), strict=True))
    assert result.importance == pytest.approx(expected, rel=1e-4, abs=1e-6)


def test_forests_explain_probabilities_and_regressors_predictions(data: tuple) -> None:
    frame, y = data
    x = frame[["a", "b"]]
    forest = RandomForestClassifier(n_estimators=10, max_depth=3, random_state=0).fit(x, y)
    result = explain(_loaded(forest), x, sample_rows=50)
    assert (result.explainer, result.output, result.sample_rows) == ("tree", "probability", 50)
    regressor = HistGradientBoostingRegressor(max_iter=10).fit(x, 3 * frame["a"])
    result = explain(_loaded(regressor), x.to_numpy(), sample_rows=50)
    assert result.output == "prediction" and result.top(1) == ["a"]  # names from the model


def test_model_agnostic_explainers_rank_the_only_informative_feature_first(data: tuple) -> None:
    frame, y = data
    x = frame[["a", "b", "color"]]
    knn = Pipeline([("pre", _preprocessing()), ("knn", KNeighborsClassifier(n_neighbors=15))]).fit(
        x, y
    )
    model = _loaded(knn)
    permutation = explain(model, x, sample_rows=40, background_rows=20)
    assert (permutation.explainer, permutation.level, permutation.output) == (
        "permutation",
        "input",
        "probability",
    )
    assert permutation.top(1) == ["a"] and permutation.importance["b"] < permutation.importance["a"]
    kernel = explain(model, x, explainer="kernel", sample_rows=10, background_rows=10, max_evals=64)
    assert kernel.explainer == "kernel" and kernel.top(1) == ["a"]
    # A pipeline step that mixes columns cannot be summed back: auto falls back, and says so.
    mixed = Pipeline(
        [("pre", _preprocessing()), ("pca", PCA(3)), ("lr", LogisticRegression())]
    ).fit(x, y)
    fallback = explain(_loaded(mixed), x, sample_rows=20, background_rows=10)
    assert fallback.explainer == "permutation" and "mixes columns" in (
        fallback.fallback_reason or ""
    )
    with pytest.raises(InputError, match="mixes columns"):
        explain(_loaded(mixed), x, explainer="linear")


def test_usage_errors(data: tuple) -> None:
    frame, y = data
    model = _loaded(LogisticRegression().fit(frame[["a", "b"]], y))
    with pytest.raises(InputError, match="needs a tree model") as caught:
        explain(model, frame, explainer="tree")
    assert "LogisticRegression" in caught.value.message
    with pytest.raises(InputError, match="unknown explainer") as caught:
        explain(model, frame, explainer="permutaton")
    assert caught.value.hint == "did you mean 'permutation'?"
    with pytest.raises(InputError, match="lacks 1 column"):
        explain(model, frame[["a"]])
    with pytest.raises(InputError, match="sample_rows"):
        explain(model, frame, sample_rows=0)


def test_explanation_round_trips_and_becomes_evidence(data: tuple) -> None:
    frame, y = data
    model = _loaded(LogisticRegression().fit(frame[["a", "b"]], y))
    explanation = explain(model, frame, sample_rows=30, background_rows=10)
    assert Explanation.from_dict(json.loads(json.dumps(explanation.to_dict()))) == explanation
    result = explanation.as_result(top_k=1)
    assert result.value == ["a"] and result.evidence["importance"] == explanation.importance
    assert result.category == "explainability" and result.status == "pass"


@pytest.mark.datasets
def test_adult_income_pipeline_is_explained_per_census_column() -> None:
    if not (datasets_dir() / "adult").is_dir():
        pytest.skip(f"the shared datasets are not at {datasets_dir()}")
    train, test = load_adult("train"), load_adult("test")
    features = CATEGORICAL + NUMERIC
    pipeline = build_pipeline(max_iter=30).fit(train[features], train[TARGET])
    result = explain(_loaded(pipeline), test, sample_rows=300)
    assert (result.explainer, result.level) == ("tree", "aggregated")
    assert set(result.importance) == set(features)
    # Marital status / relationship dominate income models on this data; the sampling
    # weight does not.
    assert {"marital_status", "relationship"} & set(result.top(2))
    assert "fnlwgt" not in result.top(3)
