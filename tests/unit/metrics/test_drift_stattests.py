"""The drift test functions against scipy's definitions and known values."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats
from scipy.spatial import distance

from govml.metrics.drift import data_drift
from govml.metrics.drift.tests import (
    chi_square,
    default_test,
    floored_shares,
    hellinger,
    ks_weighted,
    proportions_z,
    psi,
    sturges_edges,
)

# scipy says when ks_2samp falls back from its exact p-value to the asymptotic one.
pytestmark = pytest.mark.filterwarnings("ignore:ks_2samp. Exact calculation:RuntimeWarning")

samples = st.lists(
    st.floats(-1e4, 1e4, allow_nan=False, allow_subnormal=False) | st.integers(-3, 3).map(float),
    min_size=1,
    max_size=200,
)


def close(a: float | None, b: float) -> bool:
    return a is not None and math.isclose(a, float(b), rel_tol=1e-12, abs_tol=1e-12)


def one(test: str, ref: list, cur: list):
    return data_drift(pd.DataFrame({"x": ref}), pd.DataFrame({"x": cur}), tests=test).column("x")


@settings(max_examples=60, deadline=None)
@given(samples, samples)
def test_ks_and_wasserstein_equal_scipy(ref: list[float], cur: list[float]) -> None:
    ks = one("ks", ref, cur)
    expected = stats.ks_2samp(ref, cur)
    assert close(ks.statistic, expected.statistic) and close(ks.p_value, expected.pvalue)
    w = one("wasserstein", ref, cur)
    assert close(w.statistic, stats.wasserstein_distance(ref, cur) / max(np.std(ref), 0.001))


def evidently_bins(ref: np.ndarray, cur: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Bin counts as Evidently's get_binned_data makes them, written out independently."""
    if len(np.unique(ref)) > 20:
        edges = np.histogram_bin_edges(np.concatenate([ref, cur]), bins="sturges")
        return np.histogram(ref, edges)[0], np.histogram(cur, edges)[0]
    keys = np.union1d(ref, cur)
    return (
        np.array([np.sum(ref == k) for k in keys]),
        np.array([np.sum(cur == k) for k in keys]),
    )


@settings(max_examples=60, deadline=None)
@given(samples, samples)
def test_binned_tests_equal_scipy(ref: list[float], cur: list[float]) -> None:
    r, c = evidently_bins(np.asarray(ref) + 0.0, np.asarray(cur) + 0.0)
    p, q = r / r.sum(), c / c.sum()
    assert close(one("jensenshannon", ref, cur).statistic, distance.jensenshannon(p, q))
    floor_p, floor_q = floored_shares(r), floored_shares(c)
    assert close(one("kl_div", ref, cur).statistic, stats.entropy(floor_p, floor_q))
    expected_psi = np.sum((floor_p - floor_q) * np.log(floor_p / floor_q))
    assert close(one("psi", ref, cur).statistic, expected_psi)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(1, 500), min_size=2, max_size=12), st.data())
def test_chi_square_equals_scipy(reference: list[int], data: st.DataObject) -> None:
    current = data.draw(
        st.lists(st.integers(0, 500), min_size=len(reference), max_size=len(reference))
    )
    current[0] += 1  # at least one current value
    ref, cur = np.asarray(reference), np.asarray(current)
    statistic, p = chi_square(ref, cur)
    expected = stats.chisquare(cur, ref * (cur.sum() / ref.sum()))
    assert close(statistic, expected.statistic) and close(p, expected.pvalue)


def test_chi_square_edge_cases() -> None:
    assert chi_square(np.array([5, 0]), np.array([3, 1])) == (math.inf, 0.0)
    assert chi_square(np.array([5, 0]), np.array([3, 0])) == (0.0, 1.0)
    # Bins empty on both sides are dropped, not counted as degrees of freedom.
    dense = chi_square(np.array([5, 4]), np.array([3, 6]))
    assert chi_square(np.array([5, 0, 4]), np.array([3, 0, 6])) == dense


@pytest.mark.parametrize("values", [[0.0, 1.0], [2.0, 7.0, 7.5, 11.0], [5.0, 5.0]])
def test_ks_weighted_equals_scipy_on_large_samples(values: list[float]) -> None:
    # Above 10,000 values per sample ks_2samp uses the asymptotic p-value.
    rng = np.random.default_rng(1)
    keys = np.asarray(values)
    ref_counts = rng.integers(4000, 9000, keys.size)
    cur_counts = rng.integers(3000, 12000, keys.size)
    statistic, p = ks_weighted(keys, ref_counts, keys, cur_counts)
    expected = stats.ks_2samp(np.repeat(keys, ref_counts), np.repeat(keys, cur_counts))
    assert close(statistic, expected.statistic) and close(p, expected.pvalue)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(-1e9, 1e9, allow_nan=False), min_size=1, max_size=300))
def test_sturges_edges_equal_numpy(values: list[float]) -> None:
    x = np.asarray(values)
    expected = np.histogram_bin_edges(x, bins="sturges")
    assert np.array_equal(sturges_edges(x.min(), x.max(), x.size), expected)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(-(2**40), 2**40) | st.integers(-3, 3), min_size=1, max_size=300))
def test_sturges_edges_equal_numpy_on_integers(values: list[int]) -> None:
    x = np.asarray(values, dtype=np.int64)
    expected = np.histogram_bin_edges(x, bins="sturges")
    edges = sturges_edges(float(x.min()), float(x.max()), x.size, integer=True)
    assert np.array_equal(edges, expected)


def test_known_values() -> None:
    # PSI of 50/50 against 90/10: 0.4 ln(1.8) + 0.4 ln(5).
    assert psi(np.array([50, 50]), np.array([90, 10])) == pytest.approx(
        0.4 * math.log(1.8) + 0.4 * math.log(5), rel=1e-14
    )
    # Empty bins: 0.0001, or the smallest share / 1e6 when that is <= 0.0001.
    assert floored_shares(np.array([0, 3, 1])).tolist() == [0.0001, 0.75, 0.25]
    tiny = floored_shares(np.array([0, 99_999, 1]))
    assert tiny[0] == pytest.approx(1e-5 / 1e6)
    assert hellinger(np.array([3, 0]), np.array([0, 5])) == 1.0
    assert hellinger(np.array([3, 1]), np.array([6, 2])) == 0.0
    # z: 30/100 against 45/100, pooled 0.375.
    z, p = proportions_z(30, 100, 45, 100)
    assert z == pytest.approx(-0.15 / math.sqrt(0.375 * 0.625 * 0.02), rel=1e-14)
    assert p == pytest.approx(2 * stats.norm.sf(abs(z)), rel=1e-14)
    assert proportions_z(0, 10, 0, 5) == (0.0, 1.0)


def test_default_test_table() -> None:
    assert default_test("numeric", 1000, 6) == "ks"
    assert default_test("numeric", 1000, None) == "ks"
    assert default_test("numeric", 1000, 5) == "chisquare"
    assert default_test("numeric", 1000, 2) == "z"
    assert default_test("categorical", 1000, 40) == "chisquare"
    assert default_test("categorical", 10, None) == "chisquare"
    assert default_test("categorical", 1000, 2) == "z"
    assert default_test("numeric", 1001, 6) == "wasserstein"
    assert default_test("numeric", 1001, 5) == "jensenshannon"
    assert default_test("categorical", 1001, 2) == "jensenshannon"
    assert default_test("categorical", 1001, None) == "jensenshannon"
