"""The one-pass check of stored ledger rows, over the whole ledger or one range of it.

This module imports nothing but the standard library, so that it also runs as a script
(``python -I scan.py``): a worker process that checks one range of the ledger in parallel
with others, without paying for importing govml. ``govml.ledger.rows`` documents the checks
and wraps them for the rest of govml; ``govml.store.ledger_check`` plans the ranges and
starts the workers.

A range ``[start, end)`` is checked exactly as the one pass over the whole ledger checks
those rows, starting from the frontier stored with the tree head at size ``start``. That
frontier is trusted only provisionally: the range before it checks that tree head against
the entries, so when every range passes, every tree head and every entry has been checked
against the entries before it, and when a range fails, the first failing range names the
same problem (with the same message) as the one pass would.

Worker protocol. The parent writes one JSON line, the task (how to connect, the statements
that open the transaction, the SQL of the range), and closes standard input. The worker
connects, opens its transaction, runs the task's ``probe`` query and writes
``{"ready": <its value>}``; from then on it reads the snapshot its transaction holds. It then
writes one last line: ``{"ok": {...}}``, ``{"problem": {"message", "seq"}}`` (a row that does
not pass) or ``{"error": "..."}`` (it could not do its work; the parent checks the range
itself).
"""

from __future__ import annotations

import hashlib
import importlib
import json
import json.encoder
import os
import selectors
import subprocess
import sys
import time as clock
from collections.abc import Generator, Iterable, Iterator, Sequence
from dataclasses import dataclass
from itertools import chain
from pathlib import Path
from typing import Any, Final

EntryRow = tuple[int, str, str, str, str, str, str]
"""seq, time, actor, action, subject, entry (the leaf data as text), leaf_hash (hex)."""

HeadRow = tuple[int, str, "str | Sequence[str]", str]
"""tree_size, root_hash (hex), frontier (its JSON text or the decoded list), created_at."""

_LEAF: Final = b"\x00"
_NODE: Final = b"\x01"
_EMPTY_ROOT: Final = hashlib.sha256(b"").digest()
_HEX_DIGITS: Final = frozenset("0123456789abcdef")

ERR_POSITION: Final = (
    "ledger entry {position} is missing or out of place (position {position} holds entry {seq})"
)
ERR_STORED_BYTES: Final = "ledger entry {seq}'s stored bytes do not match its leaf hash {stored}"
ERR_COLUMNS: Final = (
    "ledger entry {seq}: its query columns (seq, time, actor, action, subject) are not the "
    "entry's own fields"
)
ERR_HEAD_ORDER: Final = "tree head sizes are not increasing at size {size!r}"
ERR_HEAD_FRONTIER: Final = (
    "the tree head at size {size} does not match ledger entries 0 to {last}: an entry was "
    "rewritten along with its leaf hash, or the tree head was changed"
)
ERR_HEAD_ROOT: Final = "the tree head at size {size} has a root that is not the root of its tree"
ERR_HEAD_TIME: Final = (
    "the tree head at size {size} has time {created!r}, but its last entry {last} has {time!r}"
)
ERR_HEAD_MISSING: Final = (
    "the tree head at size {size} is missing: entries {before} and {size} were written by "
    "different transactions, and each transaction ends with a tree head"
)
ERR_TRUNCATED: Final = "the ledger has {entries} entries but a tree head covers {size}: {missing}"
ERR_PAST_HEAD: Final = (
    "ledger entries {first} to {last} come after the last tree head (size {first}): they were "
    "not written by govml"
)
ERR_START_HEAD: Final = "the tree head at size {size}, where a range of the check starts, is gone"

MAX_CACHED_STRINGS: Final = 4096
"""Encoded (action, actor) prefixes and subjects kept per pass; most ledgers have a few."""

READY_TIMEOUT: Final = 60.0
"""Seconds a worker may take to connect and open its snapshot before the parent gives up."""

_encode: Final = json.encoder.encode_basestring


