"""The ``explainability`` section: SHAP importance, its stability and its top features."""

from __future__ import annotations

from govml.checks.result import Category
from govml.evaluation.inputs import NO_MODEL, REFUSED
from govml.evaluation.model_checks import explainability_checks, explainability_not_run
from govml.evaluation.runners.base import EvaluationRun, Finding, SectionOutput
from govml.policy import Policy
from govml.policy.diagnostics import Path as FieldPath


class ExplainabilityRunner:
    """Explains the model on the evaluation data and checks the section's rules."""

    section: Category = "explainability"
    stage = "explainability"
    clock = "explainability"
    on_raw_data = False

    def applies(self, policy: Policy) -> bool:
        """Return whether the policy has an explainability section."""
        return policy.explainability is not None

    def problems(self, run: EvaluationRun) -> list[tuple[FieldPath, str]]:
        """Return nothing: a model that cannot be explained gives undefined results."""
        return []

    def run(self, run: EvaluationRun) -> SectionOutput:
        """Explain, then check stability (against production), forbidden features and proxies."""
        section = run.policy.explainability
        assert section is not None
        inputs = run.predictions()
        if inputs.blocked is not None:
            not_run = explainability_not_run(section, inputs.blocked)
            return SectionOutput(findings=[Finding(result=r) for r in not_run])
        production, note = None, None
        if section.stability_vs_production is not None:
            production, note = run.lookups.production_importance(inputs)
        results, explanation = explainability_checks(
            section,
            None if run.refused else run.loaded,
            inputs.features,
            run.table,
            sensitive=inputs.sensitive,
            production=production,
            production_note=note,
            no_model_reason=REFUSED if run.refused else NO_MODEL,
            random_state=run.random_state,
        )
        evidence = {} if explanation is None else {"explanation": explanation.to_dict()}
        return SectionOutput(findings=[Finding(result=r) for r in results], evidence=evidence)
