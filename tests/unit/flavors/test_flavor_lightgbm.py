"""LightGBM flavor: model-text round trips, and damaged text refused before LightGBM sees it."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

lgb = pytest.importorskip("lightgbm")

from govml.errors import FlavorError  # noqa: E402
from govml.flavors import flavor_for, get_flavor  # noqa: E402


@pytest.fixture(scope="module")
def data() -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(5)
    n = 300
    X = pd.DataFrame(
        {
            "age": rng.integers(18, 80, n).astype(float),
            "income": rng.normal(50, 10, n),
            "region": pd.Categorical(rng.choice(["north", "south", "east"], n)),
        }
    )
    y = np.where((X["age"] > 45) ^ (X["region"] == "south"), "approve", "decline")
    return X, y


@pytest.fixture(scope="module")
def classifier(data) -> object:
    X, y = data
    return lgb.LGBMClassifier(n_estimators=6, num_leaves=7, verbose=-1).fit(X, y)


def _round_trip(model: object):
    flavor = flavor_for(model)
    serialized = flavor.dump(model)
    return serialized, flavor.load(serialized.data, serialized.options)


def test_classifier_with_string_labels_round_trip(data, classifier) -> None:
    X, _ = data
    serialized, loaded = _round_trip(classifier)
    assert serialized.flavor == "lightgbm"
    assert serialized.options["model_type"] == "classifier"
    assert serialized.options["objective"].startswith("binary")
    assert serialized.options["classes"] == ["approve", "decline"]
    np.testing.assert_array_equal(loaded.predict(X), classifier.predict(X))
    np.testing.assert_allclose(loaded.predict_proba(X), classifier.predict_proba(X), atol=1e-6)
    np.testing.assert_array_equal(loaded.classes, classifier.classes_)


def test_multiclass_classifier_round_trip(data) -> None:
    X, _ = data
    y = np.digitize(X["income"], [45, 55])
    model = lgb.LGBMClassifier(n_estimators=4, num_leaves=5, verbose=-1).fit(X, y)
    _, loaded = _round_trip(model)
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))
    np.testing.assert_allclose(loaded.predict_proba(X), model.predict_proba(X), atol=1e-6)


def test_regressor_round_trip(data) -> None:
    X, _ = data
    model = lgb.LGBMRegressor(n_estimators=5, num_leaves=5, verbose=-1).fit(X, X["income"])
    serialized, loaded = _round_trip(model)
    assert serialized.options["model_type"] == "regressor"
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))
    assert not loaded.has_proba
    with pytest.raises(FlavorError, match="has no predict_proba"):
        loaded.predict_proba(X)


def test_linear_tree_regressor_round_trip(data) -> None:
    X, _ = data
    numeric = X[["age", "income"]]
    model = lgb.LGBMRegressor(n_estimators=3, linear_tree=True, verbose=-1)
    model.fit(numeric, numeric["income"] * 2 + 1)
    _, loaded = _round_trip(model)
    np.testing.assert_array_equal(loaded.predict(numeric), model.predict(numeric))


def test_string_columns_are_mapped_to_the_training_categories(data, classifier) -> None:
    X, _ = data
    _, loaded = _round_trip(classifier)
    # Serving input arrives as text; a batch may also hold the categories in another order.
    as_strings = X.astype({"region": str})
    np.testing.assert_allclose(
        loaded.predict_proba(as_strings), classifier.predict_proba(X), atol=1e-12
    )


def test_a_binary_booster_is_a_classifier(data) -> None:
    X, _ = data
    label = (X["age"] > 45).astype(int)
    booster = lgb.train(
        {"objective": "binary", "verbose": -1, "num_leaves": 5},
        lgb.Dataset(X, label=label),
        num_boost_round=4,
    )
    serialized, loaded = _round_trip(booster)
    assert serialized.options["model_type"] == "classifier"
    assert serialized.options["task"] == "classification"
    assert serialized.options["classes"] == [0, 1]
    expected = booster.predict(X)
    # Labels, never the probabilities the Booster returns.
    np.testing.assert_array_equal(loaded.predict(X), (expected > 0.5).astype(int))
    np.testing.assert_allclose(loaded.predict_proba(X)[:, 1], expected, atol=1e-12)
    np.testing.assert_array_equal(loaded.classes, [0, 1])
    # A version recorded as a bare booster loads as the classifier it is.
    legacy = get_flavor("lightgbm").load(serialized.data, {"model_type": "booster"})
    np.testing.assert_array_equal(legacy.predict(X), (expected > 0.5).astype(int))


def test_dumps_are_byte_stable(classifier) -> None:
    flavor = get_flavor("lightgbm")
    first = flavor.dump(classifier)
    assert flavor.dump(classifier).data == first.data


def test_a_model_file_with_a_classification_objective_is_a_classifier(
    tmp_path, data, classifier
) -> None:
    X, _ = data
    path = tmp_path / "model.txt"
    classifier.booster_.save_model(path)
    serialized = get_flavor("lightgbm").from_file(path)
    assert serialized.data == path.read_bytes()
    assert serialized.options["model_type"] == "classifier"
    # The text keeps no labels: the classes are the model's class indices.
    assert serialized.options["classes"] == [0, 1]
    loaded = get_flavor("lightgbm").load(serialized.data, serialized.options)
    np.testing.assert_allclose(loaded.predict_proba(X), classifier.predict_proba(X), atol=1e-12)
    assert set(loaded.predict(X)) <= {0, 1}


def test_classes_must_match_the_models_outputs(classifier) -> None:
    serialized = get_flavor("lightgbm").dump(classifier)
    options = {**serialized.options, "classes": ["a", "b", "c"]}
    with pytest.raises(FlavorError, match="list 3 classes, the model predicts 2"):
        get_flavor("lightgbm").load(serialized.data, options)


def test_custom_objectives_are_refused(data) -> None:
    X, _ = data

    def squared(y_true: np.ndarray, y_pred: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return y_pred - y_true, np.ones_like(y_pred)

    model = lgb.LGBMRegressor(n_estimators=2, objective=squared, verbose=-1)
    model.fit(X[["age"]], X["income"])
    with pytest.raises(FlavorError, match="custom objective"):
        get_flavor("lightgbm").dump(model)


@pytest.mark.parametrize(
    ("damage", "reason"),
    [
        (lambda t: t[: len(t) // 2], "truncated"),
        (lambda t: t.replace(b"num_cat=", b"num_kat=", 1), "num_cat"),
        (lambda t: t.replace(b"leaf_value=", b"leaf_value=1 ", 1), "leaf_value has"),
        (lambda t: t.replace(b"right_child=", b"right_child=99 ", 1), "right_child"),
        (lambda t: t.replace(b"tree_sizes=", b"tree_sizes=1", 1), "tree"),
        (lambda t: t.replace(b"right_child=1 ", b"right_child=0 ", 1), "not a tree"),
        (lambda t: t.replace(b"leaf_value=", b"leaf_value=1_0 ", 1), "non-numeric leaf_value"),
        (lambda t: t.replace(b"[boosting: gbdt]", b"boosting=gbdt", 1), "parameter line"),
        (lambda t: b"garbage", "does not start"),
        (lambda t: b"", "does not start"),
    ],
    ids=[
        "half",
        "missing-field",
        "short-array",
        "bad-child",
        "bad-sizes",
        "cycle",
        "python-only-number",
        "bad-parameter",
        "garbage",
        "empty",
    ],
)
def test_damaged_model_text_is_refused(classifier, damage, reason) -> None:
    serialized = get_flavor("lightgbm").dump(classifier)
    with pytest.raises(FlavorError, match=f"not a valid LightGBM model: .*{reason}"):
        get_flavor("lightgbm").load(damage(serialized.data), serialized.options)


def test_every_truncation_is_refused_not_fatal(classifier) -> None:
    # LightGBM aborts the process on some truncated models; every cut must be caught.
    data = get_flavor("lightgbm").dump(classifier).data
    end = data.index(b"end of trees")
    for cut in range(0, end, 97):
        with pytest.raises(FlavorError):
            get_flavor("lightgbm").load(data[:cut], {"model_type": "booster"})
