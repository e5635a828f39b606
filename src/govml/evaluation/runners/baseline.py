"""The ``baseline`` section: the candidate must beat simpler models by a margin.

The baselines (`govml.checks.baseline`) are fitted on the training data given to the
evaluation, with the target and the model's input columns, and scored on the evaluation
rows with the section's metric (``accuracy`` for a classifier and ``mean_absolute_error``
for a regression by default). One check per baseline, ``beats_baseline:<name>``: its value
is how much better the candidate is (in the metric's unit, positive when better), which
must be at least ``margin``; the baseline's figures are the evidence.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from govml.checks import CheckResult
from govml.checks.baseline import HIGHER_BETTER, NEEDS_SCORES, fit_baseline, metric_value
from govml.checks.result import Category, Status
from govml.evaluation.gates import not_run, shown
from govml.evaluation.inputs import EvaluationInputs, plain
from govml.evaluation.runners.base import EvaluationRun, Finding, SectionOutput
from govml.policy import Policy
from govml.policy.baseline import Baseline
from govml.policy.diagnostics import Path as FieldPath

CATEGORY: Category = "baseline"
NO_TRAINING = "no training data was given to the evaluation (--training-data), so no baseline"
MISSING_COLUMNS = "the training data lacks the column(s) {columns}"
NO_SCORES_METRIC = "{metric} needs the candidate's scores: {reason}"
METRIC_TASK = "{metric} does not apply to a {task} model"
REGRESSION_METRICS = frozenset({"mean_absolute_error", "root_mean_squared_error", "r2"})


class BaselineRunner:
    """Fits the section's baselines on the training data and compares the candidate."""

    section: Category = CATEGORY
    stage = "baselines"
    clock = "baseline"
    on_raw_data = False

    def applies(self, policy: Policy) -> bool:
        """Return whether the policy has a baseline section."""
        return policy.baseline is not None

    def problems(self, run: EvaluationRun) -> list[tuple[FieldPath, str]]:
        """Return a metric that does not fit the model's task."""
        section = run.policy.baseline
        assert section is not None
        task = run.predictions().task
        metric = _metric(section, task)
        regression_metric = metric in REGRESSION_METRICS
        if regression_metric != (task == "regression"):
            return [(("baseline", "metric"), METRIC_TASK.format(metric=metric, task=task))]
        return []

    def run(self, run: EvaluationRun) -> SectionOutput:
        """Fit and score every baseline; one check each."""
        section = run.policy.baseline
        assert section is not None
        inputs = run.predictions()
        metric = _metric(section, inputs.task)
        names = [f"beats_baseline:{name}" for name in section.models]
        threshold = {"min": section.margin, "metric": metric}
        reason = inputs.blocked or _missing(run, inputs, metric)
        if reason is not None:
            return SectionOutput(
                findings=[
                    Finding(result=not_run(name, CATEGORY, reason, threshold)) for name in names
                ]
            )
        train = run.training_table.to_pandas()
        columns = [str(c) for c in inputs.features.columns]
        train = train[train[inputs.target].notna()]
        labels = train[inputs.target].to_numpy()
        candidate = metric_value(metric, _truth(inputs, metric), _pred(inputs), inputs.scores)
        results = [
            _compare(
                name,
                metric,
                section,
                candidate,
                train[columns],
                labels,
                inputs,
                run.random_state,
            )
            for name in section.models
        ]
        return SectionOutput(findings=[Finding(result=r) for r in results])


def _metric(section: Baseline, task: str) -> str:
    if section.metric is not None:
        return section.metric
    return "mean_absolute_error" if task == "regression" else "accuracy"


def _missing(run: EvaluationRun, inputs: EvaluationInputs, metric: str) -> str | None:
    if run.training_table is None:
        return NO_TRAINING
    wanted = [inputs.target, *(str(c) for c in inputs.features.columns)]
    lacking = [c for c in wanted if c not in run.training_table.column_names]
    if lacking:
        return MISSING_COLUMNS.format(columns=", ".join(repr(c) for c in lacking))
    if inputs.y_pred is None:
        return inputs.no_labels_reason
    if metric in NEEDS_SCORES and inputs.scores is None:
        return NO_SCORES_METRIC.format(metric=metric, reason=inputs.no_scores_reason)
    return None


def _truth(inputs: EvaluationInputs, metric: str) -> np.ndarray[Any, Any]:
    if metric in NEEDS_SCORES:
        return np.asarray(inputs.y_true == inputs.pos_label)
    return inputs.y_true


def _pred(inputs: EvaluationInputs) -> np.ndarray[Any, Any]:
    assert inputs.y_pred is not None
    return inputs.y_pred


def _compare(
    name: str,
    metric: str,
    section: Baseline,
    candidate: float,
    train: pd.DataFrame,
    labels: np.ndarray[Any, Any],
    inputs: EvaluationInputs,
    random_state: int,
) -> CheckResult:
    fitted = fit_baseline(
        name,
        train,
        labels,
        inputs.features,
        regression=inputs.task == "regression",
        positive=inputs.pos_label,
        random_state=random_state,
    )
    theirs = metric_value(metric, _truth(inputs, metric), fitted.predictions, fitted.scores)
    better = candidate - theirs if metric in HIGHER_BETTER else theirs - candidate
    status: Status = "pass" if better >= section.margin else "fail"
    relation = "beats" if status == "pass" else "does not beat"
    return CheckResult(
        check=f"beats_baseline:{name}",
        category=CATEGORY,
        status=status,
        message=(
            f"the candidate's {metric} {shown(candidate)} {relation} {fitted.description} "
            f"({shown(theirs)}) by the margin {shown(section.margin)}: "
            f"{'better' if better >= 0 else 'worse'} by {shown(abs(better))}"
        ),
        value=better,
        threshold={"min": section.margin, "metric": metric},
        evidence={
            "metric": metric,
            "candidate": candidate,
            "baseline": theirs,
            "baseline_model": fitted.description,
            "training_rows": len(labels),
            "positive_label": plain(inputs.pos_label),
        },
    )
