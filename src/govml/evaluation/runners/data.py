"""The ``data`` section: expectations on the evaluation data as read, before any model runs.

The checks run on the raw table and report what they find in their evidence, whatever the
content (missing values, text in a numeric column, a changed type). A failing check blocks
the checks that read predictions: they are recorded as undefined, naming it.
"""

from __future__ import annotations

from collections.abc import Sequence

from govml.checks import CheckResult
from govml.checks.result import Category
from govml.evaluation.gates import data_checks, expectation_columns
from govml.evaluation.runners.base import EvaluationRun, Finding, SectionOutput
from govml.policy import Policy
from govml.policy.diagnostics import Path as FieldPath
from govml.policy.expectations import DataExpectation

NOT_RUN = "not run: data {noun} {names} failed"


class DataRunner:
    """Runs the policy's data expectations on the raw table."""

    section: Category = "data"
    stage = "data checks"
    clock = "data_checks"
    on_raw_data = True

    def applies(self, policy: Policy) -> bool:
        """Return whether the policy has data expectations."""
        return bool(policy.data)

    def problems(self, run: EvaluationRun) -> list[tuple[FieldPath, str]]:
        """Return nothing: every expectation applies to any data."""
        return []

    def run(self, run: EvaluationRun) -> SectionOutput:
        """Check every expectation; a failing one blocks the checks that read predictions."""
        results = data_checks(
            run.table, run.policy.data, training_schema=run.training_schema, subject=run.subject
        )
        return SectionOutput(
            findings=[Finding(result=result) for result in results],
            blocks=blocking(run.policy.data, results),
        )


def blocking(expectations: Sequence[DataExpectation], results: Sequence[CheckResult]) -> str | None:
    """Return ``not run: data check no_nulls(age) failed`` for the failing checks, or None."""
    failed = [
        _label(expectation, result)
        for expectation, result in zip(expectations, results, strict=True)
        if result.status == "fail"
    ]
    if not failed:
        return None
    noun = "check" if len(failed) == 1 else "checks"
    return NOT_RUN.format(noun=noun, names=", ".join(failed))


def _label(expectation: DataExpectation, result: CheckResult) -> str:
    """Return the check with the columns it failed on: ``no_nulls(age)``, ``between(age)``."""
    columns = expectation_columns(expectation)
    missing = result.evidence.get("missing")
    if isinstance(missing, dict):  # no_nulls: the columns that have missing values
        columns = [name for name in columns if missing.get(name)] or columns
    name = result.check.split(":", 1)[0]
    return f"{name}({', '.join(columns)})" if columns else name
