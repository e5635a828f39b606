"""Input and output schema of a model version, and checking data against it.

A :class:`Signature` lists the columns a model takes and returns, each with one of a
few normalised types (:data:`COLUMN_TYPES`) and whether it may hold missing values.
:func:`infer_signature` reads one from sample data (pandas, polars, pyarrow or
numpy); :meth:`Signature.validate` lists what is wrong with a batch, field by field,
so the serving gateway can answer 422 with every problem at once.

Type normalisation: every integer width (signed or not) is ``int64``, every float
width ``float64``; text is ``string`` whatever library or dtype holds it; dates and
timestamps (with or without a time zone) are ``datetime``.  NaN counts as missing.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, NamedTuple, cast, get_args

from govml.errors import InputError, ValidationError, did_you_mean

if TYPE_CHECKING:
    import numpy as np

ColumnType = Literal["int64", "float64", "bool", "string", "category", "datetime"]
COLUMN_TYPES: tuple[str, ...] = get_args(ColumnType)

MSG_MISSING = "missing column '{name}'"
MSG_UNKNOWN = "unknown column '{name}'"
MSG_TYPE = "column '{name}' has type {actual}, expected {expected}"
MSG_NULLS = "column '{name}' has {count} missing value(s) but is not nullable"
MSG_WIDTH = "expected {expected} columns, got {actual}"
ERR_UNSUPPORTED = (
    "unsupported data of type {type}; expected a pandas, polars or pyarrow table or a numpy array"
)

# Input types accepted where the signature expects another type, and why:
# integers are valid floats (JSON writes 1.0 as 1); strings are valid categories and
# vice versa (JSON has no categorical type).  int64 also accepts floats with whole
# values, checked per column: pandas stores integers with missing values as floats.
_COMPATIBLE: dict[str, frozenset[str]] = {
    "int64": frozenset({"int64"}),
    "float64": frozenset({"float64", "int64"}),
    "bool": frozenset({"bool"}),
    "string": frozenset({"string", "category"}),
    "category": frozenset({"category", "string"}),
    "datetime": frozenset({"datetime"}),
}
# numpy dtype kinds (also reported by pandas extension dtypes) and their types.
_KIND_TYPES: dict[str, str] = {
    "i": "int64",
    "u": "int64",
    "f": "float64",
    "b": "bool",
    "U": "string",
    "S": "string",
    "M": "datetime",
}
# pandas.api.types.infer_dtype results for object columns.
_INFERRED: dict[str, str] = {
    "string": "string",
    "integer": "int64",
    "floating": "float64",
    "mixed-integer-float": "float64",
    "decimal": "float64",
    "boolean": "bool",
    "datetime64": "datetime",
    "datetime": "datetime",
    "date": "datetime",
    "categorical": "category",
}


@dataclass(frozen=True)
class ColumnSpec:
    """One column of a signature.

    Parameters
    ----------
    name : str
        Column name.
    type : {"int64", "float64", "bool", "string", "category", "datetime"}
        Normalised type.
    nullable : bool, default False
        Whether missing values (null, NaN) are allowed.
    """

    name: str
    type: ColumnType
    nullable: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise ValidationError(f"column name must be a non-empty string, got {self.name!r}")
        if self.type not in COLUMN_TYPES:
            raise ValidationError(
                f"column '{self.name}' has unknown type '{self.type}'; "
                f"valid types: {', '.join(COLUMN_TYPES)}",
                hint=did_you_mean(str(self.type), COLUMN_TYPES),
            )
        if not isinstance(self.nullable, bool):
            raise ValidationError(f"column '{self.name}': nullable must be true or false")

    def to_dict(self) -> dict[str, Any]:
        """Return ``{"name", "type", "nullable"}``."""
        return {"name": self.name, "type": self.type, "nullable": self.nullable}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ColumnSpec:
        """Build a column from :meth:`to_dict` output.

        Parameters
        ----------
        data : Mapping
            ``name`` and ``type`` are required, ``nullable`` defaults to false.

        Returns
        -------
        ColumnSpec
            The column.
        """
        if not isinstance(data, Mapping):
            raise ValidationError(f"a column must be a mapping, got {type(data).__name__}")
        unknown = sorted(set(data) - {"name", "type", "nullable"})
        if unknown:
            raise ValidationError(f"unknown column field '{unknown[0]}'")
        for key in ("name", "type"):
            if key not in data:
                raise ValidationError(f"a column needs a '{key}'")
        return cls(data["name"], data["type"], data.get("nullable", False))


@dataclass(frozen=True, kw_only=True)
class Signature:
    """The columns a model takes (``inputs``) and returns (``outputs``).

    Parameters
    ----------
    inputs : sequence of ColumnSpec
        Input columns, in the order the model sees them.
    outputs : sequence of ColumnSpec, optional
        Output columns.
    """

    inputs: tuple[ColumnSpec, ...]
    outputs: tuple[ColumnSpec, ...] = ()

    def __post_init__(self) -> None:
        # Stored as tuples so a registered signature cannot be changed in place.
        for field in ("inputs", "outputs"):
            columns = tuple(getattr(self, field))
            for column in columns:
                if not isinstance(column, ColumnSpec):
                    raise ValidationError(f"signature {field} must be ColumnSpec objects")
            seen: set[str] = set()
            for column in columns:
                if column.name in seen:
                    raise ValidationError(f"signature {field} name column '{column.name}' twice")
                seen.add(column.name)
            object.__setattr__(self, field, columns)

    @property
    def input_names(self) -> list[str]:
        """Input column names, in order."""
        return [column.name for column in self.inputs]

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-safe dictionary: ``{"inputs": [...], "outputs": [...]}``."""
        return {
            "inputs": [column.to_dict() for column in self.inputs],
            "outputs": [column.to_dict() for column in self.outputs],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Signature:
        """Build a signature from :meth:`to_dict` output.

        Parameters
        ----------
        data : Mapping
            ``inputs`` (required) and ``outputs`` (optional) lists of columns.

        Returns
        -------
        Signature
            The signature.

        Raises
        ------
        ValidationError
            Naming the offending field, e.g. ``signature.inputs[2]: ...``.
        """
        if not isinstance(data, Mapping):
            raise ValidationError(f"a signature must be a mapping, got {type(data).__name__}")
        unknown = sorted(set(data) - {"inputs", "outputs"})
        if unknown:
            raise ValidationError(
                f"unknown signature field '{unknown[0]}'",
                hint=did_you_mean(unknown[0], ("inputs", "outputs")),
            )
        if "inputs" not in data:
            raise ValidationError("a signature needs 'inputs'")
        parts: dict[str, list[ColumnSpec]] = {}
        for field in ("inputs", "outputs"):
            items = data.get(field, [])
            if not isinstance(items, list):
                raise ValidationError(f"signature.{field} must be a list")
            parts[field] = []
            for index, item in enumerate(items):
                try:
                    parts[field].append(ColumnSpec.from_dict(item))
                except ValidationError as exc:
                    raise ValidationError(
                        f"signature.{field}[{index}]: {exc.message}", hint=exc.hint
                    ) from exc
        return cls(inputs=tuple(parts["inputs"]), outputs=tuple(parts["outputs"]))

    def validate(self, X: Any) -> list[str]:
        """List every way ``X`` does not match the inputs; empty when it does.

        Parameters
        ----------
        X : table or array
            pandas / polars / pyarrow table, or a 2-D numpy array whose columns are
            matched to the inputs by position.

        Returns
        -------
        list of str
            One message per problem: missing or unknown columns, wrong types, missing
            values in non-nullable columns.

        Raises
        ------
        InputError
            When ``X`` is not a kind of table this module reads.
        """
        import numpy as np

        if isinstance(X, np.ndarray):
            return self._validate_array(X)
        columns = {column.name: column for column in _columns(X)}
        problems: list[str] = []
        expected = {spec.name for spec in self.inputs}
        missing = [spec.name for spec in self.inputs if spec.name not in columns]
        problems += [MSG_MISSING.format(name=name) for name in missing]
        for name in columns:
            if name not in expected:
                hint = did_you_mean(name, missing)
                message = MSG_UNKNOWN.format(name=name)
                problems.append(f"{message} ({hint})" if hint else message)
        for spec in self.inputs:
            if spec.name in columns:
                problems += _check(spec, columns[spec.name])
        return problems

    def _validate_array(self, X: np.ndarray[Any, Any]) -> list[str]:
        if X.ndim != 2:
            return [f"expected a 2-D array (rows x columns), got {X.ndim} dimension(s)"]
        if X.shape[1] != len(self.inputs):
            return [MSG_WIDTH.format(expected=len(self.inputs), actual=X.shape[1])]
        problems: list[str] = []
        for spec, column in zip(self.inputs, _array_columns(X), strict=True):
            problems += _check(spec, column._replace(name=spec.name))
        return problems


def infer_signature(X_sample: Any, y_sample: Any = None) -> Signature:
    """Infer a signature from sample inputs and, optionally, sample outputs.

    Parameters
    ----------
    X_sample : table or array
        pandas / polars / pyarrow table, or a 2-D numpy array (columns named
        ``f0 .. fN-1``).
    y_sample : series, table or array, optional
        Outputs: a named series gives one column of that name; an unnamed series or a
        1-D array gives ``prediction``; a 2-D array gives ``prediction_0 ..``.

    Returns
    -------
    Signature
        Columns with normalised types; a column is nullable when the sample has a
        missing value in it.

    Raises
    ------
    InputError
        When a column's type is not one of :data:`COLUMN_TYPES` or cannot be inferred
        (e.g. only missing values).
    """
    import numpy as np

    if isinstance(X_sample, np.ndarray) and X_sample.ndim != 2:
        raise InputError(f"X_sample must be 2-D (rows x columns), got {X_sample.ndim}-D")
    inputs = [_spec(column) for column in _columns(X_sample)]
    outputs = [] if y_sample is None else [_spec(column) for column in _outputs(y_sample)]
    return Signature(inputs=tuple(inputs), outputs=tuple(outputs))


class _Column(NamedTuple):
    """What validation needs to know about one column of real data."""

    name: str
    type: str | None  # normalised when possible, None when there are no values to judge
    nulls: int
    whole: bool  # every non-missing value is a whole number (for float columns)


def _spec(column: _Column) -> ColumnSpec:
    if column.type is None:
        raise InputError(f"column '{column.name}' has only missing values; cannot infer its type")
    if column.type not in COLUMN_TYPES:
        raise InputError(
            f"column '{column.name}' has unsupported type {column.type}; "
            f"supported: {', '.join(COLUMN_TYPES)}"
        )
    return ColumnSpec(column.name, cast(ColumnType, column.type), column.nulls > 0)


def _check(spec: ColumnSpec, column: _Column) -> list[str]:
    problems = []
    actual = column.type
    if actual is not None and actual not in _COMPATIBLE[spec.type]:
        whole_floats = spec.type == "int64" and actual == "float64" and column.whole
        if not whole_floats:
            problems.append(MSG_TYPE.format(name=spec.name, actual=actual, expected=spec.type))
    if column.nulls and not spec.nullable:
        problems.append(MSG_NULLS.format(name=spec.name, count=column.nulls))
    return problems


def _module(value: Any) -> str:
    return type(value).__module__.split(".", 1)[0]


def _columns(X: Any) -> Iterator[_Column]:
    import numpy as np

    top, kind = _module(X), type(X).__name__
    if top == "pandas" and kind == "DataFrame":
        return (_pandas_column(str(name), series) for name, series in X.items())
    if top == "polars" and kind in ("DataFrame", "LazyFrame"):
        frame = X.collect() if kind == "LazyFrame" else X
        return (_polars_column(series) for series in frame.iter_columns())
    if top == "pyarrow" and kind in ("Table", "RecordBatch"):
        return (
            _arrow_column(str(name), column)
            for name, column in zip(X.column_names, X.columns, strict=True)
        )
    if isinstance(X, np.ndarray):
        return _array_columns(X)
    raise InputError(ERR_UNSUPPORTED.format(type=f"{type(X).__module__}.{kind}"))


def _outputs(y: Any) -> Iterator[_Column]:
    import numpy as np

    top, kind = _module(y), type(y).__name__
    if top == "pandas" and kind == "Series":
        return iter([_pandas_column(str(y.name) if y.name is not None else "prediction", y)])
    if top == "polars" and kind == "Series":
        return iter([_polars_column(y.rename(y.name or "prediction"))])
    if top == "pyarrow" and kind in ("Array", "ChunkedArray"):
        return iter([_arrow_column("prediction", y)])
    if isinstance(y, list | tuple):
        y = np.asarray(y)
    if isinstance(y, np.ndarray):
        if y.ndim == 1 or (y.ndim == 2 and y.shape[1] == 1):
            return _array_columns(y.reshape(-1, 1), names=["prediction"])
        if y.ndim == 2:
            return _array_columns(y, names=[f"prediction_{i}" for i in range(y.shape[1])])
        raise InputError(f"y_sample must be 1-D or 2-D, got {y.ndim}-D")
    return _columns(y)


def _array_columns(
    X: np.ndarray[Any, Any], names: Sequence[str] | None = None
) -> Iterator[_Column]:
    import numpy as np

    names = names or [f"f{i}" for i in range(X.shape[1])]
    for i, name in enumerate(names):
        values = X[:, i]
        kind = values.dtype.kind
        if kind == "O":
            yield _object_column(name, values)
            continue
        nulls = 0
        if kind == "f":
            nulls = int(np.isnan(values).sum())
        elif kind == "M":
            nulls = int(np.isnat(values).sum())
        yield _Column(name, _KIND_TYPES.get(kind, str(values.dtype)), nulls, _whole(values))


def _whole(values: Any) -> bool:
    import numpy as np

    array = np.asarray(values)
    if array.dtype.kind != "f":
        return array.dtype.kind in "iub"
    finite = array[~np.isnan(array)]
    return bool(np.all(np.mod(finite, 1) == 0))


def _object_column(name: str, values: Any) -> _Column:
    pandas = importlib.import_module("pandas")
    series = pandas.Series(values, dtype=object)
    nulls = int(series.isna().sum())
    inferred = pandas.api.types.infer_dtype(series, skipna=True)
    if inferred == "empty":
        return _Column(name, None, nulls, False)
    kind = _INFERRED.get(inferred, f"object ({inferred})")
    present = series.dropna()
    whole = kind == "float64" and _whole(present.to_numpy(dtype=float))
    return _Column(name, kind, nulls, whole)


def _pandas_column(name: str, series: Any) -> _Column:
    dtype = series.dtype
    label = str(dtype)
    if label == "category":
        return _Column(name, "category", int(series.isna().sum()), False)
    if dtype.kind == "O":
        if label in ("str", "string") or label.startswith("string["):
            return _Column(name, "string", int(series.isna().sum()), False)
        return _object_column(name, series.to_numpy(dtype=object))
    nulls = int(series.isna().sum())
    kind = _KIND_TYPES.get(dtype.kind, label)
    whole = kind == "float64" and _whole(series.dropna().to_numpy(dtype=float))
    return _Column(name, kind, nulls, whole)


def _polars_column(series: Any) -> _Column:
    dtype = series.dtype
    nulls = int(series.null_count())
    if dtype.is_float():
        nulls += int(series.is_nan().sum())
        whole = _whole(series.drop_nulls().to_numpy())
        return _Column(series.name, "float64", nulls, whole)
    label = type(dtype).__name__
    if dtype.is_integer():
        kind = "int64"
    elif label == "Boolean":
        kind = "bool"
    elif label in ("String", "Utf8"):
        kind = "string"
    elif label in ("Categorical", "Enum"):
        kind = "category"
    elif label in ("Datetime", "Date"):
        kind = "datetime"
    elif label == "Null":
        return _Column(series.name, None, nulls, False)
    else:
        kind = str(dtype)
    return _Column(series.name, kind, nulls, False)


def _arrow_column(name: str, column: Any) -> _Column:
    pa = importlib.import_module("pyarrow")
    types = pa.types
    kind_of = column.type
    nulls = int(column.null_count)
    if types.is_floating(kind_of):
        compute = importlib.import_module("pyarrow.compute")
        nulls += int(compute.sum(compute.is_nan(column)).as_py() or 0)
        values = column.to_numpy(zero_copy_only=False)
        return _Column(name, "float64", nulls, _whole(values))
    if types.is_integer(kind_of):
        kind = "int64"
    elif types.is_boolean(kind_of):
        kind = "bool"
    elif types.is_string(kind_of) or types.is_large_string(kind_of):
        kind = "string"
    elif types.is_dictionary(kind_of):
        kind = "category"
    elif types.is_timestamp(kind_of) or types.is_date(kind_of):
        kind = "datetime"
    elif types.is_null(kind_of):
        return _Column(name, None, nulls, False)
    else:
        kind = str(kind_of)
    return _Column(name, kind, nulls, False)
