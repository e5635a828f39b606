"""XGBoost flavor: UBJSON round trips for the sklearn wrappers and raw Boosters."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import polars as pl
import pytest

xgb = pytest.importorskip("xgboost")

from govml.errors import FlavorError, InputError  # noqa: E402
from govml.flavors import flavor_for, get_flavor  # noqa: E402


@pytest.fixture(scope="module")
def data() -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(3)
    n = 200
    X = pd.DataFrame(
        {
            "age": rng.integers(18, 80, n).astype(float),
            "income": rng.normal(50, 10, n),
            "region": pd.Categorical(rng.choice(["north", "south", "east"], n)),
        }
    )
    score = X["age"] / 20 + (X["region"] == "south") + rng.normal(0, 0.5, n)
    y = np.digitize(score, [2.5, 3.5])  # three classes: 0, 1, 2
    return X, y


@pytest.fixture(scope="module")
def classifier(data) -> object:
    X, y = data
    return xgb.XGBClassifier(n_estimators=8, max_depth=3, enable_categorical=True).fit(X, y)


def _round_trip(model: object):
    flavor = flavor_for(model)
    serialized = flavor.dump(model)
    return serialized, flavor.load(serialized.data, serialized.options)


def test_classifier_round_trip(data, classifier) -> None:
    X, _ = data
    serialized, loaded = _round_trip(classifier)
    assert serialized.flavor == "xgboost"
    assert serialized.options["model_type"] == "classifier"
    assert serialized.options["objective"] == "multi:softprob"
    assert serialized.options["num_class"] == 3
    assert serialized.options["classes"] == [0, 1, 2]
    np.testing.assert_array_equal(loaded.predict(X), classifier.predict(X))
    np.testing.assert_allclose(loaded.predict_proba(X), classifier.predict_proba(X), atol=1e-6)
    np.testing.assert_array_equal(loaded.classes, [0, 1, 2])


def test_string_and_polars_inputs_for_categorical_features(data, classifier) -> None:
    X, _ = data
    _, loaded = _round_trip(classifier)
    expected = classifier.predict_proba(X)
    as_strings = X.astype({"region": str})
    np.testing.assert_allclose(loaded.predict_proba(as_strings), expected, atol=1e-6)
    np.testing.assert_allclose(loaded.predict_proba(pl.from_pandas(X)), expected, atol=1e-6)


def test_regressor_round_trip_has_no_proba(data) -> None:
    X, _ = data
    model = xgb.XGBRegressor(n_estimators=5, enable_categorical=True).fit(X, X["income"])
    serialized, loaded = _round_trip(model)
    assert serialized.options["model_type"] == "regressor"
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))
    with pytest.raises(FlavorError, match="has no predict_proba"):
        loaded.predict_proba(X)


def test_a_binary_booster_is_a_classifier(data) -> None:
    X, _ = data
    numeric = X[["age", "income"]]
    label = (numeric["age"] > 45).astype(int)
    booster = xgb.train(
        {"objective": "binary:logistic", "max_depth": 2},
        xgb.DMatrix(numeric, label=label),
        num_boost_round=5,
    )
    serialized, loaded = _round_trip(booster)
    assert serialized.options["model_type"] == "classifier"
    assert serialized.options["task"] == "classification"
    assert serialized.options["num_class"] == 2
    assert serialized.options["classes"] == [0, 1]
    expected = booster.predict(xgb.DMatrix(numeric))
    # Labels, never the probabilities the Booster returns.
    np.testing.assert_array_equal(loaded.predict(numeric), (expected > 0.5).astype(int))
    proba = loaded.predict_proba(numeric)
    np.testing.assert_allclose(proba[:, 1], expected, atol=1e-7)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-7)
    # A version recorded as a bare booster loads as the classifier it is.
    legacy = get_flavor("xgboost").load(serialized.data, {"model_type": "booster"})
    np.testing.assert_array_equal(legacy.predict(numeric), (expected > 0.5).astype(int))


def test_dumps_are_byte_stable(classifier) -> None:
    flavor = get_flavor("xgboost")
    first = flavor.dump(classifier)
    assert flavor.dump(classifier).data == first.data
    reloaded = flavor.load(first.data, first.options).raw
    assert flavor.dump(reloaded).data == first.data


@pytest.mark.parametrize("suffix", ["json", "ubj"])
def test_from_file_recognises_wrapper_files(tmp_path, data, classifier, suffix) -> None:
    X, _ = data
    path = tmp_path / f"model.{suffix}"
    classifier.save_model(path)
    serialized = get_flavor("xgboost").from_file(path)
    assert serialized.data == path.read_bytes()
    assert serialized.options["model_type"] == "classifier"
    assert serialized.options["estimator"] == "xgboost.sklearn.XGBClassifier"
    loaded = get_flavor("xgboost").load(serialized.data, serialized.options)
    np.testing.assert_array_equal(loaded.predict(X), classifier.predict(X))


@pytest.mark.parametrize("damage", ["truncated", "garbage", "empty"])
def test_corrupted_bytes_raise_flavor_error(classifier, damage) -> None:
    serialized = get_flavor("xgboost").dump(classifier)
    data = {
        "truncated": serialized.data[: len(serialized.data) // 2],
        "garbage": b"\x00\x01garbage",
        "empty": b"",
    }[damage]
    with pytest.raises(FlavorError, match="not a valid XGBoost model") as caught:
        get_flavor("xgboost").load(data, serialized.options)
    assert "Stack trace" not in caught.value.message


def test_every_truncation_is_refused_not_fatal(classifier) -> None:
    # XGBoost crashes the process on some truncated UBJSON documents.
    data = get_flavor("xgboost").dump(classifier).data
    for cut in range(0, len(data), 131):
        with pytest.raises(FlavorError, match="truncated|empty"):
            get_flavor("xgboost").load(data[:cut], {"model_type": "booster"})


@pytest.mark.parametrize(
    ("edit", "reason"),
    [
        (lambda tree: tree["left_children"].__setitem__(0, 999), "left_children entry outside"),
        (lambda tree: tree["right_children"].__setitem__(0, -1), "only one child"),
        (lambda tree: tree["split_indices"].__setitem__(0, 7), "feature that does not exist"),
        (lambda tree: tree["parents"].__setitem__(1, -5), "parent outside"),
        (lambda tree: tree["base_weights"].pop(), "base_weights has"),
    ],
    ids=["child", "one-child", "feature", "parent", "short-array"],
)
def test_inconsistent_trees_are_refused(classifier, edit, reason) -> None:
    # Well-formed JSON whose indices XGBoost would follow out of its arrays.
    document = json.loads(bytes(classifier.get_booster().save_raw("json")))
    edit(document["learner"]["gradient_booster"]["model"]["trees"][0])
    with pytest.raises(FlavorError, match=reason):
        get_flavor("xgboost").load(json.dumps(document).encode(), {"model_type": "booster"})


def test_wrong_columns_are_an_input_error(data, classifier) -> None:
    X, _ = data
    _, loaded = _round_trip(classifier)
    with pytest.raises(InputError, match="missing column.*: income"):
        loaded.predict(X.drop(columns="income"))
    with pytest.raises(InputError, match="cannot score this input"):
        loaded.predict(X.assign(income="high"))


def test_unfitted_wrapper_is_refused() -> None:
    with pytest.raises(FlavorError, match="not fitted"):
        get_flavor("xgboost").dump(xgb.XGBClassifier())
