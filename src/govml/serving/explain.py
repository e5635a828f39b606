"""Per-decision explanations at the gateway: each record's feature contributions.

Three methods, chosen once per served version (:func:`explainer_for`):

``tree_shap``
    Exact TreeSHAP (path-dependent, no background data): LightGBM's and XGBoost's own
    ``pred_contrib`` / ``pred_contribs``, and SHAP's ``TreeExplainer`` for scikit-learn trees
    and ensembles (HistGradientBoosting included). In the model's raw output: log-odds of
    the second class for a binary classifier, the predicted class's margin for several.
``linear``
    Exact contributions of a linear model, ``coef * (x - baseline)`` on the features it
    reads: SHAP's linear values with the training baseline as the background (features
    independent). Base value: the model's decision function at the baseline.
``occlusion`` (the bounded fallback for any other model)
    The change of the score (probability of the second class, the predicted class's
    probability, or the prediction) when one input at a time is set to its training
    baseline: one model call on ``inputs + 1`` rows per record. Not Shapley values, and
    named as such in every answer.

For a scikit-learn ``Pipeline`` over a tree or linear model, the last step is explained on
the transformed features and each transformed feature's contribution goes back to the input
column it was made from (:func:`govml.checks._pipeline.source_columns`); a pipeline whose
steps mix columns is explained by occlusion.

The *training baseline* is read from the version's training profile: the mean of a numeric
column (rounded for an integer one), the most frequent value of any other.
"""

from __future__ import annotations

import threading
import warnings
import weakref
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from govml.checks._pipeline import model_kind, source_columns, split_pipeline
from govml.domain.signature import ColumnSpec
from govml.flavors import LoadedModel

TREE_SHAP = "tree_shap"
LINEAR = "linear"
OCCLUSION = "occlusion"
METHOD_NOTES = {
    TREE_SHAP: "exact TreeSHAP values (path-dependent)",
    LINEAR: "exact linear SHAP values against the training baseline",
    OCCLUSION: (
        "not Shapley values: each input's effect on the score when set to its training "
        "baseline, all others kept"
    ),
}
ERR_NO_BASELINE = (
    "{ref} cannot be explained by the {method} method: its training data has no profile "
    "(register it with train_data)"
)


@dataclass(frozen=True)
class Contributions:
    """Contributions per record and input column, and what they add up to.

    ``values[i, j]`` is input ``j``'s contribution to record ``i``'s ``output``; ``base[i]``
    the output at the baseline (or the expected output), so that ``base + values.sum(1)`` is
    the record's output (exactly for ``tree_shap`` and ``linear``).
    """

    method: str
    output: str
    values: NDArray[np.float64]
    base: NDArray[np.float64]


class ExplainUnavailable(Exception):
    """The served version cannot be explained (say why)."""


