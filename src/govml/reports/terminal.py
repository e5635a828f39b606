"""A rich table of an evaluation's checks for the terminal."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rich.table import Table
from rich.text import Text

from govml.reports._format import OUTCOMES, by_category, status_of, subject_name, summary_counts

__all__ = ["OUTCOME_STYLES", "terminal_table"]

OUTCOME_STYLES = {
    "pass": "bold green",
    "warn": "bold yellow",
    "fail": "bold red",
    "undefined": "bold magenta",
}
"""Rich style of each outcome."""


def terminal_table(document: Mapping[str, Any]) -> Table:
    """Return a table with one row per check of an evaluation document.

    Columns: category, check, outcome (coloured: pass green, warn yellow, fail red,
    undefined magenta; ``fail (undefined)`` when an undefined check counts as a failure),
    value, threshold, interval and message. The title names the subject and the status,
    the caption counts the outcomes. Every cell is plain text (no console markup is
    interpreted, since names and messages come from user data).

    Parameters
    ----------
    document : mapping
        An evaluation document (schema ``govml.evaluation/v1``).

    Returns
    -------
    rich.table.Table
    """
    status = status_of(document)
    title = Text(f"{subject_name(document)}: ")
    title.append(status.upper(), style=OUTCOME_STYLES.get(status, "bold"))
    counts = summary_counts(document)
    caption = ", ".join(f"{counts[outcome]} {outcome}" for outcome in OUTCOMES)
    table = Table(title=title, caption=caption, show_lines=False, expand=False)
    table.add_column("category", style="dim", no_wrap=True)
    table.add_column("check", overflow="fold")
    table.add_column("outcome", no_wrap=True)
    table.add_column("value", justify="right", overflow="fold")
    table.add_column("threshold", overflow="fold")
    table.add_column("interval", overflow="fold")
    table.add_column("message", overflow="fold", ratio=1)
    for category, rows in by_category(document):
        for row in rows:
            outcome = Text(row.outcome, style=OUTCOME_STYLES.get(row.outcome, ""))
            if row.status != row.outcome:
                outcome.append(f" ({row.status})", style=OUTCOME_STYLES.get(row.status, ""))
            message = row.message
            if row.reason and row.reason not in message:
                message = f"{message} — {row.reason}" if message else row.reason
            table.add_row(
                Text(category),
                Text(row.check),
                outcome,
                Text(row.value),
                Text(row.threshold),
                Text(row.interval),
                Text(message),
            )
    return table
