"""The numpy engine: the in-process statistics, a batch of rows at a time.

A Parquet file or folder is read :data:`BATCH_ROWS` rows at a time and the batches'
statistics merged (they are mergeable, so the result is the statistics of all the rows);
other data (pandas, polars, Arrow) is read as one table.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

import pyarrow as pa

from govml.datasets import DEFAULT_MAX_CATEGORIES, DEFAULT_RELATIVE_ACCURACY, Profile, read_table
from govml.datasets import profile as profile_table
from govml.engines.sql_engine import parquet_paths
from govml.errors import InputError
from govml.metrics import (
    BinaryConfusion,
    CurrentStatistics,
    MulticlassConfusion,
    RegressionMoments,
    ScoreHistogram,
    binary_confusion,
    current_statistics,
    multiclass_confusion,
    regression_moments,
    score_histogram,
)
from govml.metrics._groups import MissingPolicy
from govml.metrics._scores import DEFAULT_BINS

BATCH_ROWS = 1 << 20
_T = TypeVar("_T")


def iter_batches(data: Any, columns: Sequence[str] | None = None) -> Iterator[pa.Table]:
    """Yield ``data`` as Arrow tables of at most :data:`BATCH_ROWS` rows (at least one).

    Raises
    ------
    InputError
        When a path does not exist or is not Parquet, or a column is missing.
    """
    import pyarrow.dataset as ds

    paths = parquet_paths(data)
    if paths is None:
        table = read_table(data)
        yield table if columns is None else _select(table, columns)
        return
    try:
        dataset = ds.dataset([f for p in paths for f in _files(p)], format="parquet")
        # Arrow reads 16 batches of 4 files ahead by default: at a million rows a batch that is
        # gigabytes held while numpy counts; one batch of one file ahead keeps memory flat.
        scanner = dataset.scanner(
            columns=list(columns) if columns else None,
            batch_size=BATCH_ROWS,
            batch_readahead=1,
            fragment_readahead=1,
        )
        yielded = False
        for batch in scanner.to_batches():
            if batch.num_rows:
                yielded = True
                yield pa.Table.from_batches([batch])
        if not yielded:
            yield scanner.projected_schema.empty_table()
    except (pa.ArrowException, OSError) as exc:
        raise InputError(f"cannot read {', '.join(paths)} as Parquet: {exc}") from None


def _files(path: str) -> list[str]:
    where = Path(path)
    if where.is_dir():
        return sorted(str(p) for p in where.rglob("*.parquet") if not p.name.startswith("."))
    if not where.exists():
        raise InputError(f"no Parquet file or folder at {path}")
    return [path]


def _select(table: pa.Table, columns: Sequence[str]) -> pa.Table:
    missing = [c for c in columns if c not in table.column_names]
    if missing:
        raise InputError(f"the data has no column {missing[0]!r}")
    return table.select(list(dict.fromkeys(columns)))


def _merged(parts: Iterator[_T], merge: Callable[[_T, _T], _T]) -> _T:
    result: _T | None = None
    for part in parts:
        result = part if result is None else merge(result, part)
    assert result is not None
    return result


class NumpyEngine:
    """Statistics computed in this process by numpy (see the module docstring)."""

    name = "numpy"

    def _columns(self, *names: str | None, sensitive: Sequence[str] = ()) -> list[str]:
        return [n for n in (*names, *sensitive) if n is not None]

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
        batches = iter_batches(data, self._columns(y_true, y_pred, weight, sensitive=sensitive))
        return _merged(
            (
                binary_confusion(
                    t.column(y_true),
                    t.column(y_pred),
                    sensitive_features=_features(t, sensitive),
                    sample_weight=None if weight is None else t.column(weight),
                    pos_label=pos_label,
                    missing=missing,
                )
                for t in batches
            ),
            BinaryConfusion.merge,
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
        batches = iter_batches(data, self._columns(y_true, y_pred, weight, sensitive=sensitive))
        return _merged(
            (
                multiclass_confusion(
                    t.column(y_true),
                    t.column(y_pred),
                    sensitive_features=_features(t, sensitive),
                    sample_weight=None if weight is None else t.column(weight),
                    missing=missing,
                )
                for t in batches
            ),
            MulticlassConfusion.merge,
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
        batches = iter_batches(data, self._columns(y_true, y_pred, weight, sensitive=sensitive))
        return _merged(
            (
                regression_moments(
                    t.column(y_true),
                    t.column(y_pred),
                    sensitive_features=_features(t, sensitive),
                    sample_weight=None if weight is None else t.column(weight),
                    missing=missing,
                )
                for t in batches
            ),
            RegressionMoments.merge,
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
        batches = iter_batches(data, self._columns(y_true, score, weight, sensitive=sensitive))
        return _merged(
            (
                score_histogram(
                    t.column(y_true),
                    t.column(score),
                    sensitive_features=_features(t, sensitive),
                    sample_weight=None if weight is None else t.column(weight),
                    pos_label=pos_label,
                    bins=bins,
                    missing=missing,
                )
                for t in batches
            ),
            ScoreHistogram.merge,
        )

    def current_statistics(
        self,
        reference: Profile | Mapping[str, Any],
        data: Any,
        *,
        columns: Sequence[str] | None = None,
    ) -> CurrentStatistics:
        """Return the drift statistics of ``data`` counted on the reference's bins."""
        return _merged(
            (current_statistics(reference, t, columns=columns) for t in iter_batches(data)),
            CurrentStatistics.merge,
        )

    def profile(
        self,
        data: Any,
        *,
        max_categories: int = DEFAULT_MAX_CATEGORIES,
        relative_accuracy: float = DEFAULT_RELATIVE_ACCURACY,
    ) -> Profile:
        """Return the per-column profile of ``data``."""
        return _merged(
            (
                profile_table(t, max_categories=max_categories, relative_accuracy=relative_accuracy)
                for t in iter_batches(data)
            ),
            Profile.merge,
        )


def _features(table: pa.Table, sensitive: Sequence[str]) -> dict[str, Any] | None:
    if not sensitive:
        return None
    return {name: table.column(name) for name in sensitive}
