"""Mergeable category counts: exact up to a capacity, a Misra–Gries summary beyond it.

The summary keeps at most ``capacity`` counters. While a column has no more distinct
values than that, the counters are the exact counts. When a batch or a merge brings more,
every counter is lowered by the ``(capacity + 1)``-th largest count ``t`` and the counters
that reach zero are dropped (the merge of Agarwal et al., "Mergeable summaries", PODS 2012).
Each such step removes at least ``t * (capacity + 1)`` from the total, so the sum of all
decrements, kept as ``error``, never exceeds ``n / (capacity + 1)`` for ``n`` counted values.
For every value ``v`` with true count ``f(v)`` and kept count ``c(v)`` (0 when not kept)::

    c(v) <= f(v) <= c(v) + error <= c(v) + n / (capacity + 1)

so every value more frequent than ``n / (capacity + 1)`` is kept.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from govml.errors import InputError

DEFAULT_MAX_CATEGORIES = 1000

_Counter = tuple[tuple[str, int], ...]


def _ordered(counts: Iterable[tuple[str, int]]) -> _Counter:
    """Most frequent first, ties by value, so equal summaries compare equal."""
    return tuple(sorted(counts, key=lambda item: (-item[1], item[0])))


def prune(counts: NDArray[np.int64], capacity: int) -> tuple[NDArray[np.intp], int]:
    """Apply the Misra–Gries decrement to at most ``capacity`` counters.

    Parameters
    ----------
    counts : numpy.ndarray
        Positive counts of distinct values.
    capacity : int
        Maximum number of counters to keep.

    Returns
    -------
    keep : numpy.ndarray
        Positions of the counters that survive.
    threshold : int
        The amount subtracted from each survivor (0 when nothing had to be pruned).
    """
    if len(counts) <= capacity:
        return np.arange(len(counts)), 0
    # The (capacity + 1)-th largest count, found in linear time.
    cut = len(counts) - capacity - 1
    threshold = int(np.partition(counts, cut)[cut])
    return np.flatnonzero(counts > threshold), threshold


@dataclass(frozen=True, kw_only=True)
class TopValues:
    """The most frequent values of a column and the count of everything else.

    When the summary is truncated the counts are lower bounds: each true count is at most
    ``error`` higher, and ``other`` is correspondingly an upper bound.
    """

    values: tuple[tuple[str, int], ...]
    other: int
    error: int


@dataclass(frozen=True, kw_only=True)
class FrequentValues:
    """Counts per value, exact up to ``capacity`` distinct values; see the module docstring.

    Attributes
    ----------
    capacity : int
        Maximum number of counters kept.
    total : int
        Number of values counted.
    counts : tuple of (value, count)
        Kept counters, most frequent first.
    error : int
        Sum of the decrements applied; 0 while the counts are exact.
    """

    capacity: int = DEFAULT_MAX_CATEGORIES
    total: int = 0
    counts: _Counter = ()
    error: int = 0

    def __post_init__(self) -> None:
        if self.capacity < 1:
            raise ValueError(f"capacity must be at least 1, got {self.capacity}")
        if len(self.counts) > self.capacity:
            raise ValueError(f"{len(self.counts)} counters exceed capacity {self.capacity}")
        if len({v for v, _ in self.counts}) != len(self.counts):
            raise ValueError("counters must have distinct values")
        if any(c <= 0 for _, c in self.counts) or sum(c for _, c in self.counts) > self.total:
            raise ValueError("counters must be positive and add up to at most total")
        if self.error * (self.capacity + 1) > self.total:
            raise ValueError("error exceeds total / (capacity + 1)")

    @property
    def truncated(self) -> bool:
        """True once some counts were lowered or dropped, i.e. the counts are not exact."""
        return self.error > 0

    @classmethod
    def from_counts(
        cls, values: list[str], counts: list[int], *, capacity: int, total: int, error: int
    ) -> FrequentValues:
        """Build a summary from counters that already respect ``capacity``.

        Parameters
        ----------
        values : list of str
            Distinct kept values.
        counts : list of int
            Their counts, all positive.
        capacity : int
            Maximum number of counters.
        total : int
            Number of values counted, kept or not.
        error : int
            Sum of the decrements already applied (see :func:`prune`).

        Returns
        -------
        FrequentValues
            The summary, counters ordered most frequent first.
        """
        return cls(
            capacity=capacity,
            total=total,
            counts=_ordered(zip(values, counts, strict=True)),
            error=error,
        )

    def merge(self, other: FrequentValues) -> FrequentValues:
        """Add the counters of both summaries and prune to the smaller capacity.

        The bound of the module docstring holds for the result with that capacity.
        """
        capacity = min(self.capacity, other.capacity)
        merged = dict(self.counts)
        for value, count in other.counts:
            merged[value] = merged.get(value, 0) + count
        values = list(merged)
        counts = np.fromiter(merged.values(), dtype=np.int64, count=len(values))
        keep, threshold = prune(counts, capacity)
        return FrequentValues.from_counts(
            [values[i] for i in keep],
            (counts[keep] - threshold).tolist(),
            capacity=capacity,
            total=self.total + other.total,
            error=self.error + other.error + threshold,
        )

    def top(self, k: int = 20) -> TopValues:
        """Return the ``k`` most frequent values and the count of all the others.

        Parameters
        ----------
        k : int
            Number of values to list.

        Returns
        -------
        TopValues
            Up to ``k`` (value, count) pairs, most frequent first (ties by value), and
            ``other = total - sum(listed counts)``.
        """
        if k < 0:
            raise ValueError(f"k must not be negative, got {k}")
        values = self.counts[:k]
        return TopValues(
            values=values, other=self.total - sum(c for _, c in values), error=self.error
        )

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-safe dictionary; :meth:`from_dict` restores it exactly."""
        return {
            "capacity": self.capacity,
            "total": self.total,
            "error": self.error,
            "truncated": self.truncated,
            "counts": [[value, count] for value, count in self.counts],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FrequentValues:
        """Rebuild a summary from :meth:`to_dict` output.

        Raises
        ------
        InputError
            If a field is missing or inconsistent.
        """
        try:
            counts = tuple((str(v), int(c)) for v, c in data["counts"])
            return cls(
                capacity=int(data["capacity"]),
                total=int(data["total"]),
                counts=_ordered(counts),
                error=int(data["error"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise InputError(f"invalid category counts: {exc}") from exc
