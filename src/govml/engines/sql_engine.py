"""An engine over a :class:`~govml.engines.sql_source.SqlSource`: DuckDB's and Spark's base."""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from typing import Any

from govml.datasets import DEFAULT_MAX_CATEGORIES, DEFAULT_RELATIVE_ACCURACY, Profile
from govml.engines import sql_columns, sql_groups
from govml.engines.sql_source import SqlSource
from govml.metrics import (
    BinaryConfusion,
    CurrentStatistics,
    MulticlassConfusion,
    RegressionMoments,
    ScoreHistogram,
)
from govml.metrics._groups import MissingPolicy
from govml.metrics._scores import DEFAULT_BINS


class SqlEngine:
    """Statistics by SQL aggregation; subclasses say how ``data`` becomes a relation."""

    name = "sql"

    @abstractmethod
    def source(self, data: Any) -> AbstractContextManager[SqlSource]:
        """Return a context in which ``data`` can be queried (and cleaned up after)."""

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
        with self.source(data) as source:
            return sql_groups.binary_confusion(
                source,
                y_true=y_true,
                y_pred=y_pred,
                sensitive=list(sensitive),
                weight=weight,
                pos_label=pos_label,
                missing=missing,
            )

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
        with self.source(data) as source:
            return sql_groups.multiclass_confusion(
                source,
                y_true=y_true,
                y_pred=y_pred,
                sensitive=list(sensitive),
                weight=weight,
                missing=missing,
            )

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
        with self.source(data) as source:
            return sql_groups.regression_moments(
                source,
                y_true=y_true,
                y_pred=y_pred,
                sensitive=list(sensitive),
                weight=weight,
                missing=missing,
            )

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
        with self.source(data) as source:
            return sql_groups.score_histogram(
                source,
                y_true=y_true,
                score=score,
                sensitive=list(sensitive),
                weight=weight,
                pos_label=pos_label,
                bins=bins,
                missing=missing,
            )

    def current_statistics(
        self,
        reference: Profile | Mapping[str, Any],
        data: Any,
        *,
        columns: Sequence[str] | None = None,
    ) -> CurrentStatistics:
        """Return the drift statistics of ``data`` counted on the reference's bins."""
        with self.source(data) as source:
            return sql_columns.current_statistics(source, reference, columns=columns)

    def profile(
        self,
        data: Any,
        *,
        max_categories: int = DEFAULT_MAX_CATEGORIES,
        relative_accuracy: float = DEFAULT_RELATIVE_ACCURACY,
    ) -> Profile:
        """Return the per-column profile of ``data``."""
        with self.source(data) as source:
            return sql_columns.profile(
                source, max_categories=max_categories, relative_accuracy=relative_accuracy
            )


def parquet_paths(data: Any) -> list[str] | None:
    """Return ``data`` as a list of paths when it is a path or a list of paths, else None."""
    from pathlib import Path

    if isinstance(data, str | Path):
        return [str(data)]
    if isinstance(data, list | tuple) and data and all(isinstance(p, str | Path) for p in data):
        return [str(p) for p in data]
    return None
