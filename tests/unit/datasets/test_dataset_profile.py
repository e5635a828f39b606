"""Profiles: one pass equals merged batches, and the statistics agree with numpy."""

from __future__ import annotations

import json
import math
from collections import Counter
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from govml.datasets import (
    CategoricalColumnProfile,
    NumericColumnProfile,
    Profile,
    profile,
)
from govml.errors import InputError, NotFoundError

SCHEMA = pa.schema(
    [
        ("i", pa.int64()),
        ("f", pa.float64()),
        ("s", pa.string()),
        ("b", pa.bool_()),
        ("t", pa.timestamp("us")),
        ("c", pa.dictionary(pa.int32(), pa.string())),
    ]
)

ints = st.none() | st.integers(-(2**62), 2**62) | st.integers(-3, 3)
floats = (
    st.none()
    | st.floats(min_value=-1e12, max_value=1e12, allow_nan=False)
    | st.sampled_from([math.nan, math.inf, -math.inf, 0.0, -0.0, 5e-324, 1.5])
)
strings = st.none() | st.sampled_from(["a", "b", "", "é", "long value"]) | st.text(max_size=4)
bools = st.none() | st.booleans()
times = st.none() | st.datetimes(min_value=datetime(1900, 1, 1), max_value=datetime(2200, 1, 1))
row = st.tuples(ints, floats, strings, bools, times, strings)


@st.composite
def tables(draw: Any, max_size: int = 40) -> pa.Table:
    rows = draw(st.lists(row, max_size=max_size))
    columns = list(zip(*rows, strict=True)) if rows else [[] for _ in SCHEMA]
    arrays = [
        pa.array(values, type=field.type.value_type).dictionary_encode()
        if pa.types.is_dictionary(field.type)
        else pa.array(values, type=field.type)
        for values, field in zip(columns, SCHEMA, strict=True)
    ]
    return pa.Table.from_arrays(arrays, schema=SCHEMA)


def concat(*parts: pa.Table) -> pa.Table:
    return pa.concat_tables(parts, promote_options="permissive").combine_chunks()


def assert_close(x: float | None, y: float | None, scale: float) -> None:
    """Equal to 1e-9 relative, or to rounding of the data's magnitude when near zero."""
    if x is None or y is None:
        assert x is None and y is None
        return
    assert math.isclose(x, y, rel_tol=1e-9, abs_tol=1e-12 * scale), (x, y)


def assert_same_statistics(p: Profile, q: Profile) -> None:
    """Everything exact except mean and M2, which are compared to floating-point rounding."""
    assert p.row_count == q.row_count and p.names == q.names
    for a, b in zip(p.columns, q.columns, strict=True):
        if isinstance(a, NumericColumnProfile):
            assert isinstance(b, NumericColumnProfile)
            exact = ("type", "count", "nulls", "neg_inf", "pos_inf", "min", "max")
            for name in (*exact, "sketch", "value_counts"):
                assert getattr(a, name) == getattr(b, name), (a.name, name)
            magnitude = max(abs(a.min or 0), abs(a.max or 0), 1.0)
            assert_close(a.mean, b.mean, magnitude)
            assert_close(a.m2, b.m2, magnitude**2 * max(a.finite_count, 1))
        else:
            assert a == b


@settings(max_examples=150, deadline=None)
@given(tables(), tables())
def test_profile_of_concat_equals_merged_profiles(a: pa.Table, b: pa.Table) -> None:
    assert_same_statistics(profile(concat(a, b)), profile(a).merge(profile(b)))


@settings(max_examples=75, deadline=None)
@given(tables(), tables(), tables())
def test_merge_is_associative(a: pa.Table, b: pa.Table, c: pa.Table) -> None:
    pa_, pb, pc_ = profile(a), profile(b), profile(c)
    left = pa_.merge(pb).merge(pc_)
    assert_same_statistics(left, pa_.merge(pb.merge(pc_)))
    assert_same_statistics(left, profile(concat(a, b, c)))


