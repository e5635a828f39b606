"""Factorising a column of Python objects (strings) by the objects' addresses.

A column of strings usually holds few distinct objects, each repeated many times (pandas
and numpy share one object per repeated literal, ``Series.map`` and ``np.choose`` repeat
references). Hashing the addresses as 64-bit integers is several times faster than hashing
and comparing the strings (pandas' object hash table calls Python for every row); the few
distinct objects are then grouped by value in Python, so equal strings held in different
objects still share a code. The result is the same as ``pandas.factorize``'s, codes in
order of first appearance of each *value*.

The column's elements are alive while it is (the caller holds it), so an address names one
object for the whole call.
"""

from __future__ import annotations

import ctypes
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

if TYPE_CHECKING:
    pass

# Past this many distinct objects, grouping them by value in Python would cost more than
# hashing the values: pandas' factorize is used instead.
MAX_OBJECTS = 50_000
# The largest address table (entries of 8 bytes of address space) worth a bincount.
_TABLE = 1 << 20


def pointers(array: NDArray[Any]) -> NDArray[np.uintp]:
    """Return the addresses of a C-contiguous object array's elements (a view, no copy)."""
    n = len(array)
    pointer = ctypes.cast(array.ctypes.data, ctypes.POINTER(ctypes.c_size_t))
    return np.ctypeslib.as_array(pointer, shape=(n,)).view(np.uintp)


def factorize_objects(
    array: NDArray[Any],
) -> tuple[NDArray[np.integer[Any]], NDArray[np.intp], list[Any]] | None:
    """Return ``(index, lookup, objects)``: row ``i`` holds ``objects[lookup[index[i]]]``.

    Two arrays rather than one, so that a caller mapping the objects further (to sorted
    values) gathers over the rows once: ``mapping[lookup][index]``. None when the array is
    not a 1-D object array or holds more than ``MAX_OBJECTS`` distinct objects (then
    pandas' factorize by value is the faster way).
    """
    import pandas as pd

    if array.ndim != 1 or array.dtype != object or not len(array):
        return None
    contiguous = np.ascontiguousarray(array)
    addresses = pointers(contiguous).view(np.int64)
    found = _by_table(addresses)
    if found is None:
        row_codes, unique_addresses = pd.factorize(addresses)
        index: NDArray[np.integer[Any]] = np.asarray(row_codes, dtype=np.intp)
        lookup = np.arange(len(unique_addresses), dtype=np.intp)
    else:
        index, lookup, unique_addresses = found
    if len(unique_addresses) > MAX_OBJECTS:
        return None
    objects = [ctypes.cast(int(address), ctypes.py_object).value for address in unique_addresses]
    return index, lookup, objects


def _by_table(
    addresses: NDArray[np.int64],
) -> tuple[NDArray[np.int64], NDArray[np.intp], NDArray[np.int64]] | None:
    """Return ``(slots, table, unique addresses)`` for addresses that lie close together.

    Objects are at least 8-byte aligned, so a row's slot (address - lowest) / 8 indexes a
    table (slot to object number, -1 where no object is) as long as the span of the
    addresses over 8; past ``_TABLE`` entries, hashing is cheaper and this returns None.
    """
    low, high = int(addresses.min()), int(addresses.max())
    size = (high - low) // 8 + 1
    if size > _TABLE:
        return None
    slots = addresses - low
    slots >>= 3
    present = np.bincount(slots, minlength=size) > 0
    used = np.flatnonzero(present)
    table = np.full(size, -1, dtype=np.intp)
    table[used] = np.arange(len(used))
    return slots, table, (used.astype(np.int64) << 3) + low


def group_by_value(objects: list[Any]) -> tuple[NDArray[np.intp], list[Any]] | None:
    """Return each object's code into the distinct values, and those values.

    Equal values held in different objects share a code; NaN objects (not equal to
    themselves) share one. None when an object cannot be hashed.
    """
    codes = np.empty(len(objects), dtype=np.intp)
    index: dict[Any, int] = {}
    nan_code: int | None = None
    values: list[Any] = []
    for i, value in enumerate(objects):
        if isinstance(value, float) and value != value:
            if nan_code is None:
                nan_code = len(values)
                values.append(value)
            codes[i] = nan_code
            continue
        try:
            code = index.setdefault(value, len(values))
        except TypeError:  # unhashable: let pandas report it
            return None
        if code == len(values):
            values.append(value)
        codes[i] = code
    return codes, values
