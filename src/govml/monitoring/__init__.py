"""Production monitoring: drift, performance, fairness and attribution on served traffic.

`govml.services.monitoring.MonitoringService` runs it; this package holds the parts that
need no store: windows, the DuckDB log reader, the checks, signed webhooks, Prometheus
gauges and the Label Studio round trip. See ``govml monitor --help`` and README
"Monitoring".
"""

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
