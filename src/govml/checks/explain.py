"""Global feature importance with SHAP: mean absolute SHAP value per input column.

:func:`explain` picks an explainer from the ``shap`` library, explains a random sample of
rows and returns an :class:`Explanation` whose importance is always per *input column*
(the columns given to the model), so versions explained differently stay comparable:

* ``tree`` (``shap.TreeExplainer``, path-dependent, no background): XGBoost, LightGBM and
  scikit-learn tree models, including HistGradientBoosting. It explains the model's raw
  output: log-odds for boosted classifiers, probabilities for random forests.
* ``linear`` (``shap.LinearExplainer`` over a background sample): scikit-learn linear
  models; it explains the decision function (log-odds for logistic regression).
* ``permutation`` and ``kernel`` (model-agnostic, over a background sample): anything
  else, on the probability of the positive class (each class for multiclass models, the
  prediction for regressors).

``auto`` chooses tree, then linear, then permutation. Pipelines: when the last step is a
tree or linear model and every transformed feature comes from one input column (one-hot
encoders, scalers, imputers in a ``ColumnTransformer``), the last step is explained on
the transformed rows and the SHAP values of each input column's transformed features are
summed per row before taking the mean absolute value; SHAP values are additive, so that
sum is the column's contribution. Otherwise, and always for the model-agnostic
explainers, the pipeline is explained as a whole on its input columns. If the chosen
explainer fails under ``auto``, the permutation explainer runs and the reason is kept.

For classifiers with more than two classes, importance is the sum over classes of the
mean absolute SHAP value (the bar length of SHAP's multi-class summary plot); for binary
classifiers it is that of the positive (second) class.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

import numpy as np
from numpy.typing import NDArray

from govml.checks._encoding import RawEncoder, feature_frame
from govml.checks._pipeline import input_features, model_kind, source_columns, split_pipeline
from govml.checks.result import CheckResult
from govml.errors import InputError, did_you_mean
from govml.flavors import LoadedModel
from govml.flavors.base import as_table, string_columns

__all__ = [
    "EXPLAINERS",
    "ExplainerName",
    "Explanation",
    "explain",
    "top_features",
]

ExplainerName = Literal["auto", "tree", "linear", "kernel", "permutation"]
EXPLAINERS: tuple[ExplainerName, ...] = get_args(ExplainerName)
DEFAULT_SAMPLE_ROWS = 200
DEFAULT_BACKGROUND_ROWS = 50

ERR_EXPLAINER = "unknown explainer {name!r}; valid explainers: {valid}"
ERR_KIND = "the {explainer} explainer needs a {explainer} model; {model} is not one"
ERR_NO_MAP = (
    "the {explainer} explainer cannot explain {model} per input column: a pipeline step "
    "mixes columns; use explainer='permutation'"
)
ERR_FAILED = "the {explainer} explainer failed on {model}: {error}"
ERR_ROWS = "{name} must be a positive whole number, got {value!r}"
ERR_EMPTY = "no rows to explain"


@dataclass(frozen=True, kw_only=True)
class Explanation:
    """Global importance of a model's input columns.

    Attributes
    ----------
    importance : dict of str to float
        Mean absolute SHAP value per input column, largest first (ties by name).
    explainer : str
        The explainer that ran: ``tree``, ``linear``, ``kernel`` or ``permutation``.
    level : str
        ``input`` when the model was explained on its input columns, ``aggregated`` when
        a pipeline's last step was explained and transformed features summed back.
    output : str
        What the SHAP values are in: ``log_odds``, ``probability``, ``margin`` or
        ``prediction``.
    sample_rows, background_rows : int
        Rows explained, and background rows used (0 for the tree explainer).
    duration_s : float
        Wall time of :func:`explain`.
    fallback_reason : str or None
        Why ``auto`` fell back to the permutation explainer.
    parameters : dict
        The explainer requested, the seed and ``max_evals``, to reproduce the run.
    """

    importance: dict[str, float]
    explainer: str
    level: str
    output: str
    sample_rows: int
    background_rows: int
    duration_s: float
    fallback_reason: str | None = None
    parameters: dict[str, Any] = field(default_factory=dict)

    def top(self, k: int) -> list[str]:
        """Return the ``k`` most important input columns."""
        return top_features(self.importance, k)

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-safe dictionary; :meth:`from_dict` restores it."""
        return {
            "importance": dict(self.importance),
            "explainer": self.explainer,
            "level": self.level,
            "output": self.output,
            "sample_rows": self.sample_rows,
            "background_rows": self.background_rows,
            "duration_s": self.duration_s,
            "fallback_reason": self.fallback_reason,
            "parameters": dict(self.parameters),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Explanation:
        """Rebuild from :meth:`to_dict` output."""
        try:
            return cls(
                importance={str(k): float(v) for k, v in data["importance"].items()},
                explainer=str(data["explainer"]),
                level=str(data["level"]),
                output=str(data["output"]),
                sample_rows=int(data["sample_rows"]),
                background_rows=int(data["background_rows"]),
                duration_s=float(data["duration_s"]),
                fallback_reason=data.get("fallback_reason"),
                parameters=dict(data.get("parameters") or {}),
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise InputError(f"invalid explanation: {exc!r}") from exc

    def as_result(self, top_k: int) -> CheckResult:
        """Return the importance as an explainability result (status ``pass``).

        Parameters
        ----------
        top_k : int
            How many features the result's ``value`` lists.

        Returns
        -------
        CheckResult
            ``check="feature_importance"``, ``value`` the top-k features, the whole
            explanation as evidence.
        """
        top = self.top(top_k)
        message = (
            f"top {len(top)} features by mean |SHAP| ({self.explainer} explainer, "
            f"{self.sample_rows:,} rows): {', '.join(top)}"
        )
        return CheckResult(
            check="feature_importance",
            category="explainability",
            status="pass",
            message=message,
            value=top,
            threshold=top_k,
            evidence=self.to_dict(),
            duration_s=self.duration_s,
        )


def top_features(importance: Mapping[str, float], k: int) -> list[str]:
    """Return the ``k`` features of largest importance, ties broken by name.

    Raises
    ------
    InputError
        When ``k`` is not a positive whole number.
    """
    _positive("k", k)
    ranked = sorted(importance.items(), key=lambda item: (-float(item[1]), item[0]))
    return [name for name, _ in ranked[:k]]


def explain(
    model: LoadedModel,
    X: Any,
    *,
    explainer: ExplainerName = "auto",
    sample_rows: int = DEFAULT_SAMPLE_ROWS,
    background_rows: int = DEFAULT_BACKGROUND_ROWS,
    max_evals: int | None = None,
    random_state: int = 0,
) -> Explanation:
    """Compute global SHAP importance of a model's input columns on a sample of rows.

    Parameters
    ----------
    model : LoadedModel
        A model loaded by a govml flavor.
    X : table or array
        Rows like those the model scores (pandas, polars or pyarrow table, 2-D array);
        columns the model was not trained on are ignored.
    explainer : {"auto", "tree", "linear", "kernel", "permutation"}
        Which SHAP explainer to use (module docstring).
    sample_rows : int
        Rows explained, drawn at random without replacement.
    background_rows : int
        Rows drawn as the background (reference) distribution of the linear, kernel and
        permutation explainers.
    max_evals : int, optional
        Model evaluations per explained row for the permutation explainer (default
        ``2 * n_features + 1``: one antithetic permutation per row, whose average over
        the sample estimates global importance) and the kernel explainer's ``nsamples``
        (default ``2 * n_features + 2048``, SHAP's own).
    random_state : int
        Seed of the row samples and of the explainers.

    Returns
    -------
    Explanation
        Importance per input column and how it was obtained.

    Raises
    ------
    InputError
        For an unknown explainer, a tree / linear explainer asked for a model of
        another kind, input missing the model's columns, or no rows.
    """
    started = time.perf_counter()
    if explainer not in EXPLAINERS:
        raise InputError(
            ERR_EXPLAINER.format(name=explainer, valid=", ".join(EXPLAINERS)),
            hint=did_you_mean(str(explainer), EXPLAINERS),
        )
    _positive("sample_rows", sample_rows)
    _positive("background_rows", background_rows)
    frame, was_array = _inputs(model, X)
    rng = np.random.default_rng(random_state)
    sample = _draw(rng, len(frame), sample_rows)
    background = _draw(rng, len(frame), background_rows)
    plan = _Plan(model, explainer, list(frame.columns))
    run = _Run(
        frame=frame,
        was_array=was_array,
        sample=sample,
        background=background,
        seed=random_state,
        max_evals=max_evals,
    )
    importance, output, used_background = plan.execute(run)
    ranked = dict(sorted(importance.items(), key=lambda item: (-item[1], item[0])))
    return Explanation(
        importance=ranked,
        explainer=plan.chosen,
        level=plan.level,
        output=output,
        sample_rows=len(sample),
        background_rows=used_background,
        duration_s=time.perf_counter() - started,
        fallback_reason=plan.fallback_reason,
        parameters={"requested": explainer, "random_state": random_state, "max_evals": max_evals},
    )


@dataclass(frozen=True, kw_only=True)
class _Run:
    frame: Any  # pandas.DataFrame of the model's input columns
    was_array: bool
    sample: NDArray[np.intp]
    background: NDArray[np.intp]
    seed: int
    max_evals: int | None


class _Plan:
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

    def execute(self, run: _Run) -> tuple[dict[str, float], str, int]:
        try:
            return self._execute(run)
        except InputError:
            raise
        except Exception as exc:  # shap and the frameworks raise many kinds of errors
            message = ERR_FAILED.format(
                explainer=self.chosen, model=self.model.description, error=_first_line(exc)
            )
            if self.requested != "auto" or self.chosen == "permutation":
                raise InputError(message) from exc
            self.fallback_reason = message
            self.chosen, self.level = "permutation", "input"
            return self._execute(run)

    def _execute(self, run: _Run) -> tuple[dict[str, float], str, int]:
        with warnings.catch_warnings():
            # shap and the frameworks warn about output formats and feature names that
            # this module already handles; the results carry what was done instead.
            warnings.simplefilter("ignore")
            if self.chosen in ("tree", "linear"):
                values, output, used = self._model_specific(run)
            else:
                values, output, used = self._agnostic(run)
        per_column = _per_output(values)
        if self.sources is not None and self.level == "aggregated":
            per_column = _sum_by_source(per_column, self.sources, len(self.features))
        scores = np.abs(per_column).mean(axis=0).sum(axis=-1)
        return (
            {name: float(score) for name, score in zip(self.features, scores, strict=True)},
            output,
            used,
        )

    def _model_specific(self, run: _Run) -> tuple[Any, str, int]:
        import shap

        rows = self._prepared(run, run.sample)
        if self.chosen == "tree":
            tree = shap.TreeExplainer(self.final)
            output = _tree_output(tree)
            return tree.shap_values(rows), output, 0
        background = self._prepared(run, run.background)
        masker = shap.maskers.Independent(background, max_samples=len(background))
        linear = shap.LinearExplainer(self.final, masker)
        output = "log_odds" if hasattr(self.final, "predict_proba") else "margin"
        if not hasattr(self.final, "predict_proba") and not hasattr(self.final, "classes_"):
            output = "prediction"
        return linear.shap_values(rows), output, len(run.background)

    def _prepared(self, run: _Run, rows: NDArray[np.intp]) -> Any:
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

    def _agnostic(self, run: _Run) -> tuple[Any, str, int]:
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


def _inputs(model: LoadedModel, X: Any) -> tuple[Any, bool]:
    table = as_table(X)
    features = input_features(model.raw)
    if isinstance(table, np.ndarray):
        frame, was_array = feature_frame(table)
        if features is not None and len(features) == table.shape[1]:
            frame.columns = features
    else:
        frame, was_array = feature_frame(table)
        if features is not None:
            missing = [name for name in features if name not in frame.columns]
            if missing:
                raise InputError(
                    f"the data lacks {len(missing)} column(s) the model needs: "
                    + ", ".join(repr(name) for name in missing)
                )
            frame = frame[features]
    if len(frame) == 0:
        raise InputError(ERR_EMPTY)
    return frame, was_array


def _draw(rng: np.random.Generator, n: int, size: int) -> NDArray[np.intp]:
    if n <= size:
        return np.arange(n)
    return np.sort(rng.choice(n, size=size, replace=False))


def _tree_output(tree: Any) -> str:
    kind = getattr(getattr(tree, "model", None), "tree_output", None)
    return {"log_odds": "log_odds", "probability": "probability", "raw_value": "prediction"}.get(
        str(kind), "margin"
    )


def _per_output(values: Any) -> NDArray[np.float64]:
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


def _sum_by_source(
    values: NDArray[np.float64], sources: NDArray[np.int64], width: int
) -> NDArray[np.float64]:
    indicator = np.zeros((len(sources), width))
    indicator[np.arange(len(sources)), sources] = 1.0
    return np.asarray(np.einsum("nmo,mp->npo", values, indicator), dtype=np.float64)


def _positive(name: str, value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InputError(ERR_ROWS.format(name=name, value=value))


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
