"""Production monitoring: drift, performance, fairness and attribution on served traffic.

`govml.services.monitoring.MonitoringService` runs it; this package holds the parts that
need no store: windows, the DuckDB log reader, the checks, signed webhooks, Prometheus
gauges and the Label Studio round trip. See ``govml monitor --help`` and README
"Monitoring".
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from govml._lazy import attach

if TYPE_CHECKING:
    from govml.monitoring.checks import DEFAULT_MIN_LABELS, DEFAULT_MIN_ROWS, DriftLevels
    from govml.monitoring.engine import Options, Reference
    from govml.monitoring.prometheus import (
        MonitoringCollector,
        monitoring_collector,
        prometheus_text,
        write_textfile,
    )
    from govml.monitoring.records import (
        STATUSES,
        ActionRecord,
        CheckOutcome,
        MonitorPoint,
        MonitorRun,
        Status,
        VersionReport,
    )
    from govml.monitoring.webhook import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign, verify_signature
    from govml.monitoring.window import Window, parse_length, parse_time

# Each public name and the module that defines it, imported on first use (govml._lazy).
_EXPORTS: dict[str, str] = {
    "DEFAULT_MIN_LABELS": "govml.monitoring.checks",
    "DEFAULT_MIN_ROWS": "govml.monitoring.checks",
    "DriftLevels": "govml.monitoring.checks",
    "Options": "govml.monitoring.engine",
    "Reference": "govml.monitoring.engine",
    "MonitoringCollector": "govml.monitoring.prometheus",
    "monitoring_collector": "govml.monitoring.prometheus",
    "prometheus_text": "govml.monitoring.prometheus",
    "write_textfile": "govml.monitoring.prometheus",
    "STATUSES": "govml.monitoring.records",
    "ActionRecord": "govml.monitoring.records",
    "CheckOutcome": "govml.monitoring.records",
    "MonitorPoint": "govml.monitoring.records",
    "MonitorRun": "govml.monitoring.records",
    "Status": "govml.monitoring.records",
    "VersionReport": "govml.monitoring.records",
    "SIGNATURE_HEADER": "govml.monitoring.webhook",
    "TIMESTAMP_HEADER": "govml.monitoring.webhook",
    "sign": "govml.monitoring.webhook",
    "verify_signature": "govml.monitoring.webhook",
    "Window": "govml.monitoring.window",
    "parse_length": "govml.monitoring.window",
    "parse_time": "govml.monitoring.window",
}

__all__ = [
    "DEFAULT_MIN_LABELS",
    "DEFAULT_MIN_ROWS",
    "SIGNATURE_HEADER",
    "STATUSES",
    "TIMESTAMP_HEADER",
    "ActionRecord",
    "CheckOutcome",
    "DriftLevels",
    "MonitorPoint",
    "MonitorRun",
    "MonitoringCollector",
    "Options",
    "Reference",
    "Status",
    "VersionReport",
    "Window",
    "monitoring_collector",
    "parse_length",
    "parse_time",
    "prometheus_text",
    "sign",
    "verify_signature",
    "write_textfile",
]


__getattr__, __dir__ = attach(__name__, _EXPORTS)
