"""The SHAP explainers behind :func:`govml.checks.explain`: which one runs, and its values.

A `Plan` chooses the explainer for one model (tree, linear or model-agnostic; at the input
or the aggregated level, see :mod:`govml.checks.explain`) and returns SHAP values per row
and per *input column*, so that a caller can add the values of several models before
taking means (:mod:`govml.checks._composite` does that for mitigated models).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from govml.checks._encoding import RawEncoder
from govml.checks._pipeline import model_kind, source_columns, split_pipeline
from govml.errors import InputError
from govml.flavors import LoadedModel
from govml.flavors.base import string_columns

ExplainerName = Literal["auto", "tree", "linear", "kernel", "permutation"]

ERR_KIND = "the {explainer} explainer needs a {explainer} model; {model} is not one"
ERR_NO_MAP = (
    "the {explainer} explainer cannot explain {model} per input column: a pipeline step "
    "mixes columns; use explainer='permutation'"
)
ERR_FAILED = "the {explainer} explainer failed on {model}: {error}"

Values = NDArray[np.float64]
"""SHAP values of shape ``(rows, input columns, outputs)``."""


@dataclass(frozen=True, kw_only=True)
class Run:
    """The rows an explanation reads: the model's input columns, the sample, the background."""

    frame: Any  # pandas.DataFrame of the model's input columns
    was_array: bool
    sample: NDArray[np.intp]
    background: NDArray[np.intp]
    seed: int
    max_evals: int | None

    def columns(self, names: list[str]) -> Run:
        """Return the same rows restricted to ``names`` (the columns a part of a model reads)."""
        return Run(
            frame=self.frame[names],
            was_array=self.was_array,
            sample=self.sample,
            background=self.background,
            seed=self.seed,
            max_evals=self.max_evals,
        )


