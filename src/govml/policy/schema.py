"""The policy document (``apiVersion: govml/v1``, ``kind: Policy``) as pydantic models.

A policy names the risk tiers it governs and the gates a model version of those tiers must
pass: data expectations, performance (absolute and against the champion), fairness,
explainability, security, documentation, approvals, and the rules monitoring applies in
production. Its digest is the SHA-256 of the canonical JSON (RFC 8785) of the validated
document with every default filled in, so layout, comments, key order and spelled-out
defaults do not change it.
"""

from __future__ import annotations

import hashlib
from typing import Any, Literal, Self

from pydantic import Field, field_validator, model_validator

from govml.domain.records import check_name
from govml.errors import ValidationError
from govml.ledger.canonical import canonical_json
from govml.policy import messages as msg
from govml.policy._base import PolicyModel, describe_value, unique
from govml.policy.baseline import Baseline
from govml.policy.decisions import Oversight, ReasonCodes, Retention
from govml.policy.diagnostics import FieldProblems, Path
from govml.policy.expectations import DataExpectation
from govml.policy.operations import EnvironmentCheck, Revalidation
from govml.policy.robustness import Robustness
from govml.policy.rules import Fairness, PerformanceRule, reference_group_problems
from govml.policy.sections import (
    Approvals,
    Documentation,
    Explainability,
    Monitoring,
    Security,
    Serving,
)
from govml.policy.training_data import TrainingData
from govml.policy.vocabulary import FAIRNESS_METRICS, HIGH_RISK_TIERS, TIERS, Outcome, Tier

ERR_MONITORING_GROUP_RULE = (
    "{metric} is checked by evaluations only; monitoring judges a binary classifier's "
    "fairness metrics (demographic parity, equalized odds, ...)"
)

API_VERSION = "govml/v1"
KIND = "Policy"


class Metadata(PolicyModel):
    """Who the policy is and who answers for it."""

    name: str
    description: str = ""
    owner: str | None = None

    @field_validator("name", mode="plain")
    @classmethod
    def _name(cls, value: Any) -> str:
        if not isinstance(value, str):
            raise ValueError(msg.ERR_TYPE.format(expected="a string", got=describe_value(value)))
        try:
            return check_name(value, what="policy name")
        except ValidationError:
            raise ValueError(msg.ERR_BAD_NAME.format(value=value)) from None


class Policy(PolicyModel):
    """A governance policy.

    ``undefined`` says what an undefined metric result (a 0/0, a group too small) counts
    as; when not given it is ``fail`` for the ``high`` and ``unacceptable`` tiers and
    ``warn`` for the others. Rules may override it one by one.
    """

    api_version: Literal["govml/v1"] = Field(alias="apiVersion")
    kind: Literal["Policy"]
    metadata: Metadata
    tiers: list[Tier] = Field(min_length=1)
    undefined: Outcome | None = None
    data: list[DataExpectation] = Field(default_factory=list)
    performance: list[PerformanceRule] = Field(default_factory=list)
    fairness: Fairness | None = None
    explainability: Explainability | None = None
    security: Security | None = None
    documentation: Documentation | None = None
    approvals: Approvals | None = None
    monitoring: Monitoring | None = None
    # Left out of the document (and so of the digest) when absent or all defaults.
    serving: Serving | None = Field(default=None, exclude_if=lambda v: v is None or v == Serving())
    training_data: TrainingData | None = Field(default=None, exclude_if=lambda v: v is None)
    robustness: Robustness | None = Field(default=None, exclude_if=lambda v: v is None)
    baseline: Baseline | None = Field(default=None, exclude_if=lambda v: v is None)
    revalidation: Revalidation | None = Field(default=None, exclude_if=lambda v: v is None)
    environment: EnvironmentCheck | None = Field(default=None, exclude_if=lambda v: v is None)
    reason_codes: ReasonCodes | None = Field(default=None, exclude_if=lambda v: v is None)
    oversight: Oversight | None = Field(default=None, exclude_if=lambda v: v is None)
    retention: Retention | None = Field(default=None, exclude_if=lambda v: v is None)

    @field_validator("tiers")
    @classmethod
    def _unique_and_ordered(cls, value: list[Tier]) -> list[Tier]:
        # A set of tiers: kept in the vocabulary's order so that the digest ignores the order.
        unique(value)
        return [tier for tier in TIERS if tier in value]

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        problems: list[tuple[Path, str]] = []
        gates = (
            self.data,
            self.performance,
            self.fairness,
            self.explainability,
            self.security,
            self.documentation,
            self.approvals,
            self.training_data,
            self.robustness,
            self.baseline,
        )
        if set(self.tiers) != {"unacceptable"} and not any(gates):
            problems.append(((), msg.ERR_NO_RULES))
        if self.monitoring is not None and self.monitoring.fairness:
            for index, rule in enumerate(self.monitoring.fairness):
                if rule.metric not in FAIRNESS_METRICS:
                    message = ERR_MONITORING_GROUP_RULE.format(metric=rule.metric)
                    problems.append((("monitoring", "fairness", index, "metric"), message))
            if self.fairness is None:
                problems.append((("monitoring", "fairness"), msg.ERR_MONITORING_FAIRNESS))
            else:
                found = reference_group_problems(
                    self.monitoring.fairness,
                    self.fairness.sensitive,
                    self.fairness.reference_groups,
                )
                # Paths start at the rules' list: monitoring.fairness[i] itself.
                problems += [(("monitoring", "fairness", *path[1:]), t) for path, t in found]
        if problems:
            raise FieldProblems(problems)
        return self

    @property
    def name(self) -> str:
        """The policy's name (``metadata.name``)."""
        return self.metadata.name

    def undefined_outcome(self, tier: str, override: Outcome | None = None) -> Outcome:
        """Return what an undefined result counts as for a model of risk tier ``tier``.

        Parameters
        ----------
        tier
            The model's risk tier.
        override
            The rule's own ``undefined``, which wins when given.
        """
        if override is not None:
            return override
        if self.undefined is not None:
            return self.undefined
        return "fail" if tier in HIGH_RISK_TIERS else "warn"

    def document(self) -> dict[str, Any]:
        """Return the validated policy as JSON-safe data, every default filled in."""
        return self.model_dump(mode="json", by_alias=True)

    def canonical(self) -> bytes:
        """Return the canonical JSON (RFC 8785) of `document`: the bytes the digest covers."""
        return canonical_json(self.document())

    def digest(self) -> str:
        """Return ``sha256:<hex>`` of the canonical JSON of the validated policy."""
        return "sha256:" + hashlib.sha256(self.canonical()).hexdigest()
