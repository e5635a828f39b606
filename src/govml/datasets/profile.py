"""Dataset profiles: per-column sufficient statistics that merge across batches.

``profile(a).merge(profile(b))`` describes the rows of ``a`` followed by those of ``b``:
counts, nulls, min, max, sketch buckets and value counts equal those of
``profile(concat(a, b))`` exactly, mean and variance up to floating-point rounding, and
categorical counts exactly below the capacity and within the documented bound above it.
So a profile can be built per partition, per file or per time window, by any engine, and
combined later. It is the reference that drift monitoring compares new data against.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from govml.datasets.coltypes import normalised_type
from govml.datasets.columns import (
    ColumnProfile,
    column_from_dict,
    merge_columns,
    profile_column,
)
from govml.datasets.frequent import DEFAULT_MAX_CATEGORIES
from govml.datasets.readers import read_table
from govml.datasets.sketch import DEFAULT_RELATIVE_ACCURACY
from govml.errors import InputError, NotFoundError, did_you_mean


@dataclass(frozen=True, kw_only=True)
class Profile:
    """Per-column sufficient statistics of a table.

    ``Profile()`` (no columns, no rows) is the identity of :meth:`merge`, as is the
    profile of an empty table with the same columns.

    Attributes
    ----------
    row_count : int
        Number of rows profiled.
    columns : tuple of NumericColumnProfile or CategoricalColumnProfile
        One profile per column, in table order.
    """

    row_count: int = 0
    columns: tuple[ColumnProfile, ...] = ()

    def __post_init__(self) -> None:
        names = self.names
        if len(set(names)) != len(names):
            raise ValueError(f"duplicate column names in profile: {names}")
        for column in self.columns:
            if column.count + column.nulls != self.row_count:
                raise ValueError(
                    f"column {column.name!r} accounts for {column.count + column.nulls} rows, "
                    f"not {self.row_count}"
                )

    @property
    def names(self) -> tuple[str, ...]:
        """Column names in table order."""
        return tuple(column.name for column in self.columns)

    def column(self, name: str) -> ColumnProfile:
        """Return the profile of column ``name``.

        Raises
        ------
        NotFoundError
            If there is no such column.
        """
        for column in self.columns:
            if column.name == name:
                return column
        raise NotFoundError(
            f"no column {name!r} in the profile", hint=did_you_mean(name, self.names)
        )

    def merge(self, other: Profile) -> Profile:
        """Return the profile of the rows of both profiles.

        Parameters
        ----------
        other : Profile
            A profile of the same columns (same names, same order) over other rows.

        Returns
        -------
        Profile
            The merged profile; merging is associative and commutative in everything but
            floating-point rounding of mean and variance.

        Raises
        ------
        InputError
            If the columns differ or a column's types cannot be merged.
        """
        if not self.columns and self.row_count == 0:
            return other
        if not other.columns and other.row_count == 0:
            return self
        if self.names != other.names:
            raise InputError(
                "cannot merge profiles with different columns: "
                f"{list(self.names)} and {list(other.names)}",
                hint="profile every batch with the same columns in the same order",
            )
        return Profile(
            row_count=self.row_count + other.row_count,
            columns=tuple(
                merge_columns(a, b) for a, b in zip(self.columns, other.columns, strict=True)
            ),
        )

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-safe dictionary; :meth:`from_dict` restores it exactly.

        Returns
        -------
        dict
            ``{"row_count": int, "columns": [column, ...]}`` where a numeric column is
            ``{"name", "type", "kind": "numeric", "count", "nulls", "neg_inf", "pos_inf",
            "min", "max", "mean", "m2", "value_counts": [[value, count], ...] | null,
            "sketch": {"relative_accuracy", "count", "zero_count", "min", "max",
            "positive": {"indices", "counts"}, "negative": {"indices", "counts"}}}``
            and a categorical column is ``{"name", "type", "kind": "categorical", "count",
            "nulls", "capacity", "error", "truncated", "counts": [[value, count], ...]}``.
        """
        return {
            "row_count": self.row_count,
            "columns": [column.to_dict() for column in self.columns],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Profile:
        """Rebuild a profile from :meth:`to_dict` output.

        Raises
        ------
        InputError
            If a field is missing or the statistics are inconsistent.
        """
        try:
            return cls(
                row_count=int(data["row_count"]),
                columns=tuple(column_from_dict(column) for column in data["columns"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise InputError(f"invalid profile: {exc}") from exc


def profile_table(table: Any, *, max_categories: int, relative_accuracy: float) -> Profile:
    """Profile a ``pyarrow.Table`` column by column (see :func:`profile`)."""
    if max_categories < 1:
        raise InputError(f"max_categories must be at least 1, got {max_categories}")
    if not 0.0 < relative_accuracy < 1.0:
        raise InputError(f"relative_accuracy must be in (0, 1), got {relative_accuracy}")
    columns = tuple(
        profile_column(
            field.name,
            normalised_type(field.type, column=field.name),
            table.column(i),
            relative_accuracy=relative_accuracy,
            max_categories=max_categories,
        )
        for i, field in enumerate(table.schema)
    )
    return Profile(row_count=table.num_rows, columns=columns)


def profile(
    source: Any,
    *,
    max_categories: int = DEFAULT_MAX_CATEGORIES,
    relative_accuracy: float = DEFAULT_RELATIVE_ACCURACY,
) -> Profile:
    """Compute the profile of a table in one vectorised pass per column.

    Parameters
    ----------
    source : DataFrame, Table, RecordBatch, numpy.ndarray, str or Path
        Anything :func:`~govml.datasets.read_table` accepts.
    max_categories : int
        Categorical columns keep exact counts up to this many distinct values and a
        bounded Misra–Gries summary with this many counters beyond.
    relative_accuracy : float
        Relative accuracy ``alpha`` of the numeric quantile sketches. For datetimes it
        applies to nanoseconds since 1970, so it is coarse (about 90 days for dates near
        2020 at the default); their bins still have exact counts.

    Returns
    -------
    Profile
        The statistics of every column.

    Raises
    ------
    InputError
        If the source cannot be read or a column has a type govml does not profile.
    """
    return profile_table(
        read_table(source), max_categories=max_categories, relative_accuracy=relative_accuracy
    )
