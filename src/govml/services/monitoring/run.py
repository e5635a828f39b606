"""A monitoring run: judge a window of the prediction log, then store it with its alerts.

`judge_window` reads the window's prediction and feedback logs
(:mod:`govml.monitoring.logs`) and runs every check of each version that answered requests
in it against that version's references (:mod:`govml.monitoring.engine`). `store_run`
stores the run, its time series points and its ``monitoring.run`` ledger entry, plus one
``alert`` action and ``monitoring.alert`` entry per version at ``alert`` or ``critical``, in
one transaction. Recording a run needs the ``register`` or ``deploy`` permission.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Connection

from govml.checks import Explanation
from govml.datasets import Profile
from govml.domain.lifecycle import PRODUCTION, Permission
from govml.domain.records import Model, ModelVersion
from govml.errors import ForbiddenError, InputError
from govml.ledger.canonical import canonical_json
from govml.monitoring.engine import Options, Reference, check_version, prediction_reference
from govml.monitoring.logs import PredictionLogs
from govml.monitoring.records import RANK, ActionRecord, MonitorRun, VersionReport, worst
from govml.monitoring.window import Window
from govml.policy.records import StoredPolicy
from govml.services.access import authorize
from govml.services.context import ServiceContext
from govml.services.evaluation import EvaluationService
from govml.services.model_risk import revalidation_notes
from govml.services.monitoring.replay import action_payload
from govml.services.policy import policy_in_force
from govml.services.registry import RegistryService, model_subject, version_subject
from govml.store import monitoring_records, records
from govml.store.ledger import NewEntry, append


def log_root(log_dir: str | Path | None, ctx: ServiceContext) -> Path | str:
    """Return the log to read: ``log_dir``, else GOVML_PREDICTION_LOG, else the home's folder."""
    if log_dir is not None:
        return log_dir if str(log_dir).startswith("s3://") else Path(log_dir)
    return ctx.prediction_log or default_log_dir(ctx)


def default_log_dir(ctx: ServiceContext) -> Path:
    """Return ``$GOVML_HOME/predictions`` of the context's home (where ``govml serve`` logs)."""
    if ctx.keys is None:
        raise InputError("no govml home is known here: pass the prediction log folder")
    return ctx.keys.parent / "predictions"


def resolve_window(
    stored: StoredPolicy | None,
    *,
    window: str | None,
    since: str | datetime | None,
    until: str | datetime | None,
    now: datetime,
) -> Window:
    """Return the window asked for, else the policy's ``monitoring.window``, else one day."""
    policy = None if stored is None else stored.policy
    default = "1d" if policy is None or policy.monitoring is None else policy.monitoring.window
    return Window.resolve(window=window, since=since, until=until, now=now, default=default)


def judge_window(
    ctx: ServiceContext,
    name: str,
    *,
    window: str | None,
    since: str | datetime | None,
    until: str | datetime | None,
    log_dir: str | Path | None,
    version: int | None,
    options: Options,
) -> tuple[MonitorRun, StoredPolicy | None]:
    """Judge model ``name``'s window; return the run (not stored) and the policy in force."""
    now = ctx.clock()
    with ctx.store.read() as conn:
        model = records.load_model(conn, name)
        stored = policy_in_force(conn, model.risk_tier.value)
    policy = None if stored is None else stored.policy
    span = resolve_window(stored, window=window, since=since, until=until, now=now)
    root = log_root(log_dir, ctx)
    references = _References(ctx)
    reports: list[VersionReport] = []
    notes: list[str] = []
    if stored is None:
        notes.append(
            f"no policy is in force for risk tier {model.risk_tier.value}: default drift "
            "tests only, no performance or fairness rules, no actions"
        )
    elif policy is not None and policy.monitoring is None:
        notes.append(f"policy {stored.name} has no monitoring section: default drift tests")
    notes += revalidation_notes(ctx, name)  # the policy's revalidation: due soon or overdue
    with PredictionLogs(root, name) as logs:
        files = logs.prediction_files(span.days())
        if version is not None:
            files = {v: f for v, f in files.items() if v == version}
        for number, version_files in sorted(files.items()):
            if logs.count(version_files, span) == 0:
                continue
            reference = references.of(model, number)
            reports.append(check_version(logs, version_files, span, reference, policy, options))
    if not reports:
        notes.append(f"no served prediction of {name} in {span} under {root}: nothing to judge")
    run = MonitorRun(
        id=None,
        model=name,
        window=span,
        status=worst(r.status for r in reports),
        versions=tuple(reports),
        actions=(),
        policy=None
        if stored is None
        else {"name": stored.name, "version": stored.version, "digest": stored.digest},
        production=model.aliases.get(PRODUCTION),
        started_at=now,
        actor=ctx.actor,
        duration_s=0.0,
        notes=tuple(notes),
    )
    return run, stored


