"""Ledger speed: append rate, `audit verify` on 1,000,000 entries, proofs at that size.

Usage::

    .venv/bin/python benchmarks/bench_ledger.py                      # everything below
    .venv/bin/python benchmarks/bench_ledger.py --backends sqlite --entries 1000000
    .venv/bin/python benchmarks/bench_ledger.py --reference          # also the decoding verifier

Append rate: entries per second through `store.ledger.append` in `Store.write()` (the path
every governance operation takes: serialised write transaction, entries + tree head), one
entry per transaction and 1,000 per transaction, on SQLite (WAL) and PostgreSQL.

`audit verify`: `Client.verify_ledger()` end to end (the check of the stored rows, split
over the CPUs; the stored signed checkpoints; the records replay) on a ledger of N entries of
a realistic mix (evaluations, approvals, promotions, monitoring windows; 240 bytes on
average). The ledger is written straight into the tables by a bulk loader (exactly the bytes,
leaf hashes and tree heads `append` writes), so that a million entries take seconds to
prepare. Two shapes: one tree head per entry (every entry its own write transaction, the
worst case: a million tree heads, each one's root recomputed from its frontier) and one tree
head per 1,000 entries (bulk imports). Each figure is the median of three runs in a fresh
process, which also reports its peak memory (VmHWM) above the idle client and the largest
worker process. In the same run, on the same ledger:

- `audit verify` with the process pinned to one CPU: the one-pass check in one process, as
  `audit verify` ran before the check was split (and as it runs on a one-CPU machine);
- a plain recompute with the reference `MerkleTree` (`govml.ledger.tree`): read every row,
  hash every entry, build the whole tree from the leaf hashes, compare every tree head with
  `tree.root(size)`; no query-column or time checks, so it does less than `audit verify`;
- with ``--reference``, the decoding verifier (`ledger.verify.verify_ledger`: parse every
  entry, re-encode it, hash it), which the store runs to name the first bad entry.

Proofs on the N-entry ledger with one tree head per entry: an inclusion proof and a
consistency proof from the tree heads' frontiers, as `audit proof` and `audit verify
--checkpoint` build them (p50 over random entries and random older tree heads), `audit proof
SEQ` end to end (signed bundle, verified before it is returned), and as anchors the
reference `MerkleTree` (build once, then each proof) and the RFC 6962 recursion of
`ledger.merkle` (which hashes every leaf for each proof).

Results: see benchmarks/README.md ("Ledger").
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import psutil
import sqlalchemy as sa
from rich.console import Console
from rich.table import Table

import govml
from govml.ledger.canonical import entry_bytes
from govml.ledger.merkle import Frontier, inclusion_proof, leaf_hash, verify_inclusion
from govml.ledger.tree import MerkleTree, consistency_path, inclusion_path
from govml.ledger.verify import CheckpointRecord, EntryRecord, verify_ledger
from govml.store.checkpoints import StoredBlocks, read_tree
from govml.store.ledger import NewEntry, append, format_time, latest_tree_head

PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
console = Console(width=130)

_INSERT_ENTRIES = (
    "INSERT INTO ledger_entries (seq, time, actor, action, subject, entry, leaf_hash) "
    "VALUES (?, ?, ?, ?, ?, ?, ?)"
)
_INSERT_HEADS = (
    "INSERT INTO ledger_checkpoints (tree_size, root_hash, frontier, created_at) "
    "VALUES (?, ?, ?, ?)"
)
_COPY_ENTRIES = (
    "COPY ledger_entries (seq, time, actor, action, subject, entry, leaf_hash) FROM STDIN"
)
_COPY_HEADS = "COPY ledger_checkpoints (tree_size, root_hash, frontier, created_at) FROM STDIN"


@contextmanager
def store(backend: str) -> Iterator[tuple[govml.Client, str, Path]]:
    """A fresh, initialised store (SQLite file or PostgreSQL database), removed afterwards."""
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        admin, name = None, ""
        if backend == "sqlite":
            url = f"sqlite:///{home / 'govml.db'}"
        else:
            name = f"govml_bench_{uuid.uuid4().hex[:8]}"
            admin = sa.create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
            url = PG_ADMIN.rsplit("/", 1)[0] + "/" + name
        client = govml.connect(home, database_url=url, user="bench", create=True)
        client.init()
        try:
            yield client, url, home
        finally:
            client.close()
            if admin is not None:
                with admin.connect() as conn:
                    conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
                admin.dispose()


def event(seq: int) -> tuple[str, str, dict[str, Any]]:
    """A governance event of the mix: evaluation, approval, promotion, monitoring window.

    The action names are not those the records replay reads (``evaluation.recorded``,
    ``version.approved``, ...): these entries have no records behind them.
    """
    model = f"model/m{seq % 97}"
    kind = seq % 4
    if kind == 0:
        digest = f"{seq:064x}"
        return (
            "gate.evaluated",
            f"{model}/versions/{seq % 13 + 1}",
            {"policy_digest": "sha256:" + digest, "decision": "pass", "checks": 12, "failed": 0},
        )
    if kind == 1:
        return (
            "approval.noted",
            f"{model}/versions/{seq % 13 + 1}",
            {"approver": "carol", "role": "risk_officer", "decision": "approve", "comment": "ok"},
        )
    if kind == 2:
        return (
            "version.promoted",
            model,
            {"version": seq % 13 + 1, "alias": "production", "previous": seq % 13, "reason": ""},
        )
    return (
        "monitoring.window",
        model,
        {"window": "2026-05-01", "psi": {"age": 0.012, "income": 0.2}, "alerts": [], "rows": 10000},
    )


def fill(client: govml.Client, total: int, per_head: int) -> None:
    """Write entries up to ``total`` straight into the tables, a tree head per ``per_head``.

    The rows are what `store.ledger.append` writes (canonical entry bytes, leaf hash, tree
    heads with root and frontier), inserted through the driver in large write transactions.
    """
    with client.ctx.store.read() as conn:
        head = latest_tree_head(conn)
    assert head is not None
    first = head.tree_size
    frontier = Frontier.from_json(head.tree_size, head.frontier)
    start = datetime.now(UTC)
    entries: list[tuple[Any, ...]] = []
    heads: list[tuple[Any, ...]] = []
    when = format_time(start)
    while frontier.size < total:
        seq = frontier.size
        if (seq - first) % per_head == 0:
            when = format_time(start + timedelta(microseconds=(seq - first) // per_head + 1))
        action, subject, payload = event(seq)
        data = entry_bytes(
            seq=seq, time=when, actor="bench", action=action, subject=subject, payload=payload
        )
        digest = leaf_hash(data)
        frontier.append(digest)
        entries.append((seq, when, "bench", action, subject, data.decode(), digest.hex()))
        if (frontier.size - first) % per_head == 0 or frontier.size == total:
            heads.append(
                (frontier.size, frontier.root().hex(), json.dumps(frontier.to_json()), when)
            )
        if len(entries) >= 100_000 or frontier.size == total:
            _write_rows(client, entries, heads)
            entries, heads = [], []


def _write_rows(client: govml.Client, entries: list[Any], heads: list[Any]) -> None:
    with client.ctx.store.write() as conn:
        raw: Any = conn.connection.driver_connection
        if client.ctx.store.dialect == "sqlite":
            cursor = raw.cursor()
            cursor.executemany(_INSERT_ENTRIES, entries)
            cursor.executemany(_INSERT_HEADS, heads)
            cursor.close()
            return
        with raw.cursor() as cursor:
            with cursor.copy(_COPY_ENTRIES) as copy:
                for row in entries:
                    copy.write_row(row)
            with cursor.copy(_COPY_HEADS) as copy:
                for row in heads:
                    copy.write_row(row)


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


# -- append rate ----------------------------------------------------------------------------


def append_rate(backend: str, single: int, batched: int) -> list[tuple[str, str, float, float]]:
    """Entries per second: one entry per transaction, and 1,000 per transaction."""
    found = []
    with store(backend) as (client, _, _):
        for label, per_tx, total in (
            ("1 entry each", 1, single),
            ("1,000 entries each", 1000, batched),
        ):
            seconds = timed(partial(write, client, per_tx, total))
            found.append((backend, label, total / seconds, seconds * 1000 / (total // per_tx)))
        client.verify_ledger()
    return found


def write(client: govml.Client, per_tx: int, total: int) -> None:
    """Append ``total`` entries, ``per_tx`` per write transaction, as the services do."""
    for n in range(total // per_tx):
        with client.ctx.store.write() as conn:
            append(
                conn,
                actor="bench",
                now=datetime.now(UTC),
                entries=[
                    NewEntry(action=action, subject=subject, payload=payload)
                    for action, subject, payload in (event(n * per_tx + i) for i in range(per_tx))
                ],
            )


# -- verification, each run in a fresh process ----------------------------------------------


def child(spec: dict[str, Any]) -> None:
    """Run one measurement in this (fresh) process and print its figures as JSON."""
    if spec.get("cpus"):
        os.sched_setaffinity(0, set(sorted(os.sched_getaffinity(0))[: spec["cpus"]]))
    client = govml.connect(Path(spec["home"]), database_url=spec["url"], user="bench")
    runs: dict[str, Callable[[], object]] = {
        "verify": client.verify_ledger,
        "tree": partial(tree_recompute, client),
        "decoding": partial(reference_verify, client),
        "floor": partial(floor_pass, client),
    }
    idle = psutil.Process().memory_info().rss / 2**20
    peaks = {"main": idle, "worker": 0.0, "total": idle}
    stop = threading.Event()
    sampler = threading.Thread(target=_sample_memory, args=(stop, peaks), daemon=True)
    sampler.start()
    own, workers = _cpu_seconds()
    seconds = timed(runs[spec["what"]])
    stop.set()
    sampler.join()
    own_after, workers_after = _cpu_seconds()
    peaks["cpu"], peaks["cpu_workers"] = own_after - own, workers_after - workers
    print(json.dumps({"seconds": seconds, "idle": idle, **peaks}))


def _cpu_seconds() -> tuple[float, float]:
    """CPU time of this process, and of its ended children (the workers)."""
    own, workers = (
        resource.getrusage(who) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)
    )
    return own.ru_utime + own.ru_stime, workers.ru_utime + workers.ru_stime


def _sample_memory(stop: threading.Event, peaks: dict[str, float]) -> None:
    """Record the peak resident memory of this process and of its workers, every 50 ms."""
    me = psutil.Process()
    while not stop.wait(0.05):
        main = me.memory_info().rss / 2**20
        workers = []
        for worker in me.children():
            try:
                workers.append(worker.memory_info().rss / 2**20)
            except psutil.Error:  # it ended meanwhile
                continue
        peaks["main"] = max(peaks["main"], main)
        peaks["worker"] = max(peaks["worker"], *workers, 0.0)
        peaks["total"] = max(peaks["total"], main + sum(workers))


def measure(url: str, home: Path, what: str, *, cpus: int = 0, repeats: int = 3) -> dict[str, Any]:
    """Median time and the peak memory of ``what`` over ``repeats`` fresh processes."""
    runs = []
    for _ in range(repeats):
        spec = {"url": url, "home": str(home), "what": what, "cpus": cpus}
        done = subprocess.run(
            [sys.executable, __file__, "--child", json.dumps(spec)],
            check=True,
            capture_output=True,
            text=True,
        )
        runs.append(json.loads(done.stdout.strip().splitlines()[-1]))
    seconds = sorted(run["seconds"] for run in runs)
    return {
        "median": statistics.median(seconds),
        "min": seconds[0],
        "max": seconds[-1],
        "cpu": statistics.median(run["cpu"] for run in runs),
        "cpu_workers": statistics.median(run["cpu_workers"] for run in runs),
        "extra_mb": max(run["main"] - run["idle"] for run in runs),
        "worker_mb": max(run["worker"] for run in runs),
    }


def tree_recompute(client: govml.Client) -> None:
    """Anchor: every entry hashed, the whole reference tree built, every tree head compared."""
    with client.ctx.store.read() as conn:
        rows = conn.execution_options(yield_per=50_000).execute(
            sa.text("SELECT seq, entry, leaf_hash FROM ledger_entries ORDER BY seq")
        )
        leaves = bytearray()
        for position, (seq, entry, stored) in enumerate(rows):
            digest = leaf_hash(entry.encode())
            if seq != position or digest.hex() != stored:
                raise AssertionError(f"entry {position}")
            leaves += digest
        tree = MerkleTree(bytes(leaves))
        heads = conn.execution_options(yield_per=50_000).execute(
            sa.text("SELECT tree_size, root_hash FROM ledger_checkpoints ORDER BY tree_size")
        )
        for size, root in heads:
            if tree.root(size).hex() != root:
                raise AssertionError(f"tree head {size}")


def floor_pass(client: govml.Client) -> None:
    """Floor: read every entry and tree head row through the driver, hash each entry once.

    The least any verifier does: no frontier, root, query-column or time checks, one process.
    """
    sha256 = hashlib.sha256
    with client.ctx.store.read() as conn:
        raw: Any = conn.connection.driver_connection
        postgres = client.ctx.store.dialect == "postgresql"
        for sql in (
            "SELECT entry FROM ledger_entries ORDER BY seq",
            "SELECT tree_size, root_hash FROM ledger_checkpoints ORDER BY tree_size",
        ):
            cursor = raw.cursor(name="floor") if postgres else raw.cursor()
            cursor.execute(sql)
            while batch := cursor.fetchmany(10_000):
                if len(batch[0]) == 1:
                    for (entry,) in batch:
                        sha256(b"\x00" + entry.encode()).digest()
            cursor.close()


def reference_verify(client: govml.Client) -> None:
    """The decoding verifier over the same rows (what the store runs to name a bad entry)."""
    with client.ctx.store.read() as conn:
        heads = [
            CheckpointRecord(
                tree_size=size, root_hash=bytes.fromhex(root), frontier=json.loads(frontier)
            )
            for size, root, frontier in conn.execute(
                sa.text(
                    "SELECT tree_size, root_hash, CAST(frontier AS TEXT) FROM ledger_checkpoints "
                    "ORDER BY tree_size"
                )
            )
        ]
        rows = conn.execution_options(yield_per=10_000).execute(
            sa.text(
                "SELECT seq, time, actor, action, subject, entry, leaf_hash FROM ledger_entries "
                "ORDER BY seq"
            )
        )
        verify_ledger(
            (
                EntryRecord(
                    seq=row.seq,
                    time=row.time,
                    actor=row.actor,
                    action=row.action,
                    subject=row.subject,
                    payload=json.loads(row.entry)["payload"],
                    leaf_hash=bytes.fromhex(row.leaf_hash),
                )
                for row in rows
            ),
            heads,
        )


def verify_shapes(backend: str, entries: int, per_head: int, args: argparse.Namespace) -> list[Any]:
    """`audit verify` and its anchors on a filled ledger; proofs when it has a head per entry."""
    shape = "per entry" if per_head == 1 else f"per {per_head:,} entries"
    found: list[Any] = []
    with store(backend) as (client, url, home):
        started = time.perf_counter()
        fill(client, entries, per_head)
        console.print(
            f"  {backend}: filled {entries:,} entries, one tree head {shape}, "
            f"in {time.perf_counter() - started:.0f} s"
        )
        runs = [("audit verify", "verify", 0), ("audit verify, one CPU", "verify", 1)]
        runs.append(("reference MerkleTree recompute", "tree", 0))
        if args.reference:
            runs.append(("decoding verifier (reference)", "decoding", 0))
        for label, what, cpus in runs:
            result = measure(url, home, what, cpus=cpus, repeats=1 if what == "decoding" else 3)
            found.append((backend, f"{entries:,}", shape, label, result))
            console.print(
                f"    {label}: {result['median']:.2f} s (CPU {result['cpu']:.1f} s + "
                f"{result['cpu_workers']:.1f} s, "
                f"load {os.getloadavg()[0]:.1f})"
            )
        proofs = proof_times(client, entries) if per_head == 1 and not args.no_proofs else []
    return [found, proofs]


# -- proofs ----------------------------------------------------------------------------------


def proof_times(client: govml.Client, entries: int) -> list[tuple[str, str, str]]:
    """Inclusion and consistency proofs on the ledger, from tree heads and with anchors."""
    rng = random.Random(7)
    found: list[tuple[str, str, str]] = []
    signing = timed(client.sign_checkpoint)
    found.append(("audit checkpoint", f"{signing * 1000:.0f} ms", "reads every leaf hash, signs"))
    with client.ctx.store.read() as conn:
        head = latest_tree_head(conn)
        assert head is not None
        size, root = head.tree_size, bytes.fromhex(head.root_hash)
        seqs = [rng.randrange(size) for _ in range(200)]
        leaves = {
            seq: bytes.fromhex(value)
            for seq, value in conn.execute(
                sa.text("SELECT seq, leaf_hash FROM ledger_entries WHERE seq IN :seqs").bindparams(
                    sa.bindparam("seqs", expanding=True)
                ),
                {"seqs": seqs},
            )
        }
        samples = []
        for seq in seqs:
            start = time.perf_counter()
            path = inclusion_path(seq, size, StoredBlocks(conn))
            samples.append(time.perf_counter() - start)
            verify_inclusion(index=seq, size=size, leaf_hash=leaves[seq], proof=path, root=root)
        found.append(_p50("inclusion proof from tree heads", samples, "200 random entries"))
        olds = [rng.randrange(1, size) for _ in range(200)]
        samples = []
        for old in olds:
            start = time.perf_counter()
            consistency_path(old, size, StoredBlocks(conn))
            samples.append(time.perf_counter() - start)
        found.append(_p50("consistency proof from tree heads", samples, "200 random old sizes"))
        start = time.perf_counter()
        tree = read_tree(conn, size)
        build = time.perf_counter() - start
        assert tree.root() == root
        found.append(("reference MerkleTree: read leaves, build", f"{build * 1000:.0f} ms", ""))
        samples = [timed(partial(tree.inclusion_proof, seq)) for seq in seqs]
        found.append(_p50("  then an inclusion proof", samples, "each"))
        samples = [timed(partial(tree.consistency_proof, old)) for old in olds]
        found.append(_p50("  then a consistency proof", samples, "each"))
        hashes = [tree.leaf(i) for i in range(size)]
    samples = [timed(partial(inclusion_proof, seq, hashes)) for seq in seqs[:3]]
    found.append(_p50("RFC 6962 recursion (ledger.merkle)", samples, "hashes every leaf"))
    samples = [timed(partial(client.ledger_proof, seq)) for seq in seqs[:20]]
    found.append(_p50("audit proof SEQ, end to end", samples, "signed bundle, verified"))
    return found


def _p50(label: str, samples: list[float], note: str) -> tuple[str, str, str]:
    median = statistics.median(samples) * 1000
    text = f"{median:.3f} ms" if median < 1 else f"{median:.1f} ms"
    return (label, text, f"p50; {note}")


# -- report ----------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--pg-entries", type=int, default=1_000_000)
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--single", type=int, default=2_000, help="transactions of one entry")
    parser.add_argument(
        "--batched", type=int, default=100_000, help="entries in 1,000-entry transactions"
    )
    parser.add_argument("--reference", action="store_true", help="also the decoding verifier")
    parser.add_argument("--no-proofs", action="store_true")
    parser.add_argument("--no-append", action="store_true")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(json.loads(args.child))
        return
    backends = args.backends.split(",")
    console.print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}")

    if not args.no_append:
        table = Table(title="ledger append rate")
        for column in ("backend", "transactions", "entries/s", "ms per transaction"):
            table.add_column(column, justify="right")
        for backend in backends:
            for row in append_rate(backend, args.single, args.batched):
                table.add_row(row[0], row[1], f"{row[2]:,.0f}", f"{row[3]:.2f}")
        console.print(table)

    verified: list[Any] = []
    proofs: dict[str, list[tuple[str, str, str]]] = {}
    for backend in backends:
        entries = args.entries if backend == "sqlite" else args.pg_entries
        for per_head in (1, 1000):
            rows, found = verify_shapes(backend, entries, per_head, args)
            verified += rows
            if found:
                proofs[backend] = found
    table = Table(title="audit verify (median of 3 fresh processes)")
    columns = ("backend", "entries", "tree heads", "what", "time", "min-max")
    for column in (*columns, "CPU: process + workers", "memory: process + worker"):
        table.add_column(column)
    for backend, entries, shape, label, result in verified:
        table.add_row(
            backend,
            entries,
            "one " + shape,
            label,
            f"{result['median']:.2f} s",
            f"{result['min']:.2f}-{result['max']:.2f}",
            f"{result['cpu']:.1f} s"
            + (f" + {result['cpu_workers']:.1f} s" if result["cpu_workers"] else ""),
            f"+{result['extra_mb']:.0f} MB"
            + (f", worker {result['worker_mb']:.0f} MB" if result["worker_mb"] else ""),
        )
    console.print(table)
    for backend, found in proofs.items():
        entries = args.entries if backend == "sqlite" else args.pg_entries
        table = Table(title=f"{backend}: proofs at {entries:,} entries")
        for column in ("operation", "time", "notes"):
            table.add_column(column)
        for operation, took, notes in found:
            table.add_row(operation, took, notes)
        console.print(table)
    console.print(f"load average after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
