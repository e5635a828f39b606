"""A mergeable quantile sketch with a relative error guarantee (DDSketch-style).

Every finite non-zero value ``x`` falls into one logarithmic bucket of ratio
``gamma = (1 + alpha) / (1 - alpha)``:

* ``x > 0`` goes to positive bucket ``i = ceil(log_gamma(x))``, the value range
  ``(gamma**(i-1), gamma**i]``;
* ``x < 0`` goes to negative bucket ``i = floor(log_gamma(-x)) + 1``, the value range
  ``(-gamma**i, -gamma**(i-1)]``;
* ``x == 0`` (either sign) goes to a separate zero count.

Both mappings make every bucket a right-closed interval, so a run of adjacent buckets is
also a right-closed interval ``(lo, hi]`` and bins built from bucket boundaries have one
convention whatever the sign. A bucket only stores a count, so merging two sketches adds
the counts: ``merge(sketch(a), sketch(b)) == sketch(a + b)`` exactly, in any order and for
any batching. There is no bucket limit (which would make merges order dependent); the
number of buckets is at most ``log(max|x| / min|x|) / log(gamma) + 1`` per sign, a few
thousand for data spanning ten orders of magnitude at the default ``alpha``.

Bucket indices come from ``np.log``; they are identical for the same values within one
numpy build, which is what exact merging needs.

References
----------
Masson, Rim and Lee, "DDSketch: a fast and fully-mergeable quantile sketch with
relative-error guarantees", VLDB 2019.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from govml.errors import InputError

DEFAULT_RELATIVE_ACCURACY = 0.005

_Buckets = tuple[tuple[int, ...], tuple[int, ...]]
_EMPTY: _Buckets = ((), ())


def _count_indices(indices: NDArray[np.int64]) -> _Buckets:
    """Count how often each bucket index occurs (bincount: linear, not a sort)."""
    if indices.size == 0:
        return _EMPTY
    low = int(indices.min())
    counts = np.bincount(indices - low)
    present = np.flatnonzero(counts)
    return tuple((present + low).tolist()), tuple(counts[present].tolist())


def _add_buckets(a: _Buckets, b: _Buckets) -> _Buckets:
    if not a[0]:
        return b
    if not b[0]:
        return a
    merged: dict[int, int] = dict(zip(*a, strict=True))
    for index, count in zip(*b, strict=True):
        merged[index] = merged.get(index, 0) + count
    keys = sorted(merged)
    return tuple(keys), tuple(merged[k] for k in keys)


@dataclass(frozen=True, kw_only=True)
class QuantileBins:
    """Bins cut at sketch bucket boundaries near the k-quantiles, with exact counts.

    Bin ``j`` holds the values ``v`` with ``edges[j] < v <= edges[j + 1]``; the first bin
    also holds ``v == edges[0]`` (the minimum). ``edges[0]`` and ``edges[-1]`` are the
    minimum and maximum; the inner edges are bucket boundaries, so each count is an exact
    sum of bucket counts. To count other data on the same edges consistently, sketch it
    with the same relative accuracy and call :meth:`QuantileSketch.histogram`.
    """

    edges: tuple[float, ...]
    counts: tuple[int, ...]

    def __post_init__(self) -> None:
        if self.edges and len(self.edges) != len(self.counts) + 1:
            raise ValueError("QuantileBins needs one more edge than counts")


@dataclass(frozen=True, kw_only=True)
class QuantileSketch:
    """Logarithmic-bucket quantile sketch over finite values; see the module docstring.

    Attributes
    ----------
    relative_accuracy : float
        ``alpha``: :meth:`quantile` is within ``alpha * |x|`` of the exact value ``x``.
    count : int
        Number of values sketched.
    zero_count : int
        Number of values equal to zero.
    min, max : float or None
        Smallest and largest value (None when empty); estimates are clamped to them.
    positive, negative : tuple of (indices, counts)
        Sorted bucket indices and their counts for the positive and negative values.
    """

    relative_accuracy: float = DEFAULT_RELATIVE_ACCURACY
    count: int = 0
    zero_count: int = 0
    min: float | None = None
    max: float | None = None
    positive: _Buckets = field(default=_EMPTY)
    negative: _Buckets = field(default=_EMPTY)

    def __post_init__(self) -> None:
        if not 0.0 < self.relative_accuracy < 1.0:
            raise ValueError(f"relative_accuracy must be in (0, 1), got {self.relative_accuracy}")
        for indices, counts in (self.positive, self.negative):
            if len(indices) != len(counts) or any(c <= 0 for c in counts):
                raise ValueError("sketch buckets need one positive count per index")
        total = self.zero_count + sum(self.positive[1]) + sum(self.negative[1])
        if total != self.count:
            raise ValueError(f"sketch bucket counts add up to {total}, not count={self.count}")
        if (self.min is None) != (self.count == 0) or (self.max is None) != (self.count == 0):
            raise ValueError("a sketch has min and max exactly when it is not empty")

    @property
    def gamma(self) -> float:
        """Ratio between consecutive bucket boundaries."""
        return (1.0 + self.relative_accuracy) / (1.0 - self.relative_accuracy)

    @classmethod
    def from_values(
        cls, values: NDArray[np.float64], *, relative_accuracy: float = DEFAULT_RELATIVE_ACCURACY
    ) -> QuantileSketch:
        """Sketch an array of finite values in one vectorised pass.

        Parameters
        ----------
        values : numpy.ndarray
            Finite float64 values; NaN and infinities must be removed by the caller.
        relative_accuracy : float
            The ``alpha`` of the sketch, in ``(0, 1)``.

        Returns
        -------
        QuantileSketch
            The sketch of ``values``.
        """
        values = np.asarray(values, dtype=np.float64)
        if values.size == 0:
            return cls(relative_accuracy=relative_accuracy)
        inv_log_gamma = 1.0 / math.log((1.0 + relative_accuracy) / (1.0 - relative_accuracy))
        positive = values[values > 0]
        negative = values[values < 0]
        pos_idx = np.ceil(np.log(positive) * inv_log_gamma).astype(np.int64)
        neg_idx = np.floor(np.log(-negative) * inv_log_gamma).astype(np.int64) + 1
        return cls(
            relative_accuracy=relative_accuracy,
            count=int(values.size),
            zero_count=int(values.size - positive.size - negative.size),
            min=float(values.min()) + 0.0,  # + 0.0 turns -0.0 into 0.0
            max=float(values.max()) + 0.0,
            positive=_count_indices(pos_idx),
            negative=_count_indices(neg_idx),
        )

    def merge(self, other: QuantileSketch) -> QuantileSketch:
        """Return the sketch of both inputs: bucket counts add, so the result is exact.

        Raises
        ------
        InputError
            If the two sketches have different relative accuracies.
        """
        if self.relative_accuracy != other.relative_accuracy:
            raise InputError(
                "cannot merge quantile sketches with relative accuracy "
                f"{self.relative_accuracy} and {other.relative_accuracy}",
                hint="profile both datasets with the same relative_accuracy",
            )
        if other.count == 0:
            return self
        if self.count == 0:
            return other
        assert self.min is not None and self.max is not None
        assert other.min is not None and other.max is not None
        return QuantileSketch(
            relative_accuracy=self.relative_accuracy,
            count=self.count + other.count,
            zero_count=self.zero_count + other.zero_count,
            min=min(self.min, other.min),
            max=max(self.max, other.max),
            positive=_add_buckets(self.positive, other.positive),
            negative=_add_buckets(self.negative, other.negative),
        )

    @property
    def bucket_count(self) -> int:
        """Number of non-empty buckets, the zero count included."""
        return len(self.positive[0]) + len(self.negative[0]) + (self.zero_count > 0)

    def _cells(self) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.int64]]:
        """Return (upper bound, representative value, count) of every bucket in value order."""
        gamma = self.gamma
        neg_idx = np.asarray(self.negative[0][::-1], dtype=np.float64)
        pos_idx = np.asarray(self.positive[0], dtype=np.float64)
        zero = [0.0] if self.zero_count else []
        # A bucket's representative 2 * gamma**i / (gamma + 1) is within alpha (relative)
        # of both of its boundaries gamma**(i-1) and gamma**i.
        upper = np.concatenate([-np.power(gamma, neg_idx - 1), zero, np.power(gamma, pos_idx)])
        middle = np.concatenate(
            [
                -2.0 * np.power(gamma, neg_idx) / (gamma + 1.0),
                zero,
                2.0 * np.power(gamma, pos_idx) / (gamma + 1.0),
            ]
        )
        counts = np.concatenate(
            [
                np.asarray(self.negative[1][::-1], dtype=np.int64),
                np.asarray([self.zero_count] if self.zero_count else [], dtype=np.int64),
                np.asarray(self.positive[1], dtype=np.int64),
            ]
        )
        return upper, middle, counts

    def quantile(self, q: float) -> float | None:
        """Estimate the ``q``-quantile, or return None when the sketch is empty.

        The exact value this estimates is the order statistic ``x[floor(q * (n - 1))]`` of
        the sorted values, i.e. ``numpy.quantile(values, q, method="lower")``. The estimate
        ``e`` satisfies ``|e - x| <= relative_accuracy * |x|``.

        Parameters
        ----------
        q : float
            The quantile, in ``[0, 1]``.

        Returns
        -------
        float or None
            The estimate, clamped to ``[min, max]``.
        """
        if not 0.0 <= q <= 1.0:
            raise ValueError(f"q must be in [0, 1], got {q}")
        if self.count == 0:
            return None
        assert self.min is not None and self.max is not None
        _, middle, counts = self._cells()
        rank = math.floor(q * (self.count - 1))
        cell = int(np.searchsorted(np.cumsum(counts), rank, side="right"))
        return float(min(max(float(middle[cell]), self.min), self.max))

    def quantile_bins(self, k: int = 10) -> QuantileBins:
        """Cut the values into at most ``k`` bins at bucket boundaries near the k-quantiles.

        Each inner edge is the upper boundary of the bucket in which the cumulative count
        first reaches ``j * count / k``. Bins that would be empty are merged away, so
        there may be fewer than ``k`` (one per bucket at most).

        Parameters
        ----------
        k : int
            Number of bins wanted, at least 1.

        Returns
        -------
        QuantileBins
            Edges (minimum, inner bucket boundaries, maximum) and the exact count per bin;
            empty when the sketch is empty.
        """
        if k < 1:
            raise ValueError(f"k must be at least 1, got {k}")
        if self.count == 0:
            return QuantileBins(edges=(), counts=())
        assert self.min is not None and self.max is not None
        upper, _, counts = self._cells()
        cumulative = np.cumsum(counts)
        targets = np.arange(1, k) * (self.count / k)
        cuts = np.unique(np.searchsorted(cumulative, targets, side="left"))
        cuts = cuts[cuts < len(counts) - 1]  # a cut after the last bucket is the maximum
        # Clamping guards against gamma**i rounding a hair outside [min, max].
        inner = np.clip(upper[cuts], self.min, self.max)
        edges = (self.min, *(float(e) for e in inner), self.max)
        totals = np.diff(np.concatenate([[0], cumulative[cuts], [self.count]]))
        return QuantileBins(edges=edges, counts=tuple(int(c) for c in totals))

    def histogram(self, edges: Sequence[float]) -> tuple[int, ...]:
        """Count the sketched values per bin of ``edges``, with open-ended outer bins.

        Bin ``j`` takes the buckets whose representative value lies in
        ``(edges[j], edges[j+1]]``; the first bin also takes everything below ``edges[1]``
        and the last everything above ``edges[-2]``. When the inner edges are bucket
        boundaries (as from :meth:`quantile_bins` with the same relative accuracy) every
        bucket lies wholly inside one bin, so the counts are exact.

        Parameters
        ----------
        edges : sequence of float
            At least two non-decreasing edges.

        Returns
        -------
        tuple of int
            ``len(edges) - 1`` counts adding up to ``count``.
        """
        if len(edges) < 2:
            raise ValueError("histogram needs at least two edges")
        n_bins = len(edges) - 1
        if self.count == 0:
            return (0,) * n_bins
        _, middle, counts = self._cells()
        bins = np.clip(np.searchsorted(np.asarray(edges), middle, side="left") - 1, 0, n_bins - 1)
        return tuple(int(c) for c in np.bincount(bins, weights=counts, minlength=n_bins))

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-safe dictionary; :meth:`from_dict` restores it exactly."""
        return {
            "relative_accuracy": self.relative_accuracy,
            "count": self.count,
            "zero_count": self.zero_count,
            "min": self.min,
            "max": self.max,
            "positive": {"indices": list(self.positive[0]), "counts": list(self.positive[1])},
            "negative": {"indices": list(self.negative[0]), "counts": list(self.negative[1])},
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> QuantileSketch:
        """Rebuild a sketch from :meth:`to_dict` output.

        Raises
        ------
        InputError
            If a field is missing or inconsistent.
        """
        try:
            return cls(
                relative_accuracy=float(data["relative_accuracy"]),
                count=int(data["count"]),
                zero_count=int(data["zero_count"]),
                min=None if data["min"] is None else float(data["min"]),
                max=None if data["max"] is None else float(data["max"]),
                positive=_buckets_from_dict(data["positive"]),
                negative=_buckets_from_dict(data["negative"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise InputError(f"invalid quantile sketch: {exc}") from exc


def _buckets_from_dict(data: Mapping[str, Any]) -> _Buckets:
    indices = tuple(int(i) for i in data["indices"])
    counts = tuple(int(c) for c in data["counts"])
    if list(indices) != sorted(set(indices)):
        raise ValueError("bucket indices must be sorted and distinct")
    return indices, counts
