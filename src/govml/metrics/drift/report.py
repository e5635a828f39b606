"""Drift results: one :class:`ColumnDrift` per column and the :class:`DriftReport`."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

from govml.metrics.drift.tests import SPECS, ColumnKind, DriftTestName


@dataclass(frozen=True)
class DriftTest:
    """A drift test, optionally with its own threshold.

    Parameters
    ----------
    name : str
        One of :data:`~govml.metrics.drift.tests.DRIFT_TESTS`.
    threshold : float, optional
        Drift threshold; by default the test's (0.05 for p-values, 0.1 for distances).
    """

    name: DriftTestName
    threshold: float | None = None


TestChoice = DriftTestName | DriftTest


@dataclass(frozen=True, kw_only=True)
class ColumnDrift:
    """The drift result of one column.

    Attributes
    ----------
    column : str
        Column name.
    kind : {"numeric", "categorical"}
        How the column was compared.
    test : str or None
        The test run (None when the column could not be tested and no test was asked).
    statistic : float or None
        The test statistic: the distance for distance tests, the KS ``D``, the
        chi-square statistic or the z statistic for p-value tests.
    p_value : float or None
        The p-value, for ``ks``, ``chisquare`` and ``z``.
    threshold : float or None
        The drift threshold applied to :attr:`score`.
    drifted : bool or None
        Whether the column drifted; None when undefined.
    reference_size, current_size : int
        Number of values compared on each side (nulls, NaN and infinities dropped).
    exact : bool
        False when a count or value came from a bounded summary (quantile sketch,
        truncated category counts).
    error_bound : float or None
        For KS and Wasserstein from quantile sketches, a bound on the difference between
        :attr:`statistic` and its value on the raw data.
    reason : str or None
        Why the column is undefined.
    """

    column: str
    kind: ColumnKind
    test: DriftTestName | None
    statistic: float | None
    p_value: float | None
    threshold: float | None
    drifted: bool | None
    reference_size: int
    current_size: int
    exact: bool = True
    error_bound: float | None = None
    reason: str | None = None

    @property
    def score(self) -> float | None:
        """The number compared with the threshold: the p-value or the distance."""
        if self.test is not None and SPECS[self.test].score == "p_value":
            return self.p_value
        return self.statistic

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-safe dictionary (non-finite numbers as strings)."""
        return {
            "column": self.column,
            "kind": self.kind,
            "test": self.test,
            "statistic": _json_number(self.statistic),
            "p_value": _json_number(self.p_value),
            "score": _json_number(self.score),
            "threshold": self.threshold,
            "drifted": self.drifted,
            "status": "undefined" if self.drifted is None else ("drift" if self.drifted else "ok"),
            "reference_size": self.reference_size,
            "current_size": self.current_size,
            "exact": self.exact,
            "error_bound": _json_number(self.error_bound),
            "reason": self.reason,
        }


def _json_number(value: float | None) -> float | str | None:
    if value is None or math.isfinite(value):
        return value
    return str(value)


@dataclass(frozen=True, kw_only=True)
class DriftReport:
    """Per-column drift results and the dataset-level decision.

    Attributes
    ----------
    columns : tuple of ColumnDrift
        One result per compared column, in order.
    drift_share : float
        Dataset drift is declared when at least this share of the tested columns drifted.
    method : {"exact", "profile"}
        Whether raw data was compared on both sides or a stored profile was used.
    """

    columns: tuple[ColumnDrift, ...]
    drift_share: float
    method: Literal["exact", "profile"]

    @property
    def tested_columns(self) -> int:
        """Number of columns with a defined result."""
        return sum(c.drifted is not None for c in self.columns)

    @property
    def drifted_columns(self) -> int:
        """Number of columns that drifted."""
        return sum(c.drifted is True for c in self.columns)

    @property
    def share_drifted(self) -> float | None:
        """Drifted columns / tested columns; None when no column could be tested."""
        tested = self.tested_columns
        return self.drifted_columns / tested if tested else None

    @property
    def dataset_drift(self) -> bool | None:
        """Whether the dataset drifted; None when no column could be tested."""
        share = self.share_drifted
        return None if share is None else share >= self.drift_share

    def column(self, name: str) -> ColumnDrift:
        """Return the result of column ``name``.

        Raises
        ------
        KeyError
            If the column was not compared.
        """
        for column in self.columns:
            if column.column == name:
                return column
        raise KeyError(name)

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-safe dictionary."""
        return {
            "method": self.method,
            "drift_share": self.drift_share,
            "tested_columns": self.tested_columns,
            "drifted_columns": self.drifted_columns,
            "share_drifted": self.share_drifted,
            "dataset_drift": self.dataset_drift,
            "columns": [column.to_dict() for column in self.columns],
        }
