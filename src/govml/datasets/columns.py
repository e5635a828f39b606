"""Per-column sufficient statistics: built in one vectorised pass, merged exactly.

A numeric column (integers, floats, bools as 0/1, dates, times, durations and datetimes as
nanoseconds) keeps counts, exact min/max, mean and ``M2`` (the sum of squared deviations)
for the parallel variance update of Chan, Golub and LeVeque (1979), a quantile sketch, and
exact value counts while it has at most :data:`VALUE_COUNTS_CAP` distinct values.
A categorical column (strings) keeps its null count and :class:`FrequentValues`.

NaN is missing: it is counted in ``nulls`` like a null. Infinities are values (they are
in ``count``) but are kept apart in ``neg_inf`` / ``pos_inf``; min, max, mean, variance,
sketch and value counts describe the finite values only.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from numpy.typing import NDArray

from govml.datasets.coltypes import as_large_string, decoded, is_temporal, kind_of, temporal_ints
from govml.datasets.frequent import FrequentValues, TopValues, prune
from govml.datasets.sketch import QuantileSketch
from govml.errors import InputError

VALUE_COUNTS_CAP = 32
"""Numeric columns keep exact value counts while they have at most this many values."""

# Integer ranges up to this size are counted with bincount (linear) instead of a sort.
_BINCOUNT_RANGE = 1 << 20

Number = int | float
_ValueCounts = tuple[tuple[Number, int], ...]

# Types that mix into float64 when partitions disagree, as pandas turns an integer column
# with a missing value into floats.
_MIXABLE = {"int64", "uint64", "float64"}


@dataclass(frozen=True, kw_only=True)
class NumericColumnProfile:
    """Sufficient statistics of a numeric column; see the module docstring.

    ``min``, ``max`` and value-count keys are exact Python ints for integer, bool and
    temporal types (temporal ones in nanoseconds; dates as midnight) and floats for
    ``float64``. ``variance`` is the population variance ``M2 / n`` (``ddof=0``, numpy's
    default); ``sample_variance`` divides by ``n - 1``. ``value_counts`` (sorted by value)
    becomes None for good once a batch or a merge has seen more than
    :data:`VALUE_COUNTS_CAP` distinct finite values; ``n_unique`` is then None too.
    """

    name: str
    type: str
    count: int = 0
    nulls: int = 0
    neg_inf: int = 0
    pos_inf: int = 0
    min: Number | None = None
    max: Number | None = None
    mean: float | None = None
    m2: float = 0.0
    sketch: QuantileSketch = field(default_factory=QuantileSketch)
    value_counts: _ValueCounts | None = ()

    @property
    def kind(self) -> str:
        """Always ``numeric``."""
        return "numeric"

    def __post_init__(self) -> None:
        finite = self.count - self.neg_inf - self.pos_inf
        if min(self.count, self.nulls, self.neg_inf, self.pos_inf, finite) < 0:
            raise ValueError(f"column {self.name!r}: counts must not be negative")
        if self.sketch.count != finite:
            raise ValueError(f"column {self.name!r}: sketch count is not the finite count")
        if (self.mean is None) != (finite == 0):
            raise ValueError(f"column {self.name!r}: mean is set exactly when values are")
        if self.value_counts is not None and sum(c for _, c in self.value_counts) != finite:
            raise ValueError(f"column {self.name!r}: value counts do not add up to the count")

    @property
    def finite_count(self) -> int:
        """Number of finite values: the ``n`` of mean, variance and sketch."""
        return self.count - self.neg_inf - self.pos_inf

    @property
    def variance(self) -> float | None:
        """Population variance of the finite values (``ddof=0``), None when there are none."""
        n = self.finite_count
        return self.m2 / n if n else None

    @property
    def sample_variance(self) -> float | None:
        """Sample variance of the finite values (``ddof=1``), None below two values."""
        n = self.finite_count
        return self.m2 / (n - 1) if n > 1 else None

    @property
    def n_unique(self) -> int | None:
        """Number of distinct values (infinities included), None beyond the value-count cap."""
        if self.value_counts is None:
            return None
        return len(self.value_counts) + (self.neg_inf > 0) + (self.pos_inf > 0)

    def quantile(self, q: float) -> float | None:
        """Estimate the ``q``-quantile of the finite values; see :meth:`QuantileSketch.quantile`."""
        return self.sketch.quantile(q)

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-safe dictionary; :func:`column_from_dict` restores it exactly."""
        counts = self.value_counts
        return {
            "name": self.name,
            "type": self.type,
            "kind": self.kind,
            "count": self.count,
            "nulls": self.nulls,
            "neg_inf": self.neg_inf,
            "pos_inf": self.pos_inf,
            "min": self.min,
            "max": self.max,
            "mean": self.mean,
            # M2 overflows float64 for values beyond ~1e154; JSON has no infinity.
            "m2": self.m2 if math.isfinite(self.m2) else str(self.m2),
            "value_counts": None if counts is None else [[v, c] for v, c in counts],
            "sketch": self.sketch.to_dict(),
        }


