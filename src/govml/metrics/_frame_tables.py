"""A ``MetricFrame``'s values as Fairlearn shapes them, and the aggregates across groups.

Values are held as arrays over the product of the features' values (``by_group``: one row
per combination, one column per metric) and over the control combinations (``overall``).
They become pandas objects with Fairlearn's index, column names and dtypes: a column of
whole numbers stays int64 until a missing combination makes it float64, and a frame holding
any value that is not a number (a confusion matrix) is of object dtype throughout, as a row
of mixed values is in pandas.

The aggregates run along the sensitive combinations, within each control combination,
on any number of leading axes (the bootstrap's replicates), skipping NaN as pandas does.
Values that are not numbers count as NaN (``errors="coerce"``), or make ``group_min`` and
``group_max`` raise (``errors="raise"``).
"""

from __future__ import annotations

import warnings
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from govml.metrics._aggregate import Method, difference, group_max, group_min, ratio
from govml.metrics._cells import Cells
from govml.metrics._frame_values import Values, objects

Dtype = Literal["int", "float", "object"]
Aggregate = Literal["group_min", "group_max", "difference", "ratio"]
FloatArray = NDArray[np.float64]


@dataclass(frozen=True, eq=False)
class Layout:
    """How a frame's values map to pandas objects: metric labels, cells, single or not."""

    labels: list[Hashable]
    single: bool
    cells: Cells

    def columns(self) -> pd.Index[Any]:
        """Return the metric labels as a column index."""
        return pd.Index(self.labels)

    def shape(self, table: pd.DataFrame | pd.Series[Any]) -> Any:
        """Return a table the way Fairlearn returns it for a single metric or several.

        ``table`` has one column (a DataFrame) or one entry (a Series, without control
        features) per metric. A single metric gives its column, a Series named after it, or
        its one value.
        """
        if not self.single:
            return table
        if isinstance(table, pd.DataFrame):
            return table.iloc[:, 0]
        return table.iloc[0]

    def by_group(self, values: Sequence[Values], *, min_group_size: int | None) -> pd.DataFrame:
        """Return the values per combination of every feature's values (NaN where none)."""
        cells = self.cells
        dtype = common_dtype(values)
        data = {}
        for i, metric in enumerate(values):
            column = _empty(cells.n_product, dtype)
            cell_values = metric.cells
            if min_group_size is not None:
                cell_values = _small_groups_missing(cell_values, cells, min_group_size)
            column[cells.position] = cell_values
            data[i] = column
        frame = pd.DataFrame(data, index=cells.index())
        frame.columns = self.columns()
        return _typed(frame, dtype, complete=cells.n_product == cells.n_cells)

    def overall(self, values: Sequence[Values]) -> pd.DataFrame | pd.Series[Any]:
        """Return the values over all rows (per control combination with control features)."""
        cells = self.cells
        dtype = common_dtype(values)
        index = cells.control_index()
        if index is None:
            row = [_scalar(metric.overall[0], dtype) for metric in values]
            if dtype == "object":
                return pd.Series(objects(row), index=self.columns(), dtype=object)
            return pd.Series(row, index=self.columns(), dtype=_pandas_dtype(dtype))
        data = {}
        for i, metric in enumerate(values):
            column = _empty(cells.n_control_product, dtype)
            column[cells.observed_controls] = metric.overall
            data[i] = column
        frame = pd.DataFrame(data, index=index)
        frame.columns = self.columns()
        complete = len(cells.observed_controls) == cells.n_control_product
        return _typed(frame, dtype, complete=complete)

    def numeric(
        self, values: Sequence[Values], *, min_group_size: int | None
    ) -> tuple[FloatArray, FloatArray, bool]:
        """Return the values as floats over the product and over the control combinations.

        Returns ``(table, overall, coerced)``: ``table`` is (n_product, n_metrics), NaN
        where no row has the combination, the group is under ``min_group_size`` or the
        value is not a number; ``overall`` is (n_control_product, n_metrics); ``coerced``
        says whether some value was not a number.
        """
        cells = self.cells
        cell_values, coerced = numeric([metric.cells for metric in values])
        overall_values, overall_coerced = numeric([metric.overall for metric in values])
        if min_group_size is not None:
            cell_values[cells.n_rows < min_group_size] = np.nan
        table = np.full((cells.n_product, len(values)), np.nan)
        table[cells.position] = cell_values
        overall = np.full((cells.n_control_product, len(values)), np.nan)
        overall[cells.observed_controls] = overall_values
        return table, overall, coerced or overall_coerced

    def aggregate_table(self, values: FloatArray, *, integer: Sequence[bool]) -> Any:
        """Return aggregates (control combinations × metrics) shaped like Fairlearn's.

        ``integer`` marks the metrics whose aggregates are whole numbers (int64 columns).
        """
        index = self.cells.control_index()
        columns = self.columns()
        if index is None:
            row = [
                _whole(values[0, m]) if integer[m] else float(values[0, m])
                for m in range(values.shape[1])
            ]
            series = pd.Series(row, index=columns)
            return self.shape(series)
        frame = pd.DataFrame(
            {m: _as_column(values[:, m], integer[m]) for m in range(values.shape[1])}, index=index
        )
        frame.columns = columns
        return self.shape(frame)


