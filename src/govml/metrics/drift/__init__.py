"""Data drift: per-column two-sample tests on raw data or on mergeable statistics.

* :mod:`~govml.metrics.drift.compare` — :func:`data_drift`, the entry point;
* :mod:`~govml.metrics.drift.columns` — one column of both sides as the tests see it;
* :mod:`~govml.metrics.drift.inputs` — column selection, type families, values;
* :mod:`~govml.metrics.drift.stats` — mergeable statistics of current data;
* :mod:`~govml.metrics.drift.tests` — the tests themselves and their registry;
* :mod:`~govml.metrics.drift.report` — :class:`ColumnDrift` and :class:`DriftReport`.
"""

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
