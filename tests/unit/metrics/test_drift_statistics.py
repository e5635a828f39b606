"""Current statistics: exact merging, JSON round trip, and the profile path against raw data."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from govml.datasets import profile
from govml.errors import InputError
from govml.metrics.drift import data_drift
from govml.metrics.drift import inputs as drift_inputs
from govml.metrics.drift.stats import CurrentStatistics, current_statistics
from govml.metrics.drift.tests import DRIFT_TESTS

# scipy says when ks_2samp falls back from its exact p-value to the asymptotic one.
pytestmark = pytest.mark.filterwarnings("ignore:ks_2samp. Exact calculation:RuntimeWarning")

REFERENCE = pd.DataFrame(
    {
        "x": [0.5, 1.5, 2.0, np.nan, 7.25, -3.0, 1.5, 0.0],
        "n": [1, 2, 3, 4, 5, 6, 7, 8],
        "c": ["a", "b", "a", None, "c", "a", "b", "a"],
    }
)
PROFILE = profile(REFERENCE)

floats = st.floats(-1e6, 1e6, allow_nan=False) | st.sampled_from([np.nan, np.inf, -0.0, 1.5])
rows = st.lists(
    st.tuples(floats, st.integers(-5, 40), st.sampled_from(["a", "b", "c", "new", "other", None])),
    max_size=60,
)


def frame(records: list[tuple[float, int, str | None]]) -> pa.Table:
    return pa.table(
        {
            "x": pa.array([r[0] for r in records], type=pa.float64()),
            "n": pa.array([r[1] for r in records], type=pa.int64()),
            "c": pa.array([r[2] for r in records], type=pa.string()),
        }
    )


@settings(max_examples=150, deadline=None)
@given(rows, rows)
def test_merge_equals_statistics_of_the_union(a: list, b: list) -> None:
    merged = current_statistics(PROFILE, frame(a)).merge(current_statistics(PROFILE, frame(b)))
    assert merged == current_statistics(PROFILE, frame(a + b))


def test_all_null_batches_merge_with_typed_ones() -> None:
    typed = current_statistics(PROFILE, REFERENCE)
    nulls = current_statistics(PROFILE, pd.DataFrame({"x": [None], "n": [None], "c": [None]}))
    assert nulls.column("x").type == "null"
    merged = nulls.merge(typed)
    assert merged.row_count == typed.row_count + 1
    assert merged.column("x").nulls == typed.column("x").nulls + 1
    assert merged == typed.merge(nulls)


def test_int_and_float_batches_merge_as_float() -> None:
    ints = current_statistics(PROFILE, pd.DataFrame({"x": [1, 2], "n": [1, 2], "c": ["a", "a"]}))
    floats = current_statistics(PROFILE, REFERENCE)
    assert ints.column("x").type == "int64"
    assert ints.merge(floats).column("x").type == "float64"


def test_json_round_trip_and_same_report() -> None:
    current = pd.DataFrame({"x": [9.0, 1.5, np.inf], "n": [1, 2, 30], "c": ["a", "zz", None]})
    stats = current_statistics(PROFILE, current)
    restored = CurrentStatistics.from_dict(json.loads(json.dumps(stats.to_dict())))
    assert restored == stats
    from_dict = data_drift(PROFILE.to_dict(), stats.to_dict())
    assert from_dict == data_drift(PROFILE, current) == data_drift(PROFILE, stats)


def test_batches_give_the_same_report_as_the_whole() -> None:
    rng = np.random.default_rng(3)
    reference = pd.DataFrame({"v": rng.normal(0, 1, 3000), "k": rng.choice(list("pqrs"), 3000)})
    current = pd.DataFrame({"v": rng.normal(0.2, 1, 2000), "k": rng.choice(list("pqrt"), 2000)})
    ref = profile(reference)
    batches = [current_statistics(ref, current.iloc[i : i + 500]) for i in range(0, 2000, 500)]
    merged = batches[0]
    for batch in batches[1:]:
        merged = merged.merge(batch)
    for test in ("psi", "ks", "wasserstein"):
        tests = {"v": test}
        assert data_drift(ref, merged, tests=tests) == data_drift(ref, current, tests=tests)


def test_statistics_of_another_reference_are_refused() -> None:
    stats = current_statistics(PROFILE, REFERENCE)
    other = profile(REFERENCE.iloc[:5])
    with pytest.raises(InputError, match="different reference profile"):
        data_drift(other, stats)
    with pytest.raises(InputError, match="different reference profiles"):
        stats.merge(current_statistics(other, REFERENCE))
    with pytest.raises(InputError, match="reference profile they were counted against"):
        data_drift(REFERENCE, stats)


# Few distinct values on both sides: the profile keeps exact value counts, so the profile
# path must give the exact numbers (to rounding).
few_values = st.lists(st.integers(-2, 30).map(lambda v: v / 2), min_size=1, max_size=120) | (
    st.lists(st.integers(-1, 30), min_size=1, max_size=120)  # integer columns
)
few_categories = st.lists(st.sampled_from(["a", "b", "c", "dd", None]), min_size=1, max_size=80)


@settings(max_examples=60, deadline=None)
@given(few_values, few_values, few_categories, few_categories, st.sampled_from(DRIFT_TESTS))
def test_profile_path_is_exact_with_value_counts(
    ref_x: list[float], cur_x: list[float], ref_c: list, cur_c: list, test: str
) -> None:
    ref = pd.DataFrame({"x": ref_x})
    cur = pd.DataFrame({"x": cur_x})
    pairs = [(ref, cur, test)]
    if test not in ("ks", "wasserstein"):
        pairs.append((pd.DataFrame({"x": ref_c}), pd.DataFrame({"x": cur_c}), test))
    for reference, current, name in pairs:
        exact = data_drift(reference, current, tests=name).column("x")
        profiled = data_drift(profile(reference), current, tests=name).column("x")
        assert profiled.exact and profiled.error_bound is None
        assert profiled.drifted == exact.drifted
        if exact.score is None:
            assert profiled.score is None and profiled.reason == exact.reason
        else:
            assert profiled.score is not None
            # Hellinger is compared squared: sqrt amplifies rounding near 0.
            power = 2 if name == "hellinger" else 1
            assert math.isclose(
                profiled.score**power, exact.score**power, rel_tol=1e-12, abs_tol=1e-12
            ), (name, profiled, exact)


def realistic(rng: np.random.Generator, n: int) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    return {
        "normal": (rng.normal(50, 10, n), rng.normal(51, 10, n)),
        "lognormal": (rng.lognormal(10, 1, n), rng.lognormal(10.05, 1.1, n)),
        "signed": (rng.normal(0, 5, n), rng.normal(0.5, 5, n)),
        "age": (rng.normal(40, 12, n).round(), rng.normal(42, 12, n).round()),
        "same": (rng.gamma(2, 3, n), rng.gamma(2, 3, n)),
    }


@pytest.mark.parametrize("n", [800, 20_000])
def test_sketch_ks_and_wasserstein_within_their_bounds(n: int) -> None:
    """Measured here: |D' - D| <= 0.0025 and |W' - W| <= 0.0018; the bounds always hold."""
    rng = np.random.default_rng(n)
    for name, (ref, cur) in realistic(rng, n).items():
        reference, current = pd.DataFrame({"v": ref}), pd.DataFrame({"v": cur})
        stored = profile(reference)
        for test in ("ks", "wasserstein"):
            exact = data_drift(reference, current, tests=test).column("v")
            approx = data_drift(stored, current, tests=test).column("v")
            assert exact.statistic is not None and approx.statistic is not None
            assert approx.error_bound is not None and not approx.exact
            error = approx.statistic - exact.statistic
            if test == "ks":  # the sketch statistic is a lower bound of the exact one
                assert -approx.error_bound - 1e-12 <= error <= 1e-12, (name, error)
                assert abs(error) <= 0.01, (name, error)
            else:
                assert abs(error) <= approx.error_bound, (name, error, approx.error_bound)
                assert abs(error) <= 0.002, (name, error)


def test_parquet_files_and_dataframes_are_counted_in_batches(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(drift_inputs, "STREAM_ROWS", 7)
    rng = np.random.default_rng(5)
    current = pd.DataFrame(
        {
            "x": rng.normal(1, 2, 50),
            "n": rng.integers(0, 9, 50),
            "c": rng.choice(["a", "b", "new", None], 50),
        }
    )
    current.loc[:9, "c"] = None  # the first batches have no strings at all
    path = tmp_path / "current.parquet"
    pq.write_table(pa.Table.from_pandas(current, preserve_index=False), path, row_group_size=10)
    whole = current_statistics(PROFILE, pa.Table.from_pandas(current, preserve_index=False))
    assert current_statistics(PROFILE, path) == whole
    assert current_statistics(PROFILE, current) == whole
    assert data_drift(PROFILE, str(path)) == data_drift(PROFILE, current)


def test_unreadable_parquet_is_named(tmp_path) -> None:
    bad = tmp_path / "current.parquet"
    bad.write_text("not parquet")
    with pytest.raises(InputError, match="current.parquet: not a Parquet file"):
        current_statistics(PROFILE, bad)
    with pytest.raises(InputError, match="file not found"):
        data_drift(PROFILE, tmp_path / "missing.parquet")


def test_truncated_category_counts_use_an_other_bin() -> None:
    rng = np.random.default_rng(11)
    names = [f"v{i}" for i in range(12)]
    weights = np.linspace(3, 1, 12) / np.linspace(3, 1, 12).sum()
    reference = pd.DataFrame({"c": rng.choice(names, 5000, p=weights)})
    same = pd.DataFrame({"c": rng.choice(names, 4000, p=weights)})
    moved = pd.DataFrame({"c": rng.choice(names, 4000, p=weights[::-1])})
    stored = profile(reference, max_categories=4)
    assert stored.column("c").truncated
    steady = data_drift(stored, same).column("c")
    shifted = data_drift(stored, moved).column("c")
    assert steady.test == shifted.test == "jensenshannon"
    assert not steady.exact and steady.drifted is False
    assert shifted.drifted is True
    # New current values beyond the capacity share a bin too.
    many_new = pd.DataFrame({"c": [f"new{i}" for i in range(3000)] + ["v0"] * 1000})
    result = data_drift(profile(reference, max_categories=20), many_new, tests="psi")
    assert result.column("c").exact is False and result.column("c").drifted is True


def test_few_reference_values_against_many_current_values() -> None:
    rng = np.random.default_rng(12)
    reference = pd.DataFrame({"v": rng.integers(0, 5, 3000).astype(float)})
    current = pd.DataFrame({"v": rng.normal(2, 1, 3000)})
    for test in ("psi", "jensenshannon", "ks", "wasserstein"):
        result = data_drift(profile(reference), current, tests=test).column("v")
        assert result.drifted is True, result
    steady = pd.DataFrame({"v": rng.integers(0, 5, 3000).astype(float)})
    assert data_drift(profile(reference), steady).dataset_drift is False
