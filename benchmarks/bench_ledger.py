"""Ledger speed: append rate, `audit verify` on 1,000,000 entries, checkpoints and proofs.

Usage::

    .venv/bin/python benchmarks/bench_ledger.py                      # everything below
    .venv/bin/python benchmarks/bench_ledger.py --entries 1000000 --backends sqlite
    .venv/bin/python benchmarks/bench_ledger.py --reference          # also the decoding verifier

Append rate: entries per second through `store.ledger.append` in `Store.write()` (the path
every governance operation takes: serialised write transaction, entry + tree head), one entry
per transaction and 1,000 per transaction, on SQLite (WAL) and PostgreSQL.

`audit verify`: `Client.verify_ledger()` end to end (the fast row pass, the records replay,
the stored signed checkpoints) on a ledger of N entries of a realistic mix (evaluations,
approvals, promotions, monitoring windows; 240 bytes on average). The ledger is written
straight into the tables (the bytes, leaf hashes and tree heads `append` would write) so
that a million entries take seconds to prepare. Two shapes: one tree head per 1,000 entries
(bulk imports), and one tree head per entry (every entry its own transaction, the worst case:
each tree head's root costs about log2(n)/2 more hashes to check). Median of three runs.
`--reference` also times the verifier that decodes and re-encodes every entry
(`ledger.verify.verify_ledger`, which the store runs to name a bad entry).

Checkpoints and proofs on the N-entry ledger: `audit checkpoint` (reads every leaf hash,
builds the tree, checks it extends the last signed checkpoint, signs), `audit proof SEQ`
(a bundle with its inclusion proof, signed), `audit export --model` (about 1 % of the
entries, each with its proof) and the standalone verifier on that bundle.

Results: see benchmarks/README.md ("Ledger").
"""

from __future__ import annotations

import argparse
import hashlib
import json
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from rich.console import Console
from rich.table import Table

import govml
from govml.ledger.canonical import entry_bytes
from govml.ledger.merkle import Frontier, leaf_hash
from govml.ledger.verify import CheckpointRecord, EntryRecord, verify_ledger
from govml.store.ledger import NewEntry, append, format_time
from govml.store.schema import ledger_checkpoints, ledger_entries

PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
VERIFIER = Path(__file__).resolve().parents[1] / "tools" / "govml_verify.py"
console = Console(width=120)


@contextmanager
def store(backend: str) -> Iterator[govml.Client]:
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
        client = govml.connect(home, database_url=url, user="bench")
        client.init()
        try:
            yield client
        finally:
            client.close()
            if admin is not None:
                with admin.connect() as conn:
                    conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
                admin.dispose()


