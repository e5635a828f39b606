"""What every section runner shares: the run it reads, what it returns, and its Protocol.

A runner turns one section of a policy into check results. It reads an `EvaluationRun`
(the policy, the data, the model and the predictions, gathered once by the service) and
returns a `SectionOutput`; it never reads the store. What only the store knows (the
champion's statistics, the production version's importance, the model card) the service
hands over as `Lookups`, called only when a rule needs it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from govml.checks import CheckResult
from govml.checks.result import Category
from govml.domain.records import Model, ModelVersion
from govml.evaluation.inputs import EvaluationInputs
from govml.evaluation.performance import Champion
from govml.flavors.base import LoadedModel
from govml.policy import Policy
from govml.policy.diagnostics import Path as FieldPath
from govml.policy.vocabulary import Outcome


class Lookups(Protocol):
    """Facts a runner may need from the store, looked up by the service on demand."""

    def champion(self, inputs: EvaluationInputs) -> Champion:
        """Return the version holding ``production`` and its statistics on the same rows."""
        ...

    def production_importance(
        self, inputs: EvaluationInputs
    ) -> tuple[Mapping[str, float] | None, str | None]:
        """Return the production version's importance, or None and why there is none."""
        ...

    def card(self) -> Mapping[str, Any] | None:
        """Return the model card's fields at their latest revision (None without a model)."""
        ...


@dataclass(frozen=True, kw_only=True)
class EvaluationRun:
    """Everything the runners read, gathered once by the evaluation service.

    Attributes
    ----------
    policy : Policy
        The policy evaluated against.
    policy_dir : pathlib.Path
        The policy file's folder (relative paths in the policy are read from it).
    tier : str
        The risk tier the evaluation is judged for.
    subject : str
        ``NAME@VERSION`` or the label of outside predictions, for messages.
    table : pyarrow.Table
        The evaluation data as read.
    training_schema : list of dict or None
        The schema of the version's training data, when recorded.
    model, version : Model, ModelVersion or None
        The registered model and version (None for outside predictions).
    loaded : LoadedModel or None
        The loaded model (None when there is none or the scan refused the artifact).
    refused : bool
        Whether the security scan refused the artifact.
    inputs : EvaluationInputs or None
        Outcomes, predictions and scores (blocked, with the reason, when a data check
        failed or the model cannot predict); None while the raw-data runners run.
    n_boot, random_state : int
        Default bootstrap replicates and the seed of every random draw.
    lookups : Lookups
        Facts from the store, on demand.
    training_table : pyarrow.Table or None
        The training data given to the evaluation (``--training-data``), if any.
    training_profile : dict or None
        The profile of the version's training fingerprint, when recorded.
    """

    policy: Policy
    policy_dir: Path
    tier: str
    subject: str
    table: Any
    training_schema: list[Mapping[str, Any]] | None
    model: Model | None
    version: ModelVersion | None
    loaded: LoadedModel | None
    refused: bool
    inputs: EvaluationInputs | None
    n_boot: int
    random_state: int
    lookups: Lookups
    training_table: Any = None
    training_profile: Mapping[str, Any] | None = None

    def predictions(self) -> EvaluationInputs:
        """Return the gathered inputs (for a runner that does not run on the raw data)."""
        if self.inputs is None:
            raise RuntimeError("the inputs are gathered after the raw-data runners ran")
        return self.inputs


@dataclass(frozen=True, kw_only=True)
class Finding:
    """One check result and the rule's own ``undefined`` (which wins over the policy's)."""

    result: CheckResult
    undefined: Outcome | None = None


@dataclass(kw_only=True)
class SectionOutput:
    """What a runner returns: its findings, evidence artifacts, notes and document facts.

    ``evidence`` maps an artifact name to JSON content stored beside the evaluation;
    ``facts`` are added to the evaluation document (the champion compared with, say).
    ``blocks`` says why the checks that read predictions must not run (a data check
    failed), or is None.
    """

    findings: list[Finding] = field(default_factory=list)
    evidence: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    facts: dict[str, Any] = field(default_factory=dict)
    blocks: str | None = None


class SectionRunner(Protocol):
    """Runs one section of a policy.

    Attributes
    ----------
    section : str
        The policy section (and check category) it runs.
    stage : str
        What progress reports while it runs.
    clock : str
        The name its wall time is recorded under in the document's ``timings``.
    on_raw_data : bool
        Whether it runs on the data as read, before the artifact is scanned and the model
        predicts; such a runner reads ``run.table`` only (``run.inputs`` is None) and must
        cope with any content: missing values, text in numeric columns, wrong types.
    """

    section: Category
    stage: str
    clock: str
    on_raw_data: bool

    def applies(self, policy: Policy) -> bool:
        """Return whether ``policy`` has this section."""
        ...

    def problems(self, run: EvaluationRun) -> list[tuple[FieldPath, str]]:
        """Return ``(field path, message)`` for rules that cannot apply to these inputs.

        Asked once the inputs are gathered, before the first runner that is not on the raw
        data, and only when the inputs are not blocked.
        """
        ...

    def run(self, run: EvaluationRun) -> SectionOutput:
        """Run the section's rules."""
        ...