class _References:
    """A version's references: training profile, prediction counts, feature importance."""

    def __init__(self, ctx: ServiceContext) -> None:
        self.registry = RegistryService(ctx)
        self.evaluations = EvaluationService(ctx)

    def of(self, model: Model, number: int) -> Reference:
        version = self.registry.get_version(f"{model.name}@{number}")
        features = [c["name"] for c in (version.signature or {}).get("inputs", [])]
        profile, target = self._profile(version, features)
        counts, source, pos_label = None, "", None
        importance, explainer = None, "auto"
        for evaluation in self.evaluations.query(model=model.name, version=number, limit=20):
            if counts is None:
                found, pos = prediction_reference(evaluation.document)
                pos_label = pos if pos_label is None else pos_label
                if found:
                    counts, source = found, f"predictions on evaluation {evaluation.id}'s data"
            if importance is None:
                blob = self.evaluations.evidence(evaluation, "explanation")
                if blob is not None:
                    explained = Explanation.from_dict(json.loads(blob))
                    importance = explained.importance
                    explainer = str(explained.parameters.get("requested") or explained.explainer)
        return Reference(
            version=number,
            features=features,
            profile=profile,
            target=target,
            prediction_counts=counts,
            prediction_source=source,
            pos_label=pos_label,
            importance=importance,
            explainer=explainer,
            load_model=lambda: self.registry.load_model(version.ref),
        )

    def _profile(
        self, version: ModelVersion, features: list[str]
    ) -> tuple[Profile | None, str | None]:
        for ref in version.datasets:
            if ref.role == "train":
                fingerprint = self.registry.dataset_fingerprint(ref.digest)
                profile = Profile.from_dict(fingerprint["profile"])
                others = [n for n in profile.names if n not in features]
                return profile, others[0] if len(others) == 1 else None
        return None, None


