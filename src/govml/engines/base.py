"""The statistics engine interface: one set of methods, the same statistics objects.

An engine reduces rows to govml's mergeable sufficient statistics. Whatever engine computes
them, :class:`~govml.metrics.BinaryConfusion`, :class:`~govml.metrics.RegressionMoments`,
:class:`~govml.metrics.ScoreHistogram`, :class:`~govml.metrics.CurrentStatistics` and
:class:`~govml.datasets.Profile` are the objects the metrics, drift tests and monitoring
read; so the metric code never changes with the engine.

Columns are named: ``y_true``, ``y_pred``, ``score`` and ``weight`` are column names of
``data``, and ``sensitive`` the names of the sensitive-feature columns (their observed
combinations are the groups). What ``data`` may be depends on the engine: a pandas / arrow
table or a Parquet path for ``numpy`` and ``duckdb``, a Spark DataFrame or a Parquet / Delta
path for ``spark``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

from govml.datasets import DEFAULT_MAX_CATEGORIES, DEFAULT_RELATIVE_ACCURACY, Profile
from govml.metrics import (
    BinaryConfusion,
    CurrentStatistics,
    MulticlassConfusion,
    RegressionMoments,
    ScoreHistogram,
)
from govml.metrics._groups import MissingPolicy
from govml.metrics._scores import DEFAULT_BINS


@runtime_checkable
class Engine(Protocol):
    """Computes govml's sufficient statistics over the rows of ``data``."""

    name: str

    def binary_confusion(
        self,
        data: Any,
        *,
        y_true: str,
        y_pred: str,
        sensitive: Sequence[str] = (),
        weight: str | None = None,
        pos_label: Any = 1,
        missing: MissingPolicy = "error",
    ) -> BinaryConfusion:
        """Return weighted and unweighted TP, FP, TN, FN per group."""

    def multiclass_confusion(
        self,
        data: Any,
        *,
        y_true: str,
        y_pred: str,
        sensitive: Sequence[str] = (),
        weight: str | None = None,
        missing: MissingPolicy = "error",
    ) -> MulticlassConfusion:
        """Return the confusion matrices per group."""

    def regression_moments(
        self,
        data: Any,
        *,
        y_true: str,
        y_pred: str,
        sensitive: Sequence[str] = (),
        weight: str | None = None,
        missing: MissingPolicy = "error",
    ) -> RegressionMoments:
        """Return the regression moments per group."""

    def score_histogram(
        self,
        data: Any,
        *,
        y_true: str,
        score: str,
        sensitive: Sequence[str] = (),
        weight: str | None = None,
        pos_label: Any = 1,
        bins: int = DEFAULT_BINS,
        missing: MissingPolicy = "error",
    ) -> ScoreHistogram:
        """Return the score histogram per group and actual label (equal bins on [0, 1])."""

    def current_statistics(
        self,
        reference: Profile | Mapping[str, Any],
        data: Any,
        *,
        columns: Sequence[str] | None = None,
    ) -> CurrentStatistics:
        """Return the drift statistics of ``data`` counted on the reference's bins."""

    def profile(
        self,
        data: Any,
        *,
        max_categories: int = DEFAULT_MAX_CATEGORIES,
        relative_accuracy: float = DEFAULT_RELATIVE_ACCURACY,
    ) -> Profile:
        """Return the per-column profile of ``data``."""
