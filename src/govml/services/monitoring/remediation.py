"""What monitoring does about a version at ``alert`` or ``critical``: the policy's actions.

``on_alert`` runs at ``alert``, ``on_alert`` and ``on_critical`` together at ``critical``:

- ``rollback`` moves ``production`` back to the previous production version when the judged
  version still holds it. The rollback (its alias change and ``alias.rolled_back`` entry),
  the action row and its ``monitoring.rollback`` entry commit in one transaction: the
  lifecycle service's write joins the one open here. The action's ``dedupe`` key is the
  promotion that made the version production (unique per model): monitoring the same window
  again, or two monitors at once, never rolls back twice. A later re-promotion is a new
  promotion and may be rolled back. The rollback needs ``deploy`` and is recorded as
  refused (``monitoring.rollback_refused``) without it.
- ``notify`` POSTs the alert to the policy's webhook, signed (:mod:`govml.monitoring.webhook`),
  and ``retrain`` POSTs a ``monitoring.retrain`` event carrying the evidence (the flagged
  checks with their statistics) to the same webhook. Each delivery, with every attempt, is
  an action row and a ``monitoring.webhook`` ledger entry; a successful one is not sent
  again for the same version, window and status.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.engine import Connection

from govml.domain.lifecycle import PRODUCTION
from govml.errors import ForbiddenError, NotFoundError
from govml.integrations.notify import alert_message, render
from govml.monitoring.records import ActionRecord, MonitorRun, VersionReport
from govml.monitoring.webhook import Delivery, deliver, secret_from_env
from govml.policy.records import StoredPolicy
from govml.services.context import ServiceContext
from govml.services.lifecycle import LifecycleService
from govml.services.monitoring.run import RunAction, flagged_checks, record_action
from govml.store import lifecycle_records, monitoring_records, records

ERR_NO_NOTIFY = "the policy has no monitoring.notify webhook to send {what} to"


def remediate(
    ctx: ServiceContext, run: MonitorRun, report: VersionReport, stored: StoredPolicy
) -> list[ActionRecord]:
    """Take the policy's actions for ``report``'s version of stored run ``run``."""
    monitoring = stored.policy.monitoring
    if monitoring is None:
        return []
    wanted = list(monitoring.on_alert)
    if report.status == "critical":
        wanted += [a for a in monitoring.on_critical if a not in wanted]
    done: list[ActionRecord] = []
    rolled: ActionRecord | None = None
    if "rollback" in wanted:
        rolled = _rollback(ctx, run, report)
        done.append(rolled)
    for action in ("notify", "retrain"):
        if action in wanted:
            done.append(_webhook(ctx, run, report, stored, action, rolled))
    return done


def _rollback(ctx: ServiceContext, run: MonitorRun, report: VersionReport) -> ActionRecord:
    assert run.id is not None
    reason = (
        f"monitoring run {run.id} ({run.window}): {report.status}: "
        + "; ".join(c.message for c in report.at_least("alert")[:3])
    )[:2000]
    now = ctx.clock()
    try:
        with ctx.store.write() as conn:
            mid = records.model_id(conn, run.model)
            holder, promotion = _production(conn, mid, run.model)
            if holder != report.version:
                return _skipped(
                    report.version,
                    f"version {report.version} no longer holds production "
                    f"(now {holder if holder is not None else 'none'}): nothing to roll back",
                )
            dedupe = f"rollback:promotion:{promotion}"
            earlier = monitoring_records.run_of_dedupe(conn, mid, dedupe)
            if earlier is not None:
                return _skipped(
                    report.version,
                    f"monitoring run {earlier} already rolled back this promotion",
                )
            change = LifecycleService(ctx).rollback(run.model, reason=reason)
            detail = {
                "from_version": change.previous,
                "to_version": change.version,
                "alias_change": change.id,
                "promotion_event": promotion,
                "reason": reason,
            }
            _, seq = record_action(
                conn,
                ctx,
                RunAction(run.id, mid, run.model, report.version, "rollback"),
                "done",
                dedupe,
                detail,
                now,
                ledger_action="monitoring.rollback",
            )
            return ActionRecord(
                action="rollback",
                version=report.version,
                status="done",
                detail=f"production rolled back from version {change.previous} to {change.version}",
                ledger_seq=seq,
            )
    except (ForbiddenError, NotFoundError) as exc:
        return _refused(ctx, run, report, exc.message, now)


def _refused(
    ctx: ServiceContext, run: MonitorRun, report: VersionReport, why: str, now: datetime
) -> ActionRecord:
    assert run.id is not None
    with ctx.store.write() as conn:
        mid = records.model_id(conn, run.model)
        _, seq = record_action(
            conn,
            ctx,
            RunAction(run.id, mid, run.model, report.version, "rollback"),
            "refused",
            None,
            {"reason": why},
            now,
            ledger_action="monitoring.rollback_refused",
        )
    return ActionRecord(
        action="rollback",
        version=report.version,
        status="refused",
        detail=f"rollback refused: {why}",
        ledger_seq=seq,
    )


def _webhook(
    ctx: ServiceContext,
    run: MonitorRun,
    report: VersionReport,
    stored: StoredPolicy,
    action: str,
    rolled: ActionRecord | None,
) -> ActionRecord:
    assert run.id is not None
    monitoring = stored.policy.monitoring
    assert monitoring is not None
    notify = monitoring.notify
    what = "alerts" if action == "notify" else "retraining triggers"
    if notify is None:
        return ActionRecord(
            action=action,
            version=report.version,
            status="refused",
            detail=ERR_NO_NOTIFY.format(what=what),
        )
    event = "monitoring.alert" if action == "notify" else "monitoring.retrain"
    dedupe = (
        f"{action}:{report.version}:{run.window.start.isoformat()}:"
        f"{run.window.end.isoformat()}:{report.status}"
    )
    with ctx.store.read() as conn:
        mid = records.model_id(conn, run.model)
        earlier = monitoring_records.run_of_dedupe(conn, mid, dedupe)
    if earlier is not None:
        return _skipped(
            report.version,
            f"already sent for this window and status by monitoring run {earlier}",
            action=action,
        )
    payload = _event(run, report, stored, event, rolled)
    if notify.format != "generic":  # Slack / Teams layouts of the same event
        payload = render(notify.format, alert_message(event, payload))
    sent = deliver(notify.webhook, event, payload, secret_from_env(notify.secret_env))
    now = ctx.clock()
    detail = _delivery_detail(sent, action)
    with ctx.store.write() as conn:
        _, seq = record_action(
            conn,
            ctx,
            RunAction(run.id, mid, run.model, report.version, action),
            "done" if sent.ok else "failed",
            dedupe if sent.ok else None,
            detail,
            now,
            ledger_action="monitoring.webhook",
        )
    return ActionRecord(
        action=action,
        version=report.version,
        status="done" if sent.ok else "failed",
        detail=sent.summary,
        attempts=tuple(sent.attempts),
        ledger_seq=seq,
    )


def _production(conn: Connection, mid: int, name: str) -> tuple[int | None, int | None]:
    """Return the version holding production and the id of the promotion that put it there."""
    holder = lifecycle_records.holder(conn, mid, PRODUCTION)
    # The promotions form a stack that rollbacks pop (as in the lifecycle service).
    stack: list[int] = []
    for change in lifecycle_records.alias_changes(conn, mid, name, PRODUCTION):
        if change.action == "promote" and change.id is not None:
            stack.append(change.id)
        elif stack:
            stack.pop()
    return holder, (stack[-1] if stack else None)


def _skipped(version: int, why: str, *, action: str = "rollback") -> ActionRecord:
    return ActionRecord(action=action, version=version, status="skipped", detail=why)


def _event(
    run: MonitorRun,
    report: VersionReport,
    stored: StoredPolicy,
    event: str,
    rolled: ActionRecord | None,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "event": event,
        "model": run.model,
        "version": report.version,
        "status": report.status,
        "window": run.window.to_dict(),
        "run_id": run.id,
        "policy": {"name": stored.name, "version": stored.version, "digest": stored.digest},
        "rows": report.rows,
        "labelled": report.labelled,
        "checks": flagged_checks(report),
        "rollback": None if rolled is None else rolled.to_dict(),
    }
    if event == "monitoring.retrain":
        body["evidence"] = [c.to_dict() for c in report.at_least("warn")]
    return body


def _delivery_detail(sent: Delivery, action: str) -> dict[str, Any]:
    return {
        "purpose": action,
        "event": sent.event,
        "url": sent.url,
        "delivered": sent.ok,
        "delivery_id": sent.delivery_id,
        "signed": sent.signed,
        "body_sha256": sent.body_sha256,
        "attempts": sent.attempts,
    }
