"""Stored monitoring: the time series of each check and the runs with their actions."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, cast

from govml.errors import NotFoundError
from govml.monitoring.records import ActionRecord, ActionStatus, MonitorPoint, MonitorRun, Status
from govml.services.context import ServiceContext
from govml.store import monitoring_records, records
from govml.store.ledger import iter_entries

ERR_RUN = "no monitoring run {run_id} of {model}"


def history(
    ctx: ServiceContext,
    name: str,
    *,
    version: int | None,
    check: str | None,
    limit: int | None,
) -> list[MonitorPoint]:
    """Return the time series of model ``name``'s checks, oldest first."""
    with ctx.store.read() as conn:
        mid = records.model_id(conn, name)
        rows = monitoring_records.points(conn, mid, version=version, check=check, limit=limit)
    return [
        MonitorPoint(
            run_id=row.run_id,
            model=name,
            version=row.version,
            check=row.check,
            category=row.category,
            status=cast(Status, row.status),
            value=row.value,
            window_start=row.window_start,
            window_end=row.window_end,
            created_at=row.created_at,
        )
        for row in rows
    ]


def get_run(ctx: ServiceContext, name: str, run_id: int) -> MonitorRun:
    """Return stored run ``run_id`` of model ``name`` with its actions and ledger entries.

    Raises
    ------
    NotFoundError
        When model ``name`` has no such run.
    """
    with ctx.store.read() as conn:
        mid = records.model_id(conn, name)
        row = monitoring_records.run_of_model(conn, mid, run_id)
        if row is None:
            raise NotFoundError(ERR_RUN.format(run_id=run_id, model=name))
        actions = monitoring_records.actions_of_run(conn, run_id)
        seqs = {
            int(e.payload.get("action_id", -1)): e.seq
            for e in iter_entries(conn, model=name)
            if e.action.startswith("monitoring.") and e.payload.get("run_id") == run_id
        }
    document = json.loads(row.document)
    stored = [
        ActionRecord(
            action=a.action,
            version=a.version,
            status=cast(ActionStatus, a.status),
            detail=_detail_text(a.action, a.detail),
            attempts=tuple(a.detail.get("attempts", ())),
            ledger_seq=seqs.get(a.id),
        )
        for a in actions
    ]
    return MonitorRun.from_dict(
        {**document, "id": run_id, "actions": [a.to_dict() for a in stored]}
    )


def latest_runs(ctx: ServiceContext, name: str, *, limit: int) -> list[MonitorRun]:
    """Return the newest ``limit`` stored runs of model ``name``, newest first."""
    with ctx.store.read() as conn:
        mid = records.model_id(conn, name)
        ids = monitoring_records.latest_run_ids(conn, mid, limit)
    return [get_run(ctx, name, run_id) for run_id in ids]


def _detail_text(action: str, detail: Mapping[str, Any]) -> str:
    if action == "rollback" and "to_version" in detail:
        return (
            f"production rolled back from version {detail['from_version']} to "
            f"{detail['to_version']}"
        )
    if "url" in detail:
        state = "delivered" if detail.get("delivered") else "not delivered"
        return f"{state} to {detail['url']} ({len(detail.get('attempts', []))} attempts)"
    if action == "alert":
        return f"{detail.get('status')}: " + "; ".join(
            c.get("message", "") for c in detail.get("checks", [])[:5]
        )
    return str(detail.get("reason", ""))
