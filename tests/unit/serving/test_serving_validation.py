"""Records against a signature: types as JSON writes them, required and unknown columns, and
warnings for values outside the training profile."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pandas as pd
import pytest

from govml.datasets import profile
from govml.domain.signature import ColumnSpec, Signature
from govml.serving.payload import PayloadError, records_from_json
from govml.serving.validation import InputValidator

SIGNATURE = Signature(
    inputs=(
        ColumnSpec("age", "int64"),
        ColumnSpec("income", "float64"),
        ColumnSpec("city", "string"),
        ColumnSpec("member", "bool"),
        ColumnSpec("note", "string", nullable=True),
        ColumnSpec("since", "datetime", nullable=True),
    )
)
TRAINING = pd.DataFrame(
    {
        "age": [20, 40, 60],
        "income": [10.0, 20.0, 30.0],
        "city": ["paris", "lyon", "paris"],
        "member": [True, False, True],
        "note": ["a", None, "b"],
        "since": pd.to_datetime(["2020-01-01", "2021-01-01", "2022-01-01"]),
    }
)
GOOD = {"age": 30, "income": 15.5, "city": "lyon", "member": False, "note": None}


def check(data: Any, validator: InputValidator | None = None, **kwargs: Any) -> Any:
    return (validator or InputValidator(SIGNATURE)).validate(records_from_json(data), **kwargs)


def problems(data: Any, validator: InputValidator | None = None) -> list[dict[str, Any]]:
    with pytest.raises(PayloadError) as info:
        check(data, validator)
    assert info.value.status == 422
    return [error.to_dict() for error in info.value.errors]


def test_values_are_kept_in_signature_order_with_nullable_columns_filled() -> None:
    validated = check({"city": "lyon", **GOOD})
    assert list(validated.values) == ["age", "income", "city", "member", "note", "since"]
    assert validated.values["since"] == [None] and validated.values["note"] == [None]
    assert validated.count == 1 and validated.warnings == [] and validated.extras == {}


def test_json_numbers_are_accepted_where_they_mean_the_type() -> None:
    validated = check([{**GOOD, "age": 31.0, "income": 15}])
    assert validated.values["age"] == [31] and type(validated.values["age"][0]) is int
    assert validated.values["income"] == [15]


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("age", 31.5, "expected an integer, got number 31.5"),
        ("age", "31", "expected an integer, got string '31'"),
        ("age", True, "expected an integer, got boolean true"),
        ("income", "15", "expected a number, got string '15'"),
        ("city", 75001, "expected a string, got number 75001"),
        ("member", 1, "expected true or false, got number 1"),
        ("note", {"a": 1}, "expected a string, got an object"),
        ("since", "yesterday", "expected an ISO 8601 date or time, got 'yesterday'"),
        ("since", 20240101, "expected an ISO 8601 string, got number 20240101"),
    ],
)
def test_wrong_types_are_named_by_record_and_field(field: str, value: Any, message: str) -> None:
    found = problems([GOOD, {**GOOD, field: value}])
    assert found == [{"record": 1, "field": field, "message": message}]


def test_missing_null_and_unknown_columns_are_all_reported() -> None:
    found = problems(
        [{**GOOD, "Age": 3, "age": None}, {"income": 1.0, "city": "x", "member": True, "Age": 1}]
    )
    assert found == [
        {"field": "Age", "message": "unknown column 'Age': the model has no such input"},
        {
            "record": 0,
            "field": "age",
            "message": "null is not allowed: column 'age' is not nullable",
        },
        {
            "record": 1,
            "field": "age",
            "message": "missing value for column 'age' (required: it is not nullable)",
        },
    ]
    assert problems({"income": 1.0, "city": "x", "member": True}) == [
        {"message": "missing column 'age' (required: it is not nullable)"}
    ]
    (unknown,) = problems({**{k: v for k, v in GOOD.items() if k != "city"}, "cty": "x"})[:1]
    assert unknown == {
        "field": "cty",
        "message": "unknown column 'cty': the model has no such input (did you mean 'city'?)",
    }


def test_an_allowed_extra_field_is_taken_out() -> None:
    validated = check({**GOOD, "customer": "c1"}, extras=("customer",))
    assert validated.extras == {"customer": ["c1"]} and "customer" not in validated.values


def test_values_outside_the_training_profile_are_warnings() -> None:
    validator = InputValidator(SIGNATURE, profile(TRAINING).to_dict())
    validated = check(
        [
            {**GOOD, "age": 19, "income": 30.0},
            {**GOOD, "age": 61, "city": "nice", "since": "2023-06-01T00:00:00+00:00"},
            {**GOOD, "since": "2020-06-01"},
        ],
        validator,
    )
    found = [(w.record, w.field, w.kind) for w in validated.warnings]
    assert found == [
        (0, "age", "below_min"),
        (1, "age", "above_max"),
        (1, "city", "unseen_category"),
        (1, "since", "above_max"),
    ]
    assert validated.warnings[0].to_dict()["message"] == "19 is below the training minimum 20"
    assert validated.values["since"][2] == datetime(2020, 6, 1)
    assert validated.values["since"][1] == datetime(2023, 6, 1)  # naive UTC, as the others


def test_inexact_category_counts_give_no_unseen_warnings() -> None:
    cities = pd.DataFrame({"city": [f"c{i}" for i in range(50)]})
    spec = Signature(inputs=(ColumnSpec("city", "string"),))
    exact = InputValidator(spec, profile(cities).to_dict())
    assert exact.validate(records_from_json({"city": "zz"})).warnings
    bounded = InputValidator(spec, profile(cities, max_categories=10).to_dict())
    assert bounded.validate(records_from_json({"city": "zz"})).warnings == []


def test_integers_must_fit_in_64_bits() -> None:
    found = problems(
        [
            {**GOOD, "age": 2**63},
            {**GOOD, "age": 1e23},  # how a JSON 99999999999999999999999 decodes
            {**GOOD, "age": -(2**63)},
        ]
    )
    assert found == [
        {
            "record": 0,
            "field": "age",
            "message": "expected an integer that fits in 64 bits, got number 9223372036854775808",
        },
        {
            "record": 1,
            "field": "age",
            "message": "expected an integer that fits in 64 bits, got number 1e+23",
        },
    ]


def test_dates_are_utc_and_within_what_the_model_can_hold() -> None:
    from govml.serving.deployment import _array

    validated = check(
        [
            {**GOOD, "since": "2024-05-01T12:00:00+02:00"},
            {**GOOD, "since": "2024-05-01T12:00:00"},
            {**GOOD, "since": "2024-05-01T12:00:00Z"},
        ]
    )
    moments = validated.values["since"]
    assert moments == [datetime(2024, 5, 1, 10), datetime(2024, 5, 1, 12), datetime(2024, 5, 1, 12)]
    column = _array(SIGNATURE.inputs[5], moments)  # offsets mixed: the frame still builds
    assert str(column.dtype) == "datetime64[ns]"
    found = problems([{**GOOD, "since": "9999-01-01"}, {**GOOD, "since": "1066-10-14"}])
    assert [e["record"] for e in found] == [0, 1]
    assert found[0]["message"] == (
        "'9999-01-01' is outside the dates the model's data can hold (1677-09-22 to 2262-04-11)"
    )


def test_strict_mode_refuses_what_it_would_warn_about() -> None:
    validator = InputValidator(SIGNATURE, profile(TRAINING).to_dict())
    odd = [{**GOOD, "age": 19, "city": "rome"}]
    assert len(check(odd, validator).warnings) == 2
    with pytest.raises(PayloadError) as info:
        check(odd, validator, strict=True)
    assert [(e.record, e.field, e.message) for e in info.value.errors] == [
        (0, "age", "19 is below the training minimum 20 (strict serving policy: refused)"),
        (0, "city", "'rome' never occurred in the training data (strict serving policy: refused)"),
    ]
