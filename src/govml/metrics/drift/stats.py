"""Mergeable statistics of current data, counted against a stored reference profile.

Drift monitoring compares each window of production data with the profile stored when
the model version was registered. :func:`current_statistics` reduces a batch of current
data to what the drift tests need, and :meth:`CurrentStatistics.merge` adds batches
(partitions, files, time windows) exactly, so a window never has to be held in memory
at once and the reference data is never read again:

* a numeric column keeps :class:`NumericCounts`: null and infinity counts, a quantile
  sketch with the reference's relative accuracy and exact value counts while the column
  has at most 32 distinct values (built by the same code as the reference profile). The
  sketch is a histogram on fixed logarithmic bucket edges shared by every sketch of that
  accuracy, so counts on the reference's quantile bins (whose inner edges are bucket
  boundaries) are exact sums of its buckets, and KS and Wasserstein can use it;
* a categorical column keeps the exact count of every category of the reference, plus a
  :class:`~govml.datasets.FrequentValues` summary of the values the reference does not
  have (exact up to the reference's category capacity).

Each statistics object records the digest of the reference profile it was counted
against; drift refuses to compare it with any other profile.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pyarrow as pa

from govml.datasets import (
    VALUE_COUNTS_CAP,
    CategoricalColumnProfile,
    ColumnProfile,
    FrequentValues,
    NumericColumnProfile,
    Profile,
    QuantileSketch,
    profile,
)
from govml.datasets.frequent import prune
from govml.errors import InputError
from govml.metrics.drift.inputs import (
    Family,
    category_counts,
    check_columns,
    check_families,
    family_of_arrow,
    family_of_profile_type,
    iter_tables,
    kind_of,
    positions_in,
)

DIFFERENT_REFERENCE = (
    "current statistics were counted against a different reference profile "
    "(digest {theirs}, expected {ours})"
)


Number = int | float
_ValueCounts = tuple[tuple[Number, int], ...]
_NUMBERS = {"int64", "uint64", "float64"}


@dataclass(frozen=True, kw_only=True)
class NumericCounts:
    """Counts of a numeric column of current data.

    Attributes
    ----------
    name : str
        Column name.
    type : str
        Normalised type as in profiles (``float64``, ``int64``, ``datetime``, ...), or
        ``null`` while every value seen was null.
    nulls : int
        Number of nulls and NaN.
    infinite : int
        Number of infinite values (not values for drift, like nulls).
    sketch : QuantileSketch
        Sketch of the finite values, with the reference's relative accuracy.
    value_counts : tuple of (number, int) or None
        Exact counts of the finite values while there are at most
        :data:`~govml.datasets.VALUE_COUNTS_CAP` distinct ones, else None.
    """

    name: str
    type: str
    nulls: int = 0
    infinite: int = 0
    sketch: QuantileSketch = field(default_factory=QuantileSketch)
    value_counts: _ValueCounts | None = ()

    def __post_init__(self) -> None:
        if min(self.nulls, self.infinite) < 0:
            raise ValueError(f"column {self.name!r}: counts must not be negative")
        if self.value_counts is not None and (
            sum(c for _, c in self.value_counts) != self.sketch.count
        ):
            raise ValueError(f"column {self.name!r}: value counts do not add up to the count")

    @property
    def kind(self) -> str:
        """Always ``numeric``."""
        return "numeric"

    @property
    def finite_count(self) -> int:
        """Number of finite values, the ones drift compares."""
        return self.sketch.count

    @property
    def count(self) -> int:
        """Number of non-null values (infinities included)."""
        return self.sketch.count + self.infinite

    def merge(self, other: NumericCounts) -> NumericCounts:
        """Add the counts of another batch of the same column.

        ``int64``, ``uint64`` and ``float64`` batches merge into ``float64``.

        Raises
        ------
        InputError
            If the types cannot be merged or the sketch accuracies differ.
        """
        a, b = self, other
        if a.type != b.type:
            if not {a.type, b.type} <= _NUMBERS:
                raise _cannot_merge(a.name, a.type, b.type)
            a, b = a._as_float(), b._as_float()
        return NumericCounts(
            name=a.name,
            type=a.type,
            nulls=a.nulls + b.nulls,
            infinite=a.infinite + b.infinite,
            sketch=a.sketch.merge(b.sketch),
            value_counts=_add_value_counts(a.value_counts, b.value_counts),
        )

    def _as_float(self) -> NumericCounts:
        counts = self.value_counts
        floats = None if counts is None else tuple((float(v), c) for v, c in counts)
        return replace(self, type="float64", value_counts=floats)

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-safe dictionary; :meth:`from_dict` restores it exactly."""
        counts = self.value_counts
        return {
            "name": self.name,
            "type": self.type,
            "kind": self.kind,
            "nulls": self.nulls,
            "infinite": self.infinite,
            "value_counts": None if counts is None else [[v, c] for v, c in counts],
            "sketch": self.sketch.to_dict(),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> NumericCounts:
        """Rebuild counts from :meth:`to_dict` output.

        Raises
        ------
        InputError
            If a field is missing or inconsistent.
        """
        try:
            number = float if data["type"] == "float64" else int
            counts = data["value_counts"]
            return cls(
                name=str(data["name"]),
                type=str(data["type"]),
                nulls=int(data["nulls"]),
                infinite=int(data["infinite"]),
                sketch=QuantileSketch.from_dict(data["sketch"]),
                value_counts=(
                    None if counts is None else tuple((number(v), int(c)) for v, c in counts)
                ),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise InputError(f"invalid numeric counts {data.get('name')!r}: {exc}") from exc


def _add_value_counts(a: _ValueCounts | None, b: _ValueCounts | None) -> _ValueCounts | None:
    if a is None or b is None:
        return None
    merged: dict[Number, int] = dict(a)
    for value, count in b:
        merged[value] = merged.get(value, 0) + count
    return None if len(merged) > VALUE_COUNTS_CAP else tuple(sorted(merged.items()))


def _cannot_merge(name: str, a: str, b: str) -> InputError:
    return InputError(
        f"cannot merge statistics of column {name!r}: type {a} and type {b}",
        hint="make the column's type the same in every batch",
    )


@dataclass(frozen=True, kw_only=True)
class CategoryCounts:
    """Counts of a categorical column of current data, keyed by the reference's categories.

    Attributes
    ----------
    name : str
        Column name.
    type : str
        ``string``, or ``null`` while every value seen was null.
    nulls : int
        Number of null values.
    known : tuple of (str, int)
        The count of each category kept in the reference profile, in the reference's
        order, zeros included.
    new : FrequentValues
        Values that are not among the reference's categories.
    """

    name: str
    type: str
    nulls: int = 0
    known: tuple[tuple[str, int], ...] = ()
    new: FrequentValues = field(default_factory=FrequentValues)

    @property
    def kind(self) -> str:
        """Always ``categorical``."""
        return "categorical"

    @property
    def count(self) -> int:
        """Number of non-null values."""
        return sum(c for _, c in self.known) + self.new.total

    def merge(self, other: CategoryCounts) -> CategoryCounts:
        """Add the counts of another batch of the same column.

        Raises
        ------
        InputError
            If the two were counted against different reference categories.
        """
        if [v for v, _ in self.known] != [v for v, _ in other.known]:
            raise InputError(
                f"cannot merge counts of column {self.name!r}: different reference categories"
            )
        return CategoryCounts(
            name=self.name,
            type=other.type if self.type == "null" else self.type,
            nulls=self.nulls + other.nulls,
            known=tuple((v, a + b) for (v, a), (_, b) in zip(self.known, other.known, strict=True)),
            new=self.new.merge(other.new),
        )

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-safe dictionary; :meth:`from_dict` restores it exactly."""
        return {
            "name": self.name,
            "type": self.type,
            "kind": self.kind,
            "nulls": self.nulls,
            "known": [[v, c] for v, c in self.known],
            "new": self.new.to_dict(),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CategoryCounts:
        """Rebuild counts from :meth:`to_dict` output.

        Raises
        ------
        InputError
            If a field is missing or malformed.
        """
        try:
            return cls(
                name=str(data["name"]),
                type=str(data["type"]),
                nulls=int(data["nulls"]),
                known=tuple((str(v), int(c)) for v, c in data["known"]),
                new=FrequentValues.from_dict(data["new"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise InputError(f"invalid category counts {data.get('name')!r}: {exc}") from exc


CurrentColumn = NumericCounts | CategoryCounts


@dataclass(frozen=True, kw_only=True)
class CurrentStatistics:
    """Drift statistics of current data, counted against one reference profile.

    Attributes
    ----------
    reference_digest : str
        SHA-256 of the reference profile (see :func:`reference_digest`).
    row_count : int
        Number of rows counted.
    columns : tuple of NumericCounts or CategoryCounts
        One entry per compared column.
    """

    reference_digest: str
    row_count: int = 0
    columns: tuple[CurrentColumn, ...] = ()

    def __post_init__(self) -> None:
        for column in self.columns:
            if column.count + column.nulls != self.row_count:
                raise ValueError(
                    f"column {column.name!r} accounts for {column.count + column.nulls} rows, "
                    f"not {self.row_count}"
                )

    @property
    def names(self) -> tuple[str, ...]:
        """Column names, in order."""
        return tuple(column.name for column in self.columns)

    def column(self, name: str) -> CurrentColumn:
        """Return the statistics of column ``name`` (KeyError when absent)."""
        for column in self.columns:
            if column.name == name:
                return column
        raise KeyError(name)

    def merge(self, other: CurrentStatistics) -> CurrentStatistics:
        """Return the statistics of the rows of both.

        Counts, sketches and value counts add exactly; new-category summaries follow the
        Misra–Gries merge (exact while within capacity).

        Raises
        ------
        InputError
            If the two were counted against different references or columns.
        """
        if self.reference_digest != other.reference_digest:
            raise InputError(
                "cannot merge current statistics counted against different reference profiles"
            )
        if self.names != other.names:
            raise InputError(
                "cannot merge current statistics of different columns: "
                f"{list(self.names)} and {list(other.names)}"
            )
        return CurrentStatistics(
            reference_digest=self.reference_digest,
            row_count=self.row_count + other.row_count,
            columns=tuple(
                _merge_column(a, b) for a, b in zip(self.columns, other.columns, strict=True)
            ),
        )

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-safe dictionary; :meth:`from_dict` restores it exactly."""
        return {
            "reference_digest": self.reference_digest,
            "row_count": self.row_count,
            "columns": [column.to_dict() for column in self.columns],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CurrentStatistics:
        """Rebuild statistics from :meth:`to_dict` output.

        Raises
        ------
        InputError
            If a field is missing or the counts are inconsistent.
        """
        try:
            columns: list[CurrentColumn] = []
            for column in data["columns"]:
                if column.get("kind") == "categorical":
                    columns.append(CategoryCounts.from_dict(column))
                else:
                    columns.append(NumericCounts.from_dict(column))
            return cls(
                reference_digest=str(data["reference_digest"]),
                row_count=int(data["row_count"]),
                columns=tuple(columns),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise InputError(f"invalid current statistics: {exc}") from exc


def _merge_column(a: CurrentColumn, b: CurrentColumn) -> CurrentColumn:
    # A batch in which the column was all null has no type of its own.
    if b.type == "null":
        return replace(a, nulls=a.nulls + b.nulls)
    if a.type == "null":
        return replace(b, nulls=a.nulls + b.nulls)
    if isinstance(a, CategoryCounts) and isinstance(b, CategoryCounts):
        return a.merge(b)
    if isinstance(a, NumericCounts) and isinstance(b, NumericCounts):
        return a.merge(b)
    raise _cannot_merge(a.name, a.type, b.type)


def as_profile(reference: Profile | Mapping[str, Any]) -> Profile:
    """Return ``reference`` as a :class:`~govml.datasets.Profile` (from its dict if needed)."""
    if isinstance(reference, Profile):
        return reference
    return Profile.from_dict(reference)


def reference_digest(reference: Profile) -> str:
    """Return the SHA-256 hex digest of a profile's canonical JSON form."""
    text = json.dumps(reference.to_dict(), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def current_statistics(
    reference: Profile | Mapping[str, Any],
    current: Any,
    *,
    columns: Sequence[str] | None = None,
) -> CurrentStatistics:
    """Count a batch of current data against a reference profile, for drift.

    Parameters
    ----------
    reference : Profile or dict
        The stored reference profile (or its ``to_dict()`` form). Its data is not needed.
    current : DataFrame, Table, RecordBatch, str or Path
        A batch of current data; anything :func:`~govml.datasets.read_table` accepts. A
        Parquet file is read and counted a batch of rows at a time.
    columns : sequence of str, optional
        Columns to count; by default every column of the reference.

    Returns
    -------
    CurrentStatistics
        Mergeable statistics: ``current_statistics(ref, a).merge(current_statistics(ref,
        b))`` equals ``current_statistics(ref, concat(a, b))``.

    Raises
    ------
    InputError
        If a column is missing from the current data (all of them are named), a column's
        type differs from the reference's, or the data cannot be read.
    """
    ref = as_profile(reference)
    digest = reference_digest(ref)
    merged: CurrentStatistics | None = None
    for table in iter_tables(current):
        counted = _count_table(ref, digest, table, columns)
        merged = counted if merged is None else merged.merge(counted)
    assert merged is not None  # iter_tables yields at least one table
    return merged


def _count_table(
    ref: Profile, digest: str, table: Any, columns: Sequence[str] | None
) -> CurrentStatistics:
    names = check_columns(ref.names, table.column_names, columns)
    families = {
        name: (
            family_of_profile_type(ref.column(name).type),
            family_of_arrow(name, table.schema.field(name).type),
        )
        for name in names
    }
    check_families(families)
    return CurrentStatistics(
        reference_digest=digest,
        row_count=table.num_rows,
        columns=tuple(
            _count_column(ref.column(name), table.column(name), families[name][1]) for name in names
        ),
    )


def _count_column(reference: ColumnProfile, column: Any, family: Family) -> CurrentColumn:
    name = reference.name
    if family == "null":
        if isinstance(reference, NumericColumnProfile):
            empty = QuantileSketch(relative_accuracy=reference.sketch.relative_accuracy)
            return NumericCounts(name=name, type="null", nulls=len(column), sketch=empty)
        return CategoryCounts(name=name, type="null", nulls=len(column))
    if kind_of(family) == "numeric":
        accuracy = (
            reference.sketch.relative_accuracy
            if isinstance(reference, NumericColumnProfile)
            else None  # an all-null reference column: any accuracy will do
        )
        table = pa.table({name: column})
        counted = profile(table) if accuracy is None else profile(table, relative_accuracy=accuracy)
        numeric = counted.columns[0]
        assert isinstance(numeric, NumericColumnProfile)
        return NumericCounts(
            name=name,
            type=numeric.type,
            nulls=numeric.nulls,
            infinite=numeric.neg_inf + numeric.pos_inf,
            sketch=numeric.sketch,
            value_counts=numeric.value_counts,
        )
    assert isinstance(reference, CategoricalColumnProfile)
    return _count_categories(reference, column)


def _count_categories(reference: CategoricalColumnProfile, column: Any) -> CategoryCounts:
    values, counts = category_counts(column)
    known_values = [v for v, _ in reference.frequent.counts]
    where = positions_in(values, pa.array(known_values, type=pa.large_string()))
    known = np.bincount(where[where >= 0], weights=counts[where >= 0], minlength=len(known_values))
    # Only the new values that survive pruning become Python strings.
    is_new = np.flatnonzero(where < 0)
    keep, threshold = prune(counts[is_new], reference.frequent.capacity)
    new = FrequentValues.from_counts(
        values.take(pa.array(is_new[keep])).to_pylist(),
        (counts[is_new][keep] - threshold).tolist(),
        capacity=reference.frequent.capacity,
        total=int(counts[is_new].sum()),
        error=threshold,
    )
    return CategoryCounts(
        name=reference.name,
        type="string",
        nulls=len(column) - int(counts.sum()),
        known=tuple(zip(known_values, known.astype(np.int64).tolist(), strict=True)),
        new=new,
    )