@settings(max_examples=75, deadline=None)
@given(tables())
def test_merge_with_empty_profile_is_identity(a: pa.Table) -> None:
    p = profile(a)
    empty = profile(a.slice(0, 0))
    assert p.merge(empty) == p
    assert empty.merge(p) == p
    assert p.merge(Profile()) == p and Profile().merge(p) == p


@settings(max_examples=100, deadline=None)
@given(st.lists(st.lists(strings, max_size=60), min_size=1, max_size=4), st.integers(1, 5))
def test_categorical_counts_over_capacity_stay_within_bound(
    batches: list[list[str | None]], cap: int
) -> None:
    merged = Profile()
    for batch in batches:
        merged = merged.merge(
            profile(pa.table({"s": pa.array(batch, pa.string())}), max_categories=cap)
        )
    column = merged.column("s")
    assert isinstance(column, CategoricalColumnProfile)
    values = [v for batch in batches for v in batch if v is not None]
    assert column.count == len(values)
    assert column.nulls == sum(len(batch) for batch in batches) - len(values)
    # Misra–Gries: kept <= true <= kept + error, and error <= n / (capacity + 1).
    assert column.frequent.error * (cap + 1) <= len(values)
    kept = dict(column.frequent.counts)
    for value, true_count in Counter(values).items():
        assert kept.get(value, 0) <= true_count <= kept.get(value, 0) + column.frequent.error
    assert column.truncated == (column.frequent.error > 0)
    if len(set(values)) <= cap:
        assert not column.truncated and kept == Counter(values)


@settings(max_examples=100, deadline=None)
@given(tables(max_size=80))
def test_profile_agrees_with_numpy(table: pa.Table) -> None:
    p = profile(table)
    frame = table.to_pandas()
    for name in ("i", "f", "b"):
        column = p.column(name)
        assert isinstance(column, NumericColumnProfile)
        raw = frame[name].dropna().astype(float).to_numpy()
        values = raw[np.isfinite(raw)]
        assert column.count == raw.size and column.nulls == len(frame) - raw.size
        assert column.finite_count == values.size
        if values.size == 0:
            assert column.mean is None and column.variance is None
            continue
        magnitude = max(1.0, float(np.abs(values).max()))
        assert_close(column.mean, float(np.mean(values)), magnitude)
        assert_close(column.variance, float(np.var(values)), magnitude**2)  # ddof=0
        if values.size > 1:
            assert_close(column.sample_variance, float(np.var(values, ddof=1)), magnitude**2)
        assert column.min == values.min() and column.max == values.max()
        for q in (0.0, 0.1, 0.5, 0.9, 1.0):
            exact = float(np.quantile(values, q, method="lower"))
            estimate = column.quantile(q)
            assert estimate is not None
            assert abs(estimate - exact) <= 0.005 * abs(exact) * (1 + 1e-12)


def test_known_answers() -> None:
    frame = pd.DataFrame(
        {
            "x": [1.0, 2.0, np.nan, 4.0, np.inf],
            "n": [3, 3, 5, 7, 3],
            "s": ["a", "b", None, "a", "a"],
            "t": pd.to_datetime(["2020-01-01", "2020-01-02", None, "2020-01-01", "1960-01-01"]),
        }
    )
    p = profile(frame)
    x = p.column("x")
    assert isinstance(x, NumericColumnProfile)
    assert (x.count, x.nulls, x.pos_inf, x.finite_count) == (4, 1, 1, 3)
    assert (x.min, x.max, x.mean) == (1.0, 4.0, 7 / 3)
    assert x.variance == pytest.approx(np.var([1.0, 2.0, 4.0]))
    assert x.value_counts == ((1.0, 1), (2.0, 1), (4.0, 1)) and x.n_unique == 4
    n = p.column("n")
    assert isinstance(n, NumericColumnProfile)
    assert n.value_counts == ((3, 3), (5, 1), (7, 1)) and n.min == 3 and isinstance(n.min, int)
    s = p.column("s")
    assert isinstance(s, CategoricalColumnProfile)
    assert (s.count, s.nulls, s.n_unique) == (4, 1, 2)
    assert s.top(1).values == (("a", 3),) and s.top(1).other == 1
    t = p.column("t")
    assert isinstance(t, NumericColumnProfile) and t.type == "datetime"
    assert t.min == pd.Timestamp("1960-01-01").value and t.max == pd.Timestamp("2020-01-02").value


