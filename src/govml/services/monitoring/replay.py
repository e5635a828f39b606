"""Replay for ``govml audit verify``: the monitoring tables against their ledger entries."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from sqlalchemy.engine import Connection

from govml.errors import IntegrityError
from govml.monitoring.window import Window
from govml.store import lifecycle_records, monitoring_records
from govml.store.ledger import iter_entries

_MONITORING_ACTIONS = (
    "monitoring.run",
    "monitoring.alert",
    "monitoring.rollback",
    "monitoring.rollback_refused",
    "monitoring.webhook",
)


def action_payload(
    action_id: int,
    run_id: int,
    model: str,
    version: int,
    action: str,
    status: str,
    dedupe: str | None,
    detail: Mapping[str, Any],
) -> dict[str, Any]:
    """Return the payload of an action's ledger entry (what `audit verify` compares)."""
    return {
        "action_id": action_id,
        "run_id": run_id,
        "model": model,
        "version": version,
        "action": action,
        "status": status,
        "dedupe": dedupe,
        "detail": dict(detail),
    }


def verify_monitoring_records(conn: Connection) -> dict[str, int]:
    """Check the monitoring tables against their ledger entries.

    Every run's stored document must hash to the digest of its ``monitoring.run`` entry,
    every time series point must be a check of its run's document with the same status and
    value, and every action row must equal its ``monitoring.*`` entry; every entry must
    have its row.

    Returns
    -------
    dict
        ``monitoring_runs``, ``monitoring_points`` and ``monitoring_actions`` counted.

    Raises
    ------
    IntegrityError
        Naming the first run, point or action that differs from the ledger.
    """
    runs: dict[int, tuple[int, dict[str, Any]]] = {}
    actions: dict[int, tuple[int, dict[str, Any]]] = {}
    for entry in iter_entries(conn, actions=_MONITORING_ACTIONS):
        if entry.action == "monitoring.run":
            runs[int(entry.payload["run_id"])] = (entry.seq, entry.payload)
        else:
            actions[int(entry.payload["action_id"])] = (entry.seq, entry.payload)
    names = lifecycle_records.model_names(conn)
    documents: dict[int, dict[str, Any]] = {}
    n_runs = 0
    for row in monitoring_records.all_runs(conn):
        n_runs += 1
        found = runs.pop(row.id, None)
        if found is None:
            raise IntegrityError(f"monitoring run {row.id} has no ledger entry")
        seq, payload = found
        digest = "sha256:" + hashlib.sha256(row.document.encode("utf-8")).hexdigest()
        if digest != row.digest or digest != payload.get("digest"):
            raise IntegrityError(
                f"monitoring run {row.id} differs from its ledger entry {seq}: its document "
                f"hashes to {digest}, the ledger says {payload.get('digest')}"
            )
        document = json.loads(row.document)
        expected = {
            "model": names[row.model_id],
            "status": row.status,
            "window": Window(start=row.window_start, end=row.window_end).to_dict(),
        }
        for key, value in expected.items():
            if document.get(key) != value or payload.get(key) != value:
                raise IntegrityError(
                    f"monitoring run {row.id} differs from its ledger entry {seq}: {key} is "
                    f"{json.dumps(value)} in the table"
                )
        documents[row.id] = document
    if runs:
        raise IntegrityError(
            f"monitoring run {next(iter(runs))} is in the ledger but missing from the database"
        )
    n_points = _verify_points(conn, documents)
    n_actions = 0
    for action in monitoring_records.all_actions(conn):
        n_actions += 1
        found = actions.pop(action.id, None)
        if found is None:
            raise IntegrityError(f"monitoring action {action.id} has no ledger entry")
        seq, payload = found
        ours = action_payload(
            action.id,
            action.run_id,
            names[action.model_id],
            action.version,
            action.action,
            action.status,
            action.dedupe,
            action.detail,
        )
        for key, value in ours.items():
            if payload.get(key) != json.loads(json.dumps(value)):
                raise IntegrityError(
                    f"monitoring action {action.id} differs from its ledger entry {seq}: {key} "
                    f"is {json.dumps(value)} in the database but {json.dumps(payload.get(key))} "
                    "in the ledger"
                )
    if actions:
        raise IntegrityError(
            f"monitoring action {next(iter(actions))} is in the ledger but missing from the "
            "database"
        )
    return {
        "monitoring_runs": n_runs,
        "monitoring_points": n_points,
        "monitoring_actions": n_actions,
    }


def _verify_points(conn: Connection, documents: Mapping[int, dict[str, Any]]) -> int:
    expected: dict[int, dict[tuple[int, str], tuple[str, Any]]] = {}
    for run_id, document in documents.items():
        expected[run_id] = {
            (int(v["version"]), str(c["check"])): (c["status"], c["value"])
            for v in document.get("versions", [])
            for c in v.get("checks", [])
        }
    seen: dict[int, int] = {}
    n = 0
    for row in monitoring_records.all_points(conn):
        n += 1
        checks = expected.get(row.run_id, {})
        want = checks.get((row.version, row.check))
        if want is None or want[0] != row.status or not _same(want[1], row.value):
            raise IntegrityError(
                f"monitoring point {row.id} ({row.check}, version {row.version}) does not match "
                f"monitoring run {row.run_id}'s ledger-covered document"
            )
        seen[row.run_id] = seen.get(row.run_id, 0) + 1
    for run_id, checks in expected.items():
        if seen.get(run_id, 0) != len(checks):
            raise IntegrityError(
                f"monitoring run {run_id} has {seen.get(run_id, 0)} time series points; its "
                f"document has {len(checks)} checks"
            )
    return n


def _same(a: Any, b: Any) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return abs(float(a) - float(b)) <= 1e-9 * max(1.0, abs(float(a)))
