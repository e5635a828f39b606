"""Request bodies: the four /predict shapes, JSON errors with positions, feedback items."""

from __future__ import annotations

from typing import Any

import pytest

from govml.serving.payload import (
    MISSING,
    PayloadError,
    feedback_from_json,
    parse_json,
    records_from_json,
)


def messages(info: pytest.ExceptionInfo[PayloadError]) -> list[dict[str, Any]]:
    return [error.to_dict() for error in info.value.errors]


@pytest.mark.parametrize(
    "data",
    [
        {"a": 1, "b": "x"},
        [{"a": 1, "b": "x"}],
        {"records": [{"a": 1, "b": "x"}]},
        {"columns": {"a": [1], "b": ["x"]}},
    ],
)
def test_the_four_shapes_give_the_same_columns(data: Any) -> None:
    records = records_from_json(data)
    assert records.columns == {"a": [1], "b": ["x"]} and records.count == 1


def test_an_object_with_other_keys_is_one_record() -> None:
    records = records_from_json({"records": [1], "other": 2})
    assert records.count == 1 and records.columns == {"records": [[1]], "other": [2]}
    assert records_from_json({"records": 3}).columns == {"records": [3]}


def test_records_with_different_fields_mark_what_is_missing() -> None:
    records = records_from_json([{"a": 1}, {"b": 2}, {"a": 3, "b": 4}])
    assert records.columns == {"a": [1, MISSING, 3], "b": [MISSING, 2, 4]}


def test_malformed_json_names_line_column_and_offset() -> None:
    with pytest.raises(PayloadError) as info:
        parse_json(b'[{"a": 1},\n {"a": tru}]')
    assert info.value.status == 400
    (error,) = messages(info)
    assert error["message"].startswith("invalid JSON at line 2 column 8 (char 18): ")


def test_an_empty_body_is_a_400() -> None:
    with pytest.raises(PayloadError) as info:
        parse_json(b"  \n")
    assert info.value.status == 400


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (
            7,
            [
                {
                    "message": 'expected a record (object), a list of records, {"records": [...]} '
                    'or {"columns": {...}}, got a number'
                }
            ],
        ),
        ([], [{"message": "no records to score"}]),
        (
            [{"a": 1}, 2, "x"],
            [
                {
                    "record": 1,
                    "message": "record must be an object of column name to value, got a number",
                },
                {
                    "record": 2,
                    "message": "record must be an object of column name to value, got a string",
                },
            ],
        ),
        (
            {"columns": {"a": [1, 2], "b": [1]}},
            [
                {"field": "b", "message": "column has 1 values, but column 'a' has 2"},
            ],
        ),
        (
            {"columns": {"a": 1}},
            [{"field": "a", "message": "column must be a list of values, got a number"}],
        ),
        ({"columns": {"a": []}}, [{"message": "no records to score"}]),
    ],
)
def test_wrong_shapes_are_422_with_positions(data: Any, expected: list[dict[str, Any]]) -> None:
    with pytest.raises(PayloadError) as info:
        records_from_json(data)
    assert info.value.status == 422
    assert messages(info) == expected


def test_error_lists_are_capped_with_a_count_of_the_rest() -> None:
    with pytest.raises(PayloadError) as info:
        records_from_json([1] * 150)
    error = info.value
    body = error.to_dict()
    assert len(body["errors"]) == 100 and body["more_errors"] == 50


def test_feedback_shapes_and_defaults() -> None:
    one = feedback_from_json({"request_id": "r1", "label": 1}, "int64")
    assert (one.request_ids, one.records, one.labels) == (["r1"], [0], [1])
    many = feedback_from_json(
        {
            "feedback": [
                {"request_id": "r1", "record": 2, "label": 0.0},
                {"request_id": "r2", "label": 1},
            ]
        },
        "int64",
    )
    assert (many.records, many.labels) == ([2, 0], [0, 1])
    assert type(many.labels[0]) is int
    listed = feedback_from_json([{"request_id": "r", "label": "yes"}], None)
    assert listed.labels == ["yes"]
    assert feedback_from_json([{"request_id": "r", "label": 3}], None).labels == ["3"]


def test_feedback_problems_are_listed_by_item_and_field() -> None:
    with pytest.raises(PayloadError) as info:
        feedback_from_json(
            [
                {"request_id": "", "label": 1},
                {"request_id": "r", "label": "1", "record": -1},
                {"request_id": "r", "score": 2},
                5,
            ],
            "int64",
        )
    found = {(e.get("record"), e.get("field")) for e in messages(info)}
    assert found == {
        (0, "request_id"),
        (1, "label"),
        (1, "record"),
        (2, "score"),
        (2, "label"),
        (3, None),
    }
