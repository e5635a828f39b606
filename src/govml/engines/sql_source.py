"""What the SQL engines share: a relation to query, its column types, and SQL literals.

DuckDB and Spark SQL agree on everything the statistics need (``GROUP BY``, ``SUM``,
``CASE``, ``ln``, ``ceil``, ``floor``, ``round``, ``isnan``, ``greatest``, ``least``,
``UNION ALL``, joins); a :class:`SqlSource` supplies the few differences: how a name is
quoted, how rows come back, and the null-safe equality a join on groups needs.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Collection
from typing import Any

from govml.errors import InputError

ERR_UNSUPPORTED = (
    "column {name!r} has type {type}, which the {engine} engine does not compute statistics of"
)
HINT_UNSUPPORTED = "cast it to a number or a string, or use the numpy engine for this column"
ERR_NO_COLUMN = "the data has no column {name!r} (it has {names})"

# Normalised types (as in profiles) whose values the SQL engines read as numbers.
NUMERIC_TYPES = frozenset({"bool", "int64", "uint64", "float64"})


class SqlSource(ABC):
    """A relation the statistics queries read (``table`` is its name in FROM)."""

    engine: str = "sql"
    table: str = ""
    null_safe_equal: str = "IS NOT DISTINCT FROM"

    @abstractmethod
    def quote(self, name: str) -> str:
        """Return ``name`` quoted as an identifier."""

    @abstractmethod
    def rows(self, sql: str) -> list[tuple[Any, ...]]:
        """Run ``sql`` and return its rows as tuples."""

    @abstractmethod
    def types(self) -> dict[str, str]:
        """Return each column's normalised type (``int64``, ``string``, ... or the raw type)."""

    def column(self, name: str) -> str:
        """Return ``name`` quoted, after checking that the relation has it.

        Raises
        ------
        InputError
            Naming the column and listing those the data has.
        """
        names = list(self.types())
        if name not in names:
            shown = ", ".join(repr(n) for n in names[:20]) + (" ..." if len(names) > 20 else "")
            raise InputError(ERR_NO_COLUMN.format(name=name, names=shown))
        return self.quote(name)

    def checked_type(self, name: str, allowed: Collection[str] | None = None) -> str:
        """Return the normalised type of column ``name``; refuse types the engine skips.

        Raises
        ------
        InputError
            When the type is not one of the numbers, strings or null (or not in ``allowed``).
        """
        self.column(name)
        found = self.types()[name]
        known = NUMERIC_TYPES | {"string", "null"}
        if found not in known or (allowed is not None and found not in allowed):
            raise InputError(
                ERR_UNSUPPORTED.format(name=name, type=found, engine=self.engine),
                hint=HINT_UNSUPPORTED,
            )
        return found


def double(value: float) -> str:
    """Return a float64 literal both dialects parse to exactly ``value``."""
    infinite = "Infinity" if value > 0 else "-Infinity"
    text = infinite if math.isinf(value) else repr(float(value))
    return f"CAST('{text}' AS DOUBLE)"


def as_double(expression: str) -> str:
    """Return ``expression`` cast to float64."""
    return f"CAST({expression} AS DOUBLE)"


def is_nan(expression: str) -> str:
    """Return a test that is true for NaN (false for null and numbers)."""
    return f"isnan({as_double(expression)})"


def count_if(condition: str) -> str:
    """Return the number of rows where ``condition`` holds, as an integer aggregate."""
    return f"SUM(CASE WHEN {condition} THEN 1 ELSE 0 END)"
