"""Column types as govml sees them: normalised names, kinds and numpy views of arrow data.

pandas, polars, pyarrow and CSV/Parquet readers spell the same logical type in many ways
(``int32`` / ``Int64`` / ``int64``, ``string`` / ``large_string`` / ``string_view``,
dictionary-encoded strings, timestamps in four units). Digests and profiles are defined
on the normalised type so that the same values give the same record whatever produced them.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from numpy.typing import NDArray

from govml.errors import InputError

ColumnKind = Literal["numeric", "categorical"]

NANOSECONDS_PER_UNIT = {"s": 1_000_000_000, "ms": 1_000_000, "us": 1_000, "ns": 1}
NANOSECONDS_PER_DAY = 86_400_000_000_000

# Logical types whose values are numbers, counted as such by profiles (bools as 0/1,
# temporal values as nanoseconds).
_NUMERIC = {"bool", "int64", "uint64", "float64", "date", "time", "duration"}


def normalised_type(dtype: Any, *, column: str) -> str:
    """Return govml's name for an arrow type.

    Parameters
    ----------
    dtype : pyarrow.DataType
        The column's arrow type.
    column : str
        The column name, for the error message.

    Returns
    -------
    str
        One of ``null``, ``bool``, ``int64`` (every signed integer and the unsigned ones
        that fit), ``uint64``, ``float64`` (every float width), ``string`` (plain, large,
        view and dictionary-encoded), ``datetime`` or ``datetime[<tz>]``, ``date``,
        ``time``, ``duration``.

    Raises
    ------
    InputError
        For types govml does not fingerprint (binary, decimal, nested, ...).
    """
    types = pa.types
    if types.is_dictionary(dtype):
        return normalised_type(dtype.value_type, column=column)
    if types.is_null(dtype):
        return "null"
    if types.is_boolean(dtype):
        return "bool"
    if types.is_uint64(dtype):
        return "uint64"
    if types.is_integer(dtype):
        return "int64"
    if types.is_floating(dtype):
        return "float64"
    if types.is_string(dtype) or types.is_large_string(dtype) or types.is_string_view(dtype):
        return "string"
    if types.is_timestamp(dtype):
        return "datetime" if dtype.tz is None else f"datetime[{dtype.tz}]"
    if types.is_date(dtype):
        return "date"
    if types.is_time(dtype):
        return "time"
    if types.is_duration(dtype):
        return "duration"
    raise InputError(
        f"column {column!r} has type {dtype}, which govml cannot fingerprint or profile",
        hint="cast it to a number, string or timestamp first",
    )


def kind_of(type_name: str) -> ColumnKind:
    """Return ``numeric`` for number-like types and ``categorical`` for strings and nulls."""
    if type_name in _NUMERIC or type_name.startswith("datetime"):
        return "numeric"
    return "categorical"


def is_temporal(type_name: str) -> bool:
    """Return True for the types stored as integer counts of a time unit."""
    return type_name in {"date", "time", "duration"} or type_name.startswith("datetime")


def decoded(chunk: Any) -> Any:
    """Return a dictionary-encoded array as a plain array of its values."""
    if pa.types.is_dictionary(chunk.type):
        return chunk.dictionary_decode()
    return chunk


def as_large_string(chunk: Any) -> Any:
    """Return a string-like array as ``large_string`` (64-bit offsets, one layout)."""
    chunk = decoded(chunk)
    if not pa.types.is_large_string(chunk.type):
        chunk = chunk.cast(pa.large_string())
    return chunk


def temporal_ints(chunk: Any) -> tuple[NDArray[np.int64], int]:
    """Return a temporal array's raw integers (nulls as 0) and nanoseconds per unit.

    Dates are returned as days (``date64`` milliseconds are divided down), so the same
    date has the same integer whichever arrow date type holds it.
    """
    dtype = chunk.type
    narrow = pa.types.is_date32(dtype) or pa.types.is_time32(dtype)
    physical = pa.int32() if narrow else pa.int64()
    raw = pc.fill_null(chunk.view(physical), 0).to_numpy().astype(np.int64, copy=False)
    if pa.types.is_date32(dtype):
        return raw, NANOSECONDS_PER_DAY
    if pa.types.is_date64(dtype):
        return raw // (NANOSECONDS_PER_DAY // 1_000_000), NANOSECONDS_PER_DAY
    return raw, NANOSECONDS_PER_UNIT[dtype.unit]
