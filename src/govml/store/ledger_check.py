"""The one-pass check of the stored ledger rows, split over worker processes when large.

Verification reads millions of rows, so `RowCheck`, `head_rows` and `row_batches` read
through the database driver's own cursor (server-side on PostgreSQL) instead of building
SQLAlchemy rows, and `RowCheck` splits a large ledger at tree heads into ranges checked by
parallel processes that read the same database snapshot (`govml.ledger.scan`). Tree heads,
signed notes and keys are in `govml.store.checkpoints`.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
import time
from collections.abc import Generator
from contextlib import closing
from dataclasses import dataclass
from itertools import chain
from typing import Any, Final

from sqlalchemy.engine import Connection

from govml.errors import LedgerVerificationError
from govml.ledger.rows import HeadRow
from govml.ledger.scan import (
    ERR_START_HEAD,
    READY_TIMEOUT,
    RangeResult,
    RowProblem,
    Worker,
    can_start_workers,
    parse_frontier,
    scan_range,
)
from govml.ledger.verify import VerifyReport

BATCH_ROWS: Final = 10_000
PARALLEL_MIN_ENTRIES: Final = 100_000
"""Smallest ledger whose check `verify_rows` splits over processes."""
MAX_PROCESSES: Final = 8
HEAD_WEIGHT: Final = 1.8
"""Checking a tree head (reading its frontier, folding it into its root) costs 1.8 entries'."""
DENSITY_SAMPLE: Final = 10_000
"""The ledger's mix of entries and tree heads is taken from its last this many entries."""
MIN_FIRST_SHARE: Final = 0.02
"""The range this process checks is at least this share of the ledger."""

_ENTRY_SQL: Final = (
    "SELECT seq, time, actor, action, subject, entry, leaf_hash FROM ledger_entries{where} "
    "ORDER BY seq{limit}"
)
# The frontier as text on PostgreSQL (whose driver would decode JSON); SQLite stores text.
_HEAD_SQL: Final = (
    "SELECT tree_size, root_hash, {frontier}, created_at FROM ledger_checkpoints{where} "
    "ORDER BY tree_size"
)
_START_HEAD_SQL: Final = "SELECT {frontier} FROM ledger_checkpoints WHERE tree_size = {size:d}"
_MAX_HEAD_SQL: Final = "SELECT max(tree_size) FROM ledger_checkpoints"
_HEAD_BELOW_SQL: Final = "SELECT max(tree_size) FROM ledger_checkpoints WHERE tree_size <= {at:d}"
_RECENT_HEADS_SQL: Final = "SELECT count(*) FROM ledger_checkpoints WHERE tree_size > {after:d}"
_PG_SNAPSHOT: Final = re.compile(r"[0-9A-Fa-f-]+")


def head_rows(conn: Connection) -> Generator[HeadRow, None, None]:
    """Yield every tree head (size, root, frontier JSON text, time), in order of size."""
    for batch in row_batches(conn, _head_sql(conn.dialect.name, 0, None), "govml_heads"):
        yield from batch


def reference_heads(conn: Connection) -> list[tuple[int, str, object]]:
    """Return every tree head as (size, root hex, decoded frontier or its raw text)."""
    found: list[tuple[int, str, object]] = []
    for size, root, text, _ in head_rows(conn):
        frontier: object = text
        if isinstance(text, str):
            try:
                frontier = json.loads(text)
            except ValueError:
                frontier = text
        found.append((size, root, frontier))
    return found


def verify_rows(conn: Connection, *, processes: int | None = None) -> VerifyReport:
    """Check every stored ledger row in one pass (see `govml.ledger.rows`), in parallel.

    Shorthand for `RowCheck`: start it, check this process's range, wait for the others.

    Raises
    ------
    LedgerVerificationError
        At the first row (in storage order) that does not pass, as the one pass names it.
    """
    with RowCheck(conn, processes=processes) as check:
        check.check_here()
        return check.finish()


