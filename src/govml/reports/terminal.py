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

CHECK_WIDTH = 40
VALUE_WIDTH = 22
THRESHOLD_WIDTH = 26


def terminal_table(document: Mapping[str, Any]) -> Table:
    """Return a table with one row per check of an evaluation document.

    One section per category, headed by its name. Columns: check, outcome (coloured: pass
    green, warn yellow, fail red, undefined magenta; ``fail (undefined)`` when an undefined
    check counts as a failure), value with its interval, threshold (as a rule: ``≥ 0.8
    between groups``) and message. The title names the subject and the status, the caption
    counts the outcomes. Every cell is plain text (no console markup is interpreted, since
    names and messages come from user data).

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
    groups = by_category(document)
    names = {row.check: _lines(row.check_parts, CHECK_WIDTH) for _, rows in groups for row in rows}
    # A long check name is broken after its ``:`` or ``*`` rather than cut mid-word
    # (demographic_parity_differ / ence:sex), which is hard to read and to copy. Each
    # category is a heading row and the interval sits beside the value, which leaves the
    # width to the messages.
    table.add_column("check", overflow="fold")
    table.add_column("outcome", overflow="fold")
    table.add_column("value [interval]", justify="right", overflow="fold", max_width=VALUE_WIDTH)
    table.add_column("threshold", overflow="fold", max_width=THRESHOLD_WIDTH)
    table.add_column("message", overflow="fold", ratio=1)
    for index, (category, rows) in enumerate(groups):
        if index:
            table.add_section()
        table.add_row(Text(category, style="bold"))
        for row in rows:
            outcome = Text(row.outcome, style=OUTCOME_STYLES.get(row.outcome, ""))
            if row.status != row.outcome:
                outcome.append(f" ({row.status})", style=OUTCOME_STYLES.get(row.status, ""))
            message = row.message
            if row.reason and row.reason not in message:
                message = f"{message} — {row.reason}" if message else row.reason
            value = f"{row.value} {row.interval}" if row.interval else row.value
            table.add_row(
                Text(names[row.check]),
                outcome,
                Text(value),
                Text(row.threshold),
                Text(message),
            )
    return table


def _lines(parts: tuple[str, ...], width: int) -> str:
    """Join a name's parts into lines of at most ``width``, breaking only between parts."""
    lines = [""]
    for part in parts:
        if lines[-1] and len(lines[-1]) + len(part) > width:
            lines.append("")
        lines[-1] += part
    return "\n".join(lines)
