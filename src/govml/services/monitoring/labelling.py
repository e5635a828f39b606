"""Labelling round trips: the least confident predictions out as tasks, the labels back in.

Labels are evidence monitoring judges production on (performance and fairness on labelled
rows), so importing them needs the ``register`` permission, as sending log files does
(:mod:`.received`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Connection

from govml.domain.lifecycle import Permission
from govml.errors import ForbiddenError
from govml.monitoring.labelling import import_result, labelling_tasks, prepare_import
from govml.monitoring.logs import PredictionLogs
from govml.services.access import authorize
from govml.services.context import ServiceContext
from govml.services.monitoring.run import log_root, resolve_window
from govml.services.policy import policy_in_force
from govml.services.registry import model_subject
from govml.store import records
from govml.store.ledger import NewEntry, append


def authorize_evidence(conn: Connection, ctx: ServiceContext, what: str) -> None:
    """Check that the actor may give monitoring its evidence (register: contributor, admin)."""
    try:
        authorize(conn, ctx, Permission.REGISTER)
    except ForbiddenError as exc:
        raise ForbiddenError(
            f"{exc.message}; {what}, which monitoring judges production on, needs a "
            "contributor or admin",
            hint=exc.hint,
        ) from None


def export_tasks(
    ctx: ServiceContext,
    name: str,
    *,
    window: str | None,
    since: str | datetime | None,
    until: str | datetime | None,
    log_dir: str | Path | None,
    limit: int,
    below: float | None,
    from_name: str,
    to_name: str,
) -> list[dict[str, Any]]:
    """Return the window's least confident predictions as Label Studio tasks."""
    with ctx.store.read() as conn:
        model = records.load_model(conn, name)
        stored = policy_in_force(conn, model.risk_tier.value)
    span = resolve_window(stored, window=window, since=since, until=until, now=ctx.clock())
    root = log_root(log_dir, ctx)
    with PredictionLogs(root, name) as logs:
        return labelling_tasks(
            logs, span, limit=limit, below=below, from_name=from_name, to_name=to_name
        )


def import_labels(
    ctx: ServiceContext,
    name: str,
    tasks: Sequence[Mapping[str, Any]],
    *,
    log_dir: str | Path | None,
    from_name: str | None,
) -> dict[str, Any]:
    """Write the labels of annotated tasks into the feedback log, with their ledger entry.

    See `govml.services.monitoring.MonitoringService.import_labels`.
    """
    with ctx.store.write() as conn:
        authorize_evidence(conn, ctx, "importing labels")
        records.load_model(conn, name)
    root = log_root(log_dir, ctx)
    with PredictionLogs(root, name) as logs:
        written, skipped = prepare_import(logs, tasks, now=ctx.clock(), from_name=from_name)
    result = import_result(written, skipped)
    if written is None:
        return result
    now = ctx.clock()
    try:
        with ctx.store.write() as conn:
            authorize_evidence(conn, ctx, "importing labels")
            append(
                conn,
                actor=ctx.actor,
                now=now,
                entries=[
                    NewEntry(
                        action="monitoring.labels_imported",
                        subject=model_subject(name),
                        payload={
                            "model": name,
                            "file": str(written.path.relative_to(root)),
                            "digest": written.digest,
                            "written": written.rows,
                            "corrections": written.corrections,
                            "skipped": len(skipped),
                        },
                    )
                ],
            )
            written.publish()
    except BaseException:
        written.discard()
        raise
    return result
