"""Sensitive and control features in every form Fairlearn's ``MetricFrame`` accepts.

Each form is split into named 1-D columns, named the way Fairlearn names them, so that the
index levels of a ``MetricFrame`` carry the same names:

- a pandas Series: its name (which must be a string), else ``<base>0``;
- a DataFrame or a dict of columns: the column names (strings);
- a list of scalars: one feature ``<base>0``;
- anything else (numpy, polars, pyarrow): squeezed; 1-D is one feature ``<base>0``, 2-D
  one feature per column, ``<base>0``, ``<base>1``, ...

``<base>`` is ``sensitive_feature_`` or ``control_feature_``. Columns stay in their native
type (no copy to Python objects), so grouping them costs one hash pass each.

The messages are Fairlearn's, word for word, so that code matching on them keeps working.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from govml.metrics._validate import LENGTH_MISMATCH, MetricInputError

SENSITIVE_BASE = "sensitive_feature_"
CONTROL_BASE = "control_feature_"

SERIES_NAME_NOT_STRING = "Series name must be a string. Value '{0}' was of type {1}"
COLUMN_NAME_NOT_STRING = "DataFrame column names must be strings. Name '{0}' is of type {1}"
FEATURE_LIST_NONSCALAR = "Feature lists must be of scalar types"
TOO_MANY_FEATURE_DIMS = "Feature array has too many dimensions"
DICT_CONVERSION_FAILURE = (
    "DataFrame.from_dict() failed on sensitive features. "
    "Please ensure each array is strictly 1-D. "
    "The __cause__ field of this exception may contain further information."
)
DUPLICATE_FEATURE_NAME = "Detected duplicate feature name: '{0}'"

Column = tuple[str, Any]


def feature_columns(features: Any, *, base: str, n_rows: int) -> list[Column]:
    """Return ``features`` as named 1-D columns, each ``n_rows`` long.

    Parameters
    ----------
    features : Series, DataFrame, dict, list, numpy / polars / pyarrow array or table
        One or several features.
    base : str
        The prefix of generated names (``sensitive_feature_`` or ``control_feature_``).
    n_rows : int
        The number of rows of ``y_true``.

    Raises
    ------
    MetricInputError
        On a name that is not a string, a list holding non-scalars, more than two
        dimensions, a dict pandas cannot read, or a column whose length is not ``n_rows``.
    """
    role = "sensitive feature" if base == SENSITIVE_BASE else "control feature"
    columns = _split(features, base)
    for name, column in columns:
        if len(column) != n_rows:
            raise MetricInputError(
                LENGTH_MISMATCH.format(
                    first="y_true",
                    first_len=n_rows,
                    second=f"{role} {name!r}",
                    second_len=len(column),
                )
            )
    return columns


def check_unique_names(names: list[str]) -> None:
    """Raise on the first feature name given twice (across sensitive and control features).

    Raises
    ------
    MetricInputError
        Naming the duplicate, in Fairlearn's words.
    """
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise MetricInputError(DUPLICATE_FEATURE_NAME.format(name))
        seen.add(name)


def _split(features: Any, base: str) -> list[Column]:
    if isinstance(features, pd.Series):
        name = features.name
        if name is None:
            return [(f"{base}0", features)]
        if not isinstance(name, str):
            raise MetricInputError(SERIES_NAME_NOT_STRING.format(name, type(name)))
        return [(name, features)]
    if isinstance(features, pd.DataFrame):
        return _frame_columns(features)
    if isinstance(features, list):
        if not all(pd.api.types.is_scalar(value) for value in features):
            raise MetricInputError(FEATURE_LIST_NONSCALAR)
        # dtype=object keeps None and NaN missing, and mixed types as they are.
        return [(f"{base}0", np.atleast_1d(np.asarray(features, dtype=object)))]
    if isinstance(features, Mapping):
        try:
            frame = pd.DataFrame.from_dict(dict(features))
        except ValueError as exc:
            raise MetricInputError(DICT_CONVERSION_FAILURE) from exc
        return _frame_columns(frame)
    return _array_columns(features, base)


def _frame_columns(frame: pd.DataFrame) -> list[Column]:
    columns: list[Column] = []
    for i, name in enumerate(frame.columns):
        if not isinstance(name, str):
            raise MetricInputError(COLUMN_NAME_NOT_STRING.format(name, type(name)))
        columns.append((name, frame.iloc[:, i]))
    return columns


def _array_columns(features: Any, base: str) -> list[Column]:
    module = type(features).__module__
    if module.startswith("polars") and hasattr(features, "columns"):
        return [(f"{base}{i}", features.to_series(i)) for i in range(len(features.columns))]
    if module.startswith("pyarrow") and hasattr(features, "column_names"):
        return [(f"{base}{i}", features.column(i)) for i in range(features.num_columns)]
    if module.startswith(("polars", "pyarrow")):
        return [(f"{base}0", features)]
    array = np.asarray(features)
    if array.size > 1:
        array = np.squeeze(array)
    if array.ndim == 0:
        array = array.reshape(1)
    if array.ndim == 1:
        return [(f"{base}0", array)]
    if array.ndim == 2:
        return [(f"{base}{i}", array[:, i]) for i in range(array.shape[1])]
    raise MetricInputError(TOO_MANY_FEATURE_DIMS)
