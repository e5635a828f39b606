"""What an evaluation's checks read: actual outcomes, predictions, scores, task, positive label.

:func:`model_inputs` gathers them once, from the model's own predictions or from columns of
predictions made elsewhere, and infers what the caller did not say: the task (binary,
multiclass or regression) and the positive label. :func:`stats_lookup` then builds the
sufficient statistics a metric needs, each kind at most once. Nothing here reads the store.

When the predictions cannot be had (a data check failed, or the model cannot predict on
the data), the inputs are *blocked*: they carry the outcomes and the reason, and the
checks that read predictions are undefined with that reason.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from govml.checks import CheckResult
from govml.checks._columns import column_array, first_rows, missing_mask
from govml.datasets.coltypes import normalised_type
from govml.domain.records import ModelVersion
from govml.errors import InputError, ValidationError
from govml.evaluation.gates import expectation_columns
from govml.evaluation.performance import Measure, StatsFor
from govml.flavors.base import LoadedModel
from govml.metrics import binary_confusion, multiclass_confusion, regression_moments, score_samples
from govml.metrics.custom import RowValues, one_line
from govml.policy import Policy
from govml.policy.expectations import DataExpectation

ERR_POS_LABEL = (
    "cannot tell the positive label of target {target!r} (values: {values}); give --pos-label"
)
ERR_POS_LABEL_ABSENT = "the positive label {label!r} is not a value of {target!r} ({values})"
ERR_SCORES_TASK = "--score-column gives the positive class's score: it needs a binary target"
ERR_CANNOT_PREDICT = "the model cannot predict on the data: {error}"
MODEL_INPUT = "model_input"
TARGET = "target"
ERR_TARGET_MISSING = (
    "the target {target!r} has {count:,} missing value(s) in {rows:,} rows; every row needs "
    "an actual outcome"
)
NOT_RUN_TARGET = "not run: the target {target!r} has missing values"
HINT_CANNOT_PREDICT = (
    "compare the data's columns and types with the training data "
    "(`govml versions show` lists the signature)"
)
NO_MODEL = "no registered model: the predictions were made elsewhere"
REFUSED = "the artifact was refused by the security scan, so it was not loaded"
NO_LABELS = "no predicted labels: give --prediction-column, or a model that predicts"
NO_SCORES = "no scores: the model has no predict_proba and no --score-column was given"
ENGINE_NOT_COMPUTED = (
    "{metric} reads {kind} statistics, which the {engine} engine does not compute over every "
    "row here; evaluate without --engine to compute it in memory"
)


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
    blocked : str or None
        Why there are no predictions to check, when a data check failed or the model
        cannot predict on the data; None otherwise.
    stats : dict
        Statistics built so far, by kind (filled by :func:`stats_lookup`).
    computed_by : str or None
        The statistics engine that computed ``stats`` over every row of the data
        (``govml evaluate --engine spark``); then the predictions above are those of a
        sample only, and a kind of statistics the engine did not compute is not built from
        them (:data:`ENGINE_NOT_COMPUTED` says why). None on the in-memory path.
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
    blocked: str | None = None
    stats: dict[str, Any] = field(default_factory=dict)
    computed_by: str | None = None


class CannotPredict(ValidationError):
    """The model raised on the evaluation data; the message is one line naming the error."""

    def __init__(self, error: BaseException) -> None:
        # A framework wraps its own error (the flavor's "cannot score this input"); the
        # first line of the original is what says what is wrong with the data.
        cause = error.__cause__ if isinstance(error, InputError) and error.__cause__ else error
        super().__init__(ERR_CANNOT_PREDICT.format(error=one_line(cause)), hint=HINT_CANNOT_PREDICT)
        self.error = type(cause).__name__


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
    blocked: str | None = None,
) -> EvaluationInputs:
    """Predict (or read outside predictions) and infer the task and the positive label.

    With ``blocked`` (the reason there are to be no predictions) nothing is predicted or
    read from the prediction columns; the task and the positive label come from the model's
    classes and the outcomes.

    Raises
    ------
    InputError
        When the positive label is wrong or cannot be told, or scores are given for a
        target that is not binary.
    CannotPredict
        When the model raises on the data.
    """
    y_true = frame[target].to_numpy()
    labels_reason = blocked or (REFUSED if refused else NO_LABELS)
    scores_reason = blocked or (REFUSED if refused else NO_SCORES)
    y_pred: np.ndarray[Any, Any] | None = None
    scores: np.ndarray[Any, Any] | None = None
    if blocked is None and prediction_column is not None:
        y_pred = frame[prediction_column].to_numpy()
    elif blocked is None and model is not None:
        y_pred = np.asarray(_call(model.predict, features))
    classes = None if model is None else model.classes
    if score_column is not None and blocked is None:
        scores = frame[score_column].to_numpy(dtype=float, na_value=np.nan)
    task = infer_task(y_true, y_pred, classes, scores, model)
    if score_column is not None and task != "binary":
        raise InputError(ERR_SCORES_TASK)
    chosen = None
    if task == "binary":
        chosen = infer_pos_label(pos_label, y_true, y_pred, classes, target)
        if (
            blocked is None
            and scores is None
            and model is not None
            and model.has_proba
            and classes is not None
        ):
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
        blocked=blocked,
    )


def _call(method: Callable[[Any], Any], features: pd.DataFrame) -> Any:
    try:
        return method(features)
    except Exception as exc:  # the model's own code: any failure means the data does not fit
        raise CannotPredict(exc) from None


def target_check(table: Any, target: str) -> CheckResult | None:
    """Return a failing ``target`` check when the target has missing values, else None.

    Metrics need an actual outcome for every row; a missing one is a data problem that no
    expectation of the policy may have named.
    """
    mask = missing_mask(column_array(table, target))
    count = int(mask.sum())
    if count == 0:
        return None
    return target_missing(target, count, table.num_rows, first_rows=first_rows(mask))


def target_missing(target: str, count: int, rows: int, **evidence: Any) -> CheckResult:
    """Return the failing ``target`` check of ``count`` missing outcomes among ``rows``."""
    return CheckResult(
        check=TARGET,
        category="data",
        status="fail",
        message=ERR_TARGET_MISSING.format(target=target, count=count, rows=rows),
        value=count,
        evidence={"rows": rows, "missing": count, **evidence},
    )


def model_input_check(
    failure: CannotPredict, table: Any, version: ModelVersion | None, subject: str
) -> CheckResult:
    """Return the failing ``model_input`` check of a model that cannot predict on the data.

    Its evidence names what usually causes it: missing values in the model's input columns,
    and input columns whose type differs from the version's signature.
    """
    names = [] if version is None else signature_inputs(version)
    wanted = {
        column["name"]: column.get("type")
        for column in ((version.signature or {}).get("inputs", []) if version else [])
    }
    missing: dict[str, int] = {}
    changed: list[dict[str, Any]] = []
    for name in names or table.column_names:
        if name not in table.column_names:
            continue
        array = column_array(table, name)
        count = int(missing_mask(array).sum())
        if count:
            missing[name] = count
        actual = _type_name(array.type, name)
        if wanted.get(name) and actual != wanted[name] and actual != "null":
            changed.append({"column": name, "expected": wanted[name], "actual": actual})
    return CheckResult(
        check=MODEL_INPUT,
        category="data",
        status="fail",
        message=failure.message,
        evidence={
            "model": subject,
            "error": failure.error,
            "rows": table.num_rows,
            "missing": missing,
            "type_changed": changed,
        },
    )


def _type_name(dtype: Any, column: str) -> str:
    try:
        return normalised_type(dtype, column=column)
    except InputError:
        return str(dtype)


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
    """Return the statistics kinds a model of ``task`` can give (``rows``: the rows as such)."""
    return {
        "binary": {"binary", "multiclass", "score", "rows"},
        "multiclass": {"multiclass", "rows"},
        "regression": {"regression", "rows"},
    }[task]


def stats_lookup(inputs: EvaluationInputs) -> StatsFor:
    """Return a function giving the statistics a measure is computed from (built once each)."""

    def stats_for(measure: Measure) -> tuple[Any, None] | tuple[None, str]:
        for kind in measure.kinds:
            if kind not in usable_kinds(inputs.task):
                continue
            reads_scores = kind == "score" or (kind == "rows" and measure.needs_scores)
            if reads_scores and inputs.scores is None:
                return None, inputs.no_scores_reason
            if kind != "score" and inputs.y_pred is None:
                return None, inputs.no_labels_reason
            if kind not in inputs.stats and inputs.computed_by is not None:
                return None, ENGINE_NOT_COMPUTED.format(
                    metric=measure.name,
                    kind="row" if kind == "rows" else kind,
                    engine=inputs.computed_by,
                )
            if kind not in inputs.stats:
                inputs.stats[kind] = _build(kind, inputs)
            return inputs.stats[kind], None
        return None, f"{measure.name} does not apply to a {inputs.task} model"

    return stats_for


def _build(kind: str, inputs: EvaluationInputs) -> Any:
    if kind == "rows":
        return _rows(inputs)
    if kind == "binary":
        return binary_confusion(inputs.y_true, inputs.y_pred, pos_label=inputs.pos_label)
    if kind == "multiclass":
        return multiclass_confusion(inputs.y_true, inputs.y_pred)
    if kind == "score":
        return score_samples(inputs.y_true, inputs.scores, pos_label=inputs.pos_label)
    return regression_moments(inputs.y_true, inputs.y_pred)


def _rows(inputs: EvaluationInputs) -> RowValues:
    """Return the rows a row metric reads: 1 / 0 for the positive label of a binary task."""
    y_true, y_pred = inputs.y_true, inputs.y_pred
    if inputs.task == "binary":
        y_true = (y_true == inputs.pos_label).astype(np.int64)
        y_pred = None if y_pred is None else (y_pred == inputs.pos_label).astype(np.int64)
    return RowValues(y_true=y_true, y_pred=y_pred, y_score=inputs.scores)


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