def test_value_counts_are_dropped_past_the_cap_and_stay_dropped() -> None:
    few = profile(pd.DataFrame({"v": np.arange(20) % 10}))
    other = profile(pd.DataFrame({"v": np.arange(30) + 100}))  # 40 distinct in all
    assert few.column("v").n_unique == 10
    merged = few.merge(other)
    column = merged.column("v")
    assert isinstance(column, NumericColumnProfile)
    assert column.value_counts is None and column.n_unique is None
    assert merged.merge(few).column("v").n_unique is None


def test_integer_and_float_partitions_merge_as_float() -> None:
    ints = profile(pd.DataFrame({"v": [1, 2, 3]}))
    floats = profile(pd.DataFrame({"v": [1.5, np.nan]}))
    column = ints.merge(floats).column("v")
    assert isinstance(column, NumericColumnProfile)
    assert column.type == "float64" and column.count == 4 and column.nulls == 1
    assert column.value_counts == ((1.0, 1), (1.5, 1), (2.0, 1), (3.0, 1))


def test_all_null_partition_merges_with_any_type() -> None:
    typed = profile(pa.table({"v": pa.array([1.0, 2.0])}))
    nulls = profile(pa.table({"v": pa.nulls(3)}))
    assert nulls.column("v").type == "null"
    merged = nulls.merge(typed)
    assert merged.column("v").type == "float64" and merged.column("v").nulls == 3


def test_merge_refuses_mismatched_columns_and_types() -> None:
    a = profile(pd.DataFrame({"v": [1.0]}))
    with pytest.raises(InputError, match="different columns"):
        a.merge(profile(pd.DataFrame({"w": [1.0]})))
    with pytest.raises(InputError, match="type float64 and type string"):
        a.merge(profile(pd.DataFrame({"v": ["x"]})))
    with pytest.raises(InputError, match="relative accuracy"):
        a.merge(profile(pd.DataFrame({"v": [1.0]}), relative_accuracy=0.01))


def test_column_lookup_suggests_a_name() -> None:
    with pytest.raises(NotFoundError) as info:
        profile(pd.DataFrame({"income": [1]})).column("incme")
    assert "did you mean 'income'" in info.value.diagnostics()


def test_unsupported_column_type_is_an_input_error() -> None:
    with pytest.raises(InputError, match="'blob' has type binary"):
        profile(pa.table({"blob": pa.array([b"x"])}))


@settings(max_examples=50, deadline=None)
@given(tables())
def test_profile_dict_round_trip_is_exact(table: pa.Table) -> None:
    p = profile(table, max_categories=2)
    assert Profile.from_dict(json.loads(json.dumps(p.to_dict(), allow_nan=False))) == p


def test_profile_from_bad_dict_is_an_input_error() -> None:
    data = profile(pd.DataFrame({"v": [1.0, 2.0]})).to_dict()
    data["columns"][0]["count"] = 5
    with pytest.raises(InputError, match="invalid"):
        Profile.from_dict(data)


def test_temporal_types_profile_in_nanoseconds() -> None:
    table = pa.table(
        {
            "d": pa.array([0, 1], pa.date32()),
            "dur": pa.array([timedelta(seconds=1), None], pa.duration("ms")),
        }
    )
    p = profile(table)
    assert p.column("d").min == 0 and p.column("d").max == 86_400 * 10**9
    assert p.column("dur").max == 10**9 and p.column("dur").nulls == 1


def test_extreme_floats_keep_a_finite_mean_and_stay_json_safe() -> None:
    p = profile(pa.table({"x": [1e308, 1e308, -1e308, 1e308]}))
    column = p.column("x")
    assert isinstance(column, NumericColumnProfile)
    assert column.mean == 5e307  # the plain sum overflows
    assert column.m2 == math.inf  # the squared deviations really exceed float64
    text = json.dumps(p.to_dict(), allow_nan=False)
    assert Profile.from_dict(json.loads(text)) == p
