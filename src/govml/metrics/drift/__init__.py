"""Data drift: per-column two-sample tests on raw data or on mergeable statistics.

* :mod:`~govml.metrics.drift.compare` — :func:`data_drift`, the entry point;
* :mod:`~govml.metrics.drift.columns` — one column of both sides as the tests see it;
* :mod:`~govml.metrics.drift.inputs` — column selection, type families, values;
* :mod:`~govml.metrics.drift.stats` — mergeable statistics of current data;
* :mod:`~govml.metrics.drift.tests` — the tests themselves and their registry;
* :mod:`~govml.metrics.drift.report` — :class:`ColumnDrift` and :class:`DriftReport`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from govml._lazy import attach

if TYPE_CHECKING:
    from govml.metrics.drift.compare import (
        EXACT_MAX_ROWS,
        EXACT_NEEDS_DATA,
        INVALID_THRESHOLD,
        STATISTICS_NEED_PROFILE,
        TESTS_FOR_UNKNOWN_COLUMNS,
        UNKNOWN_METHOD,
        UNKNOWN_TEST,
        WRONG_KIND,
        data_drift,
    )
    from govml.metrics.drift.report import ColumnDrift, DriftReport, DriftTest
    from govml.metrics.drift.stats import CurrentStatistics, current_statistics
    from govml.metrics.drift.tests import DRIFT_TESTS, DriftTestName

# Each public name and the module that defines it, imported on first use (govml._lazy).
_EXPORTS: dict[str, str] = {
    "EXACT_MAX_ROWS": "govml.metrics.drift.compare",
    "EXACT_NEEDS_DATA": "govml.metrics.drift.compare",
    "INVALID_THRESHOLD": "govml.metrics.drift.compare",
    "STATISTICS_NEED_PROFILE": "govml.metrics.drift.compare",
    "TESTS_FOR_UNKNOWN_COLUMNS": "govml.metrics.drift.compare",
    "UNKNOWN_METHOD": "govml.metrics.drift.compare",
    "UNKNOWN_TEST": "govml.metrics.drift.compare",
    "WRONG_KIND": "govml.metrics.drift.compare",
    "data_drift": "govml.metrics.drift.compare",
    "ColumnDrift": "govml.metrics.drift.report",
    "DriftReport": "govml.metrics.drift.report",
    "DriftTest": "govml.metrics.drift.report",
    "CurrentStatistics": "govml.metrics.drift.stats",
    "current_statistics": "govml.metrics.drift.stats",
    "DRIFT_TESTS": "govml.metrics.drift.tests",
    "DriftTestName": "govml.metrics.drift.tests",
}

__all__ = [
    "DRIFT_TESTS",
    "EXACT_MAX_ROWS",
    "EXACT_NEEDS_DATA",
    "INVALID_THRESHOLD",
    "STATISTICS_NEED_PROFILE",
    "TESTS_FOR_UNKNOWN_COLUMNS",
    "UNKNOWN_METHOD",
    "UNKNOWN_TEST",
    "WRONG_KIND",
    "ColumnDrift",
    "CurrentStatistics",
    "DriftReport",
    "DriftTest",
    "DriftTestName",
    "current_statistics",
    "data_drift",
]


__getattr__, __dir__ = attach(__name__, _EXPORTS)
