"""Scoring shortcuts give exactly the model's own predict and predict_proba."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import (
    ExtraTreesClassifier,
    GradientBoostingClassifier,
    HistGradientBoostingClassifier,
    RandomForestClassifier,
)
from sklearn.linear_model import LogisticRegression
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder
from sklearn.tree import DecisionTreeClassifier

from govml.flavors import flavor_for, get_flavor
from govml.mitigation import threshold_optimized
from govml.serving.scoring import Scorer


def data(n: int = 400, seed: int = 0) -> tuple[pd.DataFrame, pd.Series]:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "x": rng.normal(size=n),
            "z": rng.normal(size=n),
            "group": rng.choice(["a", "b", "c"], size=n),
        }
    )
    label = frame["x"] + (frame["group"] == "b") + rng.normal(scale=1.0, size=n) > 0.5
    return frame, label.astype("int64")


def pipeline(estimator: Any) -> Pipeline:
    encode = ColumnTransformer(
        [("group", OneHotEncoder(handle_unknown="ignore"), ["group"])], remainder="passthrough"
    )
    return Pipeline([("encode", encode), ("model", estimator)])


def loaded(model: Any) -> Any:
    serialized = flavor_for(model).dump(model)
    return get_flavor(serialized.flavor).load(serialized.data, serialized.options)


@pytest.mark.parametrize(
    "estimator",
    [
        LogisticRegression(),
        HistGradientBoostingClassifier(max_iter=20, random_state=0),
        GradientBoostingClassifier(n_estimators=20, random_state=0),
        RandomForestClassifier(n_estimators=10, random_state=0),
        ExtraTreesClassifier(n_estimators=10, random_state=0),
        DecisionTreeClassifier(random_state=0),
        KNeighborsClassifier(n_neighbors=4),  # not on the list: both methods are called
    ],
    ids=lambda e: type(e).__name__,
)
def test_scores_equal_predict_and_predict_proba(estimator: Any) -> None:
    frame, label = data()
    fitted = pipeline(estimator).fit(frame, label)
    scorer = Scorer(loaded(fitted), probabilities=True)
    assert scorer.head is not None
    assert scorer.argmax == (type(estimator).__name__ != "KNeighborsClassifier")
    test, _ = data(seed=1)
    predictions, probabilities = scorer(test)
    np.testing.assert_array_equal(predictions, fitted.predict(test))
    np.testing.assert_array_equal(probabilities, fitted.predict_proba(test))


def test_exact_ties_fall_back_to_predict() -> None:
    frame = pd.DataFrame({"x": [0.0, 0.0, 1.0, 1.0]})
    label = pd.Series([0, 1, 0, 1])
    model = DecisionTreeClassifier().fit(frame, label)  # every leaf is a 50 / 50 tie
    scorer = Scorer(loaded(model), probabilities=True)
    assert scorer.head is None and scorer.argmax
    predictions, probabilities = scorer(frame)
    np.testing.assert_array_equal(predictions, model.predict(frame))
    assert (probabilities == 0.5).all()


def test_mitigated_classifiers_are_asked_for_their_own_decision() -> None:
    frame, label = data(n=600)
    base = pipeline(LogisticRegression()).fit(frame, label)
    mitigated = threshold_optimized(base, frame, label, sensitive="group")
    scorer = Scorer(loaded(mitigated), probabilities=True)
    assert not scorer.argmax
    predictions, probabilities = scorer(frame)
    np.testing.assert_array_equal(predictions, mitigated.predict(frame))
    np.testing.assert_array_equal(probabilities, mitigated.predict_proba(frame))


def test_regressors_give_predictions_only() -> None:
    from sklearn.linear_model import LinearRegression

    frame, label = data()
    model = pipeline(LinearRegression()).fit(frame, label.astype(float))
    predictions, probabilities = Scorer(loaded(model), probabilities=False)(frame)
    assert probabilities is None
    np.testing.assert_array_equal(predictions, model.predict(frame))
