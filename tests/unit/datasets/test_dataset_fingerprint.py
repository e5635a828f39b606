"""Content digests: stable across readers and chunking, sensitive to every change."""

from __future__ import annotations

import hashlib
import itertools
import json
import struct
from datetime import date, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from govml.datasets import DatasetFingerprint, fingerprint, table_digest
from govml.errors import InputError


@pytest.fixture
def frame() -> pd.DataFrame:
    rng = np.random.default_rng(11)
    n = 500
    return pd.DataFrame(
        {
            "age": rng.integers(18, 90, n),
            "income": np.where(rng.random(n) < 0.1, np.nan, rng.lognormal(10, 1, n)),
            "city": pd.Series(rng.choice(["Lyon", "Paris", "Zürich", None], n), dtype=object),
            "member": rng.random(n) < 0.5,
            "since": pd.to_datetime(rng.integers(0, 2 * 10**18, n)).as_unit("ns"),
        }
    )


def test_same_values_from_every_reader_give_one_digest(frame: pd.DataFrame, tmp_path: Path) -> None:
    expected = fingerprint(frame).digest
    table = pa.Table.from_pandas(frame, preserve_index=False)
    csv_path, parquet_path = tmp_path / "data.csv", tmp_path / "data.parquet"
    frame.to_csv(csv_path, index=False)
    frame.to_parquet(parquet_path)
    polars_path = tmp_path / "polars.parquet"
    pl.from_pandas(frame).write_parquet(polars_path)
    assert fingerprint(pl.from_pandas(frame)).digest == expected
    assert fingerprint(table).digest == expected
    assert fingerprint(table.to_batches()[0]).digest == expected
    assert fingerprint(csv_path).digest == expected
    assert fingerprint(parquet_path).digest == expected
    assert fingerprint(polars_path).digest == expected
    assert fingerprint(frame.set_index("age", drop=False)).digest == expected  # index is not data


def test_chunking_does_not_matter(frame: pd.DataFrame) -> None:
    table = pa.Table.from_pandas(frame, preserve_index=False)
    expected = table_digest(table)
    for size in (1, 7, 100, 499):
        rechunked = pa.Table.from_batches(table.to_batches(max_chunksize=size))
        assert table_digest(rechunked) == expected
    ragged = pa.concat_tables([table.slice(0, 3), table.slice(3, 250), table.slice(253)])
    assert table_digest(ragged) == expected


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.none() | st.text(max_size=5), max_size=30),
    st.lists(st.integers(0, 30), max_size=4),
)
def test_chunk_boundaries_never_change_string_digests(
    values: list[str | None], cuts: list[int]
) -> None:
    table = pa.table({"s": pa.array(values, pa.string())})
    bounds = sorted({min(c, len(values)) for c in cuts} | {0, len(values)})
    parts = [table.slice(lo, hi - lo) for lo, hi in itertools.pairwise(bounds)]
    chunked = pa.concat_tables(parts) if parts else table
    assert table_digest(chunked) == table_digest(table)


def test_representations_of_the_same_values_agree() -> None:
    digest = table_digest(pa.table({"x": pa.array([1, None, 3], pa.int64())}))
    assert table_digest(pa.table({"x": pa.array([1, None, 3], pa.int8())})) == digest
    floats = table_digest(pa.table({"x": pa.array([1.5, None], pa.float64())}))
    assert table_digest(pa.table({"x": pa.array([1.5, np.nan], pa.float64())})) == floats
    assert table_digest(pa.table({"x": pa.array([1.5, None], pa.float32())})) == floats
    strings = table_digest(pa.table({"x": pa.array(["a", None, "a"])}))
    assert table_digest(pa.table({"x": pa.array(["a", None, "a"]).dictionary_encode()})) == strings
    assert table_digest(pa.table({"x": pa.array(["a", None, "a"], pa.string_view())})) == strings
    stamps = [datetime(1969, 12, 31, 23, 59, 59), datetime(2262, 1, 1), None]
    seconds = table_digest(pa.table({"t": pa.array(stamps, pa.timestamp("s"))}))
    assert table_digest(pa.table({"t": pa.array(stamps, pa.timestamp("us"))})) == seconds
    # Far-future sentinels are outside the nanosecond range and still digest.
    assert table_digest(pa.table({"t": pa.array([datetime(9999, 12, 31)], pa.timestamp("us"))}))


