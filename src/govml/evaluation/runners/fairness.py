"""The ``fairness`` section: disparities between groups of the sensitive features.

The favourable outcome (``fairness.favourable_label``) is read in the target's type and must
be one of its values; rules about the favourable outcome measure it. When the policy does
not name it, it is taken to be the positive label, and the evaluation says so in a note and
in the message of each check that depends on it.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pandas as pd

from govml.checks import CheckResult
from govml.checks.result import Category
from govml.evaluation.gates import (
    FAVOURABLE_OUTCOME_RULES,
    fairness_checks,
    fairness_not_run,
    fairness_reports,
)
from govml.evaluation.inputs import EvaluationInputs, coerce_label, plain, values_text
from govml.evaluation.model_checks import undefined
from govml.evaluation.runners.base import EvaluationRun, Finding, SectionOutput
from govml.metrics import binary_confusion
from govml.policy import Fairness, Policy
from govml.policy.diagnostics import Path as FieldPath

ERR_FAIRNESS_TASK = (
    "fairness rules need a binary classifier's decisions; {subject} is a {task} model"
)
ERR_FAVOURABLE = "favourable_label {label!r} is not a value of the target {target!r} ({values})"
NOTE_ASSUMED = (
    "the favourable outcome was assumed to be the positive label {label!r}: selection rates "
    "and disparate impact measure how often it is predicted (set fairness.favourable_label "
    "to say which outcome is good for the person)"
)
ASSUMED = " (favourable outcome assumed: the positive label {label!r})"


class FairnessRunner:
    """Builds per-group confusion statistics once and checks every fairness rule on them."""

    section: Category = "fairness"
    stage = "fairness"
    clock = "fairness"
    on_raw_data = False

    def applies(self, policy: Policy) -> bool:
        """Return whether the policy has a fairness section."""
        return policy.fairness is not None

    def problems(self, run: EvaluationRun) -> list[tuple[FieldPath, str]]:
        """Return problems: a model that is not a binary classifier, a wrong favourable label."""
        inputs = run.predictions()
        if inputs.task != "binary":
            message = ERR_FAIRNESS_TASK.format(subject=run.subject, task=inputs.task)
            return [(("fairness",), message)]
        section = run.policy.fairness
        assert section is not None
        if section.favourable_label is None or _favourable(section, inputs) is not None:
            return []
        values = _values(inputs)
        message = ERR_FAVOURABLE.format(
            label=section.favourable_label, target=inputs.target, values=values_text(values)
        )
        return [(("fairness", "favourable_label"), message)]

    def run(self, run: EvaluationRun) -> SectionOutput:
        """Check every rule on every grouping; the widest report is kept as evidence."""
        section = run.policy.fairness
        assert section is not None
        inputs = run.predictions()
        by_metric = {rule.metric: rule.undefined for rule in section.rules}

        def findings(results: list[CheckResult]) -> list[Finding]:
            return [
                Finding(result=r, undefined=by_metric.get(r.check.split(":", 1)[0]))
                for r in results
            ]

        if inputs.blocked is not None:
            not_run = fairness_not_run(section, inputs.sensitive, inputs.blocked)
            return SectionOutput(findings=findings(not_run))
        if inputs.y_pred is None:
            return SectionOutput(
                findings=[
                    Finding(
                        result=undefined(rule.metric, "fairness", inputs.no_labels_reason),
                        undefined=rule.undefined,
                    )
                    for rule in section.rules
                ]
            )
        favourable = _favourable(section, inputs)
        assumed = section.favourable_label is None
        section = section.model_copy(update={"favourable_label": favourable})
        stats = binary_confusion(
            inputs.y_true,
            inputs.y_pred,
            sensitive_features=inputs.frame[inputs.sensitive],
            pos_label=inputs.pos_label,
            missing="group",
        )
        reports = fairness_reports(
            stats, section, default_n_boot=run.n_boot, random_state=run.random_state
        )
        results = fairness_checks(reports, section, default_n_boot=run.n_boot)
        notes: list[str] = []
        if assumed:
            notes.append(NOTE_ASSUMED.format(label=plain(inputs.pos_label)))
            results = [_assumed(result, inputs.pos_label) for result in results]
        # The widest report of the positive label's counts: the most replicates.
        widest = reports[max(reports, key=lambda key: (key[0], key[1], not key[2]))]
        return SectionOutput(
            findings=findings(results),
            evidence={"fairness_report": widest.to_dict()},
            notes=notes,
            facts={
                "favourable_label": plain(favourable),
                "favourable_label_source": "assumed" if assumed else "policy",
            },
        )


def _values(inputs: EvaluationInputs) -> list[Any]:
    return sorted(pd.unique(pd.Series(inputs.y_true).dropna()).tolist(), key=str)


def _favourable(section: Fairness, inputs: EvaluationInputs) -> Any:
    """Return the favourable label in the target's type (the positive label when not set).

    None when the policy names a label that is not a value of the target.
    """
    given = section.favourable_label
    if given is None:
        return inputs.pos_label
    label = coerce_label(given, inputs.y_true)
    if inputs.y_true.dtype.kind in "OUS" and not isinstance(label, str):
        label = str(label)  # favourable_label: 0 for a target read as text
    return next((value for value in _values(inputs) if value == label), None)


def _assumed(result: CheckResult, pos_label: Any) -> CheckResult:
    """Say in the message of a check about the favourable outcome that it was assumed."""
    if result.check.split(":", 1)[0] not in FAVOURABLE_OUTCOME_RULES:
        return result
    return replace(result, message=result.message + ASSUMED.format(label=plain(pos_label)))