class RowCheck:
    """The one-pass check of the stored ledger rows, split over processes when large.

    A ledger of at least `PARALLEL_MIN_ENTRIES` entries is cut at tree heads into one range
    per process. Worker processes (`govml.ledger.scan`) check every range but the first from
    the moment the check is created; `check_here` checks the first range in this process,
    which can do other work before `finish` waits for the workers: its range is then smaller
    than theirs by that work (``meanwhile``). Each range starts from the frontier
    stored with the tree head where it begins, which the range before checks, so the ranges
    together check exactly what the one pass checks and name the same first problem.

    Every worker reads the snapshot that ``conn`` reads. On PostgreSQL it imports the
    snapshot this transaction exports (``conn`` must be in REPEATABLE READ, see
    `use_snapshot`); on SQLite the write lock is held from before this transaction's first
    read until every worker has opened its own, so that no commit falls in between (writers
    wait that long: the time to start the workers, some tens of milliseconds). A worker that
    cannot start or does not answer is replaced by checking its range in this process.
    Small ledgers, other drivers and systems without worker processes get the one pass in
    this process.

    The check must start before the transaction of ``conn`` reads anything.

    Parameters
    ----------
    conn
        A connection in a read transaction that has not read anything yet.
    processes
        How many processes share the work; default: the CPUs this process may use (at
        most `MAX_PROCESSES`). 1 checks everything in this process.
    meanwhile
        The other work this process does while the workers check, as the number of
        entries (without tree heads) whose check costs as much; its range is shortened so
        that it finishes with the workers.
    """

    def __init__(
        self, conn: Connection, *, processes: int | None = None, meanwhile: int = 0
    ) -> None:
        self._conn = conn
        count = _process_count(processes)
        ranges = None
        if count > 1 and can_start_workers():
            ranges = _start_ranges(conn, count, meanwhile)
        self._ranges = ranges or [_Range(start=0, end=None)]
        self._found: list[RangeResult] = []
        self._problem: RowProblem | None = None

    def check_here(self) -> bool:
        """Check this process's range (the whole ledger when it is not split).

        Returns
        -------
        bool
            False if that range does not pass: `finish` then raises at once.
        """
        if self._found or self._problem is not None:
            return self._problem is None
        first = self._ranges[0]
        try:
            self._found.append(_check_range(self._conn, first.start, first.end))
        except RowProblem as problem:
            self._problem = problem
            self.close()
        return self._problem is None

    def finish(self) -> VerifyReport:
        """Wait for every range to be checked and return what the check covered.

        Raises
        ------
        LedgerVerificationError
            At the first row (in storage order) that does not pass.
        """
        self.check_here()
        try:
            if self._problem is not None:
                raise self._problem
            for part in self._ranges[len(self._found) :]:
                result = None
                if part.worker is not None:
                    try:
                        result = part.worker.result()
                    except RuntimeError:  # the worker could not do it: do it here
                        result = None
                self._found.append(result or _check_range(self._conn, part.start, part.end))
        except RowProblem as problem:
            raise LedgerVerificationError(problem.message, seq=problem.seq) from None
        finally:
            self.close()
        found = self._found
        return VerifyReport(
            entries=sum(result.entries for result in found),
            checkpoints=sum(result.heads for result in found),
            tree_size=found[-1].end,
            root_hex=found[-1].root.hex(),
        )

    def close(self) -> None:
        """Stop the workers that still run."""
        for part in self._ranges:
            if part.worker is not None:
                part.worker.stop()

    def __enter__(self) -> RowCheck:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


@dataclass(kw_only=True)
class _Range:
    """Entries ``start`` to ``end - 1`` and the tree heads of sizes ``start + 1`` to ``end``."""

    start: int
    end: int | None
    worker: Worker | None = None


def _process_count(processes: int | None) -> int:
    if processes is not None:
        return max(1, processes)
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        usable = os.cpu_count() or 1
    return min(usable, MAX_PROCESSES)


def _start_ranges(conn: Connection, count: int, meanwhile: int) -> list[_Range] | None:
    """Cut the ledger into ranges and start a worker on each but the first.

    Returns None (check it in one pass here) when the ledger is small or the database does
    not let workers share this transaction's snapshot.
    """
    if conn.dialect.name == "sqlite":
        path = conn.engine.url.database
        if not path:
            return None
        # Without the lock first: most ledgers are too small to split.
        with closing(sqlite3.connect(path, timeout=60, isolation_level=None)) as hold:
            size = hold.execute(_MAX_HEAD_SQL).fetchone()[0]
            if not isinstance(size, int) or size < PARALLEL_MIN_ENTRIES:
                return None
            try:
                hold.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError:  # a writer held the lock all the while
                return None
            try:
                task = {
                    "driver": "sqlite3",
                    "connect": {"database": path, "timeout": 60, "isolation_level": None},
                    "setup": ["BEGIN"],
                    "named_cursor": False,
                }
                return _plan(conn, count, meanwhile, task)
            finally:
                hold.execute("ROLLBACK")
    if conn.dialect.name == "postgresql" and conn.dialect.driver == "psycopg":
        isolation = conn.exec_driver_sql("SHOW transaction_isolation").scalar()
        if isolation not in ("repeatable read", "serializable"):
            return None
        size = conn.exec_driver_sql(_MAX_HEAD_SQL).scalar()
        if not isinstance(size, int) or size < PARALLEL_MIN_ENTRIES:
            return None
        if conn.exec_driver_sql("SELECT pg_is_in_recovery()").scalar():
            return None  # a standby cannot export its snapshot
        snapshot = str(conn.exec_driver_sql("SELECT pg_export_snapshot()").scalar())
        if _PG_SNAPSHOT.fullmatch(snapshot) is None:
            return None
        url = conn.engine.url.set(drivername="postgresql")
        task = {
            "driver": "psycopg",
            "connect": {"conninfo": url.render_as_string(hide_password=False)},
            "setup": [
                "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY",
                f"SET TRANSACTION SNAPSHOT '{snapshot}'",
            ],
            "named_cursor": True,
        }
        return _plan(conn, count, meanwhile, task)
    return None


