"""What an evaluation's checks read: actual outcomes, predictions, scores, task, positive label.

:func:`model_inputs` gathers them once, from the model's own predictions or from columns of
predictions made elsewhere, and infers what the caller did not say: the task (binary,
multiclass or regression) and the positive label. :func:`stats_lookup` then builds the
sufficient statistics a metric needs, each kind at most once. Nothing here reads the store.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from govml.domain.records import ModelVersion
from govml.errors import GovmlError, InputError, ValidationError
from govml.evaluation.gates import StatsFor, expectation_columns
from govml.flavors.base import LoadedModel
from govml.metrics import binary_confusion, multiclass_confusion, regression_moments, score_samples
from govml.metrics._registry import spec_for
from govml.policy import Policy
from govml.policy.expectations import DataExpectation

ERR_POS_LABEL = (
    "cannot tell the positive label of target {target!r} (values: {values}); give --pos-label"
)
ERR_POS_LABEL_ABSENT = "the positive label {label!r} is not a value of {target!r} ({values})"
ERR_SCORES_TASK = "--score-column gives the positive class's score: it needs a binary target"
ERR_CANNOT_PREDICT = "the model cannot predict on the data: {error}"
HINT_CANNOT_PREDICT = (
    "compare the data's columns and types with the training data "
    "(`govml versions show` lists the signature)"
)
NO_MODEL = "no registered model: the predictions were made elsewhere"
REFUSED = "the artifact was refused by the security scan, so it was not loaded"
NO_LABELS = "no predicted labels: give --prediction-column, or a model that predicts"
NO_SCORES = "no scores: the model has no predict_proba and no --score-column was given"


@dataclass
class EvaluationInputs:
    """What the checks read, gathered once.

    Attributes
    ----------
    table : pyarrow.Table
        The evaluation data as read.
    frame : pandas.DataFrame
        The same data as pandas (what sensitive features are read from).
    features : pandas.DataFrame
        The columns the model reads.
    target : str
        The column of actual outcomes.
    y_true : numpy.ndarray
        Its values.
    y_pred, scores : numpy.ndarray or None
        Predicted labels and positive-class scores; None when there are none
        (``no_labels_reason`` / ``no_scores_reason`` say why).
    task : str
        ``binary``, ``multiclass`` or ``regression``.
    pos_label : Any
        The positive label of a binary task (None otherwise).
    sensitive : list of str
        The sensitive features.
    stats : dict
        Statistics built so far, by kind (filled by :func:`stats_lookup`).
    """

    table: Any
    frame: pd.DataFrame
    features: pd.DataFrame
    target: str
    y_true: np.ndarray[Any, Any]
    y_pred: np.ndarray[Any, Any] | None
    scores: np.ndarray[Any, Any] | None
    task: str
    pos_label: Any
    sensitive: list[str]
    no_labels_reason: str = NO_LABELS
    no_scores_reason: str = NO_SCORES
    stats: dict[str, Any] = field(default_factory=dict)


def sensitive_columns(given: Sequence[str] | None, rules: Policy) -> list[str]:
    """Return the sensitive features: those given, else the policy's ``fairness.sensitive``."""
    if given:
        return list(dict.fromkeys(given))
    if rules.fairness is not None:
        return list(rules.fairness.sensitive)
    return []


def signature_inputs(version: ModelVersion) -> list[str]:
    """Return the input columns recorded in a version's signature (empty when none)."""
    signature = version.signature or {}
    return [column["name"] for column in signature.get("inputs", [])]


def needed_columns(
    rules: Policy,
    *,
    target: str,
    sensitive: Sequence[str],
    prediction_column: str | None,
    score_column: str | None,
    model_inputs: Sequence[str],
) -> dict[str, list[str]]:
    """Return each column the evaluation needs with what needs it (for one error naming all)."""
    needed: dict[str, list[str]] = {}

    def need(column: str, why: str) -> None:
        needed.setdefault(column, [])
        if why not in needed[column]:
            needed[column].append(why)

    need(target, "--target")
    for column in sensitive:
        need(column, "sensitive feature")
    if prediction_column:
        need(prediction_column, "--prediction-column")
    if score_column:
        need(score_column, "--score-column")
    expectation: DataExpectation
    for index, expectation in enumerate(rules.data):
        for column in expectation_columns(expectation):
            need(column, f"policy data[{index}] ({expectation.expect})")
    for column in model_inputs:
        need(column, "model input")
    return needed