@dataclass(frozen=True, kw_only=True)
class CategoricalColumnProfile:
    """Null count and value counts of a string (or all-null) column.

    Counts are exact while the column has at most ``frequent.capacity`` distinct values;
    beyond that they carry the Misra–Gries bound documented in :mod:`.frequent`.
    """

    name: str
    type: str
    nulls: int = 0
    frequent: FrequentValues = field(default_factory=FrequentValues)

    @property
    def kind(self) -> str:
        """Always ``categorical``."""
        return "categorical"

    @property
    def count(self) -> int:
        """Number of non-null values."""
        return self.frequent.total

    @property
    def truncated(self) -> bool:
        """True when the counts are bounded estimates rather than exact."""
        return self.frequent.truncated

    @property
    def n_unique(self) -> int | None:
        """Number of distinct values, None once the summary is truncated."""
        return None if self.truncated else len(self.frequent.counts)

    def top(self, k: int = 20) -> TopValues:
        """Return the ``k`` most frequent values and the count of the rest."""
        return self.frequent.top(k)

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-safe dictionary; :func:`column_from_dict` restores it exactly."""
        frequent = self.frequent.to_dict()
        del frequent["total"]  # the same number as "count"
        return {
            "name": self.name,
            "type": self.type,
            "kind": self.kind,
            "count": self.count,
            "nulls": self.nulls,
            **frequent,
        }


ColumnProfile = NumericColumnProfile | CategoricalColumnProfile


def profile_column(
    name: str, type_name: str, column: Any, *, relative_accuracy: float, max_categories: int
) -> ColumnProfile:
    """Profile one arrow column (a single array, or a chunked array combined first).

    Parameters
    ----------
    name, type_name : str
        Column name and normalised type (see :func:`~.coltypes.normalised_type`).
    column : pyarrow.Array or pyarrow.ChunkedArray
        The values.
    relative_accuracy : float
        Quantile sketch accuracy for numeric columns.
    max_categories : int
        Exact-count capacity for categorical columns.

    Returns
    -------
    NumericColumnProfile or CategoricalColumnProfile
        Depending on the kind of ``type_name``.
    """
    if isinstance(column, pa.ChunkedArray):
        # Dictionary chunks may carry different dictionaries; decode before combining.
        if pa.types.is_dictionary(column.type):
            column = column.cast(column.type.value_type)
        column = column.combine_chunks()
    column = decoded(column)
    if kind_of(type_name) == "numeric":
        return _profile_numeric(name, type_name, column, relative_accuracy)
    return _profile_categorical(name, type_name, column, max_categories)


def _profile_numeric(
    name: str, type_name: str, column: Any, relative_accuracy: float
) -> NumericColumnProfile:
    nulls = column.null_count
    present = column.drop_null() if nulls else column
    neg_inf = pos_inf = 0
    exact: NDArray[Any] | None = None  # the values as exact integers, when they are
    scale = 1  # nanoseconds per unit for temporal types
    if is_temporal(type_name):
        exact, scale = temporal_ints(present)
        values = exact.astype(np.float64) * scale
    elif type_name == "float64":
        values = present.to_numpy(zero_copy_only=False).astype(np.float64, copy=False)
        finite = np.isfinite(values)
        if not finite.all():
            nan = int(np.isnan(values).sum())
            pos_inf = int((values == np.inf).sum())
            neg_inf = int(values.size - finite.sum()) - nan - pos_inf
            nulls += nan
            values = values[finite]
    else:
        exact = present.to_numpy(zero_copy_only=False)
        if exact.dtype != np.uint64:
            exact = exact.astype(np.int64, copy=False)
        values = exact.astype(np.float64)
    count = int(values.size) + neg_inf + pos_inf
    if values.size == 0:
        return NumericColumnProfile(
            name=name,
            type=type_name,
            count=count,
            nulls=nulls,
            neg_inf=neg_inf,
            pos_inf=pos_inf,
            sketch=QuantileSketch(relative_accuracy=relative_accuracy),
        )
    sketch = QuantileSketch.from_values(values, relative_accuracy=relative_accuracy)
    mean, m2 = _moments(values)
    low: Number
    high: Number
    if exact is not None:
        low, high = int(exact.min()) * scale, int(exact.max()) * scale
    else:
        low, high = float(values.min()) + 0.0, float(values.max()) + 0.0
    return NumericColumnProfile(
        name=name,
        type=type_name,
        count=count,
        nulls=nulls,
        neg_inf=neg_inf,
        pos_inf=pos_inf,
        min=low,
        max=high,
        mean=mean,
        m2=m2,
        sketch=sketch,
        # Every distinct value lies in one bucket, so more buckets than the cap means
        # more values than the cap: the sort below is only paid for when it can succeed.
        value_counts=(
            _value_counts(values, exact, scale) if sketch.bucket_count <= VALUE_COUNTS_CAP else None
        ),
    )


def _moments(values: NDArray[np.float64]) -> tuple[float, float]:
    """Return the mean and M2 of finite values (two passes: accurate, still vectorised)."""
    # Overflow is handled here, not warned about: M2 beyond float64 is truly infinite.
    with np.errstate(over="ignore"):
        mean = float(values.mean())
        if not math.isfinite(mean):
            # The sum overflowed although every value is finite: average the values scaled
            # down by a power of two (exact), so the sum fits, and scale the mean back up.
            shrink = 2.0 ** -math.ceil(math.log2(values.size) + 1)
            mean = float((values * shrink).mean() / shrink)
        return mean, float(np.square(values - mean).sum())


def _value_counts(
    values: NDArray[np.float64], exact: NDArray[Any] | None, scale: int
) -> _ValueCounts | None:
    keys: list[Number]
    if exact is not None:
        low = exact.min()
        if int(exact.max()) - int(low) < _BINCOUNT_RANGE:
            counts = np.bincount((exact - low).astype(np.int64))
            present = np.flatnonzero(counts)
            if present.size > VALUE_COUNTS_CAP:
                return None
            keys = [(int(p) + int(low)) * scale for p in present]
            return tuple(zip(keys, counts[present].tolist(), strict=True))
        unique, counts = np.unique(exact, return_counts=True)
        keys = [int(u) * scale for u in unique.tolist()]
    else:
        unique, counts = np.unique(values + 0.0, return_counts=True)  # -0.0 counts as 0.0
        keys = [float(u) for u in unique.tolist()]
    if len(keys) > VALUE_COUNTS_CAP:
        return None
    return tuple(zip(keys, counts.tolist(), strict=True))


def _profile_categorical(
    name: str, type_name: str, column: Any, max_categories: int
) -> CategoricalColumnProfile:
    nulls = column.null_count
    if type_name == "null":
        return CategoricalColumnProfile(
            name=name, type=type_name, nulls=nulls, frequent=FrequentValues(capacity=max_categories)
        )
    strings = as_large_string(column)
    counted = pc.value_counts(strings.drop_null() if nulls else strings)
    counts = counted.field("counts").to_numpy().astype(np.int64)
    # Prune before leaving arrow: a column of a million distinct IDs should not become a
    # million Python strings to keep a thousand of them.
    keep, threshold = prune(counts, max_categories)
    return CategoricalColumnProfile(
        name=name,
        type=type_name,
        nulls=nulls,
        frequent=FrequentValues.from_counts(
            counted.field("values").take(pa.array(keep)).to_pylist(),
            (counts[keep] - threshold).tolist(),
            capacity=max_categories,
            total=len(column) - nulls,
            error=threshold,
        ),
    )


def merge_columns(a: ColumnProfile, b: ColumnProfile) -> ColumnProfile:
    """Merge two profiles of the same column taken over different rows.

    An all-null column (type ``null``) merges with any type; ``int64``, ``uint64`` and
    ``float64`` merge into ``float64``; other type differences are an error.

    Raises
    ------
    InputError
        If the names differ or the types cannot be merged.
    """
    if a.name != b.name:
        raise InputError(f"cannot merge profiles of columns {a.name!r} and {b.name!r}")
    if a.type == "null":
        return _add_nulls(b, a.nulls)
    if b.type == "null":
        return _add_nulls(a, b.nulls)
    if isinstance(a, CategoricalColumnProfile) and isinstance(b, CategoricalColumnProfile):
        if a.type != b.type:
            raise _type_mismatch(a, b)
        return CategoricalColumnProfile(
            name=a.name, type=a.type, nulls=a.nulls + b.nulls, frequent=a.frequent.merge(b.frequent)
        )
    if isinstance(a, NumericColumnProfile) and isinstance(b, NumericColumnProfile):
        if a.type == b.type:
            return _merge_numeric(a, b, a.type)
        if {a.type, b.type} <= _MIXABLE:
            return _merge_numeric(_as_float(a), _as_float(b), "float64")
    raise _type_mismatch(a, b)


def _type_mismatch(a: ColumnProfile, b: ColumnProfile) -> InputError:
    return InputError(
        f"cannot merge profiles of column {a.name!r}: type {a.type} and type {b.type}",
        hint="make the column's type the same in every batch",
    )


def _add_nulls(column: ColumnProfile, nulls: int) -> ColumnProfile:
    return replace(column, nulls=column.nulls + nulls)


def _as_float(column: NumericColumnProfile) -> NumericColumnProfile:
    counts = column.value_counts
    return replace(
        column,
        min=None if column.min is None else float(column.min),
        max=None if column.max is None else float(column.max),
        value_counts=None if counts is None else tuple((float(v), c) for v, c in counts),
    )


def _merge_numeric(
    a: NumericColumnProfile, b: NumericColumnProfile, type_name: str
) -> NumericColumnProfile:
    n_a, n_b = a.finite_count, b.finite_count
    if a.mean is None or b.mean is None:
        mean, m2 = (a.mean, a.m2) if b.mean is None else (b.mean, b.m2)
    else:
        # Chan et al.: combine (n, mean, M2) without revisiting the values.
        n = n_a + n_b
        delta = b.mean - a.mean
        mean = a.mean + delta * (n_b / n)
        m2 = a.m2 + b.m2 + delta * delta * (n_a * n_b / n)
    return NumericColumnProfile(
        name=a.name,
        type=type_name,
        count=a.count + b.count,
        nulls=a.nulls + b.nulls,
        neg_inf=a.neg_inf + b.neg_inf,
        pos_inf=a.pos_inf + b.pos_inf,
        min=_pick(min, a.min, b.min),
        max=_pick(max, a.max, b.max),
        mean=mean,
        m2=m2,
        sketch=a.sketch.merge(b.sketch),
        value_counts=_merge_value_counts(a.value_counts, b.value_counts),
    )


def _pick(choose: Any, a: Number | None, b: Number | None) -> Number | None:
    if a is None:
        return b
    if b is None:
        return a
    chosen: Number = choose(a, b)
    return chosen


def _merge_value_counts(a: _ValueCounts | None, b: _ValueCounts | None) -> _ValueCounts | None:
    if a is None or b is None:
        return None
    merged: dict[Number, int] = dict(a)
    for value, count in b:
        merged[value] = merged.get(value, 0) + count
    if len(merged) > VALUE_COUNTS_CAP:
        return None
    return tuple(sorted(merged.items()))


def column_from_dict(data: Mapping[str, Any]) -> ColumnProfile:
    """Rebuild a column profile from its ``to_dict()`` output.

    Raises
    ------
    InputError
        If a field is missing or inconsistent.
    """
    try:
        name, type_name, kind = str(data["name"]), str(data["type"]), data["kind"]
        if kind == "categorical":
            return CategoricalColumnProfile(
                name=name,
                type=type_name,
                nulls=int(data["nulls"]),
                frequent=FrequentValues.from_dict({**data, "total": data["count"]}),
            )
        if kind != "numeric":
            raise ValueError(f"unknown column kind {kind!r}")
        number = float if type_name == "float64" else int
        counts = data["value_counts"]
        return NumericColumnProfile(
            name=name,
            type=type_name,
            count=int(data["count"]),
            nulls=int(data["nulls"]),
            neg_inf=int(data["neg_inf"]),
            pos_inf=int(data["pos_inf"]),
            min=None if data["min"] is None else number(data["min"]),
            max=None if data["max"] is None else number(data["max"]),
            mean=None if data["mean"] is None else float(data["mean"]),
            m2=float(data["m2"]),
            sketch=QuantileSketch.from_dict(data["sketch"]),
            value_counts=None if counts is None else tuple((number(v), int(c)) for v, c in counts),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise InputError(f"invalid column profile {data.get('name')!r}: {exc}") from exc