class DecisionExplainer:
    """Explains records scored by one loaded version.

    Parameters
    ----------
    model : LoadedModel
        The loaded artifact.
    inputs : tuple of ColumnSpec
        The signature's input columns, in order.
    profile : Mapping or None
        The training data's profile (``Profile.to_dict()``), for the baseline.
    ref : str
        The version, for messages.
    """

    def __init__(
        self,
        model: LoadedModel,
        inputs: tuple[ColumnSpec, ...],
        profile: Mapping[str, Any] | None,
        ref: str,
    ) -> None:
        self.model = model
        self.ref = ref
        self.features = [spec.name for spec in inputs]
        self.inputs = inputs
        self.baseline = _baseline(profile, inputs)
        self.classes = None if model.classes is None else list(model.classes)
        self.preprocessing, self.final = split_pipeline(model.raw)
        self.sources: NDArray[np.int64] | None = None
        kind = model_kind(self.final)
        if kind != "other" and self.preprocessing is not None:
            self.sources = source_columns(self.preprocessing, self.features)
            if self.sources is None:
                kind = "other"
        self.method = {"tree": TREE_SHAP, "linear": LINEAR}.get(kind, OCCLUSION)
        self._tree: Any = None
        self._linear_base: NDArray[np.float64] | None = None
        if self.method in (LINEAR, OCCLUSION) and self.baseline is None:
            raise ExplainUnavailable(ERR_NO_BASELINE.format(ref=ref, method=self.method))
        if self.method == TREE_SHAP and _framework(self.final) == "sklearn":
            import shap

            self._tree = shap.TreeExplainer(self.final)
        if self.method == LINEAR:
            assert self.baseline is not None
            self._linear_base = self._transformed(self.baseline)[0]

    @property
    def note(self) -> str:
        """What the values are, in one sentence."""
        return METHOD_NOTES[self.method]

    def explain(
        self,
        frame: pd.DataFrame,
        predicted: NDArray[np.intp] | None,
        transformed: NDArray[np.float64] | None = None,
    ) -> Contributions:
        """Return the contributions for the rows of ``frame``.

        ``predicted`` holds each row's predicted class index (used for multiclass models);
        ``transformed`` the pipeline's output for those rows when scoring computed it.
        """
        given = transformed if transformed is not None and len(transformed) == len(frame) else None
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # feature-name and format warnings of the frameworks
            if self.method == TREE_SHAP:
                return self._tree_shap(frame, predicted, given)
            if self.method == LINEAR:
                return self._linear(frame, predicted, given)
            return self._occlusion(frame, predicted)

    # -- tree ------------------------------------------------------------------------------

    def _tree_shap(
        self,
        frame: pd.DataFrame,
        predicted: NDArray[np.intp] | None,
        given: NDArray[np.float64] | None,
    ) -> Contributions:
        framework = _framework(self.final)
        if framework == "lightgbm":
            # Without a pipeline: the flavor's own input rules (feature order, categoricals).
            rows: Any = (
                self._features(frame, given)
                if self.preprocessing is not None
                else self.model._prepared(frame)  # type: ignore[attr-defined]
            )
            raw = np.asarray(self.final.predict(rows, pred_contrib=True), dtype=np.float64)
            values, base = _split_native(raw, len(self.features), predicted)
        elif framework == "xgboost":
            import xgboost as xgb

            from govml.flavors.xgboost import _prepared

            booster = self.final.get_booster() if hasattr(self.final, "get_booster") else self.final
            if self.preprocessing is not None:
                matrix = xgb.DMatrix(self._features(frame, given))
            else:
                matrix = xgb.DMatrix(_prepared(frame, booster), enable_categorical=True)
            raw = np.asarray(booster.predict(matrix, pred_contribs=True), dtype=np.float64)
            values, base = _split_native(raw, len(self.features), predicted)
        else:
            rows = self._features(frame, given) if self.preprocessing is not None else frame
            # The model's own output is the values' sum by construction of TreeSHAP; shap's
            # check of that costs as much as a third of the call on one row.
            shap_values = np.asarray(
                self._tree.shap_values(rows, check_additivity=False), dtype=np.float64
            )
            expected = np.atleast_1d(np.asarray(self._tree.expected_value, dtype=np.float64))
            values, base = _pick_output(shap_values, expected, predicted)
        return Contributions(TREE_SHAP, self._output("margin"), self._by_source(values), base)

    # -- linear ----------------------------------------------------------------------------

    def _linear(
        self,
        frame: pd.DataFrame,
        predicted: NDArray[np.intp] | None,
        given: NDArray[np.float64] | None,
    ) -> Contributions:
        assert self._linear_base is not None
        coef = np.atleast_2d(np.asarray(self.final.coef_, dtype=np.float64))
        intercept = np.atleast_1d(np.asarray(self.final.intercept_, dtype=np.float64))
        rows = self._transformed(frame) if given is None else given
        delta = rows - self._linear_base
        # (rows, features, outputs): coef times the distance from the baseline.
        per_output = delta[:, :, None] * coef.T[None, :, :]
        expected = self._linear_base @ coef.T + intercept
        values, base = _pick_output(per_output, expected, predicted)
        return Contributions(LINEAR, self._output("margin"), self._by_source(values), base)

    # -- occlusion -------------------------------------------------------------------------

    def _occlusion(self, frame: pd.DataFrame, predicted: NDArray[np.intp] | None) -> Contributions:
        assert self.baseline is not None
        width = len(self.features)
        count = len(frame)
        # Per record: the record itself, then one copy per input set to the baseline.
        repeated = frame.iloc[np.repeat(np.arange(count), width + 1)].reset_index(drop=True)
        for j, name in enumerate(self.features):
            rows = np.arange(count) * (width + 1) + 1 + j
            column = repeated[name].to_numpy(copy=True)
            column[rows] = self.baseline[name].iloc[0]
            repeated[name] = column
        scores = self._scores(pd.concat([repeated, self.baseline], ignore_index=True))
        if scores.shape[1] == 1:
            picked = np.zeros(count, dtype=np.intp)
        else:
            assert predicted is not None
            picked = predicted
        body = scores[:-1].reshape(count, width + 1, scores.shape[1])
        chosen = body[np.arange(count), :, picked]  # (count, width + 1)
        values = chosen[:, :1] - chosen[:, 1:]
        base = scores[-1, picked]
        return Contributions(OCCLUSION, self._output("score"), values, base)

    def _scores(self, frame: pd.DataFrame) -> NDArray[np.float64]:
        """Return the score the occlusion method reads, as a (rows, outputs) matrix."""
        model = self.model
        if not model.has_proba:
            return np.asarray(model.predict(frame), dtype=np.float64).reshape(len(frame), 1)
        proba = np.asarray(model.predict_proba(frame), dtype=np.float64)
        return proba[:, -1:] if proba.shape[1] == 2 else proba

    # -- shared ----------------------------------------------------------------------------

    def _features(
        self, frame: pd.DataFrame, given: NDArray[np.float64] | None
    ) -> NDArray[np.float64]:
        """Return the last step's input: the scorer's transformed rows, or transform them."""
        return self._transformed(frame) if given is None else given

    def _transformed(self, frame: pd.DataFrame) -> NDArray[np.float64]:
        data: Any = frame
        if self.preprocessing is not None:
            data = self.preprocessing.transform(frame)
        dense = data.toarray() if hasattr(data, "toarray") else data
        return np.asarray(dense, dtype=np.float64)

    def _by_source(self, values: NDArray[np.float64]) -> NDArray[np.float64]:
        if self.sources is None:
            return values
        out = np.zeros((values.shape[0], len(self.features)))
        np.add.at(out.T, self.sources, values.T)
        return out

    def _output(self, kind: str) -> str:
        if self.classes is None or not self.model.has_proba:
            return "prediction"
        if len(self.classes) == 2:
            target = f"class {self.classes[1]}"
            return f"log-odds of {target}" if kind == "margin" else f"probability of {target}"
        return (
            "margin of the predicted class"
            if kind == "margin"
            else ("probability of the predicted class")
        )


