"""The ledger check split over worker processes finds what the one-process check finds.

Ledgers here are small, so the size from which the check is split is lowered to one entry.
Every comparison is between the same check run in ranges by worker processes (each reading
the database itself) and run in one pass in this process: same result when the ledger is
intact, the same first problem (message and entry) when it is not.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import govml
from govml.errors import LedgerVerificationError
from govml.ledger import scan
from govml.ledger.verify import VerifyReport
from govml.store import checkpoints, ledger_check
from govml.store.ledger import NewEntry, append
from govml.store.ledger_check import RowCheck, verify_rows
from govml.store.schema import APPEND_ONLY_TABLES

TRANSACTIONS = [1, 3, 1, 2, 4, 1, 1, 2, 3, 1, 2, 1, 5, 1, 2]


@pytest.fixture(autouse=True)
def _split_small_ledgers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ledger_check, "PARALLEL_MIN_ENTRIES", 1)


def _fill(client: govml.Client, transactions: list[int]) -> None:
    for number, count in enumerate(transactions):
        with client.ctx.store.write() as conn:
            append(
                conn,
                actor="alice",
                now=datetime.now(UTC),
                entries=[
                    NewEntry(
                        action="test.event",
                        subject=f"model/m{number % 3}",
                        payload={"n": number, "i": i, "score": 0.25, "tags": ["a", "é"]},
                    )
                    for i in range(count)
                ],
            )


def _drop_triggers(client: govml.Client) -> None:
    with client.ctx.store.write() as conn:
        for table in APPEND_ONLY_TABLES:
            if client.ctx.store.dialect == "sqlite":
                conn.execute(sa.text(f"DROP TRIGGER IF EXISTS {table}_no_update"))
                conn.execute(sa.text(f"DROP TRIGGER IF EXISTS {table}_no_delete"))
            else:
                conn.execute(sa.text(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}"))


def _raw(client: govml.Client, sql: str, **params: object) -> None:
    with client.ctx.store.write() as conn:
        conn.execute(sa.text(sql), params)


def _check(client: govml.Client, processes: int) -> VerifyReport | tuple[str, int | None]:
    with client.ctx.store.read() as conn:
        checkpoints.use_snapshot(conn)
        try:
            return verify_rows(conn, processes=processes)
        except LedgerVerificationError as error:
            return error.message, error.seq


def _same_in_parallel(client: govml.Client) -> VerifyReport | tuple[str, int | None]:
    """Run the check in 3 processes and in one; assert they agree; return the outcome."""
    alone = _check(client, 1)
    assert _check(client, 3) == alone
    return alone


@pytest.fixture
def ledger(client: govml.Client) -> Iterator[govml.Client]:
    client.init()
    _fill(client, TRANSACTIONS)
    yield client


def test_an_intact_ledger_gives_the_same_report(ledger: govml.Client) -> None:
    report = _same_in_parallel(ledger)
    assert isinstance(report, VerifyReport)
    assert report.entries == report.tree_size > sum(TRANSACTIONS)
    assert ledger.verify_ledger().root_hash == report.root_hex


def test_the_workers_really_check_their_ranges(
    ledger: govml.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    answered: list[scan.RangeResult] = []
    result = scan.Worker.result

    def spy(worker: scan.Worker) -> scan.RangeResult:
        answered.append(result(worker))
        return answered[-1]

    monkeypatch.setattr(scan.Worker, "result", spy)
    report = _check(ledger, 3)
    assert isinstance(report, VerifyReport)
    assert len(answered) == 2 and answered[-1].end == report.tree_size
    assert sum(found.entries for found in answered) < report.entries


def test_a_worker_that_cannot_answer_is_replaced(
    ledger: govml.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(worker: scan.Worker) -> scan.RangeResult:
        worker.stop()
        raise RuntimeError("no answer")

    expected = _check(ledger, 1)
    monkeypatch.setattr(scan.Worker, "result", broken)
    assert _check(ledger, 3) == expected
    _drop_triggers(ledger)
    _raw(ledger, "UPDATE ledger_entries SET actor = 'mallory' WHERE seq = 20")
    assert _check(ledger, 3) == _check(ledger, 1) == (_columns_message(20), 20)


def test_a_worker_whose_driver_fails_is_replaced(
    ledger: govml.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    start = scan.Worker.__init__

    def no_driver(worker: scan.Worker, task: dict[str, Any]) -> None:
        start(worker, {**task, "driver": "no_such_driver_module"})

    expected = _check(ledger, 1)
    monkeypatch.setattr(scan.Worker, "__init__", no_driver)
    assert _check(ledger, 3) == expected


def test_entries_written_after_the_check_started_are_not_seen(ledger: govml.Client) -> None:
    with ledger.ctx.store.read() as conn:
        checkpoints.use_snapshot(conn)
        check = RowCheck(conn, processes=3)
        with check:
            _fill(ledger, [2, 1])  # commits while the workers hold their snapshots
            check.check_here()
            report = check.finish()
    after = _check(ledger, 1)
    assert isinstance(after, VerifyReport)
    assert report.entries == after.entries - 3
    assert ledger.verify_ledger().entries == after.entries


def _columns_message(seq: int) -> str:
    return (
        f"ledger entry {seq}: its query columns (seq, time, actor, action, subject) are not the "
        "entry's own fields"
    )


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    table=st.sampled_from(["ledger_entries", "ledger_checkpoints"]),
    row=st.integers(0, 1000),
    column=st.integers(0, 5),
    position=st.integers(0, 100_000),
    new=st.integers(1, 127),
)
def test_any_single_byte_changed_fails_as_in_one_process(
    ledger: govml.Client, table: str, row: int, column: int, position: int, new: int
) -> None:
    _drop_triggers(ledger)
    key = "seq" if table == "ledger_entries" else "tree_size"
    names = (
        ("time", "actor", "action", "subject", "entry", "leaf_hash")
        if table == "ledger_entries"
        else ("root_hash", "frontier", "created_at")
    )
    name = names[column % len(names)]
    with ledger.ctx.store.read() as conn:
        rows = conn.execute(
            sa.text(f"SELECT {key}, CAST({name} AS TEXT) FROM {table} ORDER BY {key}")
        ).all()
    number, original = rows[row % len(rows)]
    raw = bytearray(original.encode())
    index = position % len(raw)
    assume(raw[index] < 128 and raw[index] != new)
    raw[index] = new
    changed = raw.decode()
    if name == "frontier":
        try:
            json.loads(changed)
        except ValueError:
            assume(ledger.ctx.store.dialect == "sqlite")  # PostgreSQL refuses invalid JSON
    try:
        _raw(ledger, f"UPDATE {table} SET {name} = :v WHERE {key} = :k", v=changed, k=number)
        outcome = _same_in_parallel(ledger)
        assert not isinstance(outcome, VerifyReport)  # every byte counts, JSON spacing too
    finally:
        _raw(ledger, f"UPDATE {table} SET {name} = :v WHERE {key} = :k", v=original, k=number)


@pytest.mark.parametrize(
    "change",
    [
        "DELETE FROM ledger_entries WHERE seq = 11",
        "DELETE FROM ledger_entries WHERE seq = (SELECT max(seq) FROM ledger_entries)",
        "DELETE FROM ledger_entries WHERE seq >= 20",
        "DELETE FROM ledger_checkpoints WHERE tree_size = (SELECT tree_size FROM "
        "ledger_checkpoints ORDER BY tree_size LIMIT 1 OFFSET 6)",
        "DELETE FROM ledger_checkpoints WHERE tree_size = (SELECT max(tree_size) "
        "FROM ledger_checkpoints)",
        "UPDATE ledger_entries SET seq = -1 WHERE seq = 9",
        "UPDATE ledger_entries SET seq = 1000 WHERE seq = 3",
        "UPDATE ledger_checkpoints SET tree_size = 0 WHERE tree_size = (SELECT tree_size FROM "
        "ledger_checkpoints ORDER BY tree_size LIMIT 1 OFFSET 3)",
    ],
)
def test_deleted_moved_and_truncated_rows_fail_as_in_one_process(
    ledger: govml.Client, change: str
) -> None:
    _drop_triggers(ledger)
    _raw(ledger, change)
    outcome = _same_in_parallel(ledger)
    assert not isinstance(outcome, VerifyReport)
    with pytest.raises(LedgerVerificationError):
        ledger.verify_ledger()


def test_the_worker_runs_as_a_script(tmp_path: Path) -> None:
    home = tmp_path / "store"
    client = govml.connect(
        home, database_url=f"sqlite:///{home / 'govml.db'}", user="alice", create=True
    )
    client.init()
    _fill(client, [2, 3])
    with client.ctx.store.read() as conn:
        size = conn.execute(sa.text("SELECT max(tree_size) FROM ledger_checkpoints")).scalar()
    client.close()
    task = {
        "driver": "sqlite3",
        "connect": {"database": str(home / "govml.db")},
        "setup": ["BEGIN"],
        "probe": "SELECT max(tree_size) FROM ledger_checkpoints",
        "named_cursor": False,
        "batch_rows": 2,
        "start": 0,
        "end": None,
        "start_head_sql": "",
        "entries_sql": "SELECT seq, time, actor, action, subject, entry, leaf_hash "
        "FROM ledger_entries ORDER BY seq",
        "heads_sql": "SELECT tree_size, root_hash, frontier, created_at FROM ledger_checkpoints "
        "ORDER BY tree_size",
    }
    done = subprocess.run(
        [sys.executable, "-I", scan.__file__],
        input=json.dumps(task) + "\n",
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    ready, last = (json.loads(line) for line in done.stdout.splitlines())
    assert ready == {"ready": size}
    assert last["ok"]["entries"] == last["ok"]["end"] == size


def test_sqlite_writers_wait_until_every_worker_holds_the_snapshot(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "store" / "govml.db"
    client = govml.connect(
        tmp_path / "store", database_url=f"sqlite:///{path}", user="alice", create=True
    )
    client.init()
    _fill(client, TRANSACTIONS)
    ready = scan.Worker.ready
    writable: list[bool] = []

    def try_to_write(worker: scan.Worker, deadline: float) -> object:
        writable.append(_can_write(path))
        return ready(worker, deadline)

    monkeypatch.setattr(scan.Worker, "ready", try_to_write)
    with client.ctx.store.read() as conn, RowCheck(conn, processes=3) as check:
        assert writable == [False, False]  # the write lock was held while workers started
        assert _can_write(path)  # and no longer once they hold their snapshots
        check.check_here()
        assert check.finish().entries > sum(TRANSACTIONS)
    client.close()


def _can_write(path: Path) -> bool:
    probe = sqlite3.connect(path, timeout=0, isolation_level=None)
    try:
        probe.execute("BEGIN IMMEDIATE")
    except sqlite3.OperationalError:
        return False
    finally:
        probe.close()
    return True
