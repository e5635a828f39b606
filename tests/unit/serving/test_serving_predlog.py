"""The prediction log: admission against a bounded queue, flush on close, retries, schema."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from govml.domain.signature import ColumnSpec
from govml.serving.logschema import EventEntry, FeedbackEntry, PredictionEntry
from govml.serving.predlog import PredictionLog

INPUTS = (ColumnSpec("age", "int64"), ColumnSpec("city", "string", nullable=True))
NOW = datetime(2024, 5, 1, 12, 30, tzinfo=UTC)


def entry(
    request_id: str, count: int = 1, version: int = 1, variant: str = "champion"
) -> PredictionEntry:
    return PredictionEntry(
        model="credit",
        version=version,
        variant=variant,
        request_id=request_id,
        time=NOW,
        inputs=INPUTS,
        values={"age": list(range(count)), "city": ["paris", None][:count] + ["x"] * (count - 2)},
        count=count,
        predictions=np.arange(count) % 2,
        output_type="int64",
        probabilities=np.full((count, 2), 0.5),
        classes=(0, 1),
        latency_ms=1.5,
    )


def files(root: Path) -> list[Path]:
    return sorted(root.rglob("*.parquet"))


def test_admission_is_refused_beyond_the_capacity_and_given_back(tmp_path: Path) -> None:
    log = PredictionLog(tmp_path, capacity=10, flush_seconds=60)
    assert log.reserve(6) and log.reserve(4)
    assert not log.reserve(1)
    log.release(4)
    assert log.reserve(3) and log.depth == 9
    empty = PredictionLog(tmp_path, capacity=10, flush_seconds=60)
    assert empty.reserve(50)  # larger than the whole queue: admitted when it is empty


def test_admit_waits_for_room_then_gives_up(tmp_path: Path) -> None:
    log = PredictionLog(tmp_path, capacity=2, flush_seconds=60)
    assert log.reserve(2)

    async def scenario() -> tuple[bool, bool]:
        refused = await log.admit(1, wait_ms=30)
        asyncio.get_running_loop().call_later(0.02, log.release, 2)
        admitted = await log.admit(1, wait_ms=2000)
        return refused, admitted

    assert asyncio.run(scenario()) == (False, True)


def test_close_writes_every_queued_record_by_partition(tmp_path: Path) -> None:
    log = PredictionLog(tmp_path, capacity=1000, flush_seconds=600)
    log.start()
    for i in range(5):
        assert log.reserve(3)
        log.put(entry(f"r{i}", count=3, version=1 + i % 2))
    assert log.offer(entry("s", count=2, version=2, variant="shadow"), "shadow")
    assert files(tmp_path) == []  # nothing due yet: all in memory
    log.close()
    written = files(tmp_path)
    assert {p.parent.relative_to(tmp_path).as_posix() for p in written} == {
        "model=credit/version=1/date=2024-05-01",
        "model=credit/version=2/date=2024-05-01",
    }
    rows = sum(pq.read_metadata(p).num_rows for p in written)
    assert rows == 17 and log.written["prediction"] == 17 and log.depth == 0
    assert not any(p.name.startswith(".") for p in tmp_path.rglob("*"))


def test_records_are_written_after_the_flush_interval(tmp_path: Path) -> None:
    log = PredictionLog(tmp_path, capacity=1000, flush_seconds=0.05)
    log.start()
    log.reserve(1)
    log.put(entry("r"))
    assert asyncio.run(_wait(lambda: bool(files(tmp_path)))), "the writer did not flush"
    log.close()


async def _wait(condition: Callable[[], bool], timeout: float = 10.0) -> bool:
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while loop.time() < end:
        if condition():
            return True
        await asyncio.sleep(0.01)
    return False


def test_shadow_copies_are_dropped_and_counted_when_full(tmp_path: Path) -> None:
    log = PredictionLog(tmp_path, capacity=3, flush_seconds=60)
    assert log.reserve(3)
    assert not log.offer(entry("s", count=2, variant="shadow"), "shadow")
    assert log.dropped == {"shadow": 2}


def test_a_failed_write_is_retried_and_nothing_is_lost(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import govml.serving.predlog as predlog

    monkeypatch.setattr(predlog, "RETRY_SECONDS", 0.01)
    real = predlog.pq.write_table
    calls = {"n": 0}

    def flaky(*args: object, **kwargs: object) -> None:
        calls["n"] += 1
        if calls["n"] <= 2:
            raise OSError("disk full")
        real(*args, **kwargs)

    monkeypatch.setattr(predlog.pq, "write_table", flaky)
    log = PredictionLog(tmp_path, capacity=100, flush_seconds=600)
    log.start()
    log.reserve(2)
    log.put(entry("r", count=2))
    log.close()
    assert log.write_errors == 2 and log.written["prediction"] == 2
    assert sum(pq.read_metadata(p).num_rows for p in files(tmp_path)) == 2


def test_records_that_cannot_be_written_at_close_are_kept_as_json_lines(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import govml.serving.predlog as predlog

    monkeypatch.setattr(predlog, "RETRY_SECONDS", 0.01)

    def broken(*args: object, **kwargs: object) -> None:
        raise OSError("read-only file system")

    monkeypatch.setattr(predlog.pq, "write_table", broken)
    log = PredictionLog(tmp_path, capacity=100, flush_seconds=600)
    log.start()
    log.reserve(2)
    log.put(entry("kept", count=2))
    log.close()
    (kept,) = tmp_path.glob("unwritten-*.jsonl")
    lines = kept.read_text().splitlines()
    assert len(lines) == 2 and all('"request_id":"kept"' in line for line in lines)


def test_feedback_and_event_partitions(tmp_path: Path) -> None:
    log = PredictionLog(tmp_path, capacity=100, flush_seconds=600)
    log.start()
    log.reserve(2)
    log.put(
        FeedbackEntry(
            model="credit",
            time=NOW,
            request_ids=["a", "b"],
            records=[0, 3],
            labels=[1, 0],
            label_type="int64",
            corrections=[False, True],
            key_id="0123456789abcdef",
        )
    )
    log.put_event(
        EventEntry(
            model="credit",
            time=NOW,
            event="switch",
            alias="production",
            variant="champion",
            version=2,
            previous=1,
            detail="credit@2 answers for production",
            pid=1,
        )
    )
    log.close()
    feedback = pq.read_table(tmp_path / "model=credit/feedback/date=2024-05-01")
    assert feedback.to_pydict()["label"] == [1, 0]
    assert feedback.to_pydict()["correction"] == [False, True]
    assert feedback.to_pydict()["key_id"] == ["0123456789abcdef"] * 2
    assert str(feedback.schema.field("record").type) == "int32"
    events = pq.read_table(tmp_path / "model=credit/events/date=2024-05-01")
    assert events.to_pydict()["previous"] == [1]
