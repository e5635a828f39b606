"""The policy's other sections: explainability, security, documentation, approvals, monitoring.

Approvals and monitoring are validated now and enforced by the lifecycle and monitoring
services.
"""

from __future__ import annotations

import re
from typing import Any, Literal, Self
from urllib.parse import urlsplit

from pydantic import (
    Field,
    SerializerFunctionWrapHandler,
    field_validator,
    model_serializer,
    model_validator,
)

from govml.metrics import DriftTestName
from govml.policy import messages as msg
from govml.policy._base import Name, PolicyModel, unique
from govml.policy.diagnostics import FieldProblems, Path
from govml.policy.operations import ServingThresholds
from govml.policy.rules import FairnessRule, MonitoringPerformanceRule
from govml.policy.vocabulary import (
    Action,
    ApproverRole,
    DocumentationField,
    Explainer,
    Serialization,
    Severity,
    drift_test_is_p_value,
    format_number,
)

# An SPDX id, or a pattern of them with * and ? (GPL-*), as the license check matches them.
_SPDX_ID = re.compile(r"^(LicenseRef-[A-Za-z0-9.*?-]+|[A-Za-z0-9*?][A-Za-z0-9.+*?-]*)$")
_WINDOW = re.compile(r"^[1-9][0-9]*[mhdw]$")
_ENV_NAME = re.compile(r"^[A-Z_][A-Z0-9_]*$")


class Stability(PolicyModel):
    """How much the top features may move against the version holding ``production``.

    ``min_overlap`` is the share of the top-k features both versions have in common;
    ``min_rank_correlation`` is Spearman's correlation of the importance ranks.
    """

    min_overlap: float | None = Field(default=None, ge=0, le=1)
    min_rank_correlation: float | None = Field(default=None, ge=-1, le=1)

    @model_validator(mode="after")
    def _not_empty(self) -> Self:
        if self.min_overlap is None and self.min_rank_correlation is None:
            raise FieldProblems.at((), msg.ERR_STABILITY_EMPTY)
        return self


class Explainability(PolicyModel):
    """Global feature importance (mean |SHAP|) and rules on the top features.

    ``proxy_threshold`` warns when a top feature's association with a sensitive feature
    reaches it; ``sample_rows`` bounds the rows explained.
    """

    top_k: int = Field(default=5, ge=1)
    stability_vs_production: Stability | None = None
    forbidden_in_top_k: list[Name] = Field(default_factory=list)
    proxy_threshold: float | None = Field(default=None, gt=0, le=1)
    explainer: Explainer = "auto"
    sample_rows: int = Field(default=1000, ge=10)

    @field_validator("forbidden_in_top_k")
    @classmethod
    def _unique(cls, value: list[str]) -> list[str]:
        unique(value)
        return value


def _spdx_ids(value: list[str] | None) -> list[str] | None:
    if value is None:
        return None
    problems: list[tuple[Path, str]] = [
        ((index,), msg.ERR_SPDX.format(value=item))
        for index, item in enumerate(value)
        if not _SPDX_ID.match(item)
    ]
    if problems:
        raise FieldProblems(problems)
    unique(value)
    return value


class Licenses(PolicyModel):
    """Licenses of the model's environment: an allow list or a deny list.

    Entries are SPDX ids or patterns of them (``GPL-*``). With ``allow``, any other license
    fails; with ``deny``, the listed ones fail.
    """

    allow: list[str] | None = Field(default=None, min_length=1)
    deny: list[str] | None = Field(default=None, min_length=1)

    @field_validator("allow", "deny")
    @classmethod
    def _spdx(cls, value: list[str] | None) -> list[str] | None:
        return _spdx_ids(value)

    @model_validator(mode="after")
    def _exactly_one(self) -> Self:
        if (self.allow is None) == (self.deny is None):
            raise FieldProblems.at((), msg.ERR_LICENSES_ONE)
        return self


class Vulnerabilities(PolicyModel):
    """Known vulnerabilities of the environment's packages, from an offline OSV export.

    ``database`` is an OSV directory or JSON export file. An advisory at or above
    ``max_severity`` fails the check, one below it warns. An advisory without a rating
    counts as ``unknown_severity`` (default ``critical``: unrated advisories fail).
    """

    database: Name
    max_severity: Severity = "high"
    unknown_severity: Severity = "critical"


class Security(PolicyModel):
    """Artifact serialisation, licenses, vulnerabilities and a software bill of materials."""

    serialization: Serialization = "safe_only"
    licenses: Licenses | None = None
    vulnerabilities: Vulnerabilities | None = None
    sbom: bool = False


class Documentation(PolicyModel):
    """Model-card fields that must be filled in."""

    required: list[DocumentationField] = Field(min_length=1)

    @field_validator("required")
    @classmethod
    def _unique(cls, value: list[str]) -> list[str]:
        unique(value)
        return value


