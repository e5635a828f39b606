"""Quantile sketch and frequent-value summary: guarantees checked against numpy."""

from __future__ import annotations

import json
from collections import Counter

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from govml.datasets import FrequentValues, QuantileSketch
from govml.datasets.frequent import prune
from govml.errors import InputError

ALPHA = 0.005
QS = [0.0, 0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.99, 1.0]

finite = st.floats(min_value=-1e300, max_value=1e300, allow_nan=False, allow_infinity=False)
value_lists = st.lists(finite | st.sampled_from([0.0, -0.0, 1.0, -1.0, 5e-324]), max_size=200)


def sketch(values: list[float] | np.ndarray, alpha: float = ALPHA) -> QuantileSketch:
    return QuantileSketch.from_values(np.asarray(values, dtype=float), relative_accuracy=alpha)


@settings(max_examples=300, deadline=None)
@given(value_lists.filter(len), st.sampled_from([0.05, 0.01, ALPHA]))
def test_quantile_is_within_alpha_of_numpy_lower(values: list[float], alpha: float) -> None:
    s = sketch(values, alpha)
    for q in QS:
        exact = float(np.quantile(values, q, method="lower"))
        estimate = s.quantile(q)
        assert estimate is not None
        # 1e-12 of slack for the rounding of log() at a bucket boundary.
        assert abs(estimate - exact) <= alpha * abs(exact) * (1 + 1e-12), (q, exact, estimate)


def test_quantile_on_continuous_data() -> None:
    rng = np.random.default_rng(7)
    values = np.concatenate([rng.lognormal(3, 2, 50_000), -rng.exponential(10, 20_000)])
    s = sketch(values)
    for q in np.linspace(0, 1, 101):
        exact = np.quantile(values, q, method="lower")
        assert abs(s.quantile(q) - exact) <= ALPHA * abs(exact) * (1 + 1e-12)


@settings(deadline=None)
@given(value_lists, value_lists)
def test_merge_equals_sketch_of_union_exactly(a: list[float], b: list[float]) -> None:
    assert sketch(a).merge(sketch(b)) == sketch(a + b)
    assert sketch(b).merge(sketch(a)) == sketch(a + b)


def test_merge_refuses_different_accuracy() -> None:
    with pytest.raises(InputError, match="relative accuracy"):
        sketch([1.0], 0.01).merge(sketch([2.0], 0.02))


def test_empty_sketch() -> None:
    empty = sketch([])
    assert empty.count == 0 and empty.quantile(0.5) is None
    assert empty.quantile_bins(10).edges == ()
    assert empty.merge(sketch([3.0])) == sketch([3.0])


def _exact_counts(values: np.ndarray, edges: tuple[float, ...]) -> list[int]:
    """Counts per right-closed bin, the first bin also closed on the left."""
    inner = np.searchsorted(np.asarray(edges[1:-1]), values, side="left")
    return np.bincount(inner, minlength=len(edges) - 1).tolist()


@pytest.mark.parametrize("seed", range(5))
def test_quantile_bins_have_exact_counts_and_sit_near_quantiles(seed: int) -> None:
    rng = np.random.default_rng(seed)
    values = np.concatenate([rng.normal(0, 3, 20_000), np.zeros(500), rng.pareto(2, 5_000)])
    s = sketch(values)
    bins = s.quantile_bins(10)
    assert bins.edges[0] == values.min() and bins.edges[-1] == values.max()
    assert list(bins.edges) == sorted(bins.edges)
    assert sum(bins.counts) == values.size
    assert list(bins.counts) == _exact_counts(values, bins.edges)
    assert s.histogram(bins.edges) == bins.counts
    # Each cut is the upper boundary of the bucket where a k-quantile falls, so every
    # bin holds a tenth of the data give or take the largest bucket.
    largest_bucket = max(max(s.positive[1]), max(s.negative[1]), s.zero_count)
    assert all(abs(c - values.size / 10) <= 2 * largest_bucket for c in bins.counts)


def test_bins_are_right_closed_at_exact_bucket_boundaries() -> None:
    # 1.0 is exactly gamma**0, a bucket boundary on both sides of zero.
    values = np.array([-1.005, -1.0, -0.5, 0.0, 0.0, 0.5, 1.0, 1.005])
    bins = sketch(values).quantile_bins(len(values))
    assert -1.0 in bins.edges and 0.0 in bins.edges and 1.0 in bins.edges
    assert list(bins.counts) == _exact_counts(values, bins.edges)


