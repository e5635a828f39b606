"""The runtime environment check of `RegistryService.load_model` and the gateway.

The policy's ``environment`` section (``mismatch: warn | refuse``, ``match``, ``packages``)
decides what a difference between the running package versions and a version's recorded
environment does: ``warn`` loads the model and warns (`EnvironmentMismatchWarning`, shown by
the gateway's ``/ready`` and ``govml_gateway_environment_mismatch``), ``refuse`` raises
`EnvironmentMismatchError` naming every package. Without the section the check warns.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any

from govml.domain.environment import ALIASES, Mismatch, mismatches, packages_for
from govml.domain.records import ModelVersion
from govml.errors import EXIT_CHECK_FAILED, GovmlError
from govml.policy.operations import EnvironmentCheck
from govml.services.context import ServiceContext
from govml.services.policy import policy_in_force
from govml.store import records


class EnvironmentMismatchError(GovmlError):
    """The policy refuses to load a version in an environment that differs from its own."""

    exit_code = EXIT_CHECK_FAILED


class EnvironmentMismatchWarning(UserWarning):
    """A version is loaded in an environment that differs from the recorded one."""


@dataclass(frozen=True, kw_only=True)
class EnvironmentReport:
    """What the check found for one version, and what the policy makes of it."""

    ref: str
    action: str  # warn or refuse
    compared: tuple[str, ...]
    mismatches: tuple[Mismatch, ...] = field(default_factory=tuple)

    @property
    def ok(self) -> bool:
        """True when every compared package matches."""
        return not self.mismatches

    def message(self) -> str:
        """One line naming every mismatch."""
        return (
            f"{self.ref} runs in an environment that differs from its registration: "
            + "; ".join(str(m) for m in self.mismatches)
        )

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON shape the gateway's ``/ready`` shows."""
        return {
            "version": self.ref,
            "action": self.action,
            "compared": list(self.compared),
            "mismatches": [m.to_dict() for m in self.mismatches],
        }


def running_versions(packages: tuple[str, ...]) -> dict[str, str | None]:
    """Return the installed version of each package (and its aliases), None when absent."""
    out: dict[str, str | None] = {}
    for package in packages:
        for name in ALIASES.get(package, (package,)):
            try:
                out[name] = metadata.version(name)
            except metadata.PackageNotFoundError:
                out[name] = None
    return out


def check(version: ModelVersion, rule: EnvironmentCheck | None) -> EnvironmentReport:
    """Compare the running packages with ``version``'s recorded environment under ``rule``."""
    rule = rule or EnvironmentCheck()
    packages = packages_for(version.flavor, rule.packages)
    recorded = dict(version.environment.get("packages") or {})
    found = mismatches(
        recorded=recorded, running=running_versions(packages), packages=packages, match=rule.match
    )
    return EnvironmentReport(
        ref=version.ref, action=rule.mismatch, compared=packages, mismatches=tuple(found)
    )


def enforce(report: EnvironmentReport) -> None:
    """Raise for a refused mismatch, warn for a tolerated one, do nothing when all match."""
    if report.ok:
        return
    if report.action == "refuse":
        raise EnvironmentMismatchError(
            report.message() + " (policy environment.mismatch: refuse)",
            hint="install the recorded versions, or register the model again in this environment",
        )
    warnings.warn(report.message(), EnvironmentMismatchWarning, stacklevel=3)


def check_for_load(ctx: ServiceContext, version: ModelVersion) -> EnvironmentReport:
    """Check ``version`` under the policy in force for its model's tier, then `enforce` it."""
    with ctx.store.read() as conn:
        model = records.load_model(conn, version.model)
        stored = policy_in_force(conn, model.risk_tier.value)
    rule = stored.policy.environment if stored is not None else None
    report = check(version, rule)
    enforce(report)
    return report