def feature_frame(
    frame: pd.DataFrame,
    version: ModelVersion | None,
    target: str,
    prediction_column: str | None,
    score_column: str | None,
) -> pd.DataFrame:
    """Return the columns a model reads: its signature's, else all but target and predictions."""
    names = [] if version is None else signature_inputs(version)
    if names:
        return frame[names]
    drop = [c for c in (target, prediction_column, score_column) if c]
    return frame.drop(columns=drop)


def model_inputs(
    frame: pd.DataFrame,
    table: Any,
    features: pd.DataFrame,
    *,
    model: LoadedModel | None,
    refused: bool,
    target: str,
    prediction_column: str | None,
    score_column: str | None,
    pos_label: Any,
    sensitive: Sequence[str],
) -> EvaluationInputs:
    """Predict (or read outside predictions) and infer the task and the positive label.

    Raises
    ------
    InputError
        When the positive label is wrong or cannot be told, or scores are given for a
        target that is not binary.
    ValidationError
        When the model cannot predict on the data.
    """
    y_true = frame[target].to_numpy()
    labels_reason = REFUSED if refused else NO_LABELS
    scores_reason = REFUSED if refused else NO_SCORES
    y_pred: np.ndarray[Any, Any] | None = None
    scores: np.ndarray[Any, Any] | None = None
    if prediction_column is not None:
        y_pred = frame[prediction_column].to_numpy()
    elif model is not None:
        y_pred = np.asarray(_call(model.predict, features))
    classes = None if model is None else model.classes
    if score_column is not None:
        scores = frame[score_column].to_numpy(dtype=float, na_value=np.nan)
    task = infer_task(y_true, y_pred, classes, scores, model)
    if score_column is not None and task != "binary":
        raise InputError(ERR_SCORES_TASK)
    chosen = None
    if task == "binary":
        chosen = infer_pos_label(pos_label, y_true, y_pred, classes, target)
        if scores is None and model is not None and model.has_proba and classes is not None:
            index = [i for i, c in enumerate(classes) if c == chosen]
            if index:
                scores = np.asarray(_call(model.predict_proba, features))[:, index[0]]
    return EvaluationInputs(
        table=table,
        frame=frame,
        features=features,
        target=target,
        y_true=y_true,
        y_pred=y_pred,
        scores=scores,
        task=task,
        pos_label=chosen,
        sensitive=list(sensitive),
        no_labels_reason=labels_reason,
        no_scores_reason=scores_reason,
    )


def _call(method: Callable[[Any], Any], features: pd.DataFrame) -> Any:
    try:
        return method(features)
    except GovmlError:
        raise
    except Exception as exc:  # the model's own code: any failure means the data does not fit
        raise ValidationError(
            ERR_CANNOT_PREDICT.format(error=f"{type(exc).__name__}: {exc}"),
            hint=HINT_CANNOT_PREDICT,
        ) from None


def infer_task(
    y_true: np.ndarray[Any, Any],
    y_pred: np.ndarray[Any, Any] | None,
    classes: Any,
    scores: np.ndarray[Any, Any] | None,
    model: LoadedModel | None,
) -> str:
    """Return ``binary``, ``multiclass`` or ``regression`` from the model and the values.

    A classifier's classes decide; otherwise float predictions of a model mean regression,
    scores mean binary, and the target's distinct values decide the rest (two or fewer:
    binary; more than 20 numbers, or fractional ones: regression).
    """
    if classes is not None:
        return "binary" if len(classes) <= 2 else "multiclass"
    if model is not None and y_pred is not None and y_pred.dtype.kind == "f":
        return "regression"
    if scores is not None:
        return "binary"
    values = pd.unique(pd.Series(y_true).dropna())
    if y_true.dtype.kind == "f" and not np.all(np.mod(np.asarray(values, dtype=float), 1) == 0):
        return "regression"
    if len(values) <= 2:
        return "binary"
    if y_true.dtype.kind in "iuf" and len(values) > 20:
        return "regression"
    return "multiclass"


