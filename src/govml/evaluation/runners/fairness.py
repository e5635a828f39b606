"""The ``fairness`` section: disparities between groups of the sensitive features.

What is measured depends on the model. A binary classifier's rules read per-group confusion
counts (`govml.metrics.report`), and its calibration rules read score bins
(`govml.metrics.calibration`); a multiclass classifier's rules are Fairlearn's disparities
measured for each class against the rest, the worst class checked
(`govml.metrics.group_multiclass`); a regression model's rules compare group errors and
predictions from regression moments (`govml.metrics.group_regression`). A rule that does
not apply to the model is named as a policy problem before anything runs.

The favourable outcome (``fairness.favourable_label``) is read in the target's type and must
be one of its values; rules about the favourable outcome measure it. When the policy does
not name it, it is taken to be the positive label, and the evaluation says so in a note and
in the message of each check that depends on it.
"""

from __future__ import annotations

from collections.abc import Callable
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
    group_rule_checks,
)
from govml.evaluation.inputs import EvaluationInputs, coerce_label, plain, values_text
from govml.evaluation.model_checks import undefined
from govml.evaluation.runners.base import EvaluationRun, Finding, SectionOutput
from govml.metrics import binary_confusion, multiclass_confusion
from govml.metrics._validate import MetricInputError
from govml.metrics.calibration import calibration_bins, calibration_sections
from govml.metrics.group_multiclass import multiclass_sections
from govml.metrics.group_regression import Replication, blocked_moments, regression_sections
from govml.metrics.report import FairnessSection
from govml.policy import Fairness, Policy
from govml.policy.diagnostics import Path as FieldPath
from govml.policy.vocabulary import (
    CALIBRATION_RULE_METRICS,
    FAIRLEARN_DISPARITIES,
    FAIRNESS_METRICS,
    REGRESSION_RULE_METRICS,
)

RULES_BY_TASK: dict[str, frozenset[str]] = {
    "binary": frozenset(FAIRNESS_METRICS) | CALIBRATION_RULE_METRICS,
    "multiclass": frozenset(FAIRLEARN_DISPARITIES),
    "regression": REGRESSION_RULE_METRICS,
}
"""The fairness rules each kind of model can be checked on."""

ERR_RULE_TASK = (
    "{metric} does not apply to {subject}, a {task} model; a {task} model's fairness rules "
    "are: {choices}"
)
ERR_FAVOURABLE_REGRESSION = "favourable_label does not apply to {subject}, a regression model"
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
        """Return problems: rules that do not fit the model's task, a wrong favourable label."""
        inputs = run.predictions()
        section = run.policy.fairness
        assert section is not None
        allowed = RULES_BY_TASK[inputs.task]
        found: list[tuple[FieldPath, str]] = []
        for index, rule in enumerate(section.rules):
            if rule.metric not in allowed:
                message = ERR_RULE_TASK.format(
                    metric=rule.metric,
                    subject=run.subject,
                    task=inputs.task,
                    choices=", ".join(sorted(allowed)),
                )
                found.append((("fairness", "rules", index, "metric"), message))
        if section.favourable_label is None:
            return found
        if inputs.task == "regression":
            message = ERR_FAVOURABLE_REGRESSION.format(subject=run.subject)
            return [*found, (("fairness", "favourable_label"), message)]
        if _favourable(section, inputs) is not None:
            return found
        values = _values(inputs)
        message = ERR_FAVOURABLE.format(
            label=section.favourable_label, target=inputs.target, values=values_text(values)
        )
        return [*found, (("fairness", "favourable_label"), message)]

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
        if inputs.task == "regression":
            return _regression(run, section, inputs, findings)
        if inputs.task == "multiclass":
            return _multiclass(run, section, inputs, findings)
        calibration = _only(section, CALIBRATION_RULE_METRICS)
        section = _only(section, frozenset(FAIRNESS_METRICS))
        output = self._binary(run, section, inputs, findings) if section.rules else SectionOutput()
        if calibration.rules:
            extra = _calibration(run, calibration, inputs, findings)
            output.findings.extend(extra.findings)
            output.evidence.update(extra.evidence)
        return output

    def _binary_statistics(self, inputs: EvaluationInputs) -> Any:
        """Return the confusion counts per group the binary rules read (here: of the rows)."""
        return binary_confusion(
            inputs.y_true,
            inputs.y_pred,
            sensitive_features=inputs.frame[inputs.sensitive],
            pos_label=inputs.pos_label,
            missing="group",
        )

    def _binary(
        self,
        run: EvaluationRun,
        section: Fairness,
        inputs: EvaluationInputs,
        findings: Callable[[list[CheckResult]], list[Finding]],
    ) -> SectionOutput:
        favourable = _favourable(section, inputs)
        assumed = section.favourable_label is None
        section = section.model_copy(update={"favourable_label": favourable})
        stats = self._binary_statistics(inputs)
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


Findings = Callable[[list[CheckResult]], list[Finding]]
SectionsKey = tuple[int, float]
POINT_KEY: SectionsKey = (0, 0.95)