class Notify(PolicyModel):
    """Where alerts go: a webhook, signed with the secret in environment variable ``secret_env``.

    ``format`` is the body: govml's own JSON event (``generic``), a Slack Block Kit message
    (``slack``) or a Microsoft Teams Adaptive Card (``teams``).
    """

    webhook: str
    secret_env: str | None = None
    format: Literal["generic", "slack", "teams"] = Field(
        default="generic", exclude_if=lambda v: v == "generic"
    )

    @field_validator("webhook")
    @classmethod
    def _url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(msg.ERR_WEBHOOK.format(value=value))
        return value

    @field_validator("secret_env")
    @classmethod
    def _env_name(cls, value: str | None) -> str | None:
        if value is not None and not _ENV_NAME.match(value):
            raise ValueError(msg.ERR_ENV_NAME.format(value=value))
        return value


class Approvals(PolicyModel):
    """Human approvals before production: how many distinct people, in which roles.

    Every approval must come from one of ``roles`` (any approving role when empty); with
    ``separation_of_duties`` nobody approves a version they registered. With
    ``require_staging`` (the default) a version reaches production only after it has held
    ``staging``.
    """

    required: int = Field(ge=0)
    roles: list[ApproverRole] = Field(default_factory=list)
    separation_of_duties: bool = True
    require_staging: bool = True
    # Where approval requests and decisions are announced (govml notify relay).
    notify: Notify | None = Field(default=None, exclude_if=lambda v: v is None)

    @field_validator("roles")
    @classmethod
    def _unique(cls, value: list[str]) -> list[str]:
        unique(value)
        return value

    @model_serializer(mode="wrap")
    def _without_default_staging(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        # The digest covers the document; leaving out the default keeps the digest of every
        # policy written before `require_staging` existed (they mean the same).
        data: dict[str, Any] = handler(self)
        if data.get("require_staging") is True:
            del data["require_staging"]
        return data


class DriftThreshold(PolicyModel):
    """The drift score at which monitoring warns and at which it alerts."""

    warn: float | None = Field(default=None, ge=0)
    alert: float | None = Field(default=None, ge=0)

    @model_validator(mode="after")
    def _not_empty(self) -> Self:
        if self.warn is None and self.alert is None:
            raise FieldProblems.at((), msg.ERR_DRIFT_EMPTY)
        return self

    def problems_for(self, test: str) -> list[tuple[Path, str]]:
        """Return the problems of these thresholds for drift test ``test``.

        A p-value drifts when small: each threshold lies in (0, 1] and ``alert`` is at most
        ``warn``. A distance drifts when large: ``warn`` is at most ``alert``.
        """
        warn, alert = self.warn, self.alert
        if drift_test_is_p_value(test):
            out: list[tuple[Path, str]] = [
                ((name,), msg.ERR_P_VALUE_RANGE.format(test=test, value=format_number(value)))
                for name, value in (("warn", warn), ("alert", alert))
                if value is not None and not 0 < value <= 1
            ]
            if out or warn is None or alert is None or alert <= warn:
                return out
            return [(("alert",), _order(msg.ERR_P_VALUE_ORDER, test, warn, alert))]
        if warn is not None and alert is not None and warn > alert:
            return [(("warn",), _order(msg.ERR_DISTANCE_ORDER, test, warn, alert))]
        return []


def _order(template: str, test: str, warn: float, alert: float) -> str:
    return template.format(test=test, warn=format_number(warn), alert=format_number(alert))


class Monitoring(PolicyModel):
    """What production monitoring checks on each window, and what it does on alerts.

    ``window`` is a number and a unit (``m``, ``h``, ``d``, ``w``). ``on_alert`` runs when a
    rule reaches its alert level, ``on_critical`` when a gating rule fails.
    """

    window: str = "1d"
    drift: dict[DriftTestName, DriftThreshold] = Field(default_factory=dict)
    performance: list[MonitoringPerformanceRule] = Field(default_factory=list)
    fairness: list[FairnessRule] = Field(default_factory=list)
    on_alert: list[Action] = Field(default_factory=list)
    on_critical: list[Action] = Field(default_factory=list)
    notify: Notify | None = None
    # Gateway latency and error-rate limits (Prometheus rules per model); left out when absent.
    serving: ServingThresholds | None = Field(default=None, exclude_if=lambda v: v is None)

    @field_validator("window")
    @classmethod
    def _window(cls, value: str) -> str:
        if not _WINDOW.match(value):
            raise ValueError(msg.ERR_WINDOW.format(value=value))
        return value

    @field_validator("on_alert", "on_critical")
    @classmethod
    def _unique(cls, value: list[str]) -> list[str]:
        unique(value)
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        problems: list[tuple[Path, str]] = []
        for test, threshold in self.drift.items():
            problems += [
                (("drift", test, *path), text) for path, text in threshold.problems_for(test)
            ]
        if self.notify is None:
            for field in ("on_alert", "on_critical"):
                actions: list[str] = getattr(self, field)
                if "notify" in actions:
                    problems.append(((field, actions.index("notify")), msg.ERR_NOTIFY_MISSING))
        if problems:
            raise FieldProblems(problems)
        return self


class Serving(PolicyModel):
    """How the serving gateway treats requests outside the training data.

    With ``strict``, a value outside the version's training profile (a number below the
    training minimum or above the maximum, a category the training data never had) is refused
    with 422 instead of answered with a warning.
    """

    strict: bool = False
