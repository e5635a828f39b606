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
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, get_args

import numpy as np
from numpy.typing import NDArray

from govml.checks._composite import CompositePlan, composite_plan
from govml.checks._encoding import feature_frame
from govml.checks._pipeline import input_features
from govml.checks._shap import ERR_FAILED, ERR_KIND, ERR_NO_MAP, ExplainerName, Plan, Run
from govml.checks._threads import limited_threads
from govml.checks.result import CheckResult
from govml.errors import InputError, did_you_mean
from govml.flavors import LoadedModel
from govml.flavors.base import as_table

__all__ = [
    "ERR_FAILED",
    "ERR_KIND",
    "ERR_NO_MAP",
    "EXPLAINERS",
    "ExplainerName",
    "Explanation",
    "explain",
    "top_features",
]

EXPLAINERS: tuple[ExplainerName, ...] = get_args(ExplainerName)
DEFAULT_SAMPLE_ROWS = 200
DEFAULT_BACKGROUND_ROWS = 50

ERR_EXPLAINER = "unknown explainer {name!r}; valid explainers: {valid}"
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
    features = list(frame.columns)
    plan = composite_plan(model, explainer, features) or Plan(model, explainer, features)
    run = Run(
        frame=frame,
        was_array=was_array,
        sample=sample,
        background=background,
        seed=random_state,
        max_evals=max_evals,
    )
    with limited_threads():
        values, output, used_background = plan.values(run)
    scores = np.abs(values).mean(axis=0).sum(axis=-1)
    importance = {name: float(score) for name, score in zip(features, scores, strict=True)}
    ranked = dict(sorted(importance.items(), key=lambda item: (-item[1], item[0])))
    parameters: dict[str, Any] = {
        "requested": explainer,
        "random_state": random_state,
        "max_evals": max_evals,
    }
    if isinstance(plan, CompositePlan):
        parameters["composite"] = plan.method
    return Explanation(
        importance=ranked,
        explainer=plan.chosen,
        level=plan.level,
        output=output,
        sample_rows=len(sample),
        background_rows=used_background,
        duration_s=time.perf_counter() - started,
        fallback_reason=plan.fallback_reason,
        parameters=parameters,
    )


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


def _positive(name: str, value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InputError(ERR_ROWS.format(name=name, value=value))
