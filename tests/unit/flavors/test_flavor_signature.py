"""Signatures: inference from every supported table kind, round trips, validation messages."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pytest

from govml.domain.signature import ColumnSpec, Signature, infer_signature
from govml.errors import InputError, ValidationError

EXPECTED = [
    ColumnSpec("age", "int64", False),
    ColumnSpec("income", "float64", True),
    ColumnSpec("city", "string", True),
    ColumnSpec("segment", "category", False),
    ColumnSpec("active", "bool", False),
    ColumnSpec("joined", "datetime", False),
    ColumnSpec("small", "int64", False),
]


@pytest.fixture
def frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "age": [31, 45, 58],
            "income": [41_000.0, np.nan, 72_500.5],
            "city": ["paris", None, "lyon"],
            "segment": pd.Categorical(["a", "b", "a"]),
            "active": [True, False, True],
            "joined": pd.to_datetime(["2021-01-04", "2022-06-30", "2023-11-11"]),
            "small": np.array([1, 2, 3], dtype=np.int8),
        }
    )


@pytest.mark.parametrize("kind", ["pandas", "polars", "arrow"])
def test_inference_normalises_types_across_libraries(frame, kind) -> None:
    table = {
        "pandas": lambda: frame,
        "polars": lambda: pl.from_pandas(frame),
        "arrow": lambda: pa.Table.from_pandas(frame, preserve_index=False),
    }[kind]()
    signature = infer_signature(table, pd.Series([0, 1, 1], name="default"))
    assert list(signature.inputs) == EXPECTED
    assert signature.outputs == (ColumnSpec("default", "int64", False),)


def test_numpy_arrays_give_positional_names_with_the_array_type() -> None:
    signature = infer_signature(np.zeros((4, 3), dtype=np.float32), np.array(["a", "b", "a", "b"]))
    assert [(c.name, c.type) for c in signature.inputs] == [
        ("f0", "float64"),
        ("f1", "float64"),
        ("f2", "float64"),
    ]
    assert signature.outputs == (ColumnSpec("prediction", "string", False),)
    probabilities = infer_signature(np.ones((2, 1), dtype=np.int32), np.zeros((2, 2)))
    assert [c.name for c in probabilities.outputs] == ["prediction_0", "prediction_1"]
    assert probabilities.inputs == (ColumnSpec("f0", "int64", False),)


def test_object_columns_are_typed_by_their_values() -> None:
    frame = pd.DataFrame({"n": pd.Series([1, None, 3], dtype=object)})
    assert infer_signature(frame).inputs == (ColumnSpec("n", "int64", True),)
    with pytest.raises(InputError, match="'empty' has only missing values"):
        infer_signature(pd.DataFrame({"empty": pd.Series([None, None], dtype=object)}))
    with pytest.raises(InputError, match="'span' has unsupported type timedelta64"):
        infer_signature(pd.DataFrame({"span": pd.to_timedelta([1, 2], unit="D")}))


def test_dict_round_trip_is_json_safe(frame) -> None:
    signature = infer_signature(frame, np.array([0.5, 0.1, 0.9]))
    as_json = json.dumps(signature.to_dict())
    assert Signature.from_dict(json.loads(as_json)) == signature
    assert signature.to_dict()["inputs"][0] == {"name": "age", "type": "int64", "nullable": False}


def test_from_dict_names_the_bad_field() -> None:
    data = {"inputs": [{"name": "age", "type": "int64"}, {"name": "city", "type": "strng"}]}
    with pytest.raises(ValidationError) as caught:
        Signature.from_dict(data)
    assert caught.value.message.startswith("signature.inputs[1]: column 'city' has unknown type")
    assert caught.value.hint == "did you mean 'string'?"
    with pytest.raises(ValidationError, match="unknown signature field 'input'"):
        Signature.from_dict({"input": []})
    with pytest.raises(ValidationError, match="name column 'age' twice"):
        Signature(inputs=[ColumnSpec("age", "int64"), ColumnSpec("age", "float64")])


def test_signatures_are_immutable() -> None:
    signature = Signature(inputs=[ColumnSpec("age", "int64")])
    assert isinstance(signature.inputs, tuple)
    with pytest.raises(AttributeError):
        signature.inputs = ()  # type: ignore[misc]


def test_validate_accepts_matching_data_in_any_library(frame) -> None:
    signature = infer_signature(frame)
    assert signature.validate(frame) == []
    assert signature.validate(pl.from_pandas(frame)) == []
    assert signature.validate(frame[list(reversed(frame.columns))]) == []


def test_validate_reports_every_field_problem(frame) -> None:
    signature = infer_signature(frame)
    bad = frame.drop(columns=["age"]).assign(
        agee=[1, 2, 3],
        foo=["x", "y", "z"],
        active=["yes", "no", "yes"],
        small=[1.5, 2.0, 3.0],
        segment=pd.Categorical(["a", None, "b"]),
    )
    assert signature.validate(bad) == [
        "missing column 'age'",
        "unknown column 'agee' (did you mean 'age'?)",
        "unknown column 'foo'",
        "column 'segment' has 1 missing value(s) but is not nullable",
        "column 'active' has type string, expected bool",
        "column 'small' has type float64, expected int64",
    ]


def test_validate_accepts_the_conversions_json_input_needs() -> None:
    signature = Signature(
        inputs=[
            ColumnSpec("age", "int64", True),
            ColumnSpec("income", "float64"),
            ColumnSpec("segment", "category"),
        ]
    )
    # Integers with a gap arrive as floats, whole floats arrive as ints, categories as text.
    batch = pd.DataFrame({"age": [30.0, None], "income": [1, 2], "segment": ["a", "b"]})
    assert signature.validate(batch) == []


def test_validate_numpy_arrays_by_position() -> None:
    signature = Signature(inputs=[ColumnSpec("age", "int64"), ColumnSpec("score", "float64")])
    assert signature.validate(np.array([[30.5, 0.5], [40, 0.7]])) == [
        "column 'age' has type float64, expected int64"
    ]
    # A float array whose first column holds whole numbers fits (numpy has one dtype).
    assert signature.validate(np.array([[30, 0.5], [40, 0.7]])) == []
    assert signature.validate(np.zeros((2, 3))) == ["expected 2 columns, got 3"]
    with pytest.raises(InputError, match="unsupported data of type builtins.list"):
        signature.validate([[1, 2]])
