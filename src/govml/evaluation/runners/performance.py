"""The ``performance`` section: metric bounds and comparisons with the champion."""

from __future__ import annotations

from typing import Any

from govml.checks import CheckResult
from govml.checks.result import Category
from govml.evaluation.inputs import stats_lookup, usable_kinds
from govml.evaluation.performance import Measure, performance_checks, performance_not_run
from govml.evaluation.runners.base import EvaluationRun, Finding, SectionOutput
from govml.policy import Policy
from govml.policy.diagnostics import Path as FieldPath

ERR_NOT_APPLICABLE = (
    "{metric} does not apply to {subject}: it needs {needs} statistics and {subject} is a "
    "{task} model"
)


class PerformanceRunner:
    """Checks each performance rule on the predictions, and against the champion."""

    section: Category = "performance"
    stage = "performance"
    clock = "performance"
    on_raw_data = False

    def applies(self, policy: Policy) -> bool:
        """Return whether the policy has performance rules."""
        return bool(policy.performance)

    def problems(self, run: EvaluationRun) -> list[tuple[FieldPath, str]]:
        """Return each rule whose metric the model's task cannot give (ROC AUC on a regressor)."""
        inputs = run.predictions()
        problems: list[tuple[FieldPath, str]] = []
        for index, rule in enumerate(run.policy.performance):
            kinds = Measure.of(rule).kinds
            if not any(kind in usable_kinds(inputs.task) for kind in kinds):
                message = ERR_NOT_APPLICABLE.format(
                    metric=rule.metric,
                    needs=" or ".join(kinds),
                    subject=run.subject,
                    task=inputs.task,
                )
                problems.append((("performance", index, "metric"), message))
        return problems

    def run(self, run: EvaluationRun) -> SectionOutput:
        """Check every rule; the champion is looked up only when a rule compares with it."""
        inputs = run.predictions()
        if inputs.blocked is not None:
            not_run = performance_not_run(run.policy.performance, inputs.blocked)
            return SectionOutput(findings=_findings(run, not_run))
        champion = run.lookups.champion(inputs)
        results = performance_checks(
            run.policy.performance, stats_lookup(inputs), champion=champion
        )
        facts: dict[str, Any] = {}
        if champion.stats_for is not None:
            model, _, number = champion.subject.partition("@")
            facts["champion"] = {
                "model": model,
                "version": int(number) if number.isdigit() else None,
            }
        return SectionOutput(findings=_findings(run, results), facts=facts)


def _findings(run: EvaluationRun, results: list[CheckResult]) -> list[Finding]:
    """Pair each result with its rule's own ``undefined``."""
    overrides: dict[str, Any] = {}
    for rule in run.policy.performance:
        overrides[rule.metric] = rule.undefined
        overrides[f"{rule.metric}_vs_champion"] = rule.undefined
    return [Finding(result=r, undefined=overrides.get(r.check)) for r in results]
