"""Markdown rendering of an evaluation document.

The report is plain GitHub-flavoured Markdown: a title with the status, the summary
counts, the facts of the evaluation, one table of checks per category, the timings and the
stored evidence. Table cells escape ``|`` and ``<`` (messages and names come from user
data) and are kept on one line. Plots need the HTML report.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from govml.reports._format import (
    OUTCOMES,
    CheckRow,
    by_category,
    details_of,
    evidence_list,
    status_of,
    subject_name,
    summary_counts,
    timings_of,
)

__all__ = ["render_markdown"]

CHECK_HEADER = ("outcome", "check", "value", "threshold", "interval", "message")


def render_markdown(
    document: Mapping[str, Any], *, reference_groups: Mapping[str, Any] | None = None
) -> str:
    """Return the Markdown report of an evaluation document.

    Parameters
    ----------
    document : mapping
        An evaluation document (schema ``govml.evaluation/v1``).
    reference_groups : mapping, optional
        The privileged group of each sensitive feature (from the stored fairness
        evidence), named in the thresholds of ``reference_group`` rules.

    Returns
    -------
    str
        The report, ending with a newline.
    """
    status = status_of(document)
    lines = [f"# Evaluation report: {cell(subject_name(document))} — **{status.upper()}**", ""]
    counts = summary_counts(document)
    lines += [" · ".join(f"**{counts[outcome]}** {outcome}" for outcome in OUTCOMES), ""]
    details = details_of(document)
    if details:
        lines += [*table(("field", "value"), details), ""]
    for category, rows in by_category(document, reference_groups=reference_groups):
        checks = [_check_cells(row) for row in rows]
        lines += [
            f"## {cell(category.replace('_', ' ').capitalize())}",
            "",
            *table(CHECK_HEADER, checks),
            "",
        ]
    timings = timings_of(document)
    if timings:
        lines += ["## Timings", "", *table(("phase", "duration"), timings), ""]
    evidence = [
        (item["name"], item["media_type"], item["size"], item["digest"])
        for item in evidence_list(document)
    ]
    if evidence:
        lines += ["## Evidence", "", *table(("name", "type", "size", "digest"), evidence), ""]
    return "\n".join(lines).rstrip("\n") + "\n"


def table(header: Iterable[str], rows: Iterable[Iterable[str]]) -> list[str]:
    """Return the lines of a Markdown table, every cell escaped with :func:`cell`."""
    head = [cell(name) for name in header]
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    lines += ["| " + " | ".join(cell(value) for value in row) + " |" for row in rows]
    return lines


def cell(value: str) -> str:
    """Escape text for a Markdown table cell: ``|`` and ``<`` escaped, one line."""
    flat = " ".join(value.split()) if any(c in value for c in "\r\n\t") else value
    return flat.replace("|", "\\|").replace("<", "&lt;")


def _check_cells(row: CheckRow) -> tuple[str, ...]:
    outcome = row.outcome.upper()
    if row.status != row.outcome:
        outcome += f" ({row.status})"
    message = row.message
    if row.reason and row.reason not in message:
        message = f"{message} — {row.reason}" if message else row.reason
    return (outcome, row.check, row.value, row.threshold, row.interval, message)
