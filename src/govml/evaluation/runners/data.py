"""The ``data`` section: expectations on the evaluation data as read, before any model runs."""

from __future__ import annotations

from govml.checks.result import Category
from govml.evaluation.gates import data_checks
from govml.evaluation.runners.base import EvaluationRun, Finding, SectionOutput
from govml.policy import Policy
from govml.policy.diagnostics import Path as FieldPath


class DataRunner:
    """Runs the policy's data expectations on the raw table."""

    section: Category = "data"
    stage = "data checks"
    clock = "data_checks"
    reads_predictions = False

    def applies(self, policy: Policy) -> bool:
        """Return whether the policy has data expectations."""
        return bool(policy.data)

    def problems(self, run: EvaluationRun) -> list[tuple[FieldPath, str]]:
        """Return nothing: every expectation applies to any data."""
        return []

    def run(self, run: EvaluationRun) -> SectionOutput:
        """Check every expectation; each result carries its own evidence."""
        results = data_checks(
            run.table, run.policy.data, training_schema=run.training_schema, subject=run.subject
        )
        return SectionOutput(findings=[Finding(result=result) for result in results])
