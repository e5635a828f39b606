"""Production monitoring: judge a window of the prediction log, store it, alert, remediate.

`MonitoringService.monitor` judges the window (:mod:`.run`), then, in this order:

1. stores the run, its time series points and its ``monitoring.run`` ledger entry, plus one
   ``alert`` action and ``monitoring.alert`` entry per version at ``alert`` or
   ``critical``, in one transaction (:mod:`.run`);
2. runs the policy's actions for each such version (:mod:`.remediation`): ``rollback``
   (committed with its monitoring records, never twice for one promotion), ``notify`` and
   ``retrain`` (signed webhook deliveries, each an action row and a ledger entry).

A run needs the ``register`` or ``deploy`` permission (contributor, deployer or admin); the
rollback needs ``deploy`` and is recorded as refused (``monitoring.rollback_refused``)
without it. Stored runs and time series are read through :mod:`.history`; labelling round
trips are :mod:`.labelling`, log files sent by gateways :mod:`.received`.
`verify_monitoring_records` (:mod:`.replay`) replays the runs and actions for
``govml audit verify``. The SQL is in `govml.store.monitoring_records`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from govml._lazy import attach

if TYPE_CHECKING:
    from govml.services.monitoring.history import ERR_RUN
    from govml.services.monitoring.received import MAX_RECEIVED_BYTES, MAX_RECEIVED_ROWS
    from govml.services.monitoring.remediation import ERR_NO_NOTIFY
    from govml.services.monitoring.replay import verify_monitoring_records
    from govml.services.monitoring.run import default_log_dir, log_root, run_document
    from govml.services.monitoring.service import DEFAULT_HISTORY, MonitoringService

# Each public name and the module that defines it, imported on first use (govml._lazy).
_EXPORTS: dict[str, str] = {
    "ERR_RUN": "govml.services.monitoring.history",
    "MAX_RECEIVED_BYTES": "govml.services.monitoring.received",
    "MAX_RECEIVED_ROWS": "govml.services.monitoring.received",
    "ERR_NO_NOTIFY": "govml.services.monitoring.remediation",
    "verify_monitoring_records": "govml.services.monitoring.replay",
    "default_log_dir": "govml.services.monitoring.run",
    "log_root": "govml.services.monitoring.run",
    "run_document": "govml.services.monitoring.run",
    "DEFAULT_HISTORY": "govml.services.monitoring.service",
    "MonitoringService": "govml.services.monitoring.service",
}

__all__ = [
    "DEFAULT_HISTORY",
    "ERR_NO_NOTIFY",
    "ERR_RUN",
    "MAX_RECEIVED_BYTES",
    "MAX_RECEIVED_ROWS",
    "MonitoringService",
    "default_log_dir",
    "log_root",
    "run_document",
    "verify_monitoring_records",
]


__getattr__, __dir__ = attach(__name__, _EXPORTS)