def _plan(
    conn: Connection, count: int, meanwhile: int, task: dict[str, Any]
) -> list[_Range] | None:
    """Cut the ledger at tree heads; start the workers and wait until they hold the snapshot.

    Every process gets the same work: the first range is shorter by this process's other
    work (``meanwhile`` entries' worth, in entries of the ledger's own mix of entries and
    tree heads, which the last `DENSITY_SAMPLE` entries give); the others share the rest.
    """
    size = conn.exec_driver_sql(_MAX_HEAD_SQL).scalar()  # this transaction's snapshot
    if not isinstance(size, int) or size < PARALLEL_MIN_ENTRIES:
        return None
    heads = conn.exec_driver_sql(_RECENT_HEADS_SQL.format(after=size - DENSITY_SAMPLE)).scalar()
    per_entry = 1.0 + HEAD_WEIGHT * (heads or 0) / DENSITY_SAMPLE
    first = max(MIN_FIRST_SHARE, (1.0 - (count - 1) * meanwhile / per_entry / size) / count)
    targets = [first + (1 - first) * share / (count - 1) for share in range(count - 1)]
    cuts: list[int] = []
    for target in targets:
        cut = conn.exec_driver_sql(_HEAD_BELOW_SQL.format(at=int(size * target))).scalar()
        if isinstance(cut, int) and (cuts[-1] if cuts else 0) < cut < size:
            cuts.append(cut)
    if not cuts:
        return None
    ranges = [
        _Range(start=start, end=end) for start, end in zip([0, *cuts], [*cuts, None], strict=True)
    ]
    dialect = conn.dialect.name
    try:
        for part in ranges[1:]:
            part.worker = _start_worker(task, part, dialect)
        deadline = time.monotonic() + READY_TIMEOUT
        for part in ranges[1:]:
            if part.worker is None:
                continue
            try:
                same = part.worker.ready(deadline) == size
            except RuntimeError:
                same = False
            if not same:  # not the same snapshot after all, or no worker: check it here
                part.worker.stop()
                part.worker = None
    except BaseException:
        for part in ranges:
            if part.worker is not None:
                part.worker.stop()
        raise
    return ranges


def _start_worker(task: dict[str, Any], part: _Range, dialect: str) -> Worker | None:
    """Start the worker of one range; None if no process can be started."""
    try:
        return Worker(
            {
                **task,
                "probe": _MAX_HEAD_SQL,
                "batch_rows": BATCH_ROWS,
                "start": part.start,
                "end": part.end,
                "start_head_sql": _START_HEAD_SQL.format(
                    frontier=_frontier_column(dialect), size=part.start
                ),
                "entries_sql": _entry_sql(part.start, part.end),
                "heads_sql": _head_sql(dialect, part.start, part.end),
            }
        )
    except OSError:
        return None


def _check_range(conn: Connection, start: int, end: int | None) -> RangeResult:
    """Check one range in this process, on the snapshot of ``conn``."""
    dialect = conn.dialect.name
    frontier: list[str] = []
    if start:
        row = conn.exec_driver_sql(
            _START_HEAD_SQL.format(frontier=_frontier_column(dialect), size=start)
        ).first()
        if row is None:
            raise RowProblem(ERR_START_HEAD.format(size=start))
        frontier = parse_frontier(start, row[0])
    entries = row_batches(conn, _entry_sql(start, end), "govml_range_entries")
    heads = row_batches(conn, _head_sql(dialect, start, end), "govml_range_heads")
    with closing(entries), closing(heads):
        return scan_range(
            entries,
            chain.from_iterable(heads),
            start=start,
            frontier=frontier,
            end=end,
        )


def _frontier_column(dialect: str) -> str:
    return "CAST(frontier AS TEXT)" if dialect == "postgresql" else "frontier"


def _entry_sql(start: int, end: int | None) -> str:
    """Entries from ``start`` (all from the first when 0), as many as the range holds.

    A range reads no further than its own rows: a missing row shows as the next one being
    out of place, within the range.
    """
    where = f" WHERE seq >= {start:d}" if start else ""
    limit = "" if end is None else f" LIMIT {end - start:d}"
    return _ENTRY_SQL.format(where=where, limit=limit)


def _head_sql(dialect: str, start: int, end: int | None) -> str:
    """Tree heads larger than ``start`` (all when 0) up to ``end`` (all when None)."""
    bounds = [f"tree_size > {start:d}"] if start else []
    if end is not None:
        bounds.append(f"tree_size <= {end:d}")
    where = " WHERE " + " AND ".join(bounds) if bounds else ""
    return _HEAD_SQL.format(frontier=_frontier_column(dialect), where=where)


def row_batches(conn: Connection, sql: str, name: str) -> Generator[list[Any], None, None]:
    """Yield the rows of ``sql`` in lists of `BATCH_ROWS`, read through the driver's cursor."""
    raw = conn.connection.driver_connection
    assert raw is not None
    # A named cursor is server-side on PostgreSQL: rows arrive batch by batch.
    cursor = raw.cursor(name=name) if conn.dialect.name == "postgresql" else raw.cursor()
    try:
        cursor.execute(sql)
        while batch := cursor.fetchmany(BATCH_ROWS):
            yield batch
    finally:
        cursor.close()
