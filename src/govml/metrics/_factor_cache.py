"""A small cache of factorised sensitive-feature columns, shared by every metric call.

Code written for Fairlearn calls one function per metric (``demographic_parity_difference``,
``equalized_odds_difference``, ...) on the same ``sensitive_features``; most of each call's
time would be spent factorising the same string columns again. The factorisation of a
column (codes into its sorted distinct values) is therefore kept for the last
:data:`MAX_ENTRIES` large columns (:data:`MIN_ROWS` rows or more), and a later call with the
same data reuses it.

"The same data" is checked exactly on every lookup, never assumed from an ``id``:

- a column of Python objects (strings) matches when every element is the *same object* as
  when it was factorised: the entry keeps a copy of the column, which holds references to
  its elements, so they cannot be freed and their addresses cannot be taken by other
  objects; a column mutated in place, or another column with equal strings in other
  objects, does not match (it is factorised again);
- a column of numbers or booleans matches when its bytes are equal to the kept copy's.

A lookup costs one comparison pass over the column (a few milliseconds per million rows),
against tens of milliseconds for hashing strings. Memory: the kept copies, at most
:data:`MAX_ENTRIES` columns (an object column's copy is 8 bytes a row; the strings are
shared with the caller's). Columns of pandas categoricals, Arrow and polars are not
cached: their codes are already at hand. :func:`clear` empties the cache.
"""

from __future__ import annotations

import ctypes
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

MAX_ENTRIES = 8
MIN_ROWS = 10_000
_SAMPLE = 64


@dataclass(frozen=True, eq=False)
class _Entry:
    kept: NDArray[Any]  # a copy of the column (for objects: references to its elements)
    codes: NDArray[np.integer[Any]]  # read-only
    values: tuple[Any, ...]
    n_missing: int


_lock = threading.Lock()
_entries: OrderedDict[int, _Entry] = OrderedDict()
# Groups of several cached columns, keyed by their entries' keys (codes are read-only).
_combined: OrderedDict[tuple[Any, ...], Any] = OrderedDict()
_next_key = 0


def lookup(column: Any) -> tuple[int, NDArray[np.integer[Any]], list[Any], int] | None:
    """Return the entry key, codes, sorted values and missing count of ``column``, if cached."""
    array = _plain(column)
    if array is None:
        return None
    with _lock:
        candidates = list(_entries.items())
    for key, entry in reversed(candidates):
        if _same(array, entry.kept):
            with _lock:
                if key in _entries:
                    _entries.move_to_end(key)
            return key, entry.codes, list(entry.values), entry.n_missing
    return None


def store(
    column: Any, codes: NDArray[np.integer[Any]], values: list[Any], n_missing: int
) -> int | None:
    """Keep the factorisation of ``column`` (large plain columns only); return its key."""
    global _next_key
    array = _plain(column)
    if array is None:
        return None
    kept_codes = np.array(codes, copy=True)
    kept_codes.setflags(write=False)
    entry = _Entry(
        kept=np.array(array, copy=True, order="C"),
        codes=kept_codes,
        values=tuple(values),
        n_missing=n_missing,
    )
    with _lock:
        _next_key += 1
        _entries[_next_key] = entry
        while len(_entries) > MAX_ENTRIES:
            _entries.popitem(last=False)
        return _next_key


def lookup_combined(key: tuple[Any, ...]) -> Any:
    """Return what :func:`store_combined` kept under ``key`` while its columns are cached.

    ``key`` starts with the columns' entry keys (a tuple of ints); the rest is the
    caller's (names, options).
    """
    with _lock:
        if not all(column in _entries for column in key[0]):
            return None
        return _combined.get(key)


def store_combined(key: tuple[Any, ...], value: Any) -> None:
    """Keep ``value`` (derived from the cached columns ``key[0]`` only) under ``key``."""
    with _lock:
        _combined[key] = value
        _combined.move_to_end(key)
        while len(_combined) > MAX_ENTRIES:
            _combined.popitem(last=False)


def clear() -> None:
    """Forget every cached factorisation."""
    with _lock:
        _entries.clear()
        _combined.clear()


def size() -> int:
    """Return the number of cached columns."""
    with _lock:
        return len(_entries)


def _plain(column: Any) -> NDArray[Any] | None:
    """Return the column as a 1-D numpy array of objects or numbers, or None (not cached)."""
    if isinstance(column, pd.Series):
        if isinstance(column.dtype, pd.api.extensions.ExtensionDtype):
            return None
        array = column.to_numpy()
    elif isinstance(column, np.ndarray):
        array = column
    else:
        return None
    if array.ndim != 1 or len(array) < MIN_ROWS or array.dtype.kind not in "Obiuf":
        return None
    return array


def _same(array: NDArray[Any], kept: NDArray[Any]) -> bool:
    if array.dtype != kept.dtype or array.shape != kept.shape:
        return False
    current = np.ascontiguousarray(array)
    if array.dtype == object:
        mine, theirs = _pointers(current), _pointers(kept)
    else:
        mine, theirs = current.view(np.uint8), kept.view(np.uint8)
    step = max(1, len(mine) // _SAMPLE)
    if not np.array_equal(mine[::step], theirs[::step]):
        return False
    return bool(np.array_equal(mine, theirs))


def _pointers(array: NDArray[Any]) -> NDArray[np.uintp]:
    """Return the addresses of a C-contiguous object array's elements (a view, no copy)."""
    n = len(array)
    pointer = ctypes.cast(array.ctypes.data, ctypes.POINTER(ctypes.c_size_t))
    return np.ctypeslib.as_array(pointer, shape=(n,)).view(np.uintp)