class Plan:
    """Which explainer runs, at which level, and the fallback when ``auto`` fails."""

    def __init__(self, model: LoadedModel, requested: ExplainerName, features: list[str]) -> None:
        self.model = model
        self.features = features
        self.preprocessing, self.final = split_pipeline(model.raw)
        self.kind = model_kind(self.final)
        self.requested = requested
        self.fallback_reason: str | None = None
        self.sources: NDArray[np.int64] | None = None
        self.chosen = self._choose()
        self.level = (
            "aggregated"
            if self.preprocessing is not None and self.chosen in ("tree", "linear")
            else "input"
        )

    def _choose(self) -> str:
        wanted = self.requested
        if wanted == "auto":
            wanted = self.kind if self.kind != "other" else "permutation"
        if wanted in ("tree", "linear"):
            if self.kind != wanted:
                raise InputError(ERR_KIND.format(explainer=wanted, model=self.model.description))
            if self.preprocessing is not None:
                self.sources = source_columns(self.preprocessing, self.features)
                if self.sources is None:
                    message = ERR_NO_MAP.format(explainer=wanted, model=self.model.description)
                    if self.requested != "auto":
                        raise InputError(message)
                    self.fallback_reason = message
                    return "permutation"
        return wanted

    def values(self, run: Run) -> tuple[Values, str, int]:
        """Return SHAP values per input column, what they are in, and background rows used."""
        try:
            return self._values(run)
        except InputError:
            raise
        except Exception as exc:  # shap and the frameworks raise many kinds of errors
            message = ERR_FAILED.format(
                explainer=self.chosen, model=self.model.description, error=first_line(exc)
            )
            if self.requested != "auto" or self.chosen == "permutation":
                raise InputError(message) from exc
            self.fallback_reason = message
            self.chosen, self.level = "permutation", "input"
            return self._values(run)

    def _values(self, run: Run) -> tuple[Values, str, int]:
        with warnings.catch_warnings():
            # shap and the frameworks warn about output formats and feature names that
            # this module already handles; the results carry what was done instead.
            warnings.simplefilter("ignore")
            if self.chosen in ("tree", "linear"):
                values, output, used = self._model_specific(run)
            else:
                values, output, used = self._agnostic(run)
        per_column = per_output(values)
        if self.sources is not None and self.level == "aggregated":
            per_column = sum_by_source(per_column, self.sources, len(self.features))
        return per_column, output, used

    def _model_specific(self, run: Run) -> tuple[Any, str, int]:
        import shap

        rows = self._prepared(run, run.sample)
        if self.chosen == "tree":
            tree = shap.TreeExplainer(self.final)
            output = tree_output(tree)
            return tree.shap_values(rows), output, 0
        background = self._prepared(run, run.background)
        masker = shap.maskers.Independent(background, max_samples=len(background))
        linear = shap.LinearExplainer(self.final, masker)
        output = "log_odds" if hasattr(self.final, "predict_proba") else "margin"
        if not hasattr(self.final, "predict_proba") and not hasattr(self.final, "classes_"):
            output = "prediction"
        return linear.shap_values(rows), output, len(run.background)

    def _prepared(self, run: Run, rows: NDArray[np.intp]) -> Any:
        frame = run.frame.iloc[rows]
        if self.preprocessing is not None:
            transformed = self.preprocessing.transform(frame.to_numpy() if run.was_array else frame)
            dense = transformed.toarray() if hasattr(transformed, "toarray") else transformed
            return np.asarray(dense, dtype=np.float64)
        if run.was_array:
            return frame.to_numpy()
        if type(self.final).__module__.split(".", 1)[0] in ("xgboost", "lightgbm"):
            # As the flavors do: their categorical features arrive as pandas categoricals.
            text = string_columns(frame)
            return frame.astype(dict.fromkeys(text, "category")) if text else frame
        return frame

    def _agnostic(self, run: Run) -> tuple[Any, str, int]:
        import shap

        encoder = RawEncoder(run.frame.iloc[np.concatenate([run.sample, run.background])])
        n_sample = len(run.sample)
        every = np.arange(n_sample + len(run.background))
        encoded = encoder.encode(every)
        rows, background = encoded[:n_sample], encoded[n_sample:]
        predict, output = self._model_function(encoder, run.was_array)
        width = len(self.features)
        if self.chosen == "kernel":
            kernel = shap.KernelExplainer(predict, background, seed=run.seed)
            nsamples = run.max_evals or 2 * width + 2048
            return kernel.shap_values(rows, nsamples=nsamples, silent=True), output, len(background)
        masker = shap.maskers.Independent(background, max_samples=len(background))
        permutation = shap.PermutationExplainer(predict, masker, seed=run.seed)
        max_evals = run.max_evals or 2 * width + 1
        return permutation(rows, max_evals=max_evals, silent=True).values, output, len(background)

    def _model_function(self, encoder: RawEncoder, was_array: bool) -> tuple[Any, str]:
        model = self.model

        def frame_of(matrix: NDArray[np.float64]) -> Any:
            decoded = encoder.decode(matrix)
            return decoded.to_numpy() if was_array else decoded

        if model.has_proba:
            binary = model.classes is not None and len(model.classes) == 2

            def proba(matrix: NDArray[np.float64]) -> NDArray[np.float64]:
                scores = np.asarray(model.predict_proba(frame_of(matrix)), dtype=np.float64)
                return scores[:, 1] if binary and scores.ndim == 2 else scores

            return proba, "probability"

        def predict(matrix: NDArray[np.float64]) -> NDArray[np.float64]:
            return np.asarray(model.predict(frame_of(matrix)), dtype=np.float64)

        return predict, "prediction"


def tree_output(tree: Any) -> str:
    kind = getattr(getattr(tree, "model", None), "tree_output", None)
    return {"log_odds": "log_odds", "probability": "probability", "raw_value": "prediction"}.get(
        str(kind), "margin"
    )


def per_output(values: Any) -> NDArray[np.float64]:
    """Return SHAP values as ``(rows, features, outputs)``; binary models keep one output."""
    if isinstance(values, list):
        values = np.stack([np.asarray(item) for item in values], axis=-1)
    array = np.asarray(values, dtype=np.float64)
    if array.ndim == 2:
        return array[:, :, None]
    if array.ndim == 3 and array.shape[2] == 2:
        # Binary classifiers: the two columns mirror each other; keep the positive class.
        return array[:, :, 1:]
    return array


def sum_by_source(
    values: NDArray[np.float64], sources: NDArray[np.int64], width: int
) -> NDArray[np.float64]:
    indicator = np.zeros((len(sources), width))
    indicator[np.arange(len(sources)), sources] = 1.0
    return np.asarray(np.einsum("nmo,mp->npo", values, indicator), dtype=np.float64)


def first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
