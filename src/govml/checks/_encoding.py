"""Raw input columns as one numeric matrix, so SHAP's maskers can mix rows of any type.

Model-agnostic explainers build hybrid rows by copying feature values from background
rows into explained rows; their maskers need a numeric array. Text and categorical
columns are replaced by integer codes (NaN for missing), numbers by floats, and the
model function decodes each batch back to a DataFrame with the original column types
before calling the model, so the model sees only values that occur in the data.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray


@dataclass(frozen=True)
class _Column:
    name: str
    dtype: Any
    categories: NDArray[Any] | None  # None for numeric columns


class RawEncoder:
    """Encode a DataFrame's columns as floats and decode matrices back.

    Parameters
    ----------
    frame : pandas.DataFrame
        All rows that will be encoded (explained rows and background together), so that
        every category has a code.
    """

    def __init__(self, frame: pd.DataFrame) -> None:
        self.columns: list[_Column] = []
        self._codes: dict[str, NDArray[np.float64]] = {}
        for name in frame.columns:
            series = frame[name]
            if _is_number(series):
                self.columns.append(_Column(str(name), series.dtype, None))
                continue
            codes, uniques = pd.factorize(series, use_na_sentinel=True)
            values = np.asarray(uniques, dtype=object)
            self.columns.append(_Column(str(name), series.dtype, values))
            self._codes[str(name)] = np.where(codes < 0, np.nan, codes).astype(np.float64)
        self._frame = frame

    def encode(self, rows: NDArray[np.intp]) -> NDArray[np.float64]:
        """Return the given rows of the fitted frame as a float matrix."""
        out = np.empty((len(rows), len(self.columns)), dtype=np.float64)
        for j, column in enumerate(self.columns):
            if column.categories is None:
                out[:, j] = self._frame[column.name].to_numpy(dtype=np.float64, na_value=np.nan)[
                    rows
                ]
            else:
                out[:, j] = self._codes[column.name][rows]
        return out

    def decode(self, matrix: NDArray[np.float64]) -> pd.DataFrame:
        """Return a float matrix as a DataFrame with the original columns and types."""
        data: dict[str, Any] = {}
        for j, column in enumerate(self.columns):
            values = matrix[:, j]
            if column.categories is None:
                data[column.name] = _restore_number(values, column.dtype)
            else:
                data[column.name] = _restore_category(values, column)
        return pd.DataFrame(data)


def _is_number(series: pd.Series) -> bool:
    return bool(pd.api.types.is_numeric_dtype(series.dtype)) and not isinstance(
        series.dtype, pd.CategoricalDtype
    )


def _restore_number(values: NDArray[np.float64], dtype: Any) -> Any:
    if np.isnan(values).any():
        return values
    try:
        return values.astype(dtype)
    except (TypeError, ValueError):
        return values


def _restore_category(values: NDArray[np.float64], column: _Column) -> Any:
    assert column.categories is not None
    missing = np.isnan(values)
    codes = np.where(missing, 0, values).astype(np.intp)
    decoded = np.full(len(values), None, dtype=object)
    if len(column.categories):
        decoded[~missing] = column.categories[codes[~missing]]
    if isinstance(column.dtype, pd.CategoricalDtype):
        return pd.Categorical(decoded, dtype=column.dtype)
    return decoded


def feature_frame(X: Any) -> tuple[pd.DataFrame, bool]:
    """Return ``X`` as a DataFrame and whether it was a numpy array (columns ``f0, f1, ...``)."""
    if isinstance(X, np.ndarray):
        return pd.DataFrame(X, columns=[f"f{j}" for j in range(X.shape[1])]), True
    return X.reset_index(drop=True), False