def _framework(estimator: Any) -> str:
    return type(estimator).__module__.split(".", 1)[0]


def _split_native(
    raw: NDArray[np.float64], width: int, predicted: NDArray[np.intp] | None
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Split LightGBM / XGBoost contributions (last column: the expected value)."""
    if raw.ndim == 3:  # xgboost multiclass: (rows, classes, features + 1)
        assert predicted is not None
        picked = raw[np.arange(len(raw)), predicted]
        return picked[:, :width], picked[:, width]
    if raw.shape[1] > width + 1:  # lightgbm multiclass: classes side by side
        assert predicted is not None
        blocks = raw.reshape(len(raw), -1, width + 1)
        picked = blocks[np.arange(len(raw)), predicted]
        return picked[:, :width], picked[:, width]
    return raw[:, :width], raw[:, width]


def _pick_output(
    values: NDArray[np.float64], expected: NDArray[np.float64], predicted: NDArray[np.intp] | None
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Keep one output: the only one, the second class of two, or the predicted class."""
    count = values.shape[0]
    if values.ndim == 2:
        return values, np.full(count, float(expected.reshape(-1)[-1]))
    if values.shape[2] == 1:
        return values[:, :, 0], np.full(count, float(expected.reshape(-1)[0]))
    if values.shape[2] == 2:
        return values[:, :, 1], np.full(count, float(expected.reshape(-1)[1]))
    assert predicted is not None
    picked = values[np.arange(count), :, predicted]
    base = expected.reshape(-1, values.shape[2]) if expected.ndim > 1 else expected[None, :]
    return picked, base[np.arange(count) % len(base), predicted]


def _baseline(
    profile: Mapping[str, Any] | None, inputs: tuple[ColumnSpec, ...]
) -> pd.DataFrame | None:
    """One row of typical training values, or None when the profile does not give them."""
    if not profile:
        return None
    columns = {column.get("name"): column for column in profile.get("columns", [])}
    row: dict[str, Any] = {}
    for spec in inputs:
        column = columns.get(spec.name)
        if column is None:
            return None
        value = _typical(column, spec.type)
        if value is None:
            return None
        row[spec.name] = value
    frame = pd.DataFrame({name: [value] for name, value in row.items()})
    for spec in inputs:
        if spec.type == "float64":
            frame[spec.name] = frame[spec.name].astype(np.float64)
        elif spec.type == "int64":
            frame[spec.name] = frame[spec.name].astype(np.int64)
        elif spec.type in ("string", "category"):
            frame[spec.name] = frame[spec.name].astype(object)
    return frame


def _typical(column: Mapping[str, Any], kind: str) -> Any:
    if kind in ("float64", "int64") and column.get("mean") is not None:
        mean = float(column["mean"])
        return round(mean) if kind == "int64" else mean
    counts = column.get("value_counts") or column.get("counts")
    if counts:
        value = max(counts, key=lambda item: item[1])[0]
        if kind == "bool" and isinstance(value, str):
            return value.lower() == "true"
        return value
    return None


_cache: weakref.WeakKeyDictionary[Any, DecisionExplainer | ExplainUnavailable] = (
    weakref.WeakKeyDictionary()
)
_lock = threading.Lock()


def explainer_for(deployment: Any) -> DecisionExplainer:
    """Return the explainer of a deployment, built on first use and kept with it.

    Raises
    ------
    ExplainUnavailable
        When the version cannot be explained (no training profile for a baseline).
    """
    with _lock:
        found = _cache.get(deployment)
        if found is None:
            try:
                found = DecisionExplainer(
                    deployment.model,
                    deployment.inputs,
                    deployment.profile,
                    deployment.version.ref,
                )
            except ExplainUnavailable as exc:
                found = exc
            _cache[deployment] = found
    if isinstance(found, ExplainUnavailable):
        raise found
    return found
