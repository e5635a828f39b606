"""Printing for the CLI: Rich for people, JSON for machines, one-line errors.

What users wrote (names, descriptions, feature names, comments) is printed as it is: table
cells, titles and messages are Rich ``Text``, never markup, and the consoles replace no emoji
shortcode, so ``[bold]x[/bold]`` or ``:telephone:`` in a column name reads as typed. Code that
builds markup itself escapes user data with `rich.markup.escape`.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Sequence
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

# Piped output (CI logs, files) is not squeezed to Rich's 80-column default.
_WIDTH = None if sys.stdout.isatty() else 160
console = Console(highlight=False, width=_WIDTH, emoji=False)
err_console = Console(stderr=True, highlight=False, soft_wrap=True, emoji=False)


def print_json(data: Any) -> None:
    """Print ``data`` as indented JSON on stdout (no Rich markup, no wrapping)."""
    print(json.dumps(data, indent=2, sort_keys=False, default=str))


def print_table(title: str | None, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    """Print a Rich table; every cell and the title as plain text."""
    table = Table(title=None if title is None else Text(title), title_justify="left")
    for column in columns:
        table.add_column(column)
    for row in rows:
        table.add_row(*(_text(cell) for cell in row))
    console.print(table)


def print_fields(title: str, fields: Sequence[tuple[str, Any]]) -> None:
    """Print a two-column key / value table, as plain text."""
    table = Table(title=Text(title), show_header=False, title_justify="left")
    table.add_column("field", style="bold")
    table.add_column("value", overflow="fold")
    for key, value in fields:
        table.add_row(_text(key), _text(value))
    console.print(table)


def print_error(message: str) -> None:
    """Print a one-line error on stderr."""
    err_console.print(f"[bold red]error:[/] {escape(message)}", markup=True)


def print_ok(message: str) -> None:
    """Print a success line; ``message`` is plain text."""
    console.print(Text.assemble(("✓", "green"), " ", message))


def _text(value: Any) -> Text:
    return Text("" if value is None else str(value))
