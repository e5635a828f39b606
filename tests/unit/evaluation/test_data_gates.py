"""Data expectations on bad data: each check reports what it found, none raises."""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
from pydantic import TypeAdapter

from govml.evaluation.gates import data_checks
from govml.evaluation.runners.data import blocking
from govml.policy.expectations import DataExpectation

RULES = TypeAdapter(list[DataExpectation])


def _run(table: Any, rules: list[dict[str, Any]]) -> list[Any]:
    return data_checks(table, RULES.validate_python(rules), training_schema=None, subject="m@1")


def test_content_a_check_cannot_compute_is_undefined_with_the_error() -> None:
    table = pa.table({"tags": pa.array([[1, 2], [3]]), "age": [30, 41]})
    [found] = _run(table, [{"expect": "regex", "column": "tags", "pattern": "a"}])
    assert (found.check, found.status) == ("regex:tags", "undefined")
    assert found.reason == (
        "could not be checked on this data: ArrowNotImplementedError: Unsupported cast from "
        "list<item: int64> to utf8 using function cast_string"
    )


def test_failing_checks_block_with_their_columns() -> None:
    table = pa.table(
        {
            "age": pa.array(["30", "n/a", "forty", None, "17"]),
            "income": pa.array([1.0, np.nan, 2.0, 3.0, 4.0]),
            "id": [1, 1, 2, 3, 4],
        }
    )
    rules = [
        {"expect": "no_nulls", "columns": ["age", "income", "id"]},
        {"expect": "between", "column": "age", "min": 18, "max": 100},
        {"expect": "unique", "columns": ["id"]},
        {"expect": "row_count", "min": 1},
    ]
    results = _run(table, rules)
    assert [r.status for r in results] == ["fail", "fail", "fail", "pass"]
    between = results[1]
    # "n/a" is text here (an arrow table built by hand): two values are not numbers.
    assert between.evidence["not_numbers"] == 2 and between.evidence["first_text_rows"] == [1, 2]
    assert between.evidence["below"] == 1 and between.evidence["missing"] == 1
    assert blocking(RULES.validate_python(rules), results) == (
        "not run: data checks no_nulls(age, income), between(age), unique(id) failed"
    )
    assert blocking(RULES.validate_python(rules[3:]), results[3:]) is None
