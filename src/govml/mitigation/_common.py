"""What the mitigations share: reading tables, labels and groups, and importing Fairlearn."""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from govml.errors import GovmlError, InputError

ERR_NO_FAIRLEARN = "fairness mitigation needs the 'fairlearn' package, which is not installed"
ERR_MISSING_COLUMNS = "X has no sensitive column(s) {columns}; the mitigated model reads them"
ERR_NOT_A_TABLE = (
    "X must be a table with named columns (pandas, polars or pyarrow) holding the "
    "sensitive column(s) {columns}, not {kind}"
)
ERR_UNSEEN_GROUP = (
    "{count} row(s) belong to group(s) not seen when the thresholds were fitted, "
    "e.g. {columns} = {example}"
)
ERR_MISSING_VALUES = "sensitive column(s) {columns} have missing values; every row needs a group"
ERR_NOT_BINARY = "fairness mitigation needs exactly two classes, got {count}: {classes}"
ERR_CONSTRAINT = "unknown constraint {name!r} for {method}; valid constraints: {valid}"


def import_fairlearn(submodule: str) -> Any:
    """Import ``fairlearn.<submodule>``: only ``fit`` needs Fairlearn."""
    try:
        return importlib.import_module(f"fairlearn.{submodule}")
    except ImportError as exc:
        raise GovmlError(ERR_NO_FAIRLEARN, hint="pip install govml[verify]") from exc


def unknown_constraint(name: str, method: str, valid: dict[str, Any]) -> InputError:
    return InputError(ERR_CONSTRAINT.format(name=name, method=method, valid=", ".join(valid)))


def column_names(sensitive: str | Sequence[str]) -> tuple[str, ...]:
    columns = (sensitive,) if isinstance(sensitive, str) else tuple(sensitive)
    if not columns or not all(isinstance(column, str) for column in columns):
        raise InputError("sensitive must name one or more columns")
    if len(set(columns)) != len(columns):
        raise InputError(f"sensitive names a column twice: {list(columns)}")
    return columns


def as_frame(X: Any, columns: tuple[str, ...]) -> pd.DataFrame:
    """Return ``X`` as a pandas DataFrame holding ``columns``, or raise InputError."""
    from govml.flavors.base import as_table

    table = as_table(X)
    if not isinstance(table, pd.DataFrame):
        kind = f"a {table.ndim}-D numpy array"
        raise InputError(ERR_NOT_A_TABLE.format(columns=list(columns), kind=kind))
    missing = [column for column in columns if column not in table.columns]
    if missing:
        raise InputError(ERR_MISSING_COLUMNS.format(columns=", ".join(map(repr, missing))))
    return table


def binary_classes(classes: Any) -> NDArray[Any]:
    values = np.asarray(classes if classes is not None else [])
    if values.ndim != 1 or len(values) != 2:
        raise InputError(ERR_NOT_BINARY.format(count=len(values.ravel()), classes=list(values)))
    return values


def binary_labels(y: Any, classes: NDArray[Any], rows: int) -> NDArray[np.int64]:
    """Return ``y`` as 0/1 (1 for the positive class), checking it has only those classes."""
    target = np.asarray(y)
    if target.ndim != 1 or len(target) != rows:
        raise InputError(f"y must be one label per row of X ({rows}), got shape {target.shape}")
    unknown = sorted(set(target.tolist()) - set(classes.tolist()), key=repr)
    if unknown:
        raise InputError(f"y has labels the classifier does not know: {unknown[:5]}")
    return np.asarray(target == classes[1], dtype=np.int64)


def plain(value: Any) -> Any:
    """Return a numpy scalar as the Python scalar it holds (skops stores those natively)."""
    return value.item() if isinstance(value, np.generic) else value


def group_keys(frame: pd.DataFrame, columns: tuple[str, ...]) -> tuple[tuple[Any, ...], ...]:
    values = frame[list(columns)]
    if values.isna().to_numpy().any():
        raise InputError(ERR_MISSING_VALUES.format(columns=", ".join(map(repr, columns))))
    keys = {tuple(plain(v) for v in row) for row in values.itertuples(index=False, name=None)}
    try:
        return tuple(sorted(keys))
    except TypeError:
        return tuple(sorted(keys, key=repr))


def group_codes(
    frame: pd.DataFrame, columns: tuple[str, ...], groups: tuple[tuple[Any, ...], ...]
) -> NDArray[np.int64]:
    """Return each row's index into ``groups``; raise for rows of unknown groups."""
    arrays = [frame[column].to_numpy(dtype=object) for column in columns]
    codes = np.full(len(frame), -1, dtype=np.int64)
    for code, key in enumerate(groups):
        member = np.ones(len(frame), dtype=bool)
        for array, value in zip(arrays, key, strict=True):
            member &= array == value
        codes[member & (codes < 0)] = code
    unseen = np.flatnonzero(codes < 0)
    if len(unseen):
        example = tuple(plain(array[unseen[0]]) for array in arrays)
        raise InputError(
            ERR_UNSEEN_GROUP.format(
                count=len(unseen),
                columns=columns[0] if len(columns) == 1 else list(columns),
                example=example[0] if len(columns) == 1 else list(example),
            ),
            hint="fit the mitigation on data with every group",
        )
    return codes
