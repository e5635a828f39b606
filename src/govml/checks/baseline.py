"""Simpler baselines fitted on the training data, scored like the candidate.

``majority`` predicts the training data's most frequent class (its class shares as
scores), or its mean for a regression (scikit-learn's ``DummyClassifier`` /
``DummyRegressor``). ``linear`` is a regularised linear model on the same input columns:
missing numbers imputed with the median and standardised, categories (missing as their own
value) one-hot encoded, then a logistic regression (L2, C = 1) or a ridge regression
(alpha = 1). Both are seeded and deterministic.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from govml.checks.robustness import numeric_columns

HIGHER_BETTER = frozenset({"accuracy", "balanced_accuracy", "roc_auc", "r2"})
NEEDS_SCORES = frozenset({"roc_auc"})


@dataclass(frozen=True, kw_only=True)
class Fitted:
    """A baseline's predictions on the evaluation rows and its description."""

    name: str
    description: str
    predictions: np.ndarray[Any, Any]
    scores: np.ndarray[Any, Any] | None


def metric_value(
    name: str,
    truth: np.ndarray[Any, Any],
    predictions: np.ndarray[Any, Any],
    scores: np.ndarray[Any, Any] | None,
) -> float:
    """Return metric ``name`` (scikit-learn's) of predictions, or of scores for ROC AUC."""
    from sklearn import metrics

    if name == "roc_auc":
        return float(metrics.roc_auc_score(truth, scores))
    function = {
        "accuracy": metrics.accuracy_score,
        "balanced_accuracy": metrics.balanced_accuracy_score,
        "mean_absolute_error": metrics.mean_absolute_error,
        "root_mean_squared_error": metrics.root_mean_squared_error,
        "r2": metrics.r2_score,
    }[name]
    return float(function(truth, predictions))


def fit_baseline(
    name: str,
    train: pd.DataFrame,
    labels: np.ndarray[Any, Any],
    evaluate: pd.DataFrame,
    *,
    regression: bool,
    positive: Any = None,
    random_state: int = 0,
) -> Fitted:
    """Fit baseline ``name`` (``majority`` or ``linear``) and predict the evaluation rows."""
    from sklearn.dummy import DummyClassifier, DummyRegressor
    from sklearn.linear_model import LogisticRegression, Ridge

    model: Any
    if name == "majority":
        model = DummyRegressor() if regression else DummyClassifier(strategy="prior")
        description = "the mean of the training target" if regression else "the majority class"
        model.fit(np.zeros((len(labels), 1)), labels)
        features_train: Any = np.zeros((len(labels), 1))
        features_eval: Any = np.zeros((len(evaluate), 1))
    else:
        estimator = (
            Ridge(alpha=1.0)
            if regression
            else LogisticRegression(C=1.0, max_iter=2000, random_state=random_state)
        )
        model = _linear(list(train.columns), train, estimator)
        description = "ridge regression" if regression else "logistic regression (L2)"
        features_train, features_eval = _as_text(train), _as_text(evaluate)
    model.fit(features_train, labels)
    predictions = np.asarray(model.predict(features_eval))
    scores = None
    if not regression and positive is not None:
        classes = list(model.classes_)
        if positive in classes:
            scores = np.asarray(model.predict_proba(features_eval))[:, classes.index(positive)]
    return Fitted(name=name, description=description, predictions=predictions, scores=scores)


def _as_text(frame: pd.DataFrame) -> pd.DataFrame:
    """Return ``frame`` with every non-numeric column as text (missing kept missing)."""
    out = frame.copy()
    for column in out.columns:
        if str(column) not in numeric_columns(frame):
            values = out[column].astype(object)
            out[column] = values.where(values.isna(), values.astype(str))
    return out


def _linear(columns: Sequence[Any], frame: pd.DataFrame, estimator: Any) -> Any:
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline, make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    numeric = numeric_columns(frame)
    categorical = [str(c) for c in columns if str(c) not in numeric]
    encode = ColumnTransformer(
        [
            ("num", make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), numeric),
            (
                "cat",
                make_pipeline(
                    SimpleImputer(strategy="constant", fill_value="missing"),
                    OneHotEncoder(handle_unknown="ignore"),
                ),
                categorical,
            ),
        ]
    )
    return Pipeline([("encode", encode), ("model", estimator)])
