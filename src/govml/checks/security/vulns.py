"""The vulnerability rule: known advisories against the model's pinned packages.

Each package of the version's environment is looked up in an offline OSV database
(:mod:`.osv`) and matched by PEP 440 version against the advisory's ``versions`` list and
its ECOSYSTEM ranges (``introduced`` / ``fixed`` / ``last_affected``).

Severity, per advisory: a CVSS v3 vector in ``severity`` gives a base score and its
level (:mod:`.cvss`); otherwise a ``database_specific`` / ``ecosystem_specific``
``severity`` text (GitHub's ``LOW`` / ``MODERATE`` / ``HIGH`` / ``CRITICAL``); otherwise a
CVSS v2 vector on the v2 scale; otherwise ``unknown``. Most PyPA advisories carry no
severity, so how an unknown one counts is the caller's choice (``unknown_severity``,
default ``critical``: an unrated advisory fails the check, as a security gate should).

Status: ``fail`` when an advisory's level is at or above ``max_severity``; ``warn`` when
all advisories found are below it; ``pass`` when none is found.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from govml.checks.result import CheckResult, Status, timed
from govml.checks.security.cvss import LEVELS
from govml.checks.security.osv import OsvDatabase, canonical_name, open_database
from govml.errors import InputError, did_you_mean

__all__ = ["Threshold", "VulnerabilityFinding", "find_vulnerabilities", "vulnerability_check"]

Threshold = Literal["low", "medium", "high", "critical"]
_THRESHOLDS: tuple[Threshold, ...] = ("low", "medium", "high", "critical")
_SHOWN = 5


@dataclass(frozen=True, kw_only=True)
class VulnerabilityFinding:
    """One advisory affecting one pinned package."""

    package: str
    version: str
    id: str
    aliases: tuple[str, ...]
    level: str
    score: float | None
    vector: str | None
    severity_source: str | None
    fixed: tuple[str, ...]
    summary: str

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-safe dictionary."""
        return {
            "package": self.package,
            "version": self.version,
            "id": self.id,
            "aliases": list(self.aliases),
            "severity": self.level,
            "score": self.score,
            "vector": self.vector,
            "severity_source": self.severity_source,
            "fixed": list(self.fixed),
            "summary": self.summary,
        }


def find_vulnerabilities(
    packages: Mapping[str, str], database: str | os.PathLike[str]
) -> list[VulnerabilityFinding]:
    """Return every advisory in ``database`` that affects one of ``packages``.

    Parameters
    ----------
    packages : mapping of name to version
        Pinned packages (a version's ``environment["packages"]``).
    database : str or os.PathLike
        An OSV folder, JSON export or zip (:func:`~govml.checks.security.osv.open_database`).

    Returns
    -------
    list of VulnerabilityFinding
        Sorted by package, then advisory id.
    """
    return _findings(packages, open_database(database))


def _findings(packages: Mapping[str, str], db: OsvDatabase) -> list[VulnerabilityFinding]:
    findings = []
    for name, version in sorted(packages.items()):
        package = canonical_name(name)
        for advisory in db.advisories(package):
            hit, fixed = advisory.match(package, str(version))
            if not hit:
                continue
            severity = advisory.severity_for(package)
            findings.append(
                VulnerabilityFinding(
                    package=package,
                    version=str(version),
                    id=advisory.id,
                    aliases=advisory.aliases,
                    level=severity.level,
                    score=severity.score,
                    vector=severity.vector,
                    severity_source=severity.source,
                    fixed=tuple(fixed),
                    summary=advisory.summary,
                )
            )
    return sorted(findings, key=lambda item: (item.package, item.id))


@timed
def vulnerability_check(
    packages: Mapping[str, str],
    database: str | os.PathLike[str],
    max_severity: Threshold = "high",
    *,
    unknown_severity: Threshold = "critical",
) -> CheckResult:
    """Fail when a pinned package has a known vulnerability at or above ``max_severity``.

    Parameters
    ----------
    packages : mapping of name to version
        Pinned packages.
    database : str or os.PathLike
        The offline OSV database named by the policy.
    max_severity : {"low", "medium", "high", "critical"}
        The lowest level that fails.
    unknown_severity : {"low", "medium", "high", "critical"}
        The level an advisory without severity counts as.

    Returns
    -------
    CheckResult
        ``check="vulnerabilities"``; ``value`` the number of advisories at or above the
        threshold; evidence has every finding (id, aliases, severity and its source,
        fixed versions), counts per level and the database's size and problems.

    Raises
    ------
    InputError
        For an unknown level, or a database that does not exist or cannot be read.
    """
    _level("max_severity", max_severity)
    _level("unknown_severity", unknown_severity)
    db = open_database(database)
    findings = _findings(packages, db)
    rank: dict[str, int] = {level: index for index, level in enumerate(LEVELS)}
    failing = [
        item
        for item in findings
        if rank.get(item.level, rank[unknown_severity]) >= rank[max_severity]
    ]
    counts: dict[str, int] = {}
    for item in findings:
        counts[item.level] = counts.get(item.level, 0) + 1
    evidence = {
        "database": {
            "path": str(db.path),
            "kind": db.kind,
            "records": db.records,
            "packages": db.packages,
            "problems": db.problems[:20],
        },
        "packages_checked": len(packages),
        "unknown_severity_counts_as": unknown_severity,
        "counts": counts,
        "findings": [item.to_dict() for item in findings],
    }
    threshold = max_severity
    status: Status = "pass"
    if failing:
        status = "fail"
        message = f"{_count(failing)} at or above {max_severity}: {_describe(failing)}"
    elif findings:
        status = "warn"
        message = f"{_count(findings)} below {max_severity}: {_describe(findings)}"
    else:
        message = f"no known vulnerability in {len(packages)} packages ({db.records:,} advisories)"
    return CheckResult(
        check="vulnerabilities",
        category="security",
        status=status,
        message=message,
        value=len(failing),
        threshold=threshold,
        evidence=evidence,
    )


def _count(findings: list[VulnerabilityFinding]) -> str:
    return f"{len(findings)} vulnerabilit{'y' if len(findings) == 1 else 'ies'}"


def _describe(findings: list[VulnerabilityFinding]) -> str:
    shown = []
    for item in findings[:_SHOWN]:
        fix = f", fixed in {item.fixed[0]}" if item.fixed else ""
        shown.append(f"{item.package} {item.version} {item.id} ({item.level}{fix})")
    more = len(findings) - len(shown)
    return "; ".join(shown) + (f" and {more} more" if more > 0 else "")


def _level(name: str, value: str) -> None:
    if value not in _THRESHOLDS:
        raise InputError(
            f"{name} must be one of {', '.join(_THRESHOLDS)}, got {value!r}",
            hint=did_you_mean(str(value), _THRESHOLDS),
        )
