"""Groups defined by sensitive features: encoding rows to group codes, aligning for merges.

A group is one observed combination of the sensitive features' values (Fairlearn's
intersections); combinations that no row has are absent. Keys are tuples with one value per
feature, sorted like pandas sorts them (numbers, then strings, the missing-value group last),
so the codes of a merge or of a Fairlearn ``MetricFrame`` line up with ours.

Encoding is hash based (pandas factorize, Arrow's unique / index_in): linear in the rows,
with a sort of the few distinct values only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from numpy.typing import NDArray

from govml.metrics import _factor_cache as factor_cache
from govml.metrics._factorize import factorize_objects, group_by_value
from govml.metrics._validate import (
    LENGTH_MISMATCH,
    MetricInputError,
    as_1d,
    is_missing,
    sort_key,
    to_python,
)

if TYPE_CHECKING:
    import pandas as pd

MissingPolicy = Literal["error", "group"]
GroupKey = tuple[Any, ...]

MISSING_SENSITIVE = "sensitive feature {name!r} has {count} missing value(s)"
MISSING_HINT = "fill them, or pass missing='group' to make them a group of their own"
BAD_GROUP_VALUE = (
    "sensitive feature {name!r} has a value of type {type}; use strings, numbers or booleans"
)
FEATURES_DIFFER = "cannot merge statistics grouped by {first} with statistics grouped by {second}"
UNKNOWN_FEATURE = "unknown sensitive feature {name!r}; the features are {names}"
DUPLICATE_FEATURE = "sensitive feature name {name!r} appears twice"
NOT_A_FEATURE = (
    "sensitive_features must be a 1-D array, a list of values, a 2-D array, a DataFrame "
    "or a dict of columns, got {type}"
)

_JSON_SCALARS = (str, int, float, bool, type(None))
# Above this many possible combinations, compact the codes with a sort instead of a
# bincount table as large as the product of the features' sizes.
_TABLE_LIMIT = 1 << 22
# Object columns at least this long are factorised by the objects' addresses first.
_BY_ADDRESS = 1_000


@dataclass(frozen=True)
class Groups:
    """The sensitive features' names and the observed groups, in sorted order."""

    names: tuple[str, ...]
    keys: tuple[GroupKey, ...]

    def __post_init__(self) -> None:
        if any(len(key) != len(self.names) for key in self.keys):
            raise MetricInputError("every group key needs one value per sensitive feature")
        if list(self.keys) != sorted(self.keys, key=_key_order) or len(set(self.keys)) != len(
            self.keys
        ):
            raise MetricInputError("group keys must be distinct and sorted")

    def __len__(self) -> int:
        return len(self.keys)

    @classmethod
    def single(cls) -> Groups:
        """Return the one group of data without sensitive features."""
        return cls(names=(), keys=((),))

    def label(self, index: int) -> str:
        """Return a readable name of group ``index`` (``sex=Female, race=Black``)."""
        key = self.keys[index]
        if not self.names:
            return "all rows"
        return ", ".join(f"{n}={v}" for n, v in zip(self.names, key, strict=True))

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict."""
        return {"names": list(self.names), "keys": [list(k) for k in self.keys]}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Groups:
        """Rebuild from :meth:`to_dict` output."""
        return cls(
            names=tuple(str(n) for n in data["names"]),
            keys=tuple(tuple(k) for k in data["keys"]),
        )

    def union(self, other: Groups) -> tuple[Groups, NDArray[np.intp], NDArray[np.intp]]:
        """Return the union of both and where each one's groups sit in it.

        Raises
        ------
        MetricInputError
            When the two are grouped by different sensitive features.
        """
        if self.names != other.names:
            raise MetricInputError(
                FEATURES_DIFFER.format(first=list(self.names), second=list(other.names))
            )
        keys = tuple(sorted(set(self.keys) | set(other.keys), key=_key_order))
        position = {key: i for i, key in enumerate(keys)}
        return (
            Groups(names=self.names, keys=keys),
            np.array([position[k] for k in self.keys], dtype=np.intp),
            np.array([position[k] for k in other.keys], dtype=np.intp),
        )

    def marginal(self, names: Sequence[str]) -> tuple[Groups, NDArray[np.intp]]:
        """Group by a subset of the features; return it and each group's new position.

        Raises
        ------
        MetricInputError
            When a name is not one of the features.
        """
        for name in names:
            if name not in self.names:
                raise MetricInputError(UNKNOWN_FEATURE.format(name=name, names=list(self.names)))
        columns = [self.names.index(n) for n in names]
        projected = [tuple(key[c] for c in columns) for key in self.keys]
        keys = tuple(sorted(set(projected), key=_key_order))
        position = {key: i for i, key in enumerate(keys)}
        return (
            Groups(names=tuple(names), keys=keys),
            np.array([position[k] for k in projected], dtype=np.intp),
        )


def _key_order(key: GroupKey) -> tuple[tuple[int, Any], ...]:
    return tuple(sort_key(v) for v in key)


def encode_groups(
    sensitive_features: Any, n_rows: int, *, missing: MissingPolicy = "error"
) -> tuple[NDArray[np.intp], Groups]:
    """Return each row's group code and the groups, for one or several sensitive features.

    ``sensitive_features`` may be a 1-D array-like (numpy, pandas, polars, pyarrow, a list
    of values), a 2-D numpy array, a pandas / polars DataFrame, a pyarrow Table, or a dict
    of columns. Unnamed features are called ``sensitive_feature_0``, ``_1``, ... as in
    Fairlearn.

    Raises
    ------
    MetricInputError
        On a length that differs from ``n_rows``, a missing value when ``missing="error"``,
        a duplicate feature name, or values that are not strings, numbers or booleans.
    """
    codes, groups, _ = encode_groups_counted(sensitive_features, n_rows, missing=missing)
    return codes, groups


def encode_groups_counted(
    sensitive_features: Any, n_rows: int, *, missing: MissingPolicy = "error"
) -> tuple[NDArray[np.intp], Groups, NDArray[np.int64]]:
    """Return :func:`encode_groups`' codes and groups, and the number of rows per group.

    Raises
    ------
    MetricInputError
        As :func:`encode_groups`.
    """
    columns = _feature_columns(sensitive_features)
    codes: NDArray[np.intp] | None = None
    per_feature: list[list[Any]] = []
    entry_keys: list[int | None] = []
    for name, column in columns:
        if len(column) != n_rows:
            raise MetricInputError(
                LENGTH_MISMATCH.format(
                    first="y_true",
                    first_len=n_rows,
                    second=f"sensitive feature {name!r}",
                    second_len=len(column),
                )
            )
        feature_codes, values, entry_key = _encode_column(column, name=name, missing=missing)
        entry_keys.append(entry_key)
        if len(entry_keys) == len(columns) and None not in entry_keys:
            combined_key = (tuple(entry_keys), tuple(n for n, _ in columns), missing)
            found = factor_cache.lookup_combined(combined_key)
            if found is not None:
                return found  # type: ignore[no-any-return]
        if codes is None:
            codes = feature_codes.astype(np.intp)
        else:
            codes *= len(values)
            codes += feature_codes
        per_feature.append(values)
    if codes is None:
        codes = np.zeros(n_rows, dtype=np.intp)
    sizes = [len(values) for values in per_feature]
    observed, codes, counts = _compact(codes, int(np.prod(sizes, dtype=np.float64)))
    digits = np.unravel_index(observed, sizes) if sizes else ()
    keys = tuple(
        tuple(per_feature[f][int(digits[f][g])] for f in range(len(sizes)))
        for g in range(len(observed))
    )
    result = codes, Groups(names=tuple(name for name, _ in columns), keys=keys), counts
    if columns and None not in entry_keys:
        codes.setflags(write=False)
        combined_key = (tuple(entry_keys), tuple(n for n, _ in columns), missing)
        factor_cache.store_combined(combined_key, result)
    return result


def _compact(
    codes: NDArray[np.intp], n_possible: int
) -> tuple[NDArray[np.intp], NDArray[np.intp], NDArray[np.int64]]:
    """Return the observed combined codes, codes renumbered 0..G-1, and rows per code.

    The observed codes are sorted; when every possible code is observed the codes are
    returned as they are.
    """
    if n_possible <= max(_TABLE_LIMIT, len(codes)):
        counts = np.bincount(codes, minlength=n_possible)
        present = counts > 0
        observed = np.flatnonzero(present)
        if len(observed) < n_possible:  # else the codes are already 0..G-1
            renumber = np.cumsum(present) - 1
            codes = renumber[codes]
        return observed, codes, counts[observed].astype(np.int64)
    observed, inverse, counts = np.unique(codes, return_inverse=True, return_counts=True)
    return observed, inverse.astype(np.intp, copy=False), counts.astype(np.int64)


def _feature_columns(features: Any) -> list[tuple[str, Any]]:
    """Split ``features`` into named 1-D columns (still in their native type)."""
    import pandas as pd

    pairs: list[tuple[str, Any]]
    if isinstance(features, pd.DataFrame):
        pairs = [(str(c), features[c]) for c in features.columns]
    elif isinstance(features, Mapping):
        pairs = [(str(k), v) for k, v in features.items()]
    elif type(features).__module__.startswith("polars") and hasattr(features, "columns"):
        pairs = [(str(c), features.get_column(c)) for c in features.columns]
    elif type(features).__module__.startswith("pyarrow") and hasattr(features, "column_names"):
        pairs = [(str(c), features.column(c)) for c in features.column_names]
    elif isinstance(features, np.ndarray) and features.ndim == 2:
        pairs = [(f"sensitive_feature_{i}", features[:, i]) for i in range(features.shape[1])]
    elif isinstance(features, str | bytes) or not hasattr(features, "__len__"):
        raise MetricInputError(NOT_A_FEATURE.format(type=type(features).__name__))
    else:
        pairs = [(series_name(features) or "sensitive_feature_0", features)]
    seen: set[str] = set()
    for name, _ in pairs:
        if name in seen:
            raise MetricInputError(DUPLICATE_FEATURE.format(name=name))
        seen.add(name)
    return pairs


def series_name(column: Any) -> str | None:
    name = getattr(column, "name", None)
    # polars names an unnamed Series ""; pyarrow arrays have no name attribute.
    return name if isinstance(name, str) and name else None


def _encode_column(
    column: Any, *, name: str, missing: MissingPolicy
) -> tuple[NDArray[np.integer[Any]], list[Any], int | None]:
    """Return codes into the sorted values of one feature (-1 missing), and its cache key.

    Large string and number columns are looked up in the factorisation cache first
    (:mod:`govml.metrics._factor_cache`), so the same data is factorised once across calls.
    """
    import pandas as pd

    module = type(column).__module__
    entry_key: int | None = None
    codes: NDArray[np.integer[Any]]
    if module.startswith(("polars", "pyarrow")):
        codes, uniques = _arrow_factorize(column)
        codes, sorted_values, n_missing = _sorted_codes(codes, uniques, name=name)
    elif isinstance(column, pd.Series) and isinstance(column.dtype, pd.CategoricalDtype):
        codes, uniques = _categorical_factorize(column)
        codes, sorted_values, n_missing = _sorted_codes(codes, uniques, name=name)
    else:
        native = column if isinstance(column, pd.Series) else as_1d(column, name=name)
        cached = factor_cache.lookup(native)
        by_address = None if cached is not None else _factorize_by_address(native, name=name)
        if cached is not None:
            entry_key, codes, sorted_values, n_missing = cached
        elif by_address is not None:
            codes, sorted_values, n_missing, objects = by_address
            entry_key = factor_cache.store(native, codes, sorted_values, n_missing, objects)
        else:
            raw_codes, raw_uniques = pd.factorize(native, use_na_sentinel=True)
            codes, sorted_values, n_missing = _sorted_codes(
                np.asarray(raw_codes, dtype=np.intp), list(raw_uniques), name=name
            )
            entry_key = factor_cache.store(native, codes, sorted_values, n_missing)
    if n_missing:
        if missing == "error":
            raise MetricInputError(
                MISSING_SENSITIVE.format(name=name, count=n_missing), hint=MISSING_HINT
            )
        codes = np.where(codes < 0, len(sorted_values), codes.astype(np.intp))
        sorted_values = [*sorted_values, None]
    return codes, sorted_values, entry_key


def _factorize_by_address(
    column: Any, *, name: str
) -> tuple[NDArray[np.integer[Any]], list[Any], int, list[Any]] | None:
    """Return sorted codes, values and missing count of an object column, and its objects.

    Factorised by the objects' addresses (:mod:`govml.metrics._factorize`); the values are
    sorted on the few distinct objects, then one gather gives each row its code. None for
    columns this does not suit (pandas' factorize then).
    """
    import pandas as pd

    array = column.to_numpy() if isinstance(column, pd.Series) else column
    if not isinstance(array, np.ndarray) or array.dtype != object or len(array) < _BY_ADDRESS:
        return None
    found = factorize_objects(array)
    if found is None:
        return None
    index, lookup, objects = found
    grouped = group_by_value(objects)
    if grouped is None:
        return None
    object_codes, uniques = grouped
    object_sorted, sorted_values, missing_objects = _sorted_codes(object_codes, uniques, name=name)
    # lookup holds -1 for table slots no object is at: no row reads those
    codes = np.asarray(object_sorted, dtype=np.intp)[lookup][index]
    n_missing = int(np.count_nonzero(codes < 0)) if missing_objects else 0
    return codes, sorted_values, n_missing, objects


def _sorted_codes(
    codes: NDArray[np.integer[Any]], uniques: list[Any], *, name: str
) -> tuple[NDArray[np.integer[Any]], list[Any], int]:
    """Return codes renumbered into the values sorted as pandas sorts them, and the missing."""
    values = [to_python(v) for v in uniques]
    for value in values:
        if not isinstance(value, _JSON_SCALARS) and not is_missing(value):
            raise MetricInputError(BAD_GROUP_VALUE.format(name=name, type=type(value).__name__))
    # Arrow and pandas' nullable types can leave a NaN among the values: it is missing too.
    nan_values = [i for i, v in enumerate(values) if is_missing(v)]
    if nan_values:
        codes = np.where(np.isin(codes, nan_values), -1, codes)
    order = sorted(
        (i for i in range(len(values)) if i not in nan_values), key=lambda i: sort_key(values[i])
    )
    if nan_values or order != list(range(len(values))):
        rank = np.full(len(values) + 1, -1, dtype=np.intp)
        rank[order] = np.arange(len(order))
        codes = rank[codes]  # index -1 reads the trailing -1: missing stays missing
    n_missing = int(np.count_nonzero(codes < 0)) if len(codes) and codes.min() < 0 else 0
    return codes, [values[i] for i in order], n_missing


def _arrow_factorize(column: Any) -> tuple[NDArray[np.intp], list[Any]]:
    import pyarrow as pa
    import pyarrow.compute as pc

    array = column.to_arrow() if type(column).__module__.startswith("polars") else column
    if isinstance(array, pa.ChunkedArray | pa.Array) and pa.types.is_dictionary(array.type):
        array = array.cast(array.type.value_type)
    uniques = pc.unique(array)
    indices = pc.fill_null(pc.index_in(array, value_set=uniques), -1)
    codes = np.asarray(indices.to_numpy(zero_copy_only=False), dtype=np.intp)
    return codes, uniques.to_pylist()


def _categorical_factorize(column: pd.Series[Any]) -> tuple[NDArray[np.integer[Any]], list[Any]]:
    # The codes as pandas keeps them (int8 for a few categories): no copy. Categories no
    # row has stay among the values; no group key holds them, since groups are observed
    # combinations only.
    return column.cat.codes.to_numpy(), list(column.cat.categories)