def common_dtype(values: Sequence[Values]) -> Dtype:
    """Return the dtype of a frame holding these metrics (pandas' rule for a mixed row)."""
    if any(metric.cells.dtype == object for metric in values):
        return "object"
    if values and all(metric.integer for metric in values):
        return "int"
    return "float"


def numeric(frame_values: Sequence[NDArray[Any]]) -> tuple[FloatArray, bool]:
    """Return columns as one float array (non-numbers as NaN); whether any was not a number."""
    columns = []
    coerced = False
    for column in frame_values:
        if column.dtype != object:
            columns.append(np.asarray(column, dtype=np.float64))
            continue
        floats = np.full(column.shape, np.nan)
        for i, value in enumerate(column.flat):
            if _is_real(value):
                floats.flat[i] = float(value)
            elif not _is_missing(value):
                coerced = True
        columns.append(floats)
    return np.stack(columns, axis=-1), coerced


def aggregate(
    table: FloatArray,
    overall: FloatArray,
    cells: Cells,
    which: Aggregate,
    method: Method = "between_groups",
) -> FloatArray:
    """Return an aggregate across the sensitive combinations of each control combination.

    Parameters
    ----------
    table : ndarray (..., n_product, n_metrics)
        Values per combination of every feature.
    overall : ndarray (..., n_control_product, n_metrics)
        Values per control combination.
    cells : Cells
        The layout of the product.
    which : {"group_min", "group_max", "difference", "ratio"}
        The aggregate.
    method : {"between_groups", "to_overall"}
        For differences and ratios.

    Returns
    -------
    ndarray (..., n_control_product, n_metrics)
    """
    lead = table.shape[:-2]
    n_metrics = table.shape[-1]
    grouped = table.reshape(*lead, cells.n_control_product, cells.n_sensitive_product, n_metrics)
    groups_last = np.moveaxis(grouped, -1, -3)  # (..., metrics, control, sensitive)
    reference = np.moveaxis(overall, -1, -2)  # (..., metrics, control)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        if which == "group_min":
            out = group_min(groups_last, skipna=True)
        elif which == "group_max":
            out = group_max(groups_last, skipna=True)
        elif which == "difference":
            out = difference(groups_last, reference, method, skipna=True)
        else:
            out = ratio(groups_last, reference, method, skipna=True)
    return np.moveaxis(out, -2, -1)


def _small_groups_missing(values: NDArray[Any], cells: Cells, min_group_size: int) -> NDArray[Any]:
    out = values.astype(np.float64) if values.dtype != object else values.copy()
    out[cells.n_rows < min_group_size] = np.nan
    return out


def _empty(size: int, dtype: Dtype) -> NDArray[Any]:
    if dtype == "object":
        column = np.empty(size, dtype=object)
        column[:] = np.nan
        return column
    return np.full(size, np.nan)


def _typed(frame: pd.DataFrame, dtype: Dtype, *, complete: bool) -> pd.DataFrame:
    if dtype == "int" and complete and not frame.isna().to_numpy().any():
        return frame.astype(np.int64)
    if dtype == "object":
        return frame.astype(object)
    return frame


def _pandas_dtype(dtype: Dtype) -> Any:
    return {"int": np.int64, "float": np.float64, "object": object}[dtype]


def _scalar(value: Any, dtype: Dtype) -> Any:
    if dtype == "int":
        return int(value)
    return value


def _whole(value: float) -> Any:
    return np.int64(value) if np.isfinite(value) else value


def _as_column(values: FloatArray, integer: bool) -> NDArray[Any]:
    if integer and np.all(np.isfinite(values)):
        return values.astype(np.int64)
    return values


def _is_real(value: Any) -> bool:
    return isinstance(value, int | float | np.integer | np.floating) and not isinstance(
        value, bool | np.bool_
    )


def _is_missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and np.isnan(value))