class RowProblem(Exception):
    """A stored row that does not pass.

    Attributes
    ----------
    message
        What is wrong, naming the entry or tree head.
    seq
        The first entry that does not match, or None when no entry can be named.
    """

    def __init__(self, message: str, seq: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.seq = seq


@dataclass(frozen=True, slots=True)
class RangeResult:
    """What the check of one range covered.

    Attributes
    ----------
    end
        Size of the tree after the range (its last entry's seq + 1).
    entries
        Entries checked.
    heads
        Tree heads checked.
    root
        Root hash of the tree of ``end`` entries.
    """

    end: int
    entries: int
    heads: int
    root: bytes


def scan_range(
    entry_batches: Iterable[Sequence[EntryRow]],
    heads: Iterable[HeadRow],
    *,
    start: int = 0,
    frontier: Sequence[str] = (),
    end: int | None = None,
) -> RangeResult:
    """Check the entries from ``start`` and the tree heads after it, in one pass.

    Parameters
    ----------
    entry_batches
        Entry rows in order of ``seq``, in batches, beginning with the first row whose seq
        is at least ``start`` (all rows when ``start`` is 0). Rows after ``end`` are ignored.
    heads
        Tree head rows in order of size, beginning with the first one larger than ``start``.
        Heads after ``end`` are ignored.
    start
        Size of the tree before the range: 0, or the size of a stored tree head.
    frontier
        That tree head's frontier (hex, largest subtree first); empty when ``start`` is 0.
    end
        Size of a tree head where the range stops; None for the last range, which also
        checks that no tree head lies past the last entry and no entry past the last head.

    Returns
    -------
    RangeResult
        Where the range ended, what it checked and the root there.

    Raises
    ------
    RowProblem
        At the first row that does not pass.
    """
    sha256, leaf_prefix, node_prefix, encode = hashlib.sha256, _LEAF, _NODE, _encode
    # The frontier as ``0x01 || hash`` (ready to be a left child) and as hex (as stored).
    linked = [node_prefix + bytes.fromhex(text) for text in frontier]
    hexes = list(frontier)
    tip = linked[-1][1:] if linked else b""
    prefixes: dict[tuple[str, str], str] = {}
    subjects: dict[str, str] = {}
    head_rows: Iterator[HeadRow] = iter(heads)
    head = next(head_rows, None)
    next_size = _head_size(head, start)
    stop = -1 if end is None else end
    position = covered = start
    checked_heads = 0
    last_time: object = None
    time_json = ""
    for batch in entry_batches:
        for seq, time, actor, action, subject, text, stored in batch:
            # 1. Entry numbers are contiguous.
            if seq != position:
                raise RowProblem(ERR_POSITION.format(position=position, seq=seq), position)
            # 2. The stored bytes hash to the stored leaf hash.
            try:
                digest = sha256(leaf_prefix + text.encode()).digest()
            except (UnicodeEncodeError, AttributeError):  # not text, or not valid Unicode
                digest = b""
            digest_hex = digest.hex()
            if digest_hex != stored or not digest:
                raise RowProblem(
                    ERR_STORED_BYTES.format(seq=seq, stored=str(stored)[:16] + "…"), seq
                )
            # 3. The query columns are the entry's fields (canonical key order: action, actor,
            #    payload, seq, subject, time), and the payload is delimited as an object.
            try:
                prefix = prefixes.get((action, actor))
                if prefix is None:
                    prefix = f'{{"action":{encode(action)},"actor":{encode(actor)},"payload":{{'
                    if len(prefixes) < MAX_CACHED_STRINGS:
                        prefixes[action, actor] = prefix
                subject_json = subjects.get(subject)
                if subject_json is None:
                    subject_json = encode(subject)
                    if len(subjects) < MAX_CACHED_STRINGS:
                        subjects[subject] = subject_json
                new_time = time != last_time
                if new_time:
                    time_json = encode(time)
            except TypeError:  # a column that is not text
                raise RowProblem(ERR_COLUMNS.format(seq=seq), seq) from None
            suffix = f'}},"seq":{seq},"subject":{subject_json},"time":{time_json}}}'
            # The suffix must start after the prefix ends: ``endswith`` from that position.
            if not text.startswith(prefix) or not text.endswith(suffix, len(prefix)):
                raise RowProblem(ERR_COLUMNS.format(seq=seq), seq)
            # A transaction's entries share its time (now known to be the entry's own) and
            # each transaction ends with a tree head: where the time changes, a tree head
            # must close the entries before.
            if new_time:
                if position != covered:
                    raise RowProblem(ERR_HEAD_MISSING.format(size=position, before=position - 1))
                last_time = time
            # Append the leaf to the frontier, merging completed subtrees (binary carry).
            if position & 1:
                tip = sha256(linked.pop() + digest).digest()
                hexes.pop()
                carry = position >> 1
                while carry & 1:
                    tip = sha256(linked.pop() + tip).digest()
                    hexes.pop()
                    carry >>= 1
                linked.append(node_prefix + tip)
                hexes.append(tip.hex())
            else:
                tip = digest
                linked.append(node_prefix + digest)
                hexes.append(digest_hex)
            position += 1
            # 4. The tree heads of this size.
            if position == next_size:
                assert head is not None
                size, root, stored_frontier, created = head
                # Text exactly as govml writes it (json.dumps): another spelling of the same
                # list is a changed row too. Only a driver that decodes JSON itself gives a list.
                if stored_frontier != '["' + '", "'.join(hexes) + '"]' and (
                    isinstance(stored_frontier, str) or stored_frontier != hexes
                ):
                    raise RowProblem(ERR_HEAD_FRONTIER.format(size=size, last=size - 1))
                # The root: the frontier folded from its smallest subtree up.
                folded = tip
                for left in linked[-2::-1]:
                    folded = sha256(left + folded).digest()
                if folded.hex() != root:
                    raise RowProblem(ERR_HEAD_ROOT.format(size=size))
                if created != time:
                    raise RowProblem(
                        ERR_HEAD_TIME.format(size=size, created=created, last=size - 1, time=time)
                    )
                checked_heads += 1
                covered = position
                if position == stop:
                    return RangeResult(position, position - start, checked_heads, folded)
                head = next(head_rows, None)
                if head is None:
                    next_size = -1
                else:
                    next_size = head[0]
                    if type(next_size) is not int or next_size <= position:
                        raise RowProblem(ERR_HEAD_ORDER.format(size=next_size))
    # 5. Nothing beyond: no tree head past the last entry, no entry past the last tree head.
    if head is not None:
        _raise_truncated(position, head[0])
    if position != covered:
        raise RowProblem(ERR_PAST_HEAD.format(first=covered, last=position - 1), covered)
    return RangeResult(position, position - start, checked_heads, _fold(linked, tip))


def _head_size(head: HeadRow | None, after: int) -> int:
    """Return the size of the next tree head, which must be larger than ``after``."""
    if head is None:
        return -1
    size = head[0]
    if type(size) is not int or size <= after:
        raise RowProblem(ERR_HEAD_ORDER.format(size=size))
    return size


def _raise_truncated(entries: int, size: int) -> None:
    missing = (
        f"entry {entries} is missing"
        if size - 1 == entries
        else f"entries {entries} to {size - 1} are missing"
    )
    raise RowProblem(ERR_TRUNCATED.format(entries=entries, size=size, missing=missing), entries)


def _fold(linked: list[bytes], tip: bytes) -> bytes:
    if not linked:
        return _EMPTY_ROOT
    root = tip
    for left in linked[-2::-1]:
        root = hashlib.sha256(left + root).digest()
    return root


def parse_frontier(size: int, stored: object) -> list[str]:
    """Return a stored frontier as the list of hex hashes a range starts from.

    Raises
    ------
    RowProblem
        If it is not one lowercase hex SHA-256 per set bit of ``size`` (the range before
        this tree head names the problem first, so this is never the error reported).
    """
    try:
        hashes = json.loads(stored) if isinstance(stored, str) else stored
    except ValueError:
        hashes = None
    if (
        not isinstance(hashes, list)
        or len(hashes) != size.bit_count()
        or not all(isinstance(h, str) and len(h) == 64 and set(h) <= _HEX_DIGITS for h in hashes)
    ):
        raise RowProblem(ERR_HEAD_FRONTIER.format(size=size, last=size - 1))
    return hashes


# -- worker processes -----------------------------------------------------------------------


class Worker:
    """A process checking one range of the ledger (this file run as a script).

    Parameters
    ----------
    task
        What ``run_task`` needs: ``driver`` (module name), ``connect`` (keyword arguments
        of its ``connect``), ``setup`` (statements opening the transaction), ``probe`` (the
        first query, whose value is reported when the snapshot is open), ``named_cursor``,
        ``batch_rows``, ``start``, ``end``, ``start_head_sql``, ``entries_sql``,
        ``heads_sql``.

    Raises
    ------
    OSError
        If the process cannot be started.
    """

    def __init__(self, task: dict[str, Any]) -> None:
        self._process = subprocess.Popen(  # noqa: S603 - this interpreter and this file
            [sys.executable, "-I", str(Path(__file__).resolve())],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        assert self._process.stdin is not None
        try:
            self._process.stdin.write(json.dumps(task).encode() + b"\n")
            self._process.stdin.close()
        except OSError:
            self.stop()
            raise

    def ready(self, deadline: float) -> object:
        """Wait until the worker holds its snapshot; return its probe value.

        Raises
        ------
        RuntimeError
            If it fails, dies or is not ready by ``deadline`` (``time.monotonic``).
        """
        message = self._read(deadline)
        if "ready" not in message:
            raise RuntimeError(str(message.get("error", message)))
        return message["ready"]

    def result(self) -> RangeResult:
        """Wait for the check of the range and return it.

        Raises
        ------
        RowProblem
            If the range does not pass.
        RuntimeError
            If the worker could not check it.
        """
        message = self._read(None)
        self.stop()
        try:
            if "ok" in message:
                ok = message["ok"]
                return RangeResult(
                    int(ok["end"]), int(ok["entries"]), int(ok["heads"]), bytes.fromhex(ok["root"])
                )
            if "problem" in message:
                problem = message["problem"]
                seq = problem["seq"]
                raise RowProblem(str(problem["message"]), None if seq is None else int(seq))
        except (KeyError, TypeError, ValueError):
            raise RuntimeError(f"the worker answered {message!r}") from None
        raise RuntimeError(str(message.get("error", message)))

    def stop(self) -> None:
        """End the process (if it still runs) and release its pipes."""
        if self._process.poll() is None:
            self._process.kill()
        self._process.wait()
        if self._process.stdout is not None:
            self._process.stdout.close()

    def _read(self, deadline: float | None) -> dict[str, Any]:
        stdout = self._process.stdout
        assert stdout is not None
        if deadline is not None:
            with selectors.DefaultSelector() as selector:
                selector.register(stdout, selectors.EVENT_READ)
                if not selector.select(max(0.0, deadline - clock.monotonic())):
                    self.stop()
                    raise RuntimeError("the worker did not open its snapshot in time")
        line = stdout.readline()
        try:
            message = json.loads(line)
        except ValueError:
            message = None
        if not isinstance(message, dict):
            self.stop()
            raise RuntimeError(f"the worker ended without an answer (exit {self._process.poll()})")
        return message


def can_start_workers() -> bool:
    """Return True if worker processes can run here.

    That needs a POSIX system, a Python interpreter to start (not a frozen application) and
    this file on disk.
    """
    return (
        os.name == "posix"
        and bool(sys.executable)
        and not getattr(sys, "frozen", False)
        and Path(__file__).is_file()
    )


def run_task(task: dict[str, Any], report: Any) -> dict[str, Any]:
    """Connect as the task says, report the probe through ``report``, check the range.

    Returns
    -------
    dict
        The last message: ``ok``, ``problem`` or ``error``.
    """
    driver = importlib.import_module(str(task["driver"]))
    connection = driver.connect(**task["connect"])
    try:
        cursor = connection.cursor()
        for statement in task["setup"]:
            cursor.execute(statement)
        cursor.execute(task["probe"])
        probe = cursor.fetchone()
        report({"ready": None if probe is None else probe[0]})
        start, end = int(task["start"]), task["end"]
        frontier: list[str] = []
        if start:
            cursor.execute(task["start_head_sql"])
            row = cursor.fetchone()
            if row is None:
                return {"problem": {"message": ERR_START_HEAD.format(size=start), "seq": None}}
            frontier = parse_frontier(start, row[0])
        cursor.close()
        batch_rows = int(task["batch_rows"])
        named = bool(task["named_cursor"])
        entries = _batches(connection, task["entries_sql"], "govml_entries", named, batch_rows)
        heads = _batches(connection, task["heads_sql"], "govml_heads", named, batch_rows)
        try:
            found = scan_range(
                entries, chain.from_iterable(heads), start=start, frontier=frontier, end=end
            )
        finally:
            entries.close()
            heads.close()
    except RowProblem as problem:
        return {"problem": {"message": problem.message, "seq": problem.seq}}
    finally:
        connection.close()
    return {
        "ok": {
            "end": found.end,
            "entries": found.entries,
            "heads": found.heads,
            "root": found.root.hex(),
        }
    }


def _batches(
    connection: Any, sql: str, name: str, named: bool, rows: int
) -> Generator[list[Any], None, None]:
    """Yield the rows of a query in batches (a server-side cursor when ``named``)."""
    cursor = connection.cursor(name=name) if named else connection.cursor()
    try:
        cursor.execute(sql)
        while batch := cursor.fetchmany(rows):
            yield batch
    finally:
        cursor.close()


def _main() -> None:
    """Worker entry point: read the task from standard input, write messages to stdout."""

    def report(message: dict[str, Any]) -> None:
        sys.stdout.write(json.dumps(message) + "\n")
        sys.stdout.flush()

    try:
        task = json.loads(sys.stdin.readline())
        last = run_task(task, report)
    except Exception as error:  # whatever it is, the parent checks this range itself
        last = {"error": f"{type(error).__name__}: {error}"}
    report(last)


if __name__ == "__main__":
    _main()
