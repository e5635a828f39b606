"""Which requests the gateway answered and which of their records are labelled, in bounded memory.

``/feedback`` takes labels only for decisions the gateway made, and one label per record unless
the key may correct labels. Every replica of a model writes its answers and labels to the same
prediction log, so the log is the truth; reading it for each label would not scale, so:

1. the requests this process answered, and the records it took labels for, are kept in
   memory, the newest ``recent`` of each (a label often follows its prediction soon, and
   these cover the seconds before the log's next flush);
2. the log's files of the last ``days`` days are indexed as they appear: a file is immutable
   once written, so it is read once (its ``request_id`` and ``record`` columns) into sorted
   arrays of 64-bit keyed hashes, of the requests with their record counts, or of the labelled
   ``(request id, record)`` pairs. The arrays of one day are merged as they grow (like a
   binary counter, so a day has at most a few dozen), and a lookup is a binary search in
   each: no request reads the log, and memory is 12 bytes per request and 8 per label.
   Together they hold at most ``index_entries``; beyond it the oldest days are dropped, and
   labels for them are refused as too old (the refusal says from when labels are taken).

The hash is Python's, keyed with a random secret per process, so nobody can craft a request id
that collides with one the gateway answered. A request answered by another replica is known
once that replica has written it (within its ``--flush-seconds``); a label sent to two replicas
at the same moment may be taken twice, and monitoring then uses the later one.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
from numpy.typing import NDArray

LIST_SECONDS = 1.0  # how long a listing of the log's files is reused


@dataclass(frozen=True)
class _Segment:
    """Sorted unique keys, with a record count per key for requests."""

    keys: NDArray[np.int64]
    counts: NDArray[np.int64] | None

    @property
    def size(self) -> int:
        return int(self.keys.size)

    def lookup(self, query: NDArray[np.int64]) -> NDArray[np.int64]:
        """Return each query key's count (1 for a label), 0 when absent."""
        if not self.keys.size:
            return np.zeros(query.size, dtype=np.int64)
        at = np.minimum(np.searchsorted(self.keys, query), self.keys.size - 1)
        hit = self.keys[at] == query
        found = np.ones(query.size, dtype=np.int64) if self.counts is None else self.counts[at]
        return np.where(hit, found, 0)


def _segment(keys: NDArray[np.int64], counts: NDArray[np.int64] | None) -> _Segment:
    """Sort and deduplicate keys (keeping the largest count of a key)."""
    if counts is None:
        return _Segment(np.unique(keys), None)
    order = np.argsort(keys, kind="stable")
    keys, counts = keys[order], counts[order]
    unique, starts = np.unique(keys, return_index=True)
    most = np.maximum.reduceat(counts, starts) if starts.size else counts
    return _Segment(unique, most)


def _merge(a: _Segment, b: _Segment) -> _Segment:
    counts = None if a.counts is None or b.counts is None else np.concatenate([a.counts, b.counts])
    return _segment(np.concatenate([a.keys, b.keys]), counts)


@dataclass
class _Day:
    """The indexed files of one day, as a few merged segments."""

    files: set[str] = field(default_factory=set)
    segments: list[_Segment] = field(default_factory=list)

    @property
    def size(self) -> int:
        return sum(s.size for s in self.segments)

    def add(self, segment: _Segment) -> None:
        self.segments.append(segment)
        while len(self.segments) > 1 and self.segments[-1].size * 2 >= self.segments[-2].size:
            last = self.segments.pop()
            self.segments[-1] = _merge(self.segments[-1], last)

    def lookup(self, query: NDArray[np.int64]) -> NDArray[np.int64]:
        found = np.zeros(query.size, dtype=np.int64)
        for segment in self.segments:
            found = np.maximum(found, segment.lookup(query))
        return found


class _Catalog:
    """The indexed files of one kind (predictions or labels), by day."""

    def __init__(self, *, labels: bool) -> None:
        self.labels = labels
        self.days: dict[date, _Day] = {}

    @property
    def size(self) -> int:
        return sum(day.size for day in self.days.values())

    def update(self, files: dict[date, list[str]], first: date) -> int:
        """Index the files not seen yet, drop days before ``first``; return files read."""
        for day in [d for d in self.days if d < first]:
            del self.days[day]
        read = 0
        for day, paths in files.items():
            if day < first:
                continue
            known = self.days.setdefault(day, _Day())
            new = [p for p in paths if p not in known.files]
            if not new:
                continue
            keys, counts = zip(*(_read(path, labels=self.labels) for path in new), strict=True)
            joined = None if self.labels else np.concatenate(counts)
            known.add(_segment(np.concatenate(keys), joined))
            known.files.update(new)
            read += len(new)
        return read

    def lookup(self, query: NDArray[np.int64]) -> NDArray[np.int64]:
        found = np.zeros(query.size, dtype=np.int64)
        for day in self.days.values():
            found = np.maximum(found, day.lookup(query))
        return found


@dataclass(frozen=True)
class Claim:
    """The outcome of asking to label records: which were labelled already."""

    labelled: list[bool]


