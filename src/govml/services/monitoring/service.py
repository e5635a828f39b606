"""`MonitoringService`: one entry point for monitoring runs, their records and labels."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

from govml.monitoring.engine import Options
from govml.monitoring.records import RANK, MonitorPoint, MonitorRun
from govml.services.context import ServiceContext
from govml.services.monitoring import history as stored_runs
from govml.services.monitoring import labelling, received
from govml.services.monitoring.remediation import remediate
from govml.services.monitoring.run import judge_window, store_run

DEFAULT_HISTORY = 500


class MonitoringService:
    """Monitoring runs, their time series, alerts, actions and labelling round trips."""

    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx

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
        run, stored = judge_window(
            self.ctx,
            name,
            window=window,
            since=since,
            until=until,
            log_dir=log_dir,
            version=version,
            options=options or Options(),
        )
        if dry_run:
            return replace(run, duration_s=round(time.perf_counter() - started, 3))
        run, alerts = store_run(self.ctx, run, started)
        actions = list(alerts)
        for report in run.versions:
            if RANK[report.status] >= RANK["alert"] and stored is not None:
                actions += remediate(self.ctx, run, report, stored)
        return replace(run, actions=tuple(actions))

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
        return stored_runs.history(self.ctx, name, version=version, check=check, limit=limit)

    def get_run(self, name: str, run_id: int) -> MonitorRun:
        """Return stored run ``run_id`` of model ``name`` with its actions."""
        return stored_runs.get_run(self.ctx, name, run_id)

    def latest_runs(self, name: str, *, limit: int = 1) -> list[MonitorRun]:
        """Return the newest ``limit`` stored runs of model ``name``, newest first."""
        return stored_runs.latest_runs(self.ctx, name, limit=limit)

    # -- labelling and log files -----------------------------------------------------------

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
        return labelling.export_tasks(
            self.ctx,
            name,
            window=window,
            since=since,
            until=until,
            log_dir=log_dir,
            limit=limit,
            below=below,
            from_name=from_name,
            to_name=to_name,
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
        return labelling.import_labels(self.ctx, name, tasks, log_dir=log_dir, from_name=from_name)

    def receive_log(
        self,
        name: str,
        *,
        kind: str,
        path: Path,
        version: int | None = None,
        max_rows: int = received.MAX_RECEIVED_ROWS,
        max_bytes: int = received.MAX_RECEIVED_BYTES,
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
        return received.receive_log(
            self.ctx,
            name,
            kind=kind,
            path=path,
            version=version,
            max_rows=max_rows,
            max_bytes=max_bytes,
        )
