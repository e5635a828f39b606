"""The runtime environment check as the gateway shows it: ``/ready`` and the metrics.

A version whose policy says ``environment: {mismatch: refuse}`` never loads in a mismatched
environment (`govml.services.environment_check`, run by the registry's ``load_model``); one
loaded under ``warn`` is served, and the gateway says so: ``/ready`` lists the mismatches under
``environment`` and ``govml_gateway_environment_mismatch`` is 1 for each package whose running
version differs (labels ``version``, ``package``, ``recorded``, ``running``). The comparison
shown is the flavor's packages at major.minor precision; each version is checked once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from govml.domain.records import ModelVersion
from govml.services.environment_check import EnvironmentReport, check

METRIC = "govml_gateway_environment_mismatch"


class EnvironmentReports:
    """The environment report of each loaded version, computed once per version."""

    def __init__(self, versions: Callable[[], Iterable[ModelVersion]]) -> None:
        self.versions = versions
        self._cache: dict[tuple[str, str], EnvironmentReport] = {}

    def reports(self) -> list[EnvironmentReport]:
        """Return the reports of the versions loaded now."""
        out = []
        for version in self.versions():
            key = (version.ref, version.artifact_digest)
            if key not in self._cache:
                self._cache[key] = check(version, None)
            out.append(self._cache[key])
        return out

    def ready_section(self) -> list[dict[str, Any]] | None:
        """Return what ``/ready`` shows under ``environment`` (None when all match)."""
        found = [r.to_dict() for r in self.reports() if not r.ok]
        return found or None


class EnvironmentCollector(Collector):
    """``govml_gateway_environment_mismatch`` at scrape time."""

    def __init__(self, reports: EnvironmentReports) -> None:
        self.found = reports

    def collect(self) -> Iterator[Metric]:
        """Yield one gauge sample per mismatched package of each loaded version."""
        gauge = GaugeMetricFamily(
            METRIC,
            "1 for each package whose running version differs from the loaded version's record.",
            labels=["version", "package", "recorded", "running"],
        )
        for report in self.found.reports():
            number = report.ref.rpartition("@")[2]
            for mismatch in report.mismatches:
                gauge.add_metric(
                    [number, mismatch.package, mismatch.recorded, mismatch.running or "absent"], 1
                )
        yield gauge
