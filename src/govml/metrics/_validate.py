"""Input checks shared by every metric: arrays, lengths, weights and labels.

The messages are module constants so that tests (and users) can match on them. Errors are
:class:`MetricInputError`, which is both a govml :class:`~govml.errors.InputError` (the CLI
prints it and exits with code 2) and a :class:`ValueError`, so code written against
scikit-learn or Fairlearn that catches ``ValueError`` keeps working.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from govml.errors import InputError

if TYPE_CHECKING:
    import pandas as pd

LENGTH_MISMATCH = "{first} has {first_len} rows but {second} has {second_len}"
EMPTY_INPUT = "{name} is empty: metrics need at least one row"
NOT_ONE_DIMENSIONAL = "{name} must be one-dimensional, got shape {shape}"
MISSING_LABELS = (
    "{name} has {count} missing value(s) (NaN or None); every row needs a label for {what}"
)
NOT_BINARY = "binary metrics need at most two label values, but the labels hold {count}: {values}"
POS_LABEL_NOT_FOUND = "pos_label={pos_label!r} is not one of the label values found: {values}"
SINGLE_CLASS = "y_true holds a single class ({value}); {metric} needs both classes"
BAD_WEIGHTS = "sample_weight must be finite and non-negative; found {problem}"
NOT_NUMERIC = "{name} must be numeric for {what}, got values of type {dtype}"
NOT_FINITE = "{name} has {count} value(s) that are NaN or infinite; {what} needs finite numbers"

# How many distinct values an error message lists before it abbreviates.
_SHOWN_VALUES = 6


class MetricInputError(InputError, ValueError):
    """Input a metric cannot use: wrong lengths, labels, weights or features."""


def as_1d(value: Any, *, name: str) -> NDArray[Any]:
    """Return ``value`` (numpy, pandas, polars, pyarrow or a list) as a 1-D numpy array.

    Raises
    ------
    MetricInputError
        When the value has more than one column.
    """
    array = _to_numpy(value)
    if array.ndim == 2 and array.shape[1] == 1:
        array = array[:, 0]
    if array.ndim != 1:
        raise MetricInputError(NOT_ONE_DIMENSIONAL.format(name=name, shape=array.shape))
    return array


def _to_numpy(value: Any) -> NDArray[Any]:
    import pandas as pd

    if isinstance(value, np.ndarray):
        return value
    if isinstance(value, pd.Series | pd.Index):
        return _pandas_to_numpy(value)
    if isinstance(value, pd.DataFrame):
        return value.to_numpy()
    module = type(value).__module__
    if module.startswith("polars"):
        return np.asarray(value.to_numpy())
    if module.startswith("pyarrow"):
        return np.asarray(value.to_numpy(zero_copy_only=False))
    return np.asarray(value)


def _pandas_to_numpy(value: pd.Series[Any] | pd.Index[Any]) -> NDArray[Any]:
    # Nullable dtypes (Int64, boolean, string) become object arrays with pd.NA; give
    # numeric ones a float array with NaN so that checks and arithmetic stay vectorised.
    import pandas as pd

    if isinstance(value.dtype, pd.api.extensions.ExtensionDtype) and value.hasnans:
        if pd.api.types.is_numeric_dtype(value.dtype) and not pd.api.types.is_bool_dtype(
            value.dtype
        ):
            return np.asarray(value.to_numpy(dtype=np.float64, na_value=np.nan))
        objects = np.asarray(value.astype(object).to_numpy())
        objects[np.asarray(value.isna())] = None
        return objects
    return np.asarray(value.to_numpy())


def check_lengths(arrays: Mapping[str, NDArray[Any]]) -> int:
    """Return the common length of ``arrays``; raise naming the first pair that differs.

    Raises
    ------
    MetricInputError
        When two arrays differ in length (both names and lengths are in the message) or
        when they are empty.
    """
    items = list(arrays.items())
    first, first_array = items[0]
    for second, second_array in items[1:]:
        if len(second_array) != len(first_array):
            raise MetricInputError(
                LENGTH_MISMATCH.format(
                    first=first,
                    first_len=len(first_array),
                    second=second,
                    second_len=len(second_array),
                )
            )
    if len(first_array) == 0:
        raise MetricInputError(EMPTY_INPUT.format(name=first))
    return len(first_array)


def as_weights(sample_weight: Any, n_rows: int) -> NDArray[np.float64] | None:
    """Return the weights as float64 (None when not given) after checking them.

    Negative weights are refused: they have no meaning as row multiplicities, which is how
    the bootstrap and the merge of statistics read them.

    Raises
    ------
    MetricInputError
        When a weight is NaN, infinite or negative, or the length differs from ``n_rows``.
    """
    if sample_weight is None:
        return None
    weights = as_1d(sample_weight, name="sample_weight")
    if len(weights) != n_rows:
        raise MetricInputError(
            LENGTH_MISMATCH.format(
                first="y_true", first_len=n_rows, second="sample_weight", second_len=len(weights)
            )
        )
    try:
        weights = weights.astype(np.float64, copy=False)
    except (TypeError, ValueError) as exc:
        raise MetricInputError(
            NOT_NUMERIC.format(name="sample_weight", what="weights", dtype=weights.dtype)
        ) from exc
    if not np.all(np.isfinite(weights)):
        raise MetricInputError(BAD_WEIGHTS.format(problem="NaN or infinite values"))
    if np.any(weights < 0):
        raise MetricInputError(BAD_WEIGHTS.format(problem=f"minimum {float(weights.min())!r}"))
    return weights


def as_float(value: NDArray[Any], *, name: str, what: str) -> NDArray[np.float64]:
    """Return ``value`` as finite float64 values.

    Raises
    ------
    MetricInputError
        When the values are not numbers or some are NaN or infinite.
    """
    if value.dtype == object or not (
        np.issubdtype(value.dtype, np.number) or value.dtype == np.bool_
    ):
        try:
            value = value.astype(np.float64)
        except (TypeError, ValueError) as exc:
            raise MetricInputError(
                NOT_NUMERIC.format(name=name, what=what, dtype=value.dtype)
            ) from exc
    floats = value.astype(np.float64, copy=False)
    bad = ~np.isfinite(floats)
    if bad.any():
        raise MetricInputError(NOT_FINITE.format(name=name, count=int(bad.sum()), what=what))
    return floats


# Integer labels spanning fewer values than this are found with a bincount.
_SMALL_SPAN = 1 << 16


def distinct_values(array: NDArray[Any]) -> list[Any]:
    """Return the distinct values of ``array`` as Python scalars (in no particular order).

    Integers and booleans whose values span at most two (labels, mostly) take a min and a
    max; a small span one bincount; anything else one hash pass.
    """
    import pandas as pd

    if array.ndim == 1 and array.size and array.dtype.kind in "biu":
        low, high = array.min(), array.max()
        span = int(high) - int(low)
        if span <= 1:
            return [to_python(v) for v in ((low,) if span == 0 else (low, high))]
        if span < _SMALL_SPAN:
            present = np.flatnonzero(np.bincount(array.astype(np.int64) - int(low)))
            return [int(v) + int(low) for v in present]
    return [to_python(v) for v in pd.unique(array)]


def to_python(value: Any) -> Any:
    """Return a numpy scalar as the equal Python scalar; other values unchanged."""
    return value.item() if isinstance(value, np.generic) else value


def is_missing(value: Any) -> bool:
    """Return True for None, NaN, pandas NA and NaT."""
    import pandas as pd

    return value is None or bool(pd.isna(value))


def describe_values(values: list[Any]) -> str:
    """Return a short sorted listing of label values for an error message."""
    shown = sorted(values, key=sort_key)
    text = ", ".join(repr(v) for v in shown[:_SHOWN_VALUES])
    if len(shown) > _SHOWN_VALUES:
        text += f", ... ({len(shown) - _SHOWN_VALUES} more)"
    return text


def sort_key(value: Any) -> tuple[int, Any]:
    """Order values as pandas does within a type: numbers, then strings, missing last."""
    if is_missing(value):
        return (2, 0)
    if isinstance(value, bool | int | float):
        return (0, value)
    return (1, str(value))


def check_labels(
    arrays: Mapping[str, NDArray[Any]],
    *,
    what: str,
    known: Mapping[str, list[Any]] | None = None,
) -> tuple[list[Any], dict[str, list[Any]]]:
    """Return the union of label values and the values per array; refuse missing labels.

    ``known`` gives the distinct values of arrays already looked at (by name).

    Raises
    ------
    MetricInputError
        When an array holds NaN or None (naming the array and the count).
    """
    import pandas as pd

    per_array: dict[str, list[Any]] = {}
    union: dict[Any, None] = {}
    for name, array in arrays.items():
        values = known[name] if known and name in known else distinct_values(array)
        if any(is_missing(v) for v in values):
            count = int(pd.isna(array).sum())
            raise MetricInputError(MISSING_LABELS.format(name=name, count=count, what=what))
        per_array[name] = values
        union.update(dict.fromkeys(values))
    return sorted(union, key=sort_key), per_array


def binary_indicators(
    y_true: NDArray[Any],
    y_pred: NDArray[Any],
    *,
    pos_label: Any,
    known: Mapping[str, list[Any]] | None = None,
) -> tuple[NDArray[Any], NDArray[Any]]:
    """Return ``(y_true == pos_label, y_pred == pos_label)`` after checking the labels.

    The labels of ``y_true`` and ``y_pred`` together may take at most two values and, when
    they take two, ``pos_label`` must be one of them. A single value is allowed (a group
    where every prediction is negative is ordinary data). Labels that are already 0 / 1
    integers or booleans with ``pos_label=1`` are returned as they are (no comparison
    pass): either way each indicator holds 0 and 1 only. ``known`` gives the arrays'
    distinct values when they were already looked at (keys ``y_true``, ``y_pred``).

    Raises
    ------
    MetricInputError
        On missing labels, more than two values, or a ``pos_label`` not among two values.
    """
    union, per_array = check_labels(
        {"y_true": y_true, "y_pred": y_pred}, what="binary metrics", known=known
    )
    _check_binary(union, pos_label)
    return (
        _indicator(y_true, per_array["y_true"], pos_label),
        _indicator(y_pred, per_array["y_pred"], pos_label),
    )


def _indicator(array: NDArray[Any], values: list[Any], pos_label: Any) -> NDArray[Any]:
    zero_one = all(v in (0, 1) and not isinstance(v, float) for v in values)
    if array.ndim == 1 and array.dtype.kind in "biu" and zero_one and _is_one(pos_label):
        return array
    return _equals(array, pos_label)


def _is_one(value: Any) -> bool:
    return isinstance(value, bool | int | np.integer | np.bool_) and value == 1


def positive_indicator(y_true: NDArray[Any], *, pos_label: Any) -> NDArray[np.bool_]:
    """Return ``y_true == pos_label`` after checking that y_true holds at most two labels.

    Raises
    ------
    MetricInputError
        On missing labels, more than two values, or a ``pos_label`` not among two values.
    """
    union, _ = check_labels({"y_true": y_true}, what="binary metrics")
    _check_binary(union, pos_label)
    return _equals(y_true, pos_label)


def _check_binary(union: list[Any], pos_label: Any) -> None:
    if len(union) > 2:
        raise MetricInputError(NOT_BINARY.format(count=len(union), values=describe_values(union)))
    if len(union) == 2 and pos_label not in union:
        raise MetricInputError(
            POS_LABEL_NOT_FOUND.format(pos_label=pos_label, values=describe_values(union)),
            hint="pass pos_label= with the value that means the positive class",
        )


def _equals(array: NDArray[Any], value: Any) -> NDArray[np.bool_]:
    # A comparison between unrelated types (strings against 1) is simply False everywhere.
    result = np.asarray(array == value)
    if result.shape != array.shape:
        return np.zeros(array.shape, dtype=np.bool_)
    return result.astype(np.bool_, copy=False)