def event(seq: int) -> tuple[str, str, dict[str, Any]]:
    """A governance event of the mix: evaluation, approval, promotion, monitoring window."""
    model = f"model/m{seq % 97}"
    kind = seq % 4
    if kind == 0:
        digest = hashlib.sha256(b"%d" % seq).hexdigest()
        return (
            "evaluation.recorded",
            f"{model}/versions/{seq % 13 + 1}",
            {"policy_digest": "sha256:" + digest, "decision": "pass", "checks": 12, "failed": 0},
        )
    if kind == 1:
        return (
            "approval.recorded",
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
    """Write entries up to ``total`` straight into the tables, a tree head per ``per_head``."""
    with client.ctx.store.read() as conn:
        head = conn.execute(
            sa.select(ledger_checkpoints).order_by(ledger_checkpoints.c.tree_size.desc()).limit(1)
        ).one()
    frontier = Frontier.from_json(head.tree_size, head.frontier)
    start = datetime.now(UTC)
    rows: list[dict[str, Any]] = []
    heads: list[dict[str, Any]] = []
    transaction = 0
    when = format_time(start)
    while frontier.size < total:
        seq = frontier.size
        if (seq - head.tree_size) % per_head == 0:
            transaction += 1
            when = format_time(start + timedelta(microseconds=transaction))
        action, subject, payload = event(seq)
        data = entry_bytes(
            seq=seq, time=when, actor="bench", action=action, subject=subject, payload=payload
        )
        digest = leaf_hash(data)
        frontier.append(digest)
        rows.append(
            {
                "seq": seq,
                "time": when,
                "actor": "bench",
                "action": action,
                "subject": subject,
                "entry": data.decode(),
                "leaf_hash": digest.hex(),
            }
        )
        if (frontier.size - head.tree_size) % per_head == 0 or frontier.size == total:
            heads.append(
                {
                    "tree_size": frontier.size,
                    "root_hash": frontier.root().hex(),
                    "frontier": frontier.to_json(),
                    "created_at": when,
                }
            )
        if len(rows) >= 50_000 or frontier.size == total:
            with client.ctx.store.write() as conn:
                conn.execute(sa.insert(ledger_entries), rows)
                if heads:
                    conn.execute(sa.insert(ledger_checkpoints), heads)
            rows, heads = [], []


def timed(fn: Callable[[], object], repeats: int = 1) -> list[float]:
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return samples


def append_rate(backend: str, single: int, batched: int) -> list[tuple[str, str, float, float]]:
    """Entries per second: one entry per transaction, and 1,000 per transaction."""
    found = []
    with store(backend) as client:
        for label, per_tx, total in (
            ("1 per transaction", 1, single),
            ("1,000 per transaction", 1000, batched),
        ):
            seconds = timed(lambda per_tx=per_tx, total=total: write(client, per_tx, total))[0]
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


def reference_verify(client: govml.Client) -> None:
    """The decoding verifier over the same rows (what the store runs to name a bad entry)."""
    with client.ctx.store.read() as conn:
        heads = [
            CheckpointRecord(
                tree_size=row.tree_size,
                root_hash=bytes.fromhex(row.root_hash),
                frontier=row.frontier,
            )
            for row in conn.execute(
                sa.select(ledger_checkpoints).order_by(ledger_checkpoints.c.tree_size)
            )
        ]
        rows = conn.execution_options(yield_per=10_000).execute(
            sa.select(ledger_entries).order_by(ledger_entries.c.seq)
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


def verify_and_prove(
    backend: str, entries: int, per_head: int, *, proofs: bool, reference: bool
) -> list[tuple[str, str, str]]:
    """`audit verify` on a filled ledger; then checkpoint, proof, export and offline check."""
    found: list[tuple[str, str, str]] = []
    shape = "1 tree head per entry" if per_head == 1 else f"1 tree head per {per_head:,} entries"
    with store(backend) as client:
        client.create_model("m7", risk_tier="minimal")  # the model the export is about
        started = time.perf_counter()
        fill(client, entries, per_head)
        console.print(
            f"  filled {entries:,} entries ({shape}) in {time.perf_counter() - started:.0f} s"
        )
        samples = timed(client.verify_ledger, 3)
        found.append(
            (
                f"audit verify, {shape}",
                f"{statistics.median(samples):.2f} s",
                f"min {min(samples):.2f} s, {entries / statistics.median(samples):,.0f} entries/s",
            )
        )
        if reference:
            seconds = timed(lambda: reference_verify(client))[0]
            found.append((f"decoding verifier, {shape}", f"{seconds:.2f} s", "names the bad entry"))
        if not proofs:
            return found
        first = timed(client.sign_checkpoint)[0]
        found.append(
            ("audit checkpoint (first)", f"{first:.2f} s", "read leaves, build tree, sign")
        )
        client.create_model("one-more", risk_tier="minimal")
        second = timed(client.sign_checkpoint)[0]
        found.append(("audit checkpoint (consistency with the last)", f"{second:.2f} s", ""))
        seqs = [(entries * k) // 7 for k in range(1, 6)]
        samples = [timed(lambda s=seq: client.ledger_proof(s))[0] for seq in seqs]
        found.append(
            (
                "audit proof SEQ",
                f"{statistics.median(samples) * 1000:.0f} ms",
                "median of 5 entries",
            )
        )
        exported: list[Any] = []
        seconds = timed(lambda: exported.append(client.export_ledger(model="m7")))[0]
        bundle = exported[0].bundle
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "bundle.json"
            path.write_text(json.dumps(bundle.to_json()))
            size_mb = path.stat().st_size / 1e6
            key = Path(tmp) / "key.txt"
            key.write_text(client.ledger_key().verifier_key + "\n")
            offline = timed(
                lambda: subprocess.run(
                    [sys.executable, str(VERIFIER), str(path), "--key", str(key)],
                    check=True,
                    capture_output=True,
                )
            )[0]
        found.append(
            (
                "audit export --model (proofs for each entry)",
                f"{seconds:.2f} s",
                f"{len(bundle.entries):,} entries, {size_mb:.1f} MB",
            )
        )
        found.append(("tools/govml_verify.py on that bundle", f"{offline:.2f} s", "subprocess"))
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--pg-entries", type=int, default=200_000)
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--single", type=int, default=2_000, help="transactions of one entry")
    parser.add_argument(
        "--batched", type=int, default=100_000, help="entries in 1,000-entry transactions"
    )
    parser.add_argument("--reference", action="store_true")
    args = parser.parse_args()
    backends = args.backends.split(",")

    table = Table(title="ledger append rate")
    for column in ("backend", "transactions", "entries/s", "ms per transaction"):
        table.add_column(column, justify="right")
    for backend in backends:
        for row in append_rate(backend, args.single, args.batched):
            table.add_row(row[0], row[1], f"{row[2]:,.0f}", f"{row[3]:.2f}")
    console.print(table)

    for backend in backends:
        entries = args.entries if backend == "sqlite" else args.pg_entries
        table = Table(title=f"{backend}: {entries:,} entries")
        for column in ("operation", "time", "notes"):
            table.add_column(column)
        rows = verify_and_prove(backend, entries, 1000, proofs=True, reference=args.reference)
        rows += verify_and_prove(backend, entries, 1, proofs=False, reference=args.reference)
        for row in rows:
            table.add_row(*row)
        console.print(table)


if __name__ == "__main__":
    main()
