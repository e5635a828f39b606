"""The ``security`` section: licenses, known vulnerabilities and the SBOM of the environment.

The artifact's serialization scan is not run here: it runs before the model is loaded,
whatever the policy says (see :class:`govml.services.evaluation.EvaluationService`).
"""

from __future__ import annotations

from govml.checks.result import Category
from govml.evaluation.inputs import NO_MODEL
from govml.evaluation.model_checks import security_checks
from govml.evaluation.runners.base import EvaluationRun, Finding, SectionOutput
from govml.policy import Policy
from govml.policy.diagnostics import Path as FieldPath


class SecurityRunner:
    """Checks the version's recorded environment."""

    section: Category = "security"
    stage = "security"
    clock = "security"
    on_raw_data = False

    def applies(self, policy: Policy) -> bool:
        """Return whether the policy has a security section."""
        return policy.security is not None

    def problems(self, run: EvaluationRun) -> list[tuple[FieldPath, str]]:
        """Return nothing: the section reads the version, not the predictions."""
        return []

    def run(self, run: EvaluationRun) -> SectionOutput:
        """Check licenses and vulnerabilities; build the SBOM (stored as evidence)."""
        section = run.policy.security
        assert section is not None
        results, sbom = security_checks(
            section, run.version, policy_dir=run.policy_dir, no_model_reason=NO_MODEL
        )
        evidence = {} if sbom is None else {"sbom": sbom}
        return SectionOutput(findings=[Finding(result=r) for r in results], evidence=evidence)