def store_run(
    ctx: ServiceContext, run: MonitorRun, started: float
) -> tuple[MonitorRun, list[ActionRecord]]:
    """Store the run, its points, its ledger entry and its alerts in one transaction.

    Returns the run with its id and ledger entry, and the alert actions recorded.

    Raises
    ------
    ForbiddenError
        When the actor may neither register nor deploy (nothing is stored).
    """
    now = ctx.clock()
    run = replace(run, duration_s=round(time.perf_counter() - started, 3))
    document = run_document(run)
    digest = "sha256:" + hashlib.sha256(canonical_json(document)).hexdigest()
    with ctx.store.write() as conn:
        _authorize_run(conn, ctx)
        mid = records.model_id(conn, run.model)
        run_id = monitoring_records.insert_run(
            conn,
            model_id=mid,
            window_start=run.window.start,
            window_end=run.window.end,
            status=run.status,
            document=canonical_json(document).decode("utf-8"),
            digest=digest,
            actor=ctx.actor,
            created_at=now,
        )
        monitoring_records.insert_points(
            conn,
            [
                {
                    "run_id": run_id,
                    "model_id": mid,
                    "version": report.version,
                    "check": check.check,
                    "category": check.category,
                    "status": check.status,
                    "value": check.value,
                    "window_start": run.window.start,
                    "window_end": run.window.end,
                    "created_at": now,
                }
                for report in run.versions
                for check in report.checks
            ],
        )
        (entry,) = append(
            conn,
            actor=ctx.actor,
            now=now,
            entries=[
                NewEntry(
                    action="monitoring.run",
                    subject=model_subject(run.model),
                    payload=_run_payload(run_id, run, digest),
                )
            ],
        )
        alerts = []
        for report in run.versions:
            if RANK[report.status] < RANK["alert"]:
                continue
            flagged = flagged_checks(report)
            detail = {"status": report.status, "window": run.window.to_dict(), "checks": flagged}
            _, seq = record_action(
                conn,
                ctx,
                RunAction(run_id, mid, run.model, report.version, "alert"),
                "done",
                None,
                detail,
                now,
                ledger_action="monitoring.alert",
            )
            alerts.append(
                ActionRecord(
                    action="alert",
                    version=report.version,
                    status="done",
                    detail=f"{report.status}: " + "; ".join(str(c["message"]) for c in flagged[:5]),
                    ledger_seq=seq,
                )
            )
    return replace(run, id=run_id, ledger_seq=entry.seq), alerts


@dataclass(frozen=True)
class RunAction:
    """Which action of which run, on which model (``mid`` its id) and version."""

    run_id: int
    mid: int
    model: str
    version: int
    action: str


def record_action(
    conn: Connection,
    ctx: ServiceContext,
    what: RunAction,
    status: str,
    dedupe: str | None,
    detail: dict[str, Any],
    now: datetime,
    *,
    ledger_action: str,
) -> tuple[int, int]:
    """Store an action row and its ledger entry; return the action's id and entry number."""
    action_id = monitoring_records.insert_action(
        conn,
        run_id=what.run_id,
        model_id=what.mid,
        version=what.version,
        action=what.action,
        status=status,
        dedupe=dedupe,
        detail=detail,
        created_at=now,
    )
    payload = action_payload(
        action_id, what.run_id, what.model, what.version, what.action, status, dedupe, detail
    )
    (entry,) = append(
        conn,
        actor=ctx.actor,
        now=now,
        entries=[
            NewEntry(
                action=ledger_action,
                subject=version_subject(what.model, what.version),
                payload=payload,
            )
        ],
    )
    return action_id, entry.seq


def _authorize_run(conn: Connection, ctx: ServiceContext) -> None:
    try:
        authorize(conn, ctx, Permission.DEPLOY)
    except ForbiddenError:
        try:
            authorize(conn, ctx, Permission.REGISTER)
        except ForbiddenError as exc:
            raise ForbiddenError(
                f"{exc.message}; recording a monitoring run needs a contributor, deployer or admin",
                hint=exc.hint,
            ) from None


def flagged_checks(report: VersionReport) -> list[dict[str, Any]]:
    """Return the checks of ``report`` at ``alert`` or worse, as alerts name them."""
    return [
        {"check": c.check, "status": c.status, "value": c.value, "message": c.message}
        for c in report.at_least("alert")
    ]


def run_document(run: MonitorRun) -> dict[str, Any]:
    """Return what a stored run keeps (and its digest covers): the run without id or actions."""
    document = run.to_dict()
    for key in ("id", "actions", "ledger_seq"):
        document.pop(key)
    return document


def _run_payload(run_id: int, run: MonitorRun, digest: str) -> dict[str, Any]:
    return {
        "run_id": run_id,
        "model": run.model,
        "window": run.window.to_dict(),
        "status": run.status,
        "digest": digest,
        "policy": run.policy,
        "versions": [
            {
                "version": r.version,
                "rows": r.rows,
                "labelled": r.labelled,
                "status": r.status,
                "checks": sorted({c.category for c in r.checks}),
                "flagged": [c.check for c in r.at_least("warn")],
            }
            for r in run.versions
        ],
    }
