"""The gateway's index of answered requests and labelled records, over the prediction log."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from govml.serving.issued import IssuedRequests

NOW = datetime(2026, 6, 30, 12, tzinfo=UTC)


def write(
    root: Path, part: str, day: datetime, name: str, ids: list[str], records: list[int]
) -> None:
    folder = root / "model=credit" / part / f"date={day:%Y-%m-%d}"
    folder.mkdir(parents=True, exist_ok=True)
    table = pa.table(
        {
            "request_id": pa.array(ids, type=pa.string()),
            "record": pa.array(records, type=pa.int32()),
        }
    )
    pq.write_table(table, folder / name)


def index(root: Path, **kwargs: int) -> IssuedRequests:
    clock = iter(range(10**6))  # every lookup sees a new second: the log is listed again
    return IssuedRequests(root, "credit", clock=lambda: NOW.timestamp() + next(clock), **kwargs)


def test_answers_in_memory_and_in_the_log_of_every_replica(tmp_path: Path) -> None:
    write(tmp_path, "version=1", NOW, "part-a.parquet", ["a", "a", "a", "b"], [0, 1, 2, 0])
    write(tmp_path, "version=2", NOW - timedelta(days=3), "part-b.parquet", ["c"], [0])
    write(tmp_path, "version=1", NOW - timedelta(days=40), "part-old.parquet", ["old"], [0])
    issued = index(tmp_path)
    issued.answered("mine", 5)
    assert issued.counts(["a", "b", "c", "mine", "old", "nope"]) == {
        "a": 3,
        "b": 1,
        "c": 1,
        "mine": 5,
    }
    for day in range(10):  # new files appear; each day's arrays are merged as they grow
        write(tmp_path, "version=1", NOW, f"part-n{day}.parquet", [f"n{day}"] * 2, [0, 1])
        assert issued.counts([f"n{day}"]) == {f"n{day}": 2}
    segments = issued._predictions.days[NOW.date()].segments
    assert len(segments) <= 4  # binary-counter merging, not one array per file
    assert issued.files_read == 12


def test_claims_refuse_a_second_label_unless_correcting(tmp_path: Path) -> None:
    write(tmp_path, "feedback", NOW, "part-f.parquet", ["a"], [1])
    issued = index(tmp_path)
    assert issued.claim([("a", 0), ("b", 0)], correct=False).labelled == [False, False]
    assert issued.claim([("a", 0)], correct=False).labelled == [True]  # in memory
    assert issued.claim([("a", 1)], correct=False).labelled == [True]  # in the log
    assert issued.claim([("c", 0), ("a", 1)], correct=False).labelled == [False, True]
    assert issued.claim([("c", 0)], correct=False).labelled == [False]  # nothing was marked
    assert issued.claim([("a", 1)], correct=True).labelled == [True]  # a correction
    issued.release([("c", 0)])
    assert issued.claim([("c", 0)], correct=False).labelled == [False]


def test_memory_is_bounded_by_dropping_the_oldest_days(tmp_path: Path) -> None:
    for back in range(5):
        day = NOW - timedelta(days=back)
        ids = [f"d{back}-{i}" for i in range(100)]
        write(tmp_path, "version=1", day, "part-p.parquet", ids, [0] * 100)
    issued = index(tmp_path, index_entries=250, recent=10)
    assert issued.counts(["d0-1", "d1-1", "d2-1", "d3-1"]) == {"d0-1": 1, "d1-1": 1}
    assert issued.first_day == (NOW - timedelta(days=1)).date()
    assert issued._predictions.size <= 250
    for i in range(20):
        issued.answered(f"r{i}", 1)
    assert issued.counts([f"r{i}" for i in range(20)]) == {f"r{i}": 1 for i in range(10, 20)}
