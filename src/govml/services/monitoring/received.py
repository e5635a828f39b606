"""Prediction log files a gateway in client mode sends: checked, stored in the log, ledgered."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from govml.errors import InputError, TooLargeError
from govml.monitoring.received import check_kind, check_log_table
from govml.services.context import ServiceContext
from govml.services.monitoring.labelling import authorize_evidence
from govml.services.monitoring.run import default_log_dir
from govml.services.registry import RegistryService, model_subject
from govml.store import records
from govml.store.ledger import NewEntry, append

MAX_RECEIVED_ROWS = 5_000_000
MAX_RECEIVED_BYTES = 1 << 30


def receive_log(
    ctx: ServiceContext,
    name: str,
    *,
    kind: str,
    path: Path,
    version: int | None,
    max_rows: int,
    max_bytes: int,
) -> dict[str, Any]:
    """Take a sent log file into this home's log; return its receipt.

    See `govml.services.monitoring.MonitoringService.receive_log`.
    """
    with ctx.store.write() as conn:
        authorize_evidence(conn, ctx, "sending prediction logs")
        records.load_model(conn, name)
    check_kind(kind)
    inputs: list[str] = []
    ref = name
    if kind == "predictions":
        if version is None:
            raise InputError("version: a predictions file belongs to a version")
        found = RegistryService(ctx).get_version(f"{name}@{version}")
        inputs = [c["name"] for c in (found.signature or {}).get("inputs", [])]
        ref = found.ref
    sent = "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()
    table = _read_received(path, max_rows=max_rows, max_bytes=max_bytes)
    checked = check_log_table(kind, table, inputs=inputs, ref=ref)
    root = default_log_dir(ctx)
    part = "feedback" if kind == "feedback" else "events"
    if kind == "predictions":
        part = f"version={version}"
    folder = root / f"model={name}" / part / f"date={checked.day.isoformat()}"
    target = folder / f"part-received-{sent.removeprefix('sha256:')[:32]}.parquet"
    receipt = {
        "model": name,
        "kind": kind,
        "version": version,
        "date": checked.day.isoformat(),
        "rows": checked.table.num_rows,
        "file": str(target.relative_to(root)),
        "sent_digest": sent,
    }
    if target.exists():
        written = "sha256:" + hashlib.sha256(target.read_bytes()).hexdigest()
        return {**receipt, "digest": written, "duplicate": True}
    folder.mkdir(parents=True, exist_ok=True)
    hidden = folder / f".{target.name}.tmp"
    pq.write_table(checked.table, hidden, compression="zstd")
    receipt["digest"] = "sha256:" + hashlib.sha256(hidden.read_bytes()).hexdigest()
    try:
        with ctx.store.write() as conn:
            authorize_evidence(conn, ctx, "sending prediction logs")
            append(
                conn,
                actor=ctx.actor,
                now=ctx.clock(),
                entries=[
                    NewEntry(
                        action="predictions.received",
                        subject=model_subject(name),
                        payload=receipt,
                    )
                ],
            )
            hidden.replace(target)
    except BaseException:
        hidden.unlink(missing_ok=True)
        raise
    return {**receipt, "duplicate": False}


def _read_received(path: Path, *, max_rows: int, max_bytes: int) -> pa.Table:
    """Read a sent log file, refusing it from its footer when it is too large."""
    try:
        parquet = pq.ParquetFile(path)
        meta = parquet.metadata
    except Exception as exc:  # pyarrow raises several types for damaged input
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise InputError(f"file: not a readable Parquet file ({reason})") from None
    decoded = sum(meta.row_group(i).total_byte_size for i in range(meta.num_row_groups))
    if meta.num_rows > max_rows or decoded > max_bytes:
        raise TooLargeError(
            f"file: {meta.num_rows:,} rows, {decoded:,} bytes decoded; a log file may hold at "
            f"most {max_rows:,} rows and {max_bytes:,} bytes",
            hint="flush the gateway's log more often (--flush-seconds)",
        )
    try:
        table: pa.Table = parquet.read(use_threads=False)
    except Exception as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise InputError(f"file: not a readable Parquet file ({reason})") from None
    return table
