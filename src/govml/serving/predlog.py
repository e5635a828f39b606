"""The prediction log: a bounded in-memory queue and a background thread writing Parquet.

Backpressure rule
-----------------
The queue holds at most ``capacity`` records (queued or being written). A request is
*admitted* only once room for all its records is reserved; it waits for room up to
``wait_ms`` and is otherwise answered 503 with ``Retry-After`` before the model is called.
An admitted request's records are queued before its 200 is sent, so **every acknowledged
prediction is in the queue**; nothing acknowledged is ever dropped. Only shadow copies
(never returned to anyone) are dropped when the queue is full, and counted.

Durability
----------
The writer thread writes what is queued every ``flush_seconds`` (or sooner, once a quarter
of the capacity is waiting), one file per partition, and writes everything left when the
log is closed (the gateway closes it on SIGTERM / shutdown after the last response). A
write that fails is retried; records are kept until written. Records still queued when the
process is killed outright (SIGKILL, power loss) are lost: at most ``flush_seconds`` worth.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import secrets
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pyarrow.parquet as pq

from govml.serving.logschema import Entry, entry_json, table_for

logger = logging.getLogger("govml.serving")

RETRY_SECONDS = 1.0
CLOSE_ATTEMPTS = 3


class PredictionLog:
    """Bounded queue of log entries, written to Parquet by one background thread.

    Parameters
    ----------
    root : Path
        The log folder.
    capacity : int
        Records held in memory at most (see the module's backpressure rule).
    flush_seconds : float
        Longest time an entry waits in memory before being written.
    """

    def __init__(self, root: Path, *, capacity: int, flush_seconds: float) -> None:
        self.root = root
        self.capacity = capacity
        self.flush_seconds = flush_seconds
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._pending: list[Entry] = []
        self._pending_records = 0
        self._used = 0  # reserved + queued + being written
        self._oldest = 0.0
        self._closing = False
        self._thread: threading.Thread | None = None
        self._sequence = 0
        self._tag = secrets.token_hex(3)
        self.written: dict[str, int] = defaultdict(int)
        self.dropped: dict[str, int] = defaultdict(int)
        self.write_errors = 0
        self.files = 0
        self.on_written: Callable[[str, int], None] | None = None
        # Called with (path under the log folder, "sha256:<hex>", rows) for each closed file.
        self.on_file: Callable[[str, str, int], None] | None = None

    # -- producer side (event loop) --------------------------------------------------------

    @property
    def depth(self) -> int:
        """Records reserved, queued or being written."""
        return self._used

    def reserve(self, records: int) -> bool:
        """Reserve room for ``records`` without waiting; False when the queue is full.

        A request larger than the whole capacity is admitted when the queue is empty, so
        that it can never wait forever.
        """
        with self._lock:
            if self._closing:
                return False
            if self._used + records <= self.capacity or self._used == 0:
                self._used += records
                return True
            return False

    async def admit(self, records: int, wait_ms: int) -> bool:
        """Reserve room for ``records``, waiting up to ``wait_ms``; False if there is none."""
        if self.reserve(records):
            return True
        deadline = time.monotonic() + wait_ms / 1000
        while time.monotonic() < deadline:
            await asyncio.sleep(0.005)
            if self.reserve(records):
                return True
        return False

    def release(self, records: int) -> None:
        """Give back a reservation that will not be used (the request failed)."""
        with self._lock:
            self._used -= records

    def put(self, entry: Entry) -> None:
        """Queue an entry whose records were reserved with `reserve` or `admit`."""
        with self._lock:
            self._queue(entry)

    def offer(self, entry: Entry, kind: str) -> bool:
        """Queue an entry if there is room now; otherwise drop it and count it under ``kind``.

        For records nobody was promised (shadow copies).
        """
        with self._lock:
            if not self._closing and self._used + entry.count <= self.capacity:
                self._used += entry.count
                self._queue(entry)
                return True
        self.dropped[kind] += entry.count
        return False

    def put_event(self, entry: Entry) -> None:
        """Queue an event (a few per hour), beyond the capacity if need be."""
        with self._lock:
            self._used += entry.count
            self._queue(entry)

    def _queue(self, entry: Entry) -> None:
        first = not self._pending
        if first:
            self._oldest = time.monotonic()
        self._pending.append(entry)
        self._pending_records += entry.count
        # Wake the writer to start the flush timer, or to write early once a quarter of the
        # capacity waits.
        if first or self._pending_records * 4 >= self.capacity:
            self._wake.notify()

    # -- writer thread ---------------------------------------------------------------------

    def start(self) -> None:
        """Start the writer thread."""
        self.root.mkdir(parents=True, exist_ok=True)
        self._thread = threading.Thread(target=self._run, name="govml-prediction-log", daemon=True)
        self._thread.start()

    @property
    def alive(self) -> bool:
        """Whether the writer thread is running."""
        return self._thread is not None and self._thread.is_alive()

    def close(self) -> None:
        """Write everything queued, then stop the writer thread."""
        with self._lock:
            self._closing = True
            self._wake.notify()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def _take(self) -> tuple[list[Entry], bool]:
        with self._lock:
            while True:
                if self._closing:
                    break
                if self._pending:
                    due = self._oldest + self.flush_seconds - time.monotonic()
                    if due <= 0 or self._pending_records * 4 >= self.capacity:
                        break
                    self._wake.wait(due)
                else:
                    self._wake.wait()
            taken, self._pending = self._pending, []
            self._pending_records = 0
            return taken, self._closing

    def _run(self) -> None:
        failures = 0
        while True:
            taken, closing = self._take()
            if taken:
                try:
                    self._write(taken)
                    failures = 0
                except Exception:  # keep the records and retry: an acknowledged one never goes
                    failures += 1
                    self.write_errors += 1
                    logger.exception("prediction log: writing %d entries failed", len(taken))
                    if closing and failures >= CLOSE_ATTEMPTS:
                        self._last_resort(taken)
                        return
                    with self._lock:
                        self._pending[:0] = taken
                        self._pending_records += sum(entry.count for entry in taken)
                    time.sleep(RETRY_SECONDS)
                    continue
            if closing:
                with self._lock:
                    if not self._pending:
                        return

    def _write(self, entries: list[Entry]) -> None:
        groups: dict[tuple[str, str], list[Entry]] = defaultdict(list)
        for entry in entries:
            groups[(type(entry).__name__, entry.partition())].append(entry)
        done: list[tuple[tuple[str, str], list[Entry]]] = []
        try:
            for key, group in groups.items():
                self._write_file(key[1], group)
                done.append((key, group))
        finally:
            for key, group in done:
                del groups[key]
                count = sum(entry.count for entry in group)
                kind = _kind(key[0])
                self.written[kind] += count
                with self._lock:
                    self._used -= count
                if self.on_written is not None:
                    self.on_written(kind, count)
            if groups:  # give the unwritten ones back to the caller, who retries them
                entries[:] = [entry for group in groups.values() for entry in group]

    def _write_file(self, partition: str, group: list[Entry]) -> None:
        folder = self.root / partition
        folder.mkdir(parents=True, exist_ok=True)
        self._sequence += 1
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
        name = f"part-{stamp}-{os.getpid()}-{self._tag}-{self._sequence:06d}.parquet"
        temporary = folder / f".{name}.tmp"
        table = table_for(group)
        pq.write_table(table, temporary, compression="zstd")
        digest = _sha256(temporary) if self.on_file is not None else ""
        temporary.replace(folder / name)
        self.files += 1
        if self.on_file is not None:
            self.on_file(f"{partition}/{name}", digest, table.num_rows)

    def _last_resort(self, entries: list[Entry]) -> None:
        """Keep records that could not be written as Parquet as JSON Lines next to the log."""
        path = self.root / f"unwritten-{os.getpid()}-{self._tag}.jsonl"
        with path.open("ab") as out:
            for entry in entries:
                for row in entry_json(entry):
                    out.write(orjson.dumps(row, default=str) + b"\n")
        logger.error("prediction log: %d entries kept as JSON Lines in %s", len(entries), path)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return "sha256:" + digest.hexdigest()


def _kind(class_name: str) -> str:
    return {"PredictionEntry": "prediction", "FeedbackEntry": "feedback"}.get(class_name, "event")
