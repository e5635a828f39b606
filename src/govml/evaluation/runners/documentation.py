"""The ``documentation`` section: the model card's required fields are filled in."""

from __future__ import annotations

from govml.checks.result import Category
from govml.evaluation.inputs import NO_MODEL
from govml.evaluation.model_checks import documentation_checks
from govml.evaluation.runners.base import EvaluationRun, Finding, SectionOutput
from govml.policy import Policy
from govml.policy.diagnostics import Path as FieldPath


class DocumentationRunner:
    """Checks the model record, the card's latest fields and the version's lineage."""

    section: Category = "documentation"
    stage = "documentation"
    clock = "documentation"
    on_raw_data = False

    def applies(self, policy: Policy) -> bool:
        """Return whether the policy has a documentation section."""
        return policy.documentation is not None

    def problems(self, run: EvaluationRun) -> list[tuple[FieldPath, str]]:
        """Return nothing: the section reads the model's records, not the predictions."""
        return []

    def run(self, run: EvaluationRun) -> SectionOutput:
        """Check every required field."""
        section = run.policy.documentation
        assert section is not None
        card = None if run.model is None else run.lookups.card()
        results = documentation_checks(
            section, run.model, run.version, no_model_reason=NO_MODEL, card=card
        )
        return SectionOutput(findings=[Finding(result=r) for r in results])