def infer_pos_label(
    given: Any,
    y_true: np.ndarray[Any, Any],
    y_pred: np.ndarray[Any, Any] | None,
    classes: Any,
    target: str,
) -> Any:
    """Return the positive label: the one given, a classifier's second class, or 1 / the larger.

    Raises
    ------
    InputError
        When the given label is not a value of the target, or two text labels leave the
        choice open.
    """
    values = sorted(pd.unique(pd.Series(y_true).dropna()).tolist(), key=str)
    if given is not None:
        label = coerce_label(given, y_true)
        known = set(values) | (set() if classes is None else set(np.asarray(classes).tolist()))
        if label not in known:
            raise InputError(
                ERR_POS_LABEL_ABSENT.format(label=label, target=target, values=values_text(values))
            )
        return label
    if classes is not None and len(classes) == 2:
        return plain(classes[1])
    union = set(values)
    if y_pred is not None:
        union |= set(pd.unique(pd.Series(y_pred).dropna()).tolist())
    if union <= {0, 1} or union <= {False, True}:
        return 1
    if len(union) == 2 and all(isinstance(v, int | float | bool) for v in union):
        return max(union)
    raise InputError(ERR_POS_LABEL.format(target=target, values=values_text(values)))


def values_text(values: Sequence[Any]) -> str:
    """Return up to ten values as ``'a', 'b', ...`` for messages."""
    shown = ", ".join(repr(plain(v)) for v in values[:10])
    return shown + (", ..." if len(values) > 10 else "")


def plain(value: Any) -> Any:
    """Return a numpy scalar as the Python value it holds (anything else unchanged)."""
    item = getattr(value, "item", None)
    return item() if callable(item) and type(value).__module__ == "numpy" else value


def coerce_label(given: Any, values: np.ndarray[Any, Any]) -> Any:
    """Return ``given`` (text from the command line) in the type of the target's values."""
    if not isinstance(given, str) or values.dtype.kind in "OUS":
        return given
    for cast in (int, float):
        try:
            return cast(given)
        except ValueError:
            continue
    if given.lower() in ("true", "false"):
        return given.lower() == "true"
    return given


def usable_kinds(task: str) -> set[str]:
    """Return the statistics kinds a model of ``task`` can give."""
    return {
        "binary": {"binary", "multiclass", "score"},
        "multiclass": {"multiclass"},
        "regression": {"regression"},
    }[task]


def stats_lookup(inputs: EvaluationInputs) -> StatsFor:
    """Return a function giving the statistics a metric is computed from (built once each)."""

    def stats_for(metric: str) -> tuple[Any, None] | tuple[None, str]:
        kinds = spec_for(metric).kinds
        for kind in kinds:
            if kind not in usable_kinds(inputs.task):
                continue
            if kind == "score":
                if inputs.scores is None:
                    return None, inputs.no_scores_reason
            elif inputs.y_pred is None:
                return None, inputs.no_labels_reason
            if kind not in inputs.stats:
                inputs.stats[kind] = _build(kind, inputs)
            return inputs.stats[kind], None
        return None, f"{metric} does not apply to a {inputs.task} model"

    return stats_for


def _build(kind: str, inputs: EvaluationInputs) -> Any:
    if kind == "binary":
        return binary_confusion(inputs.y_true, inputs.y_pred, pos_label=inputs.pos_label)
    if kind == "multiclass":
        return multiclass_confusion(inputs.y_true, inputs.y_pred)
    if kind == "score":
        return score_samples(inputs.y_true, inputs.scores, pos_label=inputs.pos_label)
    return regression_moments(inputs.y_true, inputs.y_pred)


def document_inputs(
    inputs: EvaluationInputs,
    *,
    prediction_column: str | None,
    score_column: str | None,
    n_boot: int,
    random_state: int,
) -> Mapping[str, Any]:
    """Return the ``inputs`` part of the evaluation document."""
    return {
        "target": inputs.target,
        "sensitive": inputs.sensitive,
        "prediction_column": prediction_column,
        "score_column": score_column,
        "pos_label": plain(inputs.pos_label),
        "task": inputs.task,
        "n_boot": n_boot,
        "random_state": random_state,
    }
