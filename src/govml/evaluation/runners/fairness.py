"""The ``fairness`` section: disparities between groups of the sensitive features."""

from __future__ import annotations

from govml.checks.result import Category
from govml.evaluation.gates import fairness_checks, fairness_reports
from govml.evaluation.model_checks import undefined
from govml.evaluation.runners.base import EvaluationRun, Finding, SectionOutput
from govml.metrics import binary_confusion
from govml.policy import Policy
from govml.policy.diagnostics import Path as FieldPath

ERR_FAIRNESS_TASK = (
    "fairness rules need a binary classifier's decisions; {subject} is a {task} model"
)


class FairnessRunner:
    """Builds per-group confusion statistics once and checks every fairness rule on them."""

    section: Category = "fairness"
    stage = "fairness"
    clock = "fairness"
    reads_predictions = True

    def applies(self, policy: Policy) -> bool:
        """Return whether the policy has a fairness section."""
        return policy.fairness is not None

    def problems(self, run: EvaluationRun) -> list[tuple[FieldPath, str]]:
        """Return a problem when the model is not a binary classifier."""
        inputs = run.predictions()
        if inputs.task == "binary":
            return []
        return [(("fairness",), ERR_FAIRNESS_TASK.format(subject=run.subject, task=inputs.task))]

    def run(self, run: EvaluationRun) -> SectionOutput:
        """Check every rule on every grouping; the widest report is kept as evidence."""
        section = run.policy.fairness
        assert section is not None
        inputs = run.predictions()
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
        by_metric = {rule.metric: rule.undefined for rule in section.rules}
        findings = [
            Finding(result=result, undefined=by_metric.get(result.check.split(":", 1)[0]))
            for result in fairness_checks(reports, section, default_n_boot=run.n_boot)
        ]
        widest = reports[max(reports)]
        return SectionOutput(findings=findings, evidence={"fairness_report": widest.to_dict()})
