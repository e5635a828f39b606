"""What kind of model an explainer sees, and where a pipeline's features come from.

For a scikit-learn ``Pipeline`` whose last step is a tree or linear model, govml explains
that last step on the transformed features (fast, exact SHAP values) and adds each
transformed feature's SHAP values back to the input column it was made from: the
one-hot columns of ``sex`` add up to the contribution of ``sex``. SHAP values are
additive, so the sum is the contribution of the source column to each prediction.
:func:`source_columns` builds that map; when a step mixes columns (PCA, polynomial
features) there is none, and the caller explains the whole pipeline instead.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

ModelKind = Literal["tree", "linear", "other"]

TREE_CLASSES = frozenset(
    {
        "DecisionTreeClassifier",
        "DecisionTreeRegressor",
        "ExtraTreeClassifier",
        "ExtraTreeRegressor",
        "ExtraTreesClassifier",
        "ExtraTreesRegressor",
        "GradientBoostingClassifier",
        "GradientBoostingRegressor",
        "HistGradientBoostingClassifier",
        "HistGradientBoostingRegressor",
        "RandomForestClassifier",
        "RandomForestRegressor",
    }
)
"""scikit-learn estimators that SHAP's tree explainer reads."""

_LINEAR_MODULES = ("sklearn.linear_model", "sklearn.svm")


def split_pipeline(model: Any) -> tuple[Any | None, Any]:
    """Return ``(preprocessing, final estimator)``; preprocessing is None for a bare model."""
    steps = getattr(model, "steps", None)
    if type(model).__name__ == "Pipeline" and steps:
        final = steps[-1][1]
        return (model[:-1] if len(steps) > 1 else None), final
    return None, model


def model_kind(estimator: Any) -> ModelKind:
    """Classify an estimator for explainer selection, without importing its framework.

    Parameters
    ----------
    estimator : object
        A fitted model (not a pipeline).

    Returns
    -------
    str
        ``tree`` for XGBoost and LightGBM models and scikit-learn tree ensembles,
        ``linear`` for scikit-learn linear models, ``other`` for anything else.
    """
    kind = type(estimator)
    top = kind.__module__.split(".", 1)[0]
    if top in ("xgboost", "lightgbm"):
        return "tree"
    if top == "sklearn" and kind.__name__ in TREE_CLASSES:
        return "tree"
    if kind.__module__.startswith(_LINEAR_MODULES) and hasattr(estimator, "coef_"):
        return "linear"
    return "other"


def input_features(model: Any) -> list[str] | None:
    """Return the column names a model was trained on, when it recorded them."""
    names = getattr(model, "feature_names_in_", None)
    if names is not None:
        return [str(name) for name in names]
    for candidate in (getattr(model, "get_booster", None), getattr(model, "booster_", None)):
        booster = candidate() if callable(candidate) else candidate
        found = _booster_features(booster)
        if found is not None:
            return found
    return _booster_features(model)


def _booster_features(booster: Any) -> list[str] | None:
    if booster is None:
        return None
    names = getattr(booster, "feature_names", None)  # xgboost.Booster
    if names:
        return [str(name) for name in names]
    feature_name = getattr(booster, "feature_name", None)  # lightgbm.Booster
    if callable(feature_name):
        found = feature_name()
        if found and not all(str(name).startswith("Column_") for name in found):
            return [str(name) for name in found]
    return None


def source_columns(preprocessing: Any, features: Sequence[str]) -> NDArray[np.int64] | None:
    """Map each transformed feature to the index of the input column it comes from.

    Parameters
    ----------
    preprocessing : sklearn Pipeline
        The pipeline without its final estimator.
    features : sequence of str
        The pipeline's input columns, in order.

    Returns
    -------
    numpy.ndarray or None
        One input-column index per transformed feature, or None when some transformed
        feature does not come from exactly one input column.
    """
    steps = [step for _, step in preprocessing.steps]
    if len(steps) == 1 and type(steps[0]).__name__ == "ColumnTransformer":
        return _column_transformer_sources(steps[0], list(features))
    try:
        names = [str(name) for name in preprocessing.get_feature_names_out(list(features))]
    except (AttributeError, ValueError, TypeError):
        return None
    return _by_name(names, list(features), range(len(features)))


def _column_transformer_sources(transformer: Any, features: list[str]) -> NDArray[np.int64] | None:
    width = max((part.stop for part in transformer.output_indices_.values()), default=0)
    sources = np.full(width, -1, dtype=np.int64)
    for name, step, columns in transformer.transformers_:
        part = transformer.output_indices_.get(name)
        if step == "drop" or part is None or part.stop == part.start:
            continue
        indices = _column_indices(columns, features)
        if indices is None:
            return None
        mapped = _step_sources(step, [features[i] for i in indices], indices)
        if mapped is None or len(mapped) != part.stop - part.start:
            return None
        sources[part] = mapped
    return None if (sources < 0).any() else sources


def _step_sources(step: Any, names: list[str], indices: list[int]) -> NDArray[np.int64] | None:
    if step == "passthrough":
        return np.asarray(indices, dtype=np.int64)
    try:
        out = [str(name) for name in step.get_feature_names_out(names)]
    except (AttributeError, ValueError, TypeError):
        return None
    if len(indices) == 1:
        return np.full(len(out), indices[0], dtype=np.int64)
    return _by_name(out, names, indices)


def _by_name(out: list[str], names: list[str], indices: Sequence[int]) -> NDArray[np.int64] | None:
    """Map output names to inputs: equal names, or ``<input>_<suffix>`` (one-hot style)."""
    if out == names:
        return np.asarray(list(indices), dtype=np.int64)
    by_length = sorted(zip(names, indices, strict=True), key=lambda item: -len(item[0]))
    mapped = []
    for name in out:
        source = next(
            (
                index
                for column, index in by_length
                if name == column or name.startswith(column + "_")
            ),
            None,
        )
        if source is None:
            return None
        mapped.append(source)
    return np.asarray(mapped, dtype=np.int64)


def _column_indices(columns: Any, features: list[str]) -> list[int] | None:
    if isinstance(columns, str | int):
        columns = [columns]
    items = list(np.asarray(columns).tolist()) if not isinstance(columns, list) else columns
    if items and all(isinstance(item, bool) for item in items):
        return [i for i, keep in enumerate(items) if keep]
    out = []
    for item in items:
        if isinstance(item, int):
            out.append(item)
        elif item in features:
            out.append(features.index(item))
        else:
            return None
    return out
