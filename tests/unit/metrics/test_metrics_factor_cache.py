"""The factorisation cache: reused across calls on the same data, never on changed data."""

from __future__ import annotations

from collections.abc import Iterator

import fairlearn.metrics as flm
import numpy as np
import pandas as pd
import pytest

import govml.metrics as gm
from govml.metrics import _factor_cache as cache
from govml.metrics._groups import encode_groups

N = cache.MIN_ROWS * 2
RNG = np.random.default_rng(11)


@pytest.fixture(autouse=True)
def _empty_cache() -> Iterator[None]:
    cache.clear()
    yield
    cache.clear()


def _data() -> tuple[np.ndarray, np.ndarray, pd.DataFrame]:
    y = RNG.integers(0, 2, N)
    p = RNG.integers(0, 2, N)
    features = pd.DataFrame(
        {
            "race": RNG.choice(np.array(["a", "b", "c"], dtype=object), N),
            "sex": RNG.choice(np.array(["f", "m"], dtype=object), N),
        }
    )
    return y, p, features


def test_repeated_calls_reuse_the_factorisation_and_equal_fairlearn() -> None:
    y, p, features = _data()
    first = gm.equalized_odds_difference(y, p, sensitive_features=features)
    assert cache.size() == 2
    for function in ("demographic_parity_ratio", "equal_opportunity_difference"):
        ours = getattr(gm, function)(y, p, sensitive_features=features)
        assert ours == pytest.approx(getattr(flm, function)(y, p, sensitive_features=features))
    assert cache.size() == 2  # hits, no new entries
    assert first == pytest.approx(flm.equalized_odds_difference(y, p, sensitive_features=features))
    # a copy of the frame holds the same string objects: still a hit
    gm.demographic_parity_difference(y, p, sensitive_features=features.copy())
    assert cache.size() == 2


def test_a_column_changed_in_place_is_factorised_again() -> None:
    y, p, features = _data()
    race = features["race"].to_numpy()
    before = gm.demographic_parity_difference(y, p, sensitive_features=race)
    race[: N // 2] = "z"  # same array object, new values
    after = gm.demographic_parity_difference(y, p, sensitive_features=race)
    assert after == pytest.approx(flm.demographic_parity_difference(y, p, sensitive_features=race))
    assert after != before
    codes, groups = encode_groups(race, N)
    assert [key[0] for key in groups.keys] == ["a", "b", "c", "z"]
    assert np.count_nonzero(codes == 3) == N // 2


def test_numbers_changed_in_place_and_equal_strings_in_new_objects() -> None:
    y, p, _ = _data()
    ages = RNG.integers(20, 60, N)
    gm.demographic_parity_difference(y, p, sensitive_features=ages)
    ages[0] = 99
    _, groups = encode_groups(ages, N)
    assert (99,) in groups.keys
    # equal strings, other objects: a miss that still gives the right groups
    words = np.array([f"g{i % 3}" for i in range(N)], dtype=object)
    rebuilt = np.array(["".join(w) for w in words], dtype=object)
    gm.demographic_parity_difference(y, p, sensitive_features=words)
    size = cache.size()
    codes, groups = encode_groups(rebuilt, N)
    assert cache.size() == size + 1
    assert [key[0] for key in groups.keys] == ["g0", "g1", "g2"]
    np.testing.assert_array_equal(codes, np.arange(N) % 3)


def test_the_cache_is_bounded_and_its_codes_read_only() -> None:
    y, p, _ = _data()
    for i in range(cache.MAX_ENTRIES + 3):
        column = np.array([f"{i}-{j % 2}" for j in range(N)], dtype=object)
        gm.demographic_parity_difference(y, p, sensitive_features=column)
    assert cache.size() == cache.MAX_ENTRIES
    codes, _ = encode_groups(column, N)
    with pytest.raises(ValueError, match="read-only"):
        codes[0] = 1


def test_small_and_categorical_columns_are_not_cached() -> None:
    y, p, features = _data()
    gm.demographic_parity_difference(y[:100], p[:100], sensitive_features=features[:100])
    gm.demographic_parity_difference(y, p, sensitive_features=features.astype("category"))
    assert cache.size() == 0


def test_factorising_by_address_equals_pandas_by_value() -> None:
    from govml.metrics._factorize import _by_table, factorize_objects, group_by_value

    pool = np.array(["b", "a", None, float("nan"), "c", 3, 2.5], dtype=object)
    column = RNG.choice(pool, 5_000)
    column[::5] = np.array([str(i % 2) for i in range(len(column[::5]))], dtype=object)
    found = factorize_objects(column)
    assert found is not None
    index, lookup, objects = found
    grouped = group_by_value(objects)
    assert grouped is not None
    value_codes, values = grouped
    ours = [values[c] for c in value_codes[lookup[index]]]
    for mine, original in zip(ours, column, strict=True):
        assert mine is original or mine == original or (mine != mine and original != original)
    # equal strings in distinct objects share one value, NaN objects one value
    assert sum(1 for v in values if isinstance(v, str) and v in ("0", "1")) == 2
    assert sum(1 for v in values if isinstance(v, float) and v != v) == 1
    codes, groups = encode_groups(column, len(column), missing="group")
    theirs = pd.Series(column).map(lambda v: None if pd.isna(v) else v)
    keys = [groups.keys[c][0] for c in codes]
    assert keys == theirs.tolist()
    # addresses far apart are hashed, not tabled
    spread = np.array([0, 8 << 40, 16], dtype=np.int64)
    assert _by_table(spread) is None
    found_near = _by_table(np.array([80, 16, 80, 24], dtype=np.int64))
    assert found_near is not None
    slots, table, uniques_near = found_near
    assert table[slots].tolist() == [2, 0, 2, 1] and uniques_near.tolist() == [16, 24, 80]


def test_the_cache_keeps_within_its_byte_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    y, p, features = _data()
    one_column = N * 8 * 2  # addresses and codes of one object column
    monkeypatch.setattr(cache, "MAX_BYTES", one_column)
    gm.demographic_parity_difference(y, p, sensitive_features=features)
    assert cache.size() == 1  # the second column pushed the first out
    monkeypatch.setattr(cache, "MAX_BYTES", one_column - 1)
    cache.clear()
    gm.demographic_parity_difference(y, p, sensitive_features=features["race"])
    assert cache.size() == 0  # too large to keep at all
