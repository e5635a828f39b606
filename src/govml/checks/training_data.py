"""Training-data audits and aggregate data expectations, measured on a DataFrame.

Representation: each group's row count and share of a sensitive feature (missing values
form their own group). Base rates: per group, the share of rows whose label is the given
one (the favourable outcome, else the positive label). Aggregates: the mean, a quantile
(numpy's linear interpolation), the number of distinct values and the largest share of one
value, each over the non-missing values of a column.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

NOT_NUMERIC = "{column!r} is not numeric"
NO_VALUES = "{column!r} has no non-missing value"


@dataclass(frozen=True, kw_only=True)
class GroupCounts:
    """Rows and shares per group of one feature, and optionally a label's base rate."""

    feature: str
    groups: list[Any]
    rows: list[int]
    shares: list[float]
    base_rates: list[float | None] | None = None


def representation(frame: pd.DataFrame, feature: str) -> GroupCounts:
    """Return each group's rows and share of all rows (missing values as one group, None)."""
    values = _labels(frame, feature)
    counts = values.value_counts(dropna=False)
    groups = sorted(counts.index.tolist(), key=lambda v: (v is None, str(v)))
    rows = [int(counts[g]) for g in groups]
    total = max(len(frame), 1)
    return GroupCounts(feature=feature, groups=groups, rows=rows, shares=[r / total for r in rows])


def profile_counts(profile: Mapping[str, Any] | None, feature: str) -> GroupCounts | None:
    """Return a sensitive feature's groups from a training profile's category counts.

    None when the profile has no such categorical column or its counts are truncated (a
    column with more distinct values than the profile keeps). Missing values form the
    group None.
    """
    if profile is None:
        return None
    for column in profile.get("columns", []):
        if column.get("name") != feature:
            continue
        if column.get("kind") != "categorical" or column.get("truncated"):
            return None
        pairs = [(value, int(count)) for value, count in column.get("counts") or []]
        if column.get("nulls"):
            pairs.append((None, int(column["nulls"])))
        pairs.sort(key=lambda pair: (pair[0] is None, str(pair[0])))
        total = max(sum(count for _, count in pairs), 1)
        return GroupCounts(
            feature=feature,
            groups=[value for value, _ in pairs],
            rows=[count for _, count in pairs],
            shares=[count / total for _, count in pairs],
        )
    return None


def base_rates(frame: pd.DataFrame, feature: str, target: str, label: Any) -> GroupCounts:
    """Return `representation` with each group's share of labelled rows equal to ``label``."""
    found = representation(frame, feature)
    values = _labels(frame, feature)
    labelled = frame[target].notna()
    rates: list[float | None] = []
    for group in found.groups:
        mine = (values.isna() if group is None else values == group) & labelled
        rows = int(mine.sum())
        rates.append(None if rows == 0 else float((frame.loc[mine, target] == label).mean()))
    return GroupCounts(
        feature=feature,
        groups=found.groups,
        rows=found.rows,
        shares=found.shares,
        base_rates=rates,
    )


def _labels(frame: pd.DataFrame, feature: str) -> pd.Series[Any]:
    """Return the feature's values as objects, every kind of missing value as None."""
    return pd.Series(
        [None if pd.isna(v) else v for v in frame[feature]], index=frame.index, dtype=object
    )


def label_coverage(frame: pd.DataFrame, target: str) -> float:
    """Return the share of rows whose label is present."""
    return float(frame[target].notna().mean()) if len(frame) else 0.0


def aggregate(frame: pd.DataFrame, kind: str, column: str, quantile: float = 0.5) -> float:
    """Return the aggregate ``kind`` of a column's non-missing values.

    Raises
    ------
    ValueError
        When the column is not numeric (mean, quantile) or has no value.
    """
    values = frame[column].dropna()
    if kind in ("mean_between", "quantile_between"):
        if not pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
            raise ValueError(NOT_NUMERIC.format(column=column))
        numbers = values.to_numpy(dtype=float)
        numbers = numbers[np.isfinite(numbers)]
        if len(numbers) == 0:
            raise ValueError(NO_VALUES.format(column=column))
        if kind == "mean_between":
            return float(np.mean(numbers))
        return float(np.quantile(numbers, quantile))
    if kind == "distinct_count":
        return float(values.nunique())
    if len(values) == 0:
        raise ValueError(NO_VALUES.format(column=column))
    return float(values.value_counts(normalize=True).max())