@pytest.mark.parametrize(
    "change",
    [
        lambda f: f.assign(age=f["age"].where(f.index != 17, f["age"] + 1)),
        lambda f: f.iloc[[1, 0, *range(2, len(f))]].reset_index(drop=True),
        lambda f: f.rename(columns={"city": "town"}),
        lambda f: f[["income", "age", "city", "member", "since"]],
        lambda f: f.assign(city=f["city"].where(f.index != 3, "")),  # "" is not missing
        lambda f: f.assign(age=f["age"].astype(float)),
        lambda f: f.iloc[:-1],
    ],
    ids=[
        "one value",
        "swapped rows",
        "renamed column",
        "column order",
        "empty string",
        "type",
        "row",
    ],
)
def test_any_change_changes_the_digest(frame: pd.DataFrame, change: object) -> None:
    assert callable(change)
    assert fingerprint(change(frame)).digest != fingerprint(frame).digest


def test_string_boundaries_are_part_of_the_digest() -> None:
    one = table_digest(pa.table({"s": ["ab", "c"]}))
    assert table_digest(pa.table({"s": ["a", "bc"]})) != one


def _reference_digest(
    columns: list[tuple[str, str, list[bytes], list[bytes], list[bytes]]], rows: int
) -> str:
    """The encoding of the fingerprint module docstring, written out with struct."""
    table = hashlib.sha256(b"govml-table-v1\x00" + struct.pack("<QQ", len(columns), rows))
    for name, type_name, validity, lengths, values in columns:
        column = hashlib.sha256(b"govml-column-v1\x00")
        for text in (name, type_name):
            column.update(struct.pack("<Q", len(text.encode())) + text.encode())
        column.update(struct.pack("<Q", rows))
        for stream in (validity, lengths, values):
            column.update(hashlib.sha256(b"".join(stream)).digest())
        table.update(column.digest())
    return "sha256:" + table.hexdigest()


def test_digest_follows_the_documented_encoding() -> None:
    table = pa.table(
        {
            "n": pa.array([5, None], pa.int32()),
            "x": pa.array([-0.0, float("nan")]),
            "s": pa.array(["é", None]),
            "b": pa.array([True, None]),
            "t": pa.array([datetime(1969, 12, 31, 23, 59, 59, 500000), None], pa.timestamp("ms")),
            "d": pa.array([date(1970, 1, 3), None]),
            "z": pa.nulls(2),
        }
    )
    q, d = (lambda v: struct.pack("<q", v)), (lambda v: struct.pack("<d", v))
    present = [b"\x01", b"\x00"]
    expected = _reference_digest(
        [
            ("n", "int64", present, [], [q(5), q(0)]),
            ("x", "float64", present, [], [d(-0.0), d(0.0)]),
            ("s", "string", present, [struct.pack("<Q", 2), struct.pack("<Q", 0)], ["é".encode()]),
            ("b", "bool", present, [], [b"\x01", b"\x00"]),
            # -0.5 s: whole seconds floored (-1) then nanoseconds within (500,000,000).
            ("t", "datetime", present, [], [q(-1), q(500_000_000), q(0), q(0)]),
            ("d", "date", present, [], [q(2), q(0)]),
            ("z", "null", [b"\x00", b"\x00"], [], []),
        ],
        rows=2,
    )
    assert table_digest(table) == expected


def test_fingerprint_record(frame: pd.DataFrame, tmp_path: Path) -> None:
    path = tmp_path / "train.parquet"
    frame.to_parquet(path)
    fp = fingerprint(path)
    assert fp.source == str(path) and fingerprint(frame).source is None
    assert fp.row_count == 500 and fp.profile.row_count == 500
    assert [(c.name, c.type) for c in fp.schema] == [
        ("age", "int64"),
        ("income", "float64"),
        ("city", "string"),
        ("member", "bool"),
        ("since", "datetime"),
    ]
    data = json.loads(json.dumps(fp.to_dict(), allow_nan=False))
    assert data["schema"][0] == {"name": "age", "type": "int64"}
    assert DatasetFingerprint.from_dict(data) == fp


def test_fingerprint_from_bad_dict_is_an_input_error(frame: pd.DataFrame) -> None:
    data = fingerprint(frame).to_dict()
    with pytest.raises(InputError, match="digest"):
        DatasetFingerprint.from_dict({**data, "digest": "md5:abc"})
    with pytest.raises(InputError, match="version"):
        DatasetFingerprint.from_dict({**data, "version": 99})
    with pytest.raises(InputError, match="row_count"):
        DatasetFingerprint.from_dict({k: v for k, v in data.items() if k != "row_count"})


def test_csv_written_by_pyarrow_round_trips_empty_strings_and_nulls(tmp_path: Path) -> None:
    table = pa.table({"s": pa.array(["", None, "x"]), "v": pa.array([1.0, None, 2.5])})
    path = tmp_path / "t.csv"
    pa_csv.write_csv(table, path)
    assert fingerprint(path).digest == table_digest(table)
    pq.write_table(table, tmp_path / "t.parquet")
    assert fingerprint(tmp_path / "t.parquet").digest == table_digest(table)
