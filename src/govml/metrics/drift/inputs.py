"""Reading drift inputs: column selection, type families, values and category counts.

A column is compared as *numeric* (numbers, bools as 0/1, dates, times, durations and
datetimes as nanoseconds, like :mod:`govml.datasets` profiles) or *categorical*
(strings). Nulls, NaN and infinities are not values for drift, as in Evidently.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from numpy.typing import NDArray

from govml.datasets import read_table
from govml.datasets.coltypes import normalised_type
from govml.errors import InputError, did_you_mean
from govml.metrics.drift.tests import ColumnKind

Family = Literal["number", "string", "datetime", "date", "time", "duration", "null"]

MISSING_COLUMNS = "columns missing from the current data: {names}"
UNKNOWN_COLUMNS = "columns not in the reference: {names}"
TYPE_MISMATCH = "column types differ between reference and current: {details}"
EMPTY_DATA = "the {side} data has no rows"
UNSUPPORTED_TYPE = "column {name!r} has type {type}, which drift cannot compare"

# Rows per batch when current data is counted a batch at a time: small enough that a
# batch's temporaries stay in the CPU caches and the peak memory low (measured on 1M rows:
# 32k rows was both faster and leaner than 16k or 64k).
STREAM_ROWS = 32_768

_NANOSECONDS = {"s": 1_000_000_000, "ms": 1_000_000, "us": 1_000, "ns": 1}
_NANOSECONDS_PER_DAY = 86_400_000_000_000


def iter_tables(source: Any) -> Iterator[Any]:
    """Yield ``source`` as ``pyarrow.Table`` batches that together hold every row.

    A Parquet file is read :data:`STREAM_ROWS` rows at a time and a pandas DataFrame
    converted that many rows at a time, so statistics never need a second copy of the
    whole data in memory; anything else is read at once by
    :func:`~govml.datasets.read_table` (which also words the errors of unreadable files).
    At least one (possibly empty) table is yielded, so the columns are always known.
    """
    pandas = sys.modules.get("pandas")
    if pandas is not None and isinstance(source, pandas.DataFrame):
        for start in range(0, max(len(source), 1), STREAM_ROWS):
            yield read_table(source.iloc[start : start + STREAM_ROWS])
        return
    parquet = None
    if isinstance(source, str | Path) and Path(source).suffix.lower() in (".parquet", ".pq"):
        try:
            # Without pre-buffering the reader holds one batch's column chunks, not the
            # file's.
            parquet = pq.ParquetFile(source, pre_buffer=False)
        except (pa.ArrowException, OSError):
            parquet = None  # read_table below names the file and what is wrong with it
    if parquet is None or len(set(parquet.schema_arrow.names)) != len(parquet.schema_arrow):
        yield read_table(source)
        return
    yield parquet.schema_arrow.empty_table()
    try:
        # One decoding thread: counting, not decoding, is the work, and per-thread
        # buffers would raise the peak memory.
        for batch in parquet.iter_batches(batch_size=STREAM_ROWS, use_threads=False):
            yield pa.Table.from_batches([batch])
    except (pa.ArrowException, OSError) as exc:
        raise InputError(f"{source}: cannot read as Parquet: {exc}") from exc


def row_count(source: Any) -> int | None:
    """Return how many rows ``source`` has when that is known without reading it, else None.

    In-memory tables, DataFrames and arrays know their length; a Parquet file's footer
    records it. Other sources (CSV files, folders) would have to be read.
    """
    pandas = sys.modules.get("pandas")
    if pandas is not None and isinstance(source, pandas.DataFrame):
        return len(source)
    if isinstance(source, pa.Table | pa.RecordBatch):
        return int(source.num_rows)
    if isinstance(source, np.ndarray):
        return int(source.shape[0]) if source.ndim else None
    if isinstance(source, str | Path) and Path(source).suffix.lower() in (".parquet", ".pq"):
        try:
            return int(pq.ParquetFile(source).metadata.num_rows)
        except (pa.ArrowException, OSError):
            return None  # read_table names the file and what is wrong with it
    return None


def family_of_arrow(name: str, dtype: Any) -> Family:
    """Return the type family of an arrow type (from the dataset profile's type names).

    Raises
    ------
    InputError
        For types that are neither numbers, strings, temporal nor null.
    """
    try:
        type_name = normalised_type(dtype, column=name)
    except InputError:
        raise InputError(
            UNSUPPORTED_TYPE.format(name=name, type=dtype),
            hint="cast it to a number, string or timestamp first",
        ) from None
    if type_name in ("bool", "int64", "uint64", "float64"):
        return "number"
    if type_name.startswith("datetime"):
        return "datetime"
    return type_name  # type: ignore[return-value]  # null, string, date, time, duration


def family_of_profile_type(type_name: str) -> Family:
    """Return the type family of a profile's normalised type name (``int64``, ...)."""
    if type_name in ("bool", "int64", "uint64", "float64"):
        return "number"
    if type_name.startswith("datetime"):
        return "datetime"
    if type_name in ("string", "date", "time", "duration", "null"):
        family: Family = type_name  # type: ignore[assignment]
        return family
    raise InputError(f"unknown column type {type_name!r} in the reference profile")


def is_integer(dtype: Any) -> bool:
    """Return True for (dictionary-encoded) integer arrow types, not bools."""
    if pa.types.is_dictionary(dtype):
        dtype = dtype.value_type
    return bool(pa.types.is_integer(dtype))


def kind_of(family: Family) -> ColumnKind:
    """Numeric for numbers and temporal values, categorical for strings and nulls."""
    return "categorical" if family in ("string", "null") else "numeric"


def check_columns(
    reference_names: Sequence[str], current_names: Sequence[str], columns: Sequence[str] | None
) -> list[str]:
    """Return the columns to compare, checking that both sides have them.

    Raises
    ------
    InputError
        Naming every requested column missing from the reference (with a suggestion)
        or from the current data.
    """
    if columns is None:
        selected = list(reference_names)
    else:
        selected = list(dict.fromkeys(columns))
        unknown = [name for name in selected if name not in reference_names]
        if unknown:
            hints = [h for h in (did_you_mean(n, reference_names) for n in unknown) if h]
            raise InputError(
                UNKNOWN_COLUMNS.format(names=", ".join(map(repr, unknown))),
                hint="; ".join(hints) or None,
            )
    present = set(current_names)
    missing = [name for name in selected if name not in present]
    if missing:
        raise InputError(
            MISSING_COLUMNS.format(names=", ".join(map(repr, missing))),
            hint="pass columns=[...] to compare only the columns both sides have",
        )
    return selected


def check_families(pairs: dict[str, tuple[Family, Family]]) -> None:
    """Raise one error naming every column whose reference and current types differ.

    A null family (a column with only nulls) matches anything: it is reported as
    undefined, not as a type error.
    """
    mismatched = [
        f"{name!r} is {ref} in the reference but {cur} in the current data"
        for name, (ref, cur) in pairs.items()
        if ref != cur and "null" not in (ref, cur)
    ]
    if mismatched:
        raise InputError(
            TYPE_MISMATCH.format(details="; ".join(mismatched)),
            hint="cast the current columns to the reference types",
        )


def check_not_empty(row_count: int, side: Literal["reference", "current"]) -> None:
    """Raise when a side has no rows at all."""
    if row_count == 0:
        raise InputError(EMPTY_DATA.format(side=side))


def numeric_values(column: Any) -> NDArray[np.float64]:
    """Return the finite values of a numeric arrow column as float64 (temporal as ns).

    ``-0.0`` becomes ``0.0`` so that both count as one value, as in pandas.
    """
    column = _plain(column).drop_null()
    dtype = column.type
    scale = 1
    if pa.types.is_date32(dtype):
        column, scale = pc.cast(column, pa.int32()), _NANOSECONDS_PER_DAY
    elif pa.types.is_date64(dtype):
        column, scale = pc.cast(column, pa.int64()), _NANOSECONDS["ms"]
    elif pa.types.is_time32(dtype):
        column, scale = pc.cast(column, pa.int32()), _NANOSECONDS[dtype.unit]
    elif pa.types.is_temporal(dtype):
        column, scale = pc.cast(column, pa.int64()), _NANOSECONDS[dtype.unit]
    values: NDArray[np.float64] = column.to_numpy(zero_copy_only=False).astype(np.float64)
    if scale != 1:
        values *= scale
    return values[np.isfinite(values)] + 0.0


def category_counts(column: Any) -> tuple[Any, NDArray[np.int64]]:
    """Return the distinct non-null strings of a column (an arrow array) and their counts."""
    column = _plain(column)
    if pa.types.is_null(column.type):
        return pa.array([], type=pa.large_string()), np.zeros(0, dtype=np.int64)
    if not pa.types.is_large_string(column.type):
        column = column.cast(pa.large_string())
    counted = pc.value_counts(column.drop_null())
    return counted.field("values"), counted.field("counts").to_numpy().astype(np.int64)


def positions_in(values: Any, keys: Any) -> NDArray[np.int64]:
    """Return the position of each arrow string of ``values`` in ``keys``, -1 when absent."""
    found = pc.index_in(values, value_set=keys)
    return np.asarray(pc.fill_null(found, -1).to_numpy(zero_copy_only=False), dtype=np.int64)


def _plain(column: Any) -> Any:
    """One contiguous, dictionary-decoded arrow array."""
    if isinstance(column, pa.ChunkedArray):
        if pa.types.is_dictionary(column.type):
            column = column.cast(column.type.value_type)
        column = column.combine_chunks()
    if pa.types.is_dictionary(column.type):
        column = column.dictionary_decode()
    return column
