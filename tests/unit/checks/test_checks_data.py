"""Data expectations: known counts and rows, every input type, usage errors."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from govml.checks import (
    between,
    in_set,
    no_nulls,
    regex,
    require_columns,
    row_count,
    schema_matches,
    unique,
)
from govml.datasets import fingerprint
from govml.errors import InputError


@pytest.fixture
def frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "age": [17.0, 30.0, np.nan, 120.0, 50.0, 18.0],
            "sex": ["M", "F", "X", None, "F", "M"],
            "id": [1, 2, 2, 3, 3, 3],
            "code": ["AB-12", "CD-34", "bad", "EF-56", None, "GH-7"],
            "day": pd.to_datetime(
                ["2020-01-01", "2021-01-01", "2019-06-01", "2022-01-01", None, "2020-06-01"]
            ),
        }
    )


def test_no_nulls_counts_null_and_nan_per_column(frame: pd.DataFrame) -> None:
    result = no_nulls(frame, ["age", "sex", "id"])
    assert result.status == "fail" and result.value == 2
    assert result.evidence["missing"] == {"age": 1, "sex": 1, "id": 0}
    assert result.evidence["first_rows"] == {"age": [2], "sex": [3]}
    assert no_nulls(frame, "id").status == "pass"


def test_between_counts_below_and_above_and_leaves_missing_out(frame: pd.DataFrame) -> None:
    result = between(frame, "age", 18, 100)
    assert (result.status, result.value) == ("fail", 2)
    assert result.evidence["below"] == 1 and result.evidence["above"] == 1
    assert result.evidence["missing"] == 1
    assert result.evidence["first_rows"] == [0, 3]
    assert result.evidence["share"] == pytest.approx(2 / 5)
    assert result.evidence["observed_min"] == 17.0 and result.evidence["observed_max"] == 120.0
    assert result.threshold == [18, 100]
    # 18 is on the bound: allowed unless strict.
    assert between(frame, "age", 18, 100, strict=True).value == 3
    assert between(frame, "age", min=0).status == "pass"


def test_between_on_dates_reads_iso_bounds(frame: pd.DataFrame) -> None:
    result = between(frame, "day", "2020-01-01", "2021-06-30")
    assert result.value == 2 and result.evidence["first_rows"] == [2, 3]
    assert result.evidence["observed_min"].startswith("2019-06-01")


def test_between_on_text_is_undefined_not_an_error(frame: pd.DataFrame) -> None:
    result = between(frame, "sex", 0, 1)
    assert result.status == "undefined" and "string" in (result.reason or "")


def test_between_on_numbers_read_as_text_counts_the_text_as_outside() -> None:
    ages = pd.DataFrame({"age": ["30", " 41 ", "unknown", None, "17", "1e2", "-", "64.5"]})
    result = between(ages, "age", 18, 100)
    assert result.status == "fail" and result.value == 3
    assert result.evidence["not_numbers"] == 2
    assert result.evidence["first_text_rows"] == [2, 6]
    assert result.evidence["below"] == 1 and result.evidence["missing"] == 1
    assert result.evidence["observed_max"] == 100.0
    assert result.message == "3 of 7 values of 'age' are outside [18, 100] (2 not numbers)"
    clean = between(pd.DataFrame({"age": ["30", "41"]}), "age", 18, 100)
    assert clean.status == "pass" and "not_numbers" not in clean.evidence


def test_between_usage_errors(frame: pd.DataFrame) -> None:
    with pytest.raises(InputError, match="give min, max or both"):
        between(frame, "age")
    with pytest.raises(InputError, match="min 100 is greater than max 18"):
        between(frame, "age", 100, 18)
    with pytest.raises(InputError, match="min must be a number"):
        between(frame, "age", "18", 100)


def test_a_column_with_no_values_is_undefined() -> None:
    data = pd.DataFrame({"x": [np.nan, np.nan]})
    assert between(data, "x", 0, 1).status == "undefined"
    assert in_set(data, "x", [1.0]).status == "undefined"


def test_in_set_reports_unexpected_values_with_counts(frame: pd.DataFrame) -> None:
    result = in_set(frame, "sex", ["M", "F"])
    assert (result.status, result.value) == ("fail", 1)
    assert result.evidence["unexpected"] == [{"value": "X", "count": 1}]
    assert result.evidence["missing"] == 1 and result.evidence["first_rows"] == [2]
    assert in_set(frame, "sex", ["M", "F", "X"]).status == "pass"


def test_in_set_casts_allowed_values_to_the_column_type(frame: pd.DataFrame) -> None:
    assert in_set(frame, "id", ["1", "2", "3"]).status == "pass"
    assert in_set(pd.DataFrame({"c": ["1", "2"]}), "c", [1, 2]).status == "pass"
    assert in_set(frame, "id", ["one"]).status == "undefined"
    with pytest.raises(InputError, match="at least one allowed value"):
        in_set(frame, "id", [])


def test_unique_counts_rows_repeating_an_earlier_key(frame: pd.DataFrame) -> None:
    result = unique(frame, "id")
    expected = frame["id"].duplicated()
    assert result.value == int(expected.sum()) == 3
    assert result.evidence["first_rows"] == list(np.flatnonzero(expected))
    assert result.evidence["repeated_keys"] == 2


def test_unique_over_several_columns_leaves_rows_with_missing_keys_out(frame: pd.DataFrame) -> None:
    result = unique(frame, ["id", "sex"])
    # (3, None) is left out; (3, "F") and (3, "M") and (2, "F"), (2, "X") are distinct.
    assert result.status == "pass" and result.evidence["missing"] == 1


def test_regex_full_match_and_search(frame: pd.DataFrame) -> None:
    result = regex(frame, "code", r"[A-Z]{2}-\d{2}")
    assert (result.value, result.evidence["first_rows"]) == (2, [2, 5])
    assert regex(frame, "code", r"\d", full_match=False).value == 1  # only "bad" has no digit
    assert "bad" not in str(result.evidence)  # values are never copied into evidence


def test_regex_python_only_syntax_runs_on_distinct_values() -> None:
    data = pd.DataFrame({"w": ["aa", "ab", "bb", "aa", None]})
    pattern = r"(\w)\1"  # a back-reference, which RE2 refuses
    expected = [bool(re.fullmatch(pattern, w)) for w in ["aa", "ab", "bb", "aa"]]
    result = regex(data, "w", pattern)
    assert result.value == expected.count(False) == 1
    assert result.evidence["first_rows"] == [1]


def test_regex_on_numbers_uses_their_text() -> None:
    assert regex(pd.DataFrame({"zip": [12345, 1234]}), "zip", r"\d{5}").value == 1


def test_invalid_regex_names_the_position() -> None:
    with pytest.raises(InputError, match=r"invalid regular expression 'a\(b' at position 1"):
        regex(pd.DataFrame({"c": ["a"]}), "c", "a(b")


def test_row_count(frame: pd.DataFrame) -> None:
    assert row_count(frame, min=1, max=6).status == "pass"
    result = row_count(frame, min=10)
    assert (result.status, result.value, result.threshold) == ("fail", 6, [10, None])
    with pytest.raises(InputError):
        row_count(frame, min=1.5)


def test_schema_matches_names_every_difference(frame: pd.DataFrame) -> None:
    training = fingerprint(frame)
    assert schema_matches(frame, training).status == "pass"
    changed = frame.drop(columns=["code", "day"]).assign(id=frame["id"].astype(float), extra=1)
    result = schema_matches(changed, training)
    assert result.status == "fail"
    assert result.evidence["missing"] == ["code", "day"]
    assert result.evidence["extra"] == ["extra"]
    assert result.evidence["type_changed"] == [
        {"column": "id", "expected": "int64", "actual": "float64"}
    ]
    for name in ("code", "day", "extra", "id"):
        assert f"'{name}'" in result.message


def test_schema_matches_accepts_extra_columns_and_other_schema_forms(frame: pd.DataFrame) -> None:
    schema = [{"name": "age", "type": "float64"}, {"name": "sex", "type": "string"}]
    assert schema_matches(frame, schema).status == "fail"
    result = schema_matches(frame, schema, allow_extra=True)
    assert result.status == "pass" and "extra" in result.message
    reordered = frame[["sex", "age"]]
    assert schema_matches(reordered, dict(age="float64", sex="string")).evidence["order_changed"]
    with pytest.raises(InputError, match="expected a DatasetFingerprint"):
        schema_matches(frame, 42)


def test_missing_columns_are_named_all_at_once_with_suggestions(frame: pd.DataFrame) -> None:
    with pytest.raises(InputError) as caught:
        no_nulls(frame, ["Age", "sexx", "nothing_like_it"])
    error = caught.value
    assert error.message.startswith("3 column(s) not in the data: 'Age', 'sexx', 'nothing_like_it'")
    assert error.hint == "did you mean 'age' for 'Age', 'sex' for 'sexx'?"
    with pytest.raises(InputError, match="'wrong'"):
        require_columns(frame, ["age", "wrong"])


def test_every_table_type_gives_the_same_result(frame: pd.DataFrame) -> None:
    table = pa.Table.from_pandas(frame, preserve_index=False)
    expected = between(frame, "age", 18, 100).evidence
    for data in (table, pl.from_pandas(frame), table.to_batches()[0]):
        assert between(data, "age", 18, 100).evidence == expected


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.one_of(st.none(), st.integers(-1000, 1000)), min_size=1, max_size=60),
    st.integers(-1000, 1000),
    st.integers(0, 500),
)
def test_between_agrees_with_numpy(values: list[int | None], low: int, width: int) -> None:
    data = pa.table({"v": pa.array(values, type=pa.int64())})
    present = np.array([v for v in values if v is not None])
    result = between(data, "v", low, low + width)
    if len(present) == 0:
        assert result.status == "undefined"
        return
    outside = (present < low) | (present > low + width)
    assert result.value == int(outside.sum())
    rows = [i for i, v in enumerate(values) if v is not None and not low <= v <= low + width]
    assert result.evidence["first_rows"] == rows[:5]