def _only(section: Fairness, metrics: frozenset[str]) -> Fairness:
    """Return the section with the rules on ``metrics`` only (not validated again)."""
    rules = [rule for rule in section.rules if rule.metric in metrics]
    return section.model_copy(update={"rules": rules})


def _keys(section: Fairness, default_n_boot: int) -> list[SectionsKey]:
    wanted = {POINT_KEY}
    for rule in section.rules:
        if rule.confidence is not None:
            wanted.add((rule.n_boot or default_n_boot, rule.confidence))
    return sorted(wanted)


def _replication(key: SectionsKey, random_state: int) -> Replication | None:
    if key[0] == 0:
        return None
    return Replication(n_boot=key[0], confidence=key[1], random_state=random_state)


def _report(sections: tuple[FairnessSection, ...]) -> dict[str, Any]:
    return {"sections": [grouping.to_dict() for grouping in sections]}


def _regression(
    run: EvaluationRun, section: Fairness, inputs: EvaluationInputs, findings: Findings
) -> SectionOutput:
    blocked = blocked_moments(
        inputs.y_true,
        inputs.y_pred,
        sensitive_features=inputs.frame[inputs.sensitive],
        random_state=run.random_state,
    )
    sections = {
        key: regression_sections(
            blocked,
            min_group_size=section.min_group_size,
            intersections=section.intersectional,
            replication=_replication(key, run.random_state),
        )
        for key in _keys(section, run.n_boot)
    }
    results = group_rule_checks(sections, section, default_n_boot=run.n_boot)
    widest = sections[max(sections)]
    return SectionOutput(
        findings=findings(results),
        evidence={
            "fairness_report": _report(widest),
            "fairness_statistics": blocked.to_dict(),
        },
    )


def _multiclass(
    run: EvaluationRun, section: Fairness, inputs: EvaluationInputs, findings: Findings
) -> SectionOutput:
    stats = multiclass_confusion(
        inputs.y_true,
        inputs.y_pred,
        sensitive_features=inputs.frame[inputs.sensitive],
        missing="group",
    )
    favourable = None if section.favourable_label is None else _favourable(section, inputs)
    results: list[CheckResult] = []
    widest: tuple[FairnessSection, ...] = ()
    # Rules about the favourable outcome judge its class only, when the policy names one.
    for classes, metrics in (
        (None, frozenset(FAIRLEARN_DISPARITIES) - FAVOURABLE_OUTCOME_RULES),
        (
            None if favourable is None else [favourable],
            frozenset(FAIRLEARN_DISPARITIES) & FAVOURABLE_OUTCOME_RULES,
        ),
    ):
        part = _only(section, metrics)
        if not part.rules:
            continue
        sections = {
            key: multiclass_sections(
                stats,
                min_group_size=section.min_group_size,
                intersections=section.intersectional,
                classes=classes,
                replication=_replication(key, run.random_state),
            )
            for key in _keys(part, run.n_boot)
        }
        results += group_rule_checks(sections, part, default_n_boot=run.n_boot)
        widest = widest or sections[max(sections)]
    facts: dict[str, Any] = {}
    if favourable is not None:
        facts = {"favourable_label": plain(favourable), "favourable_label_source": "policy"}
    return SectionOutput(
        findings=findings(_in_rule_order(results, section)),
        evidence={"fairness_report": _report(widest), "fairness_statistics": stats.to_dict()},
        facts=facts,
    )


def _in_rule_order(results: list[CheckResult], section: Fairness) -> list[CheckResult]:
    order = {rule.metric: index for index, rule in enumerate(section.rules)}
    return sorted(results, key=lambda r: order.get(r.check.split(":", 1)[0], len(order)))


def _calibration(
    run: EvaluationRun, section: Fairness, inputs: EvaluationInputs, findings: Findings
) -> SectionOutput:
    if inputs.scores is None:
        reason = inputs.no_scores_reason
        return SectionOutput(findings=findings(fairness_not_run(section, inputs.sensitive, reason)))
    try:
        bins = calibration_bins(
            inputs.y_true == inputs.pos_label,
            inputs.scores,
            sensitive_features=inputs.frame[inputs.sensitive],
            missing="group",
        )
    except MetricInputError as exc:
        reason = exc.message
        return SectionOutput(findings=findings(fairness_not_run(section, inputs.sensitive, reason)))
    sections = {
        key: calibration_sections(
            bins,
            min_group_size=section.min_group_size,
            intersections=section.intersectional,
            replication=_replication(key, run.random_state),
        )
        for key in _keys(section, run.n_boot)
    }
    results = group_rule_checks(sections, section, default_n_boot=run.n_boot)
    reliability = {
        "*".join(grouping.features): bins.marginal(list(grouping.features)).reliability()
        for grouping in sections[POINT_KEY]
    }
    return SectionOutput(
        findings=findings(results),
        evidence={
            "calibration": {
                "report": _report(sections[max(sections)]),
                "reliability": reliability,
                "statistics": bins.to_dict(),
            }
        },
    )
