"""What a document is built from: the records govml holds about a model, read once.

`govml.services.documents` gathers these from the store; the builders in this package are
plain functions of them (no database, no clock), so the same facts always give the same
document, and tests can build documents from facts they write by hand.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from govml.documents.fields import ModelCardFields
from govml.domain.lifecycle import AliasChange, Approval
from govml.domain.records import LedgerEntry, Model, ModelVersion
from govml.domain.serving import ServingConfig
from govml.evaluation import Evaluation
from govml.monitoring.records import MonitorPoint
from govml.policy.records import StoredPolicy

EvidenceReader = Callable[[Evaluation, str], bytes | None]
"""Return the bytes of an evaluation's evidence artifact by name, or None."""

FAIRNESS_EVIDENCE = "fairness_report"
EXPLANATION_EVIDENCE = "explanation"
DRIFT_EVIDENCE = "drift"


@dataclass(frozen=True, kw_only=True)
class ModelFacts:
    """Everything govml holds about one model, as of ``generated_at``.

    ``versions``, ``approvals``, ``changes``, ``entries`` and ``monitoring`` are oldest
    first; ``evaluations`` newest first. ``entries`` are the ledger entries whose subject is
    the model or one of its versions; ``evaluation_entries`` maps an evaluation id to the
    seq of its ``evaluation.recorded`` entry. ``datasets`` maps a digest to its stored
    fingerprint and ``dataset_entries`` to its ``dataset.recorded`` entry. ``monitoring``
    is the time series of the model's monitoring checks, as ``govml monitor history``
    shows it. ``risk_registers`` are the revisions of the model's risk register, oldest
    first; ``ticket_url`` the operator's pattern linking change tickets (``GOVML_TICKET_URL``).
    """

    model: Model
    versions: list[ModelVersion]
    card: ModelCardFields
    policy: StoredPolicy | None
    evaluations: list[Evaluation]
    approvals: list[Approval]
    changes: list[AliasChange]
    serving: ServingConfig
    entries: list[LedgerEntry]
    evaluation_entries: dict[int, int] = field(default_factory=dict)
    datasets: dict[str, dict[str, Any]] = field(default_factory=dict)
    dataset_entries: dict[str, LedgerEntry] = field(default_factory=dict)
    monitoring: list[MonitorPoint] = field(default_factory=list)
    evidence: EvidenceReader | None = None
    risk_registers: list[dict[str, Any]] = field(default_factory=list)
    ticket_url: str | None = None
    generated_at: datetime

    def version(self, number: int) -> ModelVersion:
        """Return version ``number`` (which the service checked exists)."""
        for version in self.versions:
            if version.version == number:
                return version
        raise KeyError(number)

    def evaluations_of(self, number: int) -> list[Evaluation]:
        """Return the evaluations of version ``number``, newest first."""
        return [e for e in self.evaluations if e.document["subject"].get("version") == number]

    def approvals_of(self, number: int) -> list[Approval]:
        """Return the decisions on version ``number``, oldest first."""
        return [a for a in self.approvals if a.version == number]

    def monitoring_entries(self) -> list[LedgerEntry]:
        """Return the ledger entries written by production monitoring (``monitoring.*``)."""
        return [e for e in self.entries if e.action.startswith("monitoring.")]

    def monitoring_runs(self) -> list[LedgerEntry]:
        """Return the ``monitoring.run`` entries: one per stored run, with its policy."""
        return [e for e in self.entries if e.action == "monitoring.run"]

    def under_policy_in_force(self, evaluation: Evaluation) -> bool:
        """Say whether an evaluation was made under the policy now in force (same digest).

        This is the test promotion applies: an evaluation against a ``--policy`` file, or
        under a policy since replaced, is not evidence of the policy in force.
        """
        used = evaluation.document.get("policy") or {}
        return self.policy is not None and used.get("digest") == self.policy.digest

    def evidence_json(self, evaluation: Evaluation, name: str) -> Mapping[str, Any] | None:
        """Return an evaluation's evidence ``name`` parsed, or None when absent or unreadable."""
        if self.evidence is None:
            return None
        blob = self.evidence(evaluation, name)
        if blob is None:
            return None
        try:
            data = json.loads(blob)
        except (UnicodeDecodeError, ValueError):
            return None
        return data if isinstance(data, Mapping) else None


@dataclass(frozen=True, kw_only=True)
class DatasetFacts:
    """A stored dataset fingerprint and where it was used.

    ``uses`` lists ``(model, version, role)`` of every version whose lineage names it;
    ``evaluations`` the evaluations run on data with the same digest.
    """

    digest: str
    fingerprint: dict[str, Any]
    recorded: LedgerEntry | None
    uses: list[tuple[str, int, str]]
    targets: dict[str, str]
    evaluations: list[Evaluation]
    sensitive: list[str]
    generated_at: datetime