class IssuedRequests:
    """Answers and labels of one model, from memory and the prediction log (module docstring).

    Parameters
    ----------
    root : Path
        The prediction log folder.
    model : str
        The model.
    recent : int
        Answers (and labels) of this process kept in memory.
    days : int
        Labels are taken for requests answered at most this many days ago.
    index_entries : int
        Entries of the log's indexes kept in memory together.
    clock : callable
        ``time.time``, for tests.
    """

    def __init__(
        self,
        root: Path,
        model: str,
        *,
        recent: int = 100_000,
        days: int = 30,
        index_entries: int = 10_000_000,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.base = root / f"model={model}"
        self.recent = recent
        self.days = days
        self.index_entries = index_entries
        self.clock = clock
        self._lock = threading.Lock()  # this process's answers and labels (event loop too)
        self._index_lock = threading.Lock()  # the catalogs (worker threads only)
        self._answered: OrderedDict[str, int] = OrderedDict()
        self._labelled: OrderedDict[tuple[str, int], None] = OrderedDict()
        self._predictions = _Catalog(labels=False)
        self._feedback = _Catalog(labels=True)
        self._listed_at = -1.0
        self.first_day: date | None = None
        self.files_read = 0

    # -- this process ----------------------------------------------------------------------

    def answered(self, request_id: str, count: int) -> None:
        """Remember that this process answered ``request_id`` with ``count`` records."""
        with self._lock:
            self._answered[request_id] = count
            self._answered.move_to_end(request_id)
            while len(self._answered) > self.recent:
                self._answered.popitem(last=False)

    # -- lookups (worker threads) ----------------------------------------------------------

    def counts(self, request_ids: Iterable[str]) -> dict[str, int]:
        """Return the record count of each request id answered (unknown ones left out)."""
        wanted = sorted(set(request_ids))
        found: dict[str, int] = {}
        with self._lock:
            for request_id in wanted:
                count = self._answered.get(request_id)
                if count is not None:
                    found[request_id] = count
        missing = [r for r in wanted if r not in found]
        if missing:
            query = np.fromiter((hash(r) for r in missing), dtype=np.int64, count=len(missing))
            with self._index_lock:
                self._refresh()
                counts = self._predictions.lookup(query)
            found.update(
                (r, int(n)) for r, n in zip(missing, counts.tolist(), strict=True) if n > 0
            )
        return found

    def claim(self, keys: Sequence[tuple[str, int]], *, correct: bool) -> Claim:
        """Say which of ``keys`` (request id, record) are labelled; mark them labelled.

        Nothing is marked when a key is labelled already and ``correct`` is False (the
        caller refuses the request); otherwise every key is marked, and the ones labelled
        before are the corrections.
        """
        query = np.fromiter((hash(k) for k in keys), dtype=np.int64, count=len(keys))
        with self._index_lock:
            self._refresh()
            on_disk = self._feedback.lookup(query) > 0
            with self._lock:
                labelled = [
                    key in self._labelled or bool(disk)
                    for key, disk in zip(keys, on_disk.tolist(), strict=True)
                ]
                if any(labelled) and not correct:
                    return Claim(labelled)
                for key in keys:
                    self._labelled[key] = None
                    self._labelled.move_to_end(key)
                while len(self._labelled) > self.recent:
                    self._labelled.popitem(last=False)
        return Claim(labelled)

    def release(self, keys: Sequence[tuple[str, int]]) -> None:
        """Forget labels claimed for a request that was not written after all."""
        with self._lock:
            for key in keys:
                self._labelled.pop(key, None)

    # -- the log's files -------------------------------------------------------------------

    def _refresh(self) -> None:
        """Index the log's new files (at most once per `LIST_SECONDS`); keep within bounds."""
        now = self.clock()
        if now - self._listed_at < LIST_SECONDS:
            return
        self._listed_at = now
        first = (datetime.fromtimestamp(now, UTC) - timedelta(days=self.days)).date()
        if self.first_day is not None and self.first_day > first:
            first = self.first_day  # days dropped for room stay dropped
        self.files_read += self._predictions.update(
            _by_day(self.base.glob("version=*"), first), first
        )
        self.files_read += self._feedback.update(_by_day([self.base / "feedback"], first), first)
        self.first_day = first
        catalogs = (self._predictions, self._feedback)
        days = sorted(set(self._predictions.days) | set(self._feedback.days))
        while sum(c.size for c in catalogs) > self.index_entries and len(days) > 1:
            day = days.pop(0)  # the oldest goes; the newest day stays, whatever its size
            for catalog in catalogs:
                catalog.days.pop(day, None)
            self.first_day = day + timedelta(days=1)


def _by_day(parts: Iterable[Path], first: date) -> dict[date, list[str]]:
    """Return the log files of the partitions ``parts`` dated ``first`` or later, by day."""
    found: dict[date, list[str]] = {}
    for part in parts:
        if not part.is_dir():
            continue
        for folder in part.glob("date=*"):
            try:
                day = date.fromisoformat(folder.name.removeprefix("date="))
            except ValueError:
                continue
            if day >= first:
                found.setdefault(day, []).extend(str(p) for p in folder.glob("part-*.parquet"))
    return found


def _read(path: str, *, labels: bool) -> tuple[NDArray[np.int64], NDArray[np.int64] | None]:
    """Return one log file's keys (and record counts): see the module docstring."""
    table = pq.read_table(path, columns=["request_id", "record"])
    ids = table.column("request_id").to_pylist()
    records = table.column("record").to_numpy(zero_copy_only=False).astype(np.int64)
    if labels:
        pairs = zip(ids, records.tolist(), strict=True)
        keys = np.fromiter((hash(pair) for pair in pairs), dtype=np.int64, count=len(ids))
        return keys, None
    keys = np.fromiter((hash(r) for r in ids), dtype=np.int64, count=len(ids))
    return keys, records + 1
