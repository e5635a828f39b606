"""The evaluation document: what one `govml evaluate` run measured and decided.

The document is plain JSON (schema ``govml.evaluation/v1``) and is stored whole, as
canonical JSON whose digest goes into the ledger. Each check carries its measured value,
threshold, interval, status and evidence (:class:`~govml.checks.CheckResult`) plus the
``outcome`` that counted: the status itself, or for an ``undefined`` status what the
policy says an undefined result means. Reports are rendered from this document and its
evidence artifacts alone.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from govml.checks import CheckResult
from govml.errors import InputError

SCHEMA = "govml.evaluation/v1"

Outcome = Literal["pass", "warn", "fail"]
OUTCOMES: tuple[Outcome, ...] = ("pass", "warn", "fail")

ERR_SCHEMA = "not an evaluation document (schema {schema!r}, expected {expected!r})"


@dataclass(frozen=True, kw_only=True)
class Gate:
    """One check's result and the outcome it counted as."""

    result: CheckResult
    outcome: Outcome

    def to_dict(self) -> dict[str, Any]:
        """Return the check's JSON with its ``outcome``."""
        return {**self.result.to_dict(), "outcome": self.outcome}


def overall_status(outcomes: Iterable[str]) -> Outcome:
    """Return ``fail`` if any outcome fails, else ``warn`` if any warns, else ``pass``."""
    seen = set(outcomes)
    if "fail" in seen:
        return "fail"
    if "warn" in seen:
        return "warn"
    return "pass"


def summary(gates: Iterable[Gate]) -> dict[str, int]:
    """Count the checks by status (``undefined`` counted as such, not by its outcome)."""
    counts = {"pass": 0, "fail": 0, "warn": 0, "undefined": 0}
    for gate in gates:
        counts[gate.result.status] += 1
    return counts


@dataclass(frozen=True)
class Evaluation:
    """A stored evaluation: its id and its document.

    Attributes
    ----------
    id : int
        The evaluation's number in this registry.
    document : dict
        The ``govml.evaluation/v1`` document.
    digest : str
        ``sha256:`` of the document's canonical JSON, as the ledger records it.
    """

    id: int
    document: dict[str, Any]
    digest: str

    def __post_init__(self) -> None:
        schema = self.document.get("schema")
        if schema != SCHEMA:
            raise InputError(ERR_SCHEMA.format(schema=schema, expected=SCHEMA))

    @property
    def status(self) -> Outcome:
        """``pass``, ``warn`` or ``fail``."""
        status: Outcome = self.document["status"]
        return status

    @property
    def passed(self) -> bool:
        """True unless a check's outcome is ``fail``."""
        return self.status != "fail"

    @property
    def exit_code(self) -> int:
        """1 when a rule failed, else 0."""
        return 1 if self.status == "fail" else 0

    @property
    def checks(self) -> list[dict[str, Any]]:
        """Every check's JSON, in the order they ran."""
        checks: list[dict[str, Any]] = self.document["checks"]
        return checks

    def check(self, name: str) -> dict[str, Any]:
        """Return the check called ``name``.

        Raises
        ------
        InputError
            When there is no such check, listing the names there are.
        """
        for item in self.checks:
            if item["check"] == name:
                return item
        names = ", ".join(item["check"] for item in self.checks)
        raise InputError(f"evaluation {self.id} has no check {name!r}; it has: {names}")

    def failed(self) -> list[dict[str, Any]]:
        """Return the checks whose outcome is ``fail``."""
        return [item for item in self.checks if item["outcome"] == "fail"]

    def evidence_digest(self, name: str) -> str | None:
        """Return the artifact digest of evidence ``name``, or None when none was stored."""
        for item in self.document.get("evidence", []):
            if item["name"] == name:
                digest: str = item["digest"]
                return digest
        return None

    @property
    def subject(self) -> str:
        """``NAME@VERSION`` of the evaluated version, or the label of outside predictions."""
        subject: Mapping[str, Any] = self.document["subject"]
        if subject.get("model") is not None and subject.get("version") is not None:
            return f"{subject['model']}@{subject['version']}"
        if subject.get("model") is not None:
            return f"{subject['model']} ({subject.get('label') or 'predictions'})"
        return str(subject.get("label"))

    def to_dict(self) -> dict[str, Any]:
        """Return the document (its ``id`` included)."""
        return dict(self.document)
