"""read_table: every supported input, and a clear InputError for every bad file."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pytest

from govml.datasets import read_table
from govml.errors import InputError


def test_reads_every_in_memory_input() -> None:
    expected = pa.table({"a": [1, 2], "b": ["x", "y"]})
    assert read_table(expected) is expected
    assert read_table(expected.to_batches()[0]).equals(expected)
    assert read_table(pd.DataFrame({"a": [1, 2], "b": ["x", "y"]}, index=[7, 8])).column_names == [
        "a",
        "b",
    ]
    assert read_table(pl.DataFrame({"a": [1, 2], "b": ["x", "y"]})).num_rows == 2


def test_numpy_columns_are_named_f0_onwards() -> None:
    table = read_table(np.arange(6.0).reshape(3, 2))
    assert table.column_names == ["f0", "f1"]
    assert table.column("f1").to_pylist() == [1.0, 3.0, 5.0]
    with pytest.raises(InputError, match="two dimensions"):
        read_table(np.arange(3))


def test_unsupported_object_is_an_input_error() -> None:
    with pytest.raises(InputError, match="cannot read a dict"):
        read_table({"a": [1]})


def test_reads_csv_and_parquet_by_suffix_or_format(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text("x,y\n1,a\n2,\n")
    table = read_table(tmp_path / "a.csv")
    assert table.column("x").to_pylist() == [1, 2]
    assert table.column("y").to_pylist() == ["a", None]  # an empty unquoted field is null
    (tmp_path / "a.txt").write_text("x\n1\n")
    assert read_table(str(tmp_path / "a.txt"), fmt="csv").num_rows == 1
    pd.DataFrame({"x": [1.5]}).to_parquet(tmp_path / "a.pq")
    assert read_table(tmp_path / "a.pq").column("x").to_pylist() == [1.5]


def _error(path: Path, fmt: Any = None) -> str:
    with pytest.raises(InputError) as info:
        read_table(path, fmt=fmt)
    message = info.value.message
    assert str(path) in message, message
    return message


def test_missing_file(tmp_path: Path) -> None:
    assert "not found" in _error(tmp_path / "missing.csv")


def test_empty_file(tmp_path: Path) -> None:
    for name in ("empty.csv", "empty.parquet"):
        (tmp_path / name).write_bytes(b"")
        assert "empty" in _error(tmp_path / name)


def test_binary_garbage_with_csv_suffix(tmp_path: Path) -> None:
    path = tmp_path / "garbage.csv"
    path.write_bytes(os.urandom(4096) + b"\x00")
    assert "binary" in _error(path)


def test_text_that_is_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "latin1.csv"
    path.write_bytes("name\nZürich\n".encode("latin-1"))
    assert "UTF-8" in _error(path)


def test_ragged_row_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "ragged.csv"
    path.write_text("a,b\n1,2\n3,4\n5,6,7\n8,9\n")
    message = _error(path)
    assert "line 4" in message and "Expected 2 columns, got 3" in message


def test_ragged_row_deep_in_a_large_file(tmp_path: Path) -> None:
    path = tmp_path / "big.csv"
    path.write_text("a,b\n" + "1,2\n" * 200_000 + "3\n")
    assert "line 200002" in _error(path)


def test_unsupported_suffix(tmp_path: Path) -> None:
    path = tmp_path / "data.xlsx"
    path.write_bytes(b"PK")
    message = _error(path)
    assert "unsupported file type '.xlsx'" in message


def test_unknown_format_argument(tmp_path: Path) -> None:
    path = tmp_path / "data.csv"
    path.write_text("a\n1\n")
    assert "unknown format" in _error(path, fmt="json")


def test_not_a_parquet_file(tmp_path: Path) -> None:
    path = tmp_path / "fake.parquet"
    path.write_text("a,b\n1,2\n")
    assert "not a Parquet file" in _error(path)
    truncated = tmp_path / "truncated.parquet"
    pd.DataFrame({"a": range(100)}).to_parquet(truncated)
    truncated.write_bytes(truncated.read_bytes()[:-20])
    assert "cannot read as Parquet" in _error(truncated)


def test_directory_is_not_a_file(tmp_path: Path) -> None:
    folder = tmp_path / "folder.csv"
    folder.mkdir()
    assert "not a file" in _error(folder)


def test_duplicate_csv_headers(tmp_path: Path) -> None:
    path = tmp_path / "dup.csv"
    path.write_text("a,a\n1,2\n")
    assert "duplicate column names ['a']" in _error(path)
