"""A small cache of factorised sensitive-feature columns, shared by every metric call.

Code written for Fairlearn calls one function per metric (``demographic_parity_difference``,
``equalized_odds_difference``, ...) on the same ``sensitive_features``; most of each call's
time would be spent factorising the same string columns again. The factorisation of a
column (codes into its sorted distinct values) is therefore kept for the last
:data:`MAX_ENTRIES` large columns (:data:`MIN_ROWS` rows or more), and a later call with the
same data reuses it.

"The same data" is checked exactly on every lookup, never assumed from an ``id``:

- a column of Python objects (strings) matches when every element is the *same object* as
  when it was factorised (the same address in every row). The entry keeps the addresses
  and a reference to each distinct object (a handful), so those objects cannot be freed and
  their addresses cannot be taken by other objects while the entry lives: equal addresses
  mean the same, unchanged, immutable objects. A column changed in place, or another
  column with equal strings in other objects, does not match (it is factorised again).
  Only columns factorised by address are kept (their distinct objects are known);
- a column of numbers or booleans matches when its bytes are equal to the kept copy's.

A lookup costs one comparison pass over the column's bytes (a few milliseconds per million
rows), against tens of milliseconds for hashing strings. Memory: at most :data:`MAX_ENTRIES`
columns' bytes (8 bytes a row for objects) and their codes, and no more than
:data:`MAX_BYTES` in all (a column larger than that is not kept). Columns of
pandas categoricals, Arrow and polars are not cached: their codes are already at hand.
:func:`clear` empties the cache.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from govml.metrics._factorize import pointers

if TYPE_CHECKING:
    pass

MAX_ENTRIES = 8
MAX_BYTES = 1 << 29  # 512 MiB of kept bytes and codes in all; least recently used go first
MIN_ROWS = 10_000
_SAMPLE = 64


@dataclass(frozen=True, eq=False)
class _Entry:
    dtype: np.dtype[Any]
    kept: NDArray[np.uint8]  # the column's bytes (for objects: its elements' addresses)
    objects: tuple[Any, ...]  # for objects: every distinct element, kept alive
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
        if _same(array, entry):
            with _lock:
                if key in _entries:
                    _entries.move_to_end(key)
            return key, entry.codes, list(entry.values), entry.n_missing
    return None


def store(
    column: Any,
    codes: NDArray[np.integer[Any]],
    values: list[Any],
    n_missing: int,
    objects: list[Any] | None = None,
) -> int | None:
    """Keep the factorisation of ``column`` (large plain columns only); return its key.

    A column of objects is kept only with ``objects``, its distinct elements (as found by
    :func:`govml.metrics._factorize.factorize_objects`), which the entry keeps alive.
    """
    global _next_key
    array = _plain(column)
    if array is None or (array.dtype == object and objects is None):
        return None
    kept_codes = codes if codes.base is None and codes.flags.owndata else codes.copy()
    kept_codes.setflags(write=False)  # the caller's codes become read-only: they are shared
    entry = _Entry(
        dtype=array.dtype,
        kept=_bytes(np.ascontiguousarray(array)).copy(),
        objects=tuple(objects or ()),
        codes=kept_codes,
        values=tuple(values),
        n_missing=n_missing,
    )
    if _size_of(entry) > MAX_BYTES:
        return None
    with _lock:
        _next_key += 1
        _entries[_next_key] = entry
        while len(_entries) > MAX_ENTRIES or sum(map(_size_of, _entries.values())) > MAX_BYTES:
            _entries.popitem(last=False)
        return _next_key


def _size_of(entry: _Entry) -> int:
    return int(entry.kept.nbytes + entry.codes.nbytes)


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
    import pandas as pd

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


def _bytes(array: NDArray[Any]) -> NDArray[np.uint8]:
    """Return a C-contiguous array's bytes; an object array's are its elements' addresses."""
    if array.dtype == object:
        return pointers(array).view(np.uint8)
    return array.view(np.uint8)


def _same(array: NDArray[Any], entry: _Entry) -> bool:
    if array.dtype != entry.dtype or array.nbytes != entry.kept.nbytes:
        return False
    current = np.ascontiguousarray(array)
    mine, theirs = _bytes(current), entry.kept
    step = max(1, len(mine) // _SAMPLE)
    if not np.array_equal(mine[::step], theirs[::step]):
        return False
    return bool(np.array_equal(mine, theirs))