@settings(deadline=None)
@given(value_lists.filter(len), st.integers(1, 12))
def test_quantile_bins_partition_the_sketch(values: list[float], k: int) -> None:
    s = sketch(values)
    bins = s.quantile_bins(k)
    assert len(bins.counts) <= k
    assert sum(bins.counts) == len(values)
    assert all(c > 0 for c in bins.counts)
    assert s.histogram(bins.edges) == bins.counts


def test_histogram_of_other_data_on_reference_edges_adds_up() -> None:
    rng = np.random.default_rng(3)
    reference = sketch(rng.normal(size=10_000))
    current_values = rng.normal(0.5, 2, size=5_000)
    bins = reference.quantile_bins(10)
    counts = sketch(current_values).histogram(bins.edges)
    assert sum(counts) == 5_000
    # Outer bins are open-ended: everything beyond the reference range lands there.
    inner = np.asarray(bins.edges[1:-1])
    assert (
        list(counts)
        == np.bincount(np.searchsorted(inner, current_values, side="left"), minlength=10).tolist()
    )


@settings(deadline=None)
@given(value_lists)
def test_sketch_dict_round_trip_is_exact(values: list[float]) -> None:
    s = sketch(values)
    assert QuantileSketch.from_dict(json.loads(json.dumps(s.to_dict()))) == s


def test_sketch_rejects_inconsistent_dict() -> None:
    data = sketch([1.0, 2.0]).to_dict()
    data["count"] = 3
    with pytest.raises(InputError, match="quantile sketch"):
        QuantileSketch.from_dict(data)


words = st.lists(st.sampled_from("abcdefghijklmnop") | st.text(max_size=3), max_size=300)


def frequent(values: list[str], capacity: int) -> FrequentValues:
    distinct = Counter(values)
    counts = np.asarray(list(distinct.values()), dtype=np.int64)
    keep, threshold = prune(counts, capacity)
    keys = list(distinct)
    return FrequentValues.from_counts(
        [keys[i] for i in keep],
        (counts[keep] - threshold).tolist(),
        capacity=capacity,
        total=len(values),
        error=threshold,
    )


def assert_bound(summary: FrequentValues, values: list[str]) -> None:
    """c(v) <= f(v) <= c(v) + error and error <= n / (capacity + 1), for every value."""
    kept = dict(summary.counts)
    assert summary.total == len(values)
    assert summary.error * (summary.capacity + 1) <= len(values)
    for value, true_count in Counter(values).items():
        assert kept.get(value, 0) <= true_count <= kept.get(value, 0) + summary.error
    assert set(kept) <= set(values)


@settings(deadline=None)
@given(st.lists(words, min_size=1, max_size=5), st.integers(1, 6))
def test_frequent_values_bound_holds_across_merges(batches: list[list[str]], cap: int) -> None:
    merged = FrequentValues(capacity=cap)
    for batch in batches:
        merged = merged.merge(frequent(batch, cap))
    everything = [v for batch in batches for v in batch]
    assert_bound(merged, everything)
    if len(set(everything)) <= cap:
        assert not merged.truncated
        assert dict(merged.counts) == Counter(everything)


@settings(deadline=None)
@given(words, words)
def test_frequent_values_are_exact_below_capacity(a: list[str], b: list[str]) -> None:
    assert frequent(a, 1000).merge(frequent(b, 1000)) == frequent(a + b, 1000)


def test_top_values_and_other() -> None:
    summary = frequent(["x"] * 5 + ["y"] * 3 + ["z"] * 3 + ["w"], 10)
    top = summary.top(2)
    assert top.values == (("x", 5), ("y", 3))  # ties broken by value
    assert top.other == 4 and top.error == 0


def test_truncated_summary_keeps_heavy_hitters() -> None:
    values = ["hot"] * 500 + [f"id{i}" for i in range(2_000)]
    summary = frequent(values, 100)
    assert summary.truncated
    assert summary.top(1).values[0][0] == "hot"
    assert_bound(summary, values)
