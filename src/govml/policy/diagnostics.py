"""Diagnostics: one problem (or note) in a policy file, with its position and field path."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from govml.errors import PolicyError

PathPart = str | int
Path = tuple[PathPart, ...]

KEY: str = "[key]"
"""Last element of a path that points at a mapping key rather than its value (pydantic's
marker for errors in dictionary keys)."""


def format_path(path: Sequence[PathPart]) -> str:
    """Return ``fairness.rules[1].metric`` for ``("fairness", "rules", 1, "metric")``."""
    text = ""
    for part in path:
        if part == KEY:
            continue
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text


@dataclass(frozen=True, kw_only=True)
class Diagnostic:
    """A problem (``error``) or a remark (``note``) at a position of a policy file.

    ``line`` and ``column`` count from 1; ``path`` is the field path such as
    ``fairness.rules[1].metric`` (empty for problems of the whole file).
    """

    file: str
    line: int
    column: int
    path: str
    message: str
    severity: Literal["error", "note"] = "error"

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}:{self.column}: "
        if self.severity == "note":
            where += "note: "
        return where + (f"{self.path}: {self.message}" if self.path else self.message)

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-safe dictionary."""
        return {
            "file": self.file,
            "line": self.line,
            "column": self.column,
            "path": self.path,
            "message": self.message,
            "severity": self.severity,
        }


class FieldProblems(ValueError):
    """Raised by a schema validator: problems at paths below the value it validated.

    pydantic reports a validator's `ValueError` at the validated value; the loader appends
    each problem's path to it, so a cross-field check can point at the exact field (``max``,
    ``between[1]``, ``on_alert[0]``). A path ending in `KEY` points at a mapping key.
    """

    def __init__(self, problems: Sequence[tuple[Path, str]]) -> None:
        super().__init__("; ".join(message for _, message in problems))
        self.problems = tuple(problems)

    @classmethod
    def at(cls, path: Path, message: str) -> FieldProblems:
        """Return the error for one problem at ``path``."""
        return cls([(path, message)])


class InvalidPolicyError(PolicyError):
    """A policy file does not validate; ``errors`` lists every problem, sorted by position.

    ``notes`` are remarks about the parts that did validate.
    """

    def __init__(
        self, source: str, errors: Sequence[Diagnostic], notes: Sequence[Diagnostic] = ()
    ) -> None:
        self.source = source
        self.errors = tuple(errors)
        self.notes = tuple(notes)
        count = len(self.errors)
        super().__init__(
            f"{source} is not a valid policy ({count} problem{'s' if count != 1 else ''})",
            problems=[str(d) for d in self.errors],
        )
