"""Monitoring results as Prometheus gauges: a textfile-collector file, or a live collector.

Gauges (every name starts with ``govml_monitoring_``):

======================================= ====================================================
check_value                              the check's value (drift score, metric, coverage)
                                         by ``model``, ``version``, ``check``, ``category``
check_status                             0 ok, 1 warn, 2 alert, 3 critical, -1 insufficient
rows / labelled_rows                     served and labelled rows of the window, by version
run_status                               worst status of the model's latest run
window_end_timestamp_seconds             end of the latest run's window
run_timestamp_seconds                    when the latest run started
======================================= ====================================================

``govml monitor --textfile PATH`` writes the file for node_exporter's textfile collector
after each run. A gateway (or any process with a client) exposes the same gauges on its
``/metrics`` by registering :func:`monitoring_collector` with its registry::

    registry.register(monitoring_collector(lambda: client.latest_monitor_runs("credit")))
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from prometheus_client import CollectorRegistry, generate_latest, write_to_textfile
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from govml.monitoring.records import MonitorRun

PREFIX = "govml_monitoring"
STATUS_VALUE = {"insufficient": -1, "ok": 0, "warn": 1, "alert": 2, "critical": 3}


class MonitoringCollector(Collector):
    """Collects the gauges of the runs ``runs()`` returns, at scrape time.

    Parameters
    ----------
    runs : callable
        Returns the runs to expose: the latest run of each model watched.
    """

    def __init__(self, runs: Callable[[], Sequence[MonitorRun]]) -> None:
        self.runs = runs

    def collect(self) -> Iterator[Metric]:
        """Yield the gauges (see the module docstring)."""
        yield from _families(self.runs())


def monitoring_collector(runs: Callable[[], Sequence[MonitorRun]]) -> MonitoringCollector:
    """Return a collector for a Prometheus registry (a gateway's ``/metrics``)."""
    return MonitoringCollector(runs)


def _families(runs: Sequence[MonitorRun]) -> Iterator[Metric]:
    value = GaugeMetricFamily(
        f"{PREFIX}_check_value",
        "Value of a monitoring check on the latest window.",
        labels=["model", "version", "check", "category"],
    )
    status = GaugeMetricFamily(
        f"{PREFIX}_check_status",
        "Status of a monitoring check: 0 ok, 1 warn, 2 alert, 3 critical, -1 insufficient.",
        labels=["model", "version", "check", "category"],
    )
    rows = GaugeMetricFamily(
        f"{PREFIX}_rows", "Served rows in the latest window.", labels=["model", "version"]
    )
    labelled = GaugeMetricFamily(
        f"{PREFIX}_labelled_rows",
        "Served rows of the latest window with a feedback label.",
        labels=["model", "version"],
    )
    run_status = GaugeMetricFamily(
        f"{PREFIX}_run_status", "Worst status of the latest monitoring run.", labels=["model"]
    )
    window_end = GaugeMetricFamily(
        f"{PREFIX}_window_end_timestamp_seconds",
        "End of the latest monitoring window (Unix time).",
        labels=["model"],
    )
    started = GaugeMetricFamily(
        f"{PREFIX}_run_timestamp_seconds",
        "Start of the latest monitoring run (Unix time).",
        labels=["model"],
    )
    for run in runs:
        run_status.add_metric([run.model], STATUS_VALUE[run.status])
        window_end.add_metric([run.model], run.window.end.timestamp())
        started.add_metric([run.model], run.started_at.timestamp())
        for report in run.versions:
            version = str(report.version)
            rows.add_metric([run.model, version], report.rows)
            labelled.add_metric([run.model, version], report.labelled)
            for check in report.checks:
                labels = [run.model, version, check.check, check.category]
                status.add_metric(labels, STATUS_VALUE[check.status])
                if check.value is not None:
                    value.add_metric(labels, check.value)
    yield from (value, status, rows, labelled, run_status, window_end, started)


def _registry(runs: Sequence[MonitorRun]) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(MonitoringCollector(lambda: runs))
    return registry


def prometheus_text(runs: Sequence[MonitorRun]) -> str:
    """Return the gauges of ``runs`` in Prometheus' text exposition format."""
    return generate_latest(_registry(runs)).decode("utf-8")


def write_textfile(path: str | Path, runs: Sequence[MonitorRun]) -> None:
    """Write the gauges of ``runs`` to ``path`` atomically (textfile collector)."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    write_to_textfile(str(target), _registry(runs))
