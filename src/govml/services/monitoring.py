"""Production monitoring: judge a window of the prediction log, store it, alert, remediate.

`MonitoringService.monitor` reads the window's prediction and feedback logs
(:mod:`govml.monitoring.logs`), runs every check of each version that answered requests
in it against that version's references (:mod:`govml.monitoring.engine`), and then, in
this order:

1. stores the run, its time series points and its ``monitoring.run`` ledger entry, plus one
   ``alert`` action and ``monitoring.alert`` entry per version at ``alert`` or
   ``critical``, in one transaction;
2. runs the policy's actions for each such version: ``on_alert`` at ``alert``, ``on_alert``
   and ``on_critical`` together at ``critical``:

   - ``rollback`` moves ``production`` back to the previous production version when the
     judged version still holds it. The rollback (its alias change and ``alias.rolled_back``
     entry), the action row and its ``monitoring.rollback`` entry commit in one transaction,
     and the action's ``dedupe`` key is the promotion that made the version production
     (unique per model): monitoring the same window again, or two monitors at once, never
     rolls back twice. A later re-promotion is a new promotion and may be rolled back.
   - ``notify`` POSTs the alert to the policy's webhook, signed (:mod:`.webhook`), and
     ``retrain`` POSTs a ``monitoring.retrain`` event carrying the evidence (the flagged
     checks with their statistics) to the same webhook. Each delivery, with every attempt,
     is an action row and a ``monitoring.webhook`` ledger entry; a successful one is not
     sent again for the same version, window and status.

A run needs the ``register`` or ``deploy`` permission (contributor, deployer or admin); the
rollback needs ``deploy`` and is recorded as refused (``monitoring.rollback_refused``)
without it. ``verify_monitoring_records`` replays the runs and actions for
``govml audit verify``.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from govml.checks import Explanation
from govml.datasets import Profile
from govml.domain.lifecycle import PRODUCTION, Permission
from govml.domain.records import Model, ModelVersion
from govml.errors import ForbiddenError, InputError, IntegrityError, NotFoundError, TooLargeError
from govml.ledger.canonical import canonical_json
from govml.monitoring.engine import Options, Reference, check_version, prediction_reference
from govml.monitoring.labelling import import_result, labelling_tasks, prepare_import
from govml.monitoring.logs import PredictionLogs
from govml.monitoring.received import check_kind, check_log_table
from govml.monitoring.records import (
    RANK,
    ActionRecord,
    MonitorPoint,
    MonitorRun,
    VersionReport,
    worst,
)
from govml.monitoring.webhook import Delivery, deliver, secret_from_env
from govml.monitoring.window import Window
from govml.policy.records import StoredPolicy
from govml.services.access import authorize
from govml.services.context import ServiceContext
from govml.services.evaluation import EvaluationService
from govml.services.lifecycle import LifecycleService
from govml.services.policy import policy_in_force
from govml.services.registry import RegistryService, model_subject, version_subject
from govml.store import records
from govml.store.db import Store
from govml.store.ledger import NewEntry, append, iter_entries
from govml.store.schema import (
    alias_events,
    model_aliases,
    model_versions,
    models,
    monitoring_actions,
    monitoring_points,
    monitoring_runs,
)

DEFAULT_HISTORY = 500
MAX_RECEIVED_ROWS = 5_000_000
MAX_RECEIVED_BYTES = 1 << 30
ERR_NO_NOTIFY = "the policy has no monitoring.notify webhook to send {what} to"
ERR_RUN = "no monitoring run {run_id} of {model}"


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


class _OpenTransaction(Store):
    """A store whose read and write transactions are one transaction already open.

    It lets another service's change (a rollback) commit together with the monitoring
    records and ledger entries about it, or not at all.
    """

    def __init__(self, conn: Connection) -> None:  # no engine of its own
        self._conn = conn

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """Yield the open connection."""
        yield self._conn

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """Yield the open connection (its transaction commits when the caller's does)."""
        yield self._conn


class MonitoringService:
    """Monitoring runs, their time series, alerts, actions and labelling round trips."""

    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx
        self.registry = RegistryService(ctx)
        self.evaluations = EvaluationService(ctx)

    # -- the run -------------------------------------------------------------------------

    def monitor(
        self,
        name: str,
        *,
        window: str | None = None,
        since: str | datetime | None = None,
        until: str | datetime | None = None,
        log_dir: str | Path | None = None,
        dry_run: bool = False,
        version: int | None = None,
        options: Options | None = None,
    ) -> MonitorRun:
        """Judge a window of model ``name``'s prediction log; store, alert and remediate.

        Parameters
        ----------
        name
            The model.
        window, since, until
            ``window`` (``1d``) ending at ``until`` (default now), or ``since`` .. ``until``;
            the policy's ``monitoring.window`` when neither is given.
        log_dir
            The prediction log folder (default ``$GOVML_HOME/predictions``).
        dry_run
            Judge and return the run without storing it or taking any action.
        version
            Judge only this version (default: every version that answered requests).
        options
            Minimum rows and labels, SHAP sample size, seed.

        Raises
        ------
        NotFoundError
            For an unknown model.
        InputError
            For a malformed window, a missing log folder or unreadable log files.
        ForbiddenError
            When the actor may neither register nor deploy (nothing is stored).
        """
        started = time.perf_counter()
        now = self.ctx.clock()
        opts = options or Options()
        with self.ctx.store.read() as conn:
            model = records.load_model(conn, name)
            stored = policy_in_force(conn, model.risk_tier.value)
        policy = None if stored is None else stored.policy
        default = "1d" if policy is None or policy.monitoring is None else policy.monitoring.window
        span = Window.resolve(window=window, since=since, until=until, now=now, default=default)
        root = log_root(log_dir, self.ctx)
        reports: list[VersionReport] = []
        notes: list[str] = []
        if stored is None:
            notes.append(
                f"no policy is in force for risk tier {model.risk_tier.value}: default drift "
                "tests only, no performance or fairness rules, no actions"
            )
        elif policy is not None and policy.monitoring is None:
            notes.append(f"policy {stored.name} has no monitoring section: default drift tests")
        with PredictionLogs(root, name) as logs:
            files = logs.prediction_files(span.days())
            if version is not None:
                files = {v: f for v, f in files.items() if v == version}
            for number, version_files in sorted(files.items()):
                if logs.count(version_files, span) == 0:
                    continue
                reference = self._reference(model, number)
                reports.append(check_version(logs, version_files, span, reference, policy, opts))
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
            actor=self.ctx.actor,
            duration_s=0.0,
            notes=tuple(notes),
        )
        if dry_run:
            return replace(run, duration_s=round(time.perf_counter() - started, 3))
        run, alerts = self._store_run(run, started)
        actions = list(alerts)
        for report in run.versions:
            if RANK[report.status] >= RANK["alert"] and stored is not None:
                actions += self._act(run, report, stored)
        return replace(run, actions=tuple(actions))

    def _reference(self, model: Model, number: int) -> Reference:
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

    # -- storing -------------------------------------------------------------------------

    def _store_run(self, run: MonitorRun, started: float) -> tuple[MonitorRun, list[ActionRecord]]:
        now = self.ctx.clock()
        run = replace(run, duration_s=round(time.perf_counter() - started, 3))
        document = run_document(run)
        digest = "sha256:" + hashlib.sha256(canonical_json(document)).hexdigest()
        with self.ctx.store.write() as conn:
            _authorize_run(conn, self.ctx)
            mid = records.model_id(conn, run.model)
            run_id = conn.execute(
                sa.insert(monitoring_runs)
                .values(
                    model_id=mid,
                    window_start=run.window.start,
                    window_end=run.window.end,
                    status=run.status,
                    document=canonical_json(document).decode("utf-8"),
                    digest=digest,
                    actor=self.ctx.actor,
                    created_at=now,
                )
                .returning(monitoring_runs.c.id)
            ).scalar_one()
            points = [
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
            ]
            if points:
                conn.execute(sa.insert(monitoring_points), points)
            (entry,) = append(
                conn,
                actor=self.ctx.actor,
                now=now,
                entries=[
                    NewEntry(
                        action="monitoring.run",
                        subject=model_subject(run.model),
                        payload=_run_payload(int(run_id), run, digest),
                    )
                ],
            )
            alerts = []
            for report in run.versions:
                if RANK[report.status] < RANK["alert"]:
                    continue
                flagged = _flagged(report)
                detail = {
                    "status": report.status,
                    "window": run.window.to_dict(),
                    "checks": flagged,
                }
                _, seq = self._record_action(
                    conn,
                    int(run_id),
                    mid,
                    run.model,
                    report.version,
                    "alert",
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
                        detail=f"{report.status}: "
                        + "; ".join(str(c["message"]) for c in flagged[:5]),
                        ledger_seq=seq,
                    )
                )
        return replace(run, id=int(run_id), ledger_seq=entry.seq), alerts

    def _record_action(
        self,
        conn: Connection,
        run_id: int,
        mid: int,
        model: str,
        version: int,
        action: str,
        status: str,
        dedupe: str | None,
        detail: dict[str, Any],
        now: datetime,
        *,
        ledger_action: str,
    ) -> tuple[int, int]:
        action_id = conn.execute(
            sa.insert(monitoring_actions)
            .values(
                run_id=run_id,
                model_id=mid,
                version=version,
                action=action,
                status=status,
                dedupe=dedupe,
                detail=detail,
                created_at=now,
            )
            .returning(monitoring_actions.c.id)
        ).scalar_one()
        payload = _action_payload(
            int(action_id), run_id, model, version, action, status, dedupe, detail
        )
        (entry,) = append(
            conn,
            actor=self.ctx.actor,
            now=now,
            entries=[
                NewEntry(
                    action=ledger_action,
                    subject=version_subject(model, version),
                    payload=payload,
                )
            ],
        )
        return int(action_id), entry.seq

    # -- actions -------------------------------------------------------------------------

    def _act(
        self, run: MonitorRun, report: VersionReport, stored: StoredPolicy
    ) -> list[ActionRecord]:
        monitoring = stored.policy.monitoring
        if monitoring is None:
            return []
        wanted = list(monitoring.on_alert)
        if report.status == "critical":
            wanted += [a for a in monitoring.on_critical if a not in wanted]
        done: list[ActionRecord] = []
        rolled: ActionRecord | None = None
        if "rollback" in wanted:
            rolled = self._rollback(run, report)
            done.append(rolled)
        for action in ("notify", "retrain"):
            if action in wanted:
                done.append(self._webhook(run, report, stored, action, rolled))
        return done

    def _rollback(self, run: MonitorRun, report: VersionReport) -> ActionRecord:
        assert run.id is not None
        reason = (
            f"monitoring run {run.id} ({run.window}): {report.status}: "
            + "; ".join(c.message for c in report.at_least("alert")[:3])
        )[:2000]
        now = self.ctx.clock()
        try:
            with self.ctx.store.write() as conn:
                mid = records.model_id(conn, run.model)
                holder, promotion = _production(conn, mid)
                if holder != report.version:
                    return _skipped(
                        report.version,
                        f"version {report.version} no longer holds production "
                        f"(now {holder if holder is not None else 'none'}): nothing to roll back",
                    )
                dedupe = f"rollback:promotion:{promotion}"
                earlier = conn.execute(
                    sa.select(monitoring_actions.c.run_id).where(
                        monitoring_actions.c.model_id == mid, monitoring_actions.c.dedupe == dedupe
                    )
                ).scalar_one_or_none()
                if earlier is not None:
                    return _skipped(
                        report.version,
                        f"monitoring run {earlier} already rolled back this promotion",
                    )
                joined = replace(self.ctx, store=_OpenTransaction(conn))
                change = LifecycleService(joined).rollback(run.model, reason=reason)
                detail = {
                    "from_version": change.previous,
                    "to_version": change.version,
                    "alias_change": change.id,
                    "promotion_event": promotion,
                    "reason": reason,
                }
                _, seq = self._record_action(
                    conn,
                    run.id,
                    mid,
                    run.model,
                    report.version,
                    "rollback",
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
                    detail=f"production rolled back from version {change.previous} to "
                    f"{change.version}",
                    ledger_seq=seq,
                )
        except (ForbiddenError, NotFoundError) as exc:
            return self._refused(run, report, exc.message, now)

    def _refused(
        self, run: MonitorRun, report: VersionReport, why: str, now: datetime
    ) -> ActionRecord:
        assert run.id is not None
        with self.ctx.store.write() as conn:
            mid = records.model_id(conn, run.model)
            _, seq = self._record_action(
                conn,
                run.id,
                mid,
                run.model,
                report.version,
                "rollback",
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
        self,
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
        with self.ctx.store.read() as conn:
            mid = records.model_id(conn, run.model)
            earlier = conn.execute(
                sa.select(monitoring_actions.c.run_id).where(
                    monitoring_actions.c.model_id == mid, monitoring_actions.c.dedupe == dedupe
                )
            ).scalar_one_or_none()
        if earlier is not None:
            return _skipped(
                report.version,
                f"already sent for this window and status by monitoring run {earlier}",
                action=action,
            )
        payload = _event(run, report, stored, event, rolled)
        sent = deliver(notify.webhook, event, payload, secret_from_env(notify.secret_env))
        now = self.ctx.clock()
        detail = _delivery_detail(sent, action)
        with self.ctx.store.write() as conn:
            _, seq = self._record_action(
                conn,
                run.id,
                mid,
                run.model,
                report.version,
                action,
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

    # -- reading -------------------------------------------------------------------------

    def history(
        self,
        name: str,
        *,
        version: int | None = None,
        check: str | None = None,
        limit: int | None = DEFAULT_HISTORY,
    ) -> list[MonitorPoint]:
        """Return the time series of model ``name``'s checks, oldest first.

        ``check`` keeps one check (``data_drift:age``) or a category (``data_drift``);
        ``limit`` keeps the newest points.
        """
        with self.ctx.store.read() as conn:
            mid = records.model_id(conn, name)
            query = sa.select(monitoring_points).where(monitoring_points.c.model_id == mid)
            if version is not None:
                query = query.where(monitoring_points.c.version == version)
            if check is not None:
                query = query.where(
                    sa.or_(
                        monitoring_points.c.check == check, monitoring_points.c.category == check
                    )
                )
            query = query.order_by(monitoring_points.c.id.desc())
            if limit is not None:
                query = query.limit(limit)
            rows = list(conn.execute(query))
        return [
            MonitorPoint(
                run_id=row.run_id,
                model=name,
                version=row.version,
                check=row.check,
                category=row.category,
                status=row.status,
                value=row.value,
                window_start=row.window_start,
                window_end=row.window_end,
                created_at=row.created_at,
            )
            for row in reversed(rows)
        ]

    def get_run(self, name: str, run_id: int) -> MonitorRun:
        """Return stored run ``run_id`` of model ``name`` with its actions."""
        with self.ctx.store.read() as conn:
            mid = records.model_id(conn, name)
            row = conn.execute(
                sa.select(monitoring_runs).where(
                    monitoring_runs.c.id == run_id, monitoring_runs.c.model_id == mid
                )
            ).first()
            if row is None:
                raise NotFoundError(ERR_RUN.format(run_id=run_id, model=name))
            actions = list(
                conn.execute(
                    sa.select(monitoring_actions)
                    .where(monitoring_actions.c.run_id == run_id)
                    .order_by(monitoring_actions.c.id)
                )
            )
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
                status=a.status,
                detail=_detail_text(a.action, a.detail),
                attempts=tuple(a.detail.get("attempts", ())),
                ledger_seq=seqs.get(a.id),
            )
            for a in actions
        ]
        return MonitorRun.from_dict(
            {**document, "id": run_id, "actions": [a.to_dict() for a in stored]}
        )

    def latest_runs(self, name: str, *, limit: int = 1) -> list[MonitorRun]:
        """Return the newest ``limit`` stored runs of model ``name``, newest first."""
        with self.ctx.store.read() as conn:
            mid = records.model_id(conn, name)
            ids = [
                int(r)
                for r in conn.execute(
                    sa.select(monitoring_runs.c.id)
                    .where(monitoring_runs.c.model_id == mid)
                    .order_by(monitoring_runs.c.id.desc())
                    .limit(limit)
                ).scalars()
            ]
        return [self.get_run(name, run_id) for run_id in ids]

    # -- labelling -----------------------------------------------------------------------

    def export_tasks(
        self,
        name: str,
        *,
        window: str | None = None,
        since: str | datetime | None = None,
        until: str | datetime | None = None,
        log_dir: str | Path | None = None,
        limit: int = 100,
        below: float | None = None,
        from_name: str = "label",
        to_name: str = "record",
    ) -> list[dict[str, Any]]:
        """Return the window's least confident predictions as Label Studio tasks."""
        with self.ctx.store.read() as conn:
            model = records.load_model(conn, name)
            stored = policy_in_force(conn, model.risk_tier.value)
        policy = None if stored is None else stored.policy
        default = "1d" if policy is None or policy.monitoring is None else policy.monitoring.window
        span = Window.resolve(
            window=window, since=since, until=until, now=self.ctx.clock(), default=default
        )
        root = log_root(log_dir, self.ctx)
        with PredictionLogs(root, name) as logs:
            return labelling_tasks(
                logs, span, limit=limit, below=below, from_name=from_name, to_name=to_name
            )

    def import_labels(
        self,
        name: str,
        tasks: Sequence[Mapping[str, Any]],
        *,
        log_dir: str | Path | None = None,
        from_name: str | None = None,
    ) -> dict[str, Any]:
        """Write the labels of annotated Label Studio tasks into the feedback log.

        Labels feed monitoring, whose rules can roll production back, so importing them
        needs the ``register`` permission (contributor or admin: the people who give a model
        its data and evidence), checked before anything is read. Labels that cannot be true,
        or whose prediction is not in the log, are skipped and named; a label for a record
        labelled before is kept as a correction. The file is published only together with
        its ``monitoring.labels_imported`` ledger entry (model, file, digest, counts).

        Returns ``written``, ``corrections``, ``skipped`` (with reasons), ``file`` and
        ``digest``.

        Raises
        ------
        ForbiddenError
            When the actor may not register (nothing is read or written).
        """
        with self.ctx.store.write() as conn:
            _authorize_evidence(conn, self.ctx, "importing labels")
            records.load_model(conn, name)
        root = log_root(log_dir, self.ctx)
        with PredictionLogs(root, name) as logs:
            written, skipped = prepare_import(
                logs, tasks, now=self.ctx.clock(), from_name=from_name
            )
        result = import_result(written, skipped)
        if written is None:
            return result
        now = self.ctx.clock()
        try:
            with self.ctx.store.write() as conn:
                _authorize_evidence(conn, self.ctx, "importing labels")
                append(
                    conn,
                    actor=self.ctx.actor,
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

    def receive_log(
        self,
        name: str,
        *,
        kind: str,
        path: Path,
        version: int | None = None,
        max_rows: int = MAX_RECEIVED_ROWS,
        max_bytes: int = MAX_RECEIVED_BYTES,
    ) -> dict[str, Any]:
        """Take a prediction log file a gateway in client mode sent, into this home's log.

        A file feeds monitoring as the local gateway's do, so it needs the ``register``
        permission (contributor or admin), checked before the file is read. The file is read
        only within ``max_rows`` rows and ``max_bytes`` decoded bytes (from its footer),
        checked (:mod:`govml.monitoring.received`), written in the log's layout under
        ``$GOVML_HOME/predictions``, in the partition its model, version and date give, and
        recorded by a ``predictions.received`` ledger entry (kind, version, date, rows, the
        digests of the file sent and of the file written). Sending the same file again is
        answered with the first receipt and changes nothing.

        Raises
        ------
        ForbiddenError
            When the actor may not register (the file is not read).
        InputError
            For a file that is not in the log's layout, naming what is wrong.
        TooLargeError
            For a file over the limits.
        """
        with self.ctx.store.write() as conn:
            _authorize_evidence(conn, self.ctx, "sending prediction logs")
            records.load_model(conn, name)
        check_kind(kind)
        inputs: list[str] = []
        ref = name
        if kind == "predictions":
            if version is None:
                raise InputError("version: a predictions file belongs to a version")
            found = self.registry.get_version(f"{name}@{version}")
            inputs = [c["name"] for c in (found.signature or {}).get("inputs", [])]
            ref = found.ref
        sent = "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()
        table = _read_received(path, max_rows=max_rows, max_bytes=max_bytes)
        checked = check_log_table(kind, table, inputs=inputs, ref=ref)
        root = default_log_dir(self.ctx)
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
            with self.ctx.store.write() as conn:
                _authorize_evidence(conn, self.ctx, "sending prediction logs")
                append(
                    conn,
                    actor=self.ctx.actor,
                    now=self.ctx.clock(),
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


# -- helpers ---------------------------------------------------------------------------------


def _authorize_evidence(conn: Connection, ctx: ServiceContext, what: str) -> None:
    """Check that the actor may give monitoring its evidence (register: contributor, admin)."""
    try:
        authorize(conn, ctx, Permission.REGISTER)
    except ForbiddenError as exc:
        raise ForbiddenError(
            f"{exc.message}; {what}, which monitoring judges production on, needs a "
            "contributor or admin",
            hint=exc.hint,
        ) from None


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


def _production(conn: Connection, mid: int) -> tuple[int | None, int | None]:
    """Return the version holding production and the id of the promotion that put it there."""
    holder = conn.execute(
        sa.select(model_versions.c.version)
        .join(model_aliases, model_aliases.c.version_id == model_versions.c.id)
        .where(model_aliases.c.model_id == mid, model_aliases.c.alias == PRODUCTION)
    ).scalar_one_or_none()
    events = list(
        conn.execute(
            sa.select(alias_events.c.id, alias_events.c.action, alias_events.c.version)
            .where(alias_events.c.model_id == mid, alias_events.c.alias == PRODUCTION)
            .order_by(alias_events.c.id)
        )
    )
    # The promotions form a stack that rollbacks pop (as in the lifecycle service).
    stack: list[int] = []
    for event in events:
        if event.action == "promote":
            stack.append(event.id)
        elif stack:
            stack.pop()
    return (None if holder is None else int(holder)), (stack[-1] if stack else None)


def _skipped(version: int, why: str, *, action: str = "rollback") -> ActionRecord:
    return ActionRecord(action=action, version=version, status="skipped", detail=why)


def _flagged(report: VersionReport) -> list[dict[str, Any]]:
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


def _action_payload(
    action_id: int,
    run_id: int,
    model: str,
    version: int,
    action: str,
    status: str,
    dedupe: str | None,
    detail: Mapping[str, Any],
) -> dict[str, Any]:
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
        "checks": _flagged(report),
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


# -- replay for `audit verify` ----------------------------------------------------------------

_MONITORING_ACTIONS = (
    "monitoring.run",
    "monitoring.alert",
    "monitoring.rollback",
    "monitoring.rollback_refused",
    "monitoring.webhook",
)


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
    names = {row.id: row.name for row in conn.execute(sa.select(models.c.id, models.c.name))}
    documents: dict[int, dict[str, Any]] = {}
    n_runs = 0
    for row in conn.execute(sa.select(monitoring_runs).order_by(monitoring_runs.c.id)):
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
    for row in conn.execute(sa.select(monitoring_actions).order_by(monitoring_actions.c.id)):
        n_actions += 1
        found = actions.pop(row.id, None)
        if found is None:
            raise IntegrityError(f"monitoring action {row.id} has no ledger entry")
        seq, payload = found
        ours = _action_payload(
            row.id,
            row.run_id,
            names[row.model_id],
            row.version,
            row.action,
            row.status,
            row.dedupe,
            row.detail,
        )
        for key, value in ours.items():
            if payload.get(key) != json.loads(json.dumps(value)):
                raise IntegrityError(
                    f"monitoring action {row.id} differs from its ledger entry {seq}: {key} is "
                    f"{json.dumps(value)} in the database but {json.dumps(payload.get(key))} in "
                    "the ledger"
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
    for row in conn.execute(sa.select(monitoring_points).order_by(monitoring_points.c.id)):
        n += 1
        checks = expected.get(row.run_id, {})
        want = checks.get((row.version, row.check))
        value = row.value
        if want is None or want[0] != row.status or not _same(want[1], value):
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
