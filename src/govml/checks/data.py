"""Data expectations: nulls, ranges, allowed values, uniqueness, patterns, size and schema.

Every check takes the data first (a ``pyarrow.Table`` or anything
:func:`govml.datasets.read_table` reads) and the rule's parameters under the names a
policy uses, so ``between(table, **{"column": "age", "min": 18, "max": 100})`` works.
Checks run vectorised with ``pyarrow.compute`` and numpy.

Conventions shared by all of them:

* A value is *missing* when it is null, or NaN in a floating-point column. Only
  :func:`no_nulls` is about missing values; the others leave them out and count them.
* Row numbers in the evidence are 0-based positions in the table, at most five.
* Evidence holds counts and row numbers, never the data's values, except the unexpected
  values of :func:`in_set` (a few, shortened), which is what a reader needs to fix them.
* A column the data lacks is a usage error: one :class:`~govml.errors.InputError` names
  every missing column. Content problems (values out of range, a column of the wrong
  type) are results, never exceptions.
* A numeric column read as text because some values are not numbers (``"n/a"``, a typo)
  is still checked by :func:`between`: its numbers against the bounds, and every other
  value counted as outside (``not_numbers`` in the evidence).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from numpy.typing import NDArray

from govml.checks._columns import (
    as_table,
    column_array,
    columns_list,
    first_rows,
    is_numeric,
    missing_mask,
    require_columns,
)
from govml.checks.result import CheckResult, Status, timed
from govml.datasets import ColumnSchema, DatasetFingerprint
from govml.datasets.coltypes import normalised_type
from govml.errors import InputError

__all__ = ["between", "in_set", "no_nulls", "regex", "row_count", "schema_matches", "unique"]

ERR_NO_BOUNDS = "{check}: give min, max or both"
ERR_BOUNDS_ORDER = "{check}: min {min!r} is greater than max {max!r}"
ERR_BOUND_TYPE = "{check}: {name} must be a number, a date or a time, not {value!r}"
ERR_EMPTY_SET = "in_set: give at least one allowed value"
ERR_REGEX = "invalid regular expression {pattern!r} at position {pos}: {msg}"
ERR_SCHEMA = (
    "schema_matches: expected a DatasetFingerprint, a list of {{'name', 'type'}} entries "
    "or a mapping of column name to type, not {kind}"
)
REASON_NO_VALUES = "no values to check: {what}"
_SHOWN_VALUES = 5
_VALUE_CHARS = 60


@timed
def no_nulls(data: Any, columns: str | Sequence[str]) -> CheckResult:
    """Check that columns have no missing values (null, or NaN in float columns).

    Parameters
    ----------
    data : table
        The data.
    columns : str or sequence of str
        Columns that must be complete.

    Returns
    -------
    CheckResult
        ``fail`` when any column has a missing value; ``value`` is the number of missing
        values, evidence gives the count and first rows per column.
    """
    table = as_table(data)
    names = columns_list(columns)
    require_columns(table, names)
    counts: dict[str, int] = {}
    rows: dict[str, list[int]] = {}
    for name in names:
        mask = missing_mask(column_array(table, name))
        counts[name] = int(mask.sum())
        if counts[name]:
            rows[name] = first_rows(mask)
    total = sum(counts.values())
    evidence = {"rows": table.num_rows, "missing": counts, "first_rows": rows}
    if total == 0:
        message = f"no missing values in {_names(names)} ({table.num_rows:,} rows)"
        return _result("no_nulls", "pass", message, total, 0, evidence)
    parts = [f"'{name}' {count:,}" for name, count in counts.items() if count]
    message = f"missing values in {len(parts)} of {len(names)} column(s): " + ", ".join(parts)
    return _result("no_nulls", "fail", message, total, 0, evidence)


@timed
def between(
    data: Any,
    column: str,
    min: Any = None,
    max: Any = None,
    *,
    strict: bool = False,
) -> CheckResult:
    """Check that a column's values lie within ``[min, max]``.

    Parameters
    ----------
    data : table
        The data.
    column : str
        A numeric or temporal column.
    min, max : number, date, datetime or ISO string, optional
        Bounds; at least one is required. Strings are read as dates or times for
        temporal columns.
    strict : bool
        Exclude the bounds themselves (``min < value < max``).

    Returns
    -------
    CheckResult
        ``fail`` when a value is out of range; ``value`` is the number of such values and
        evidence has the counts below and above, the share, the first rows and the
        observed minimum and maximum. ``undefined`` when the column is not numeric or
        temporal, or has no values.

    Raises
    ------
    InputError
        When the column is missing, no bound is given, or min > max.
    """
    table = as_table(data)
    require_columns(table, [column])
    if min is None and max is None:
        raise InputError(ERR_NO_BOUNDS.format(check="between"))
    array = column_array(table, column)
    threshold = [_json_bound(min), _json_bound(max)]
    missing = missing_mask(array)
    kind = _comparable(array)
    text = np.zeros(table.num_rows, dtype=bool)
    if kind is None and _is_text(array):
        # A numeric column with some text in it (a typo, "n/a" written by hand): the
        # numbers are checked and every value that is not one counts as outside.
        numbers, text = _numbers_in_text(array, missing)
        if numbers is not None:
            array, kind = numbers, "number"
    if kind is None:
        reason = f"column '{column}' holds {array.type} values, not numbers, dates or times"
        return _undefined("between", reason, threshold, {"type": str(array.type)})
    low, high = (
        _scalar(bound, name, array.type, kind)
        for name, bound in zip(("min", "max"), (min, max), strict=True)
    )
    if low is not None and high is not None and pc.greater(low, high).as_py():
        raise InputError(ERR_BOUNDS_ORDER.format(check="between", min=min, max=max))
    present = table.num_rows - int(missing.sum())
    if present == 0:
        reason = REASON_NO_VALUES.format(
            what=f"all {table.num_rows:,} rows of '{column}' are missing"
        )
        return _undefined("between", reason, threshold, {"rows": table.num_rows})
    below = _flags(array, low, "less_equal" if strict else "less")
    above = _flags(array, high, "greater_equal" if strict else "greater")
    outside = below | above | text
    count = int(outside.sum())
    extremes = pc.min_max(array)
    evidence = {
        "rows": table.num_rows,
        "missing": table.num_rows - present,
        "below": int(below.sum()),
        "above": int(above.sum()),
        "outside": count,
        "share": count / present,
        "first_rows": first_rows(outside),
        "observed_min": _json_bound(extremes["min"].as_py()),
        "observed_max": _json_bound(extremes["max"].as_py()),
        "strict": strict,
    }
    interval = _interval_text(threshold, strict)
    if text.any():
        evidence["not_numbers"] = int(text.sum())
        evidence["first_text_rows"] = first_rows(text)
    if count == 0:
        message = f"all {present:,} values of '{column}' are in {interval}"
        return _result("between", "pass", message, 0, threshold, evidence)
    message = f"{count:,} of {present:,} values of '{column}' are outside {interval}"
    if text.any():
        message += f" ({int(text.sum()):,} not numbers)"
    return _result("between", "fail", message, count, threshold, evidence)


@timed
def in_set(data: Any, column: str, values: Iterable[Any]) -> CheckResult:
    """Check that every value of a column is one of ``values``.

    Parameters
    ----------
    data : table
        The data.
    column : str
        The column.
    values : iterable
        Allowed values; cast to the column's type (``1`` matches ``"1"`` in a string
        column and ``"1"`` matches ``1`` in an integer column).

    Returns
    -------
    CheckResult
        ``fail`` when some value is not allowed; evidence has the count, share, first rows
        and the most frequent unexpected values (at most five, shortened) with counts.
        ``undefined`` when the allowed values cannot be compared with the column's type,
        or the column has no values.
    """
    table = as_table(data)
    require_columns(table, [column])
    allowed = list(values)
    if not allowed:
        raise InputError(ERR_EMPTY_SET)
    array = column_array(table, column)
    threshold = [_json_bound(value) for value in allowed]
    value_set = _value_set(allowed, array.type)
    if value_set is None:
        reason = (
            f"the allowed values cannot be compared with column '{column}' of type {array.type}"
        )
        return _undefined("in_set", reason, threshold, {"type": str(array.type)})
    missing = missing_mask(array)
    present = table.num_rows - int(missing.sum())
    if present == 0:
        reason = REASON_NO_VALUES.format(
            what=f"all {table.num_rows:,} rows of '{column}' are missing"
        )
        return _undefined("in_set", reason, threshold, {"rows": table.num_rows})
    member = pc.fill_null(pc.is_in(array, value_set=value_set), False).to_numpy(
        zero_copy_only=False
    )
    outside = ~np.asarray(member, dtype=bool) & ~missing
    count = int(outside.sum())
    evidence = {
        "rows": table.num_rows,
        "missing": table.num_rows - present,
        "outside": count,
        "share": count / present,
        "first_rows": first_rows(outside),
        "unexpected": _top_values(array.filter(pa.array(outside))),
    }
    if count == 0:
        message = f"all {present:,} values of '{column}' are allowed"
        return _result("in_set", "pass", message, 0, threshold, evidence)
    shown = ", ".join(repr(item["value"]) for item in evidence["unexpected"])
    message = f"{count:,} of {present:,} values of '{column}' are not allowed, e.g. {shown}"
    return _result("in_set", "fail", message, count, threshold, evidence)


@timed
def unique(data: Any, columns: str | Sequence[str]) -> CheckResult:
    """Check that a column, or a combination of columns, has no repeated value.

    Rows with a missing value in any of the columns are left out, as SQL's ``UNIQUE``
    and Great Expectations do, and counted in the evidence.

    Parameters
    ----------
    data : table
        The data.
    columns : str or sequence of str
        The key: one column, or several that together must be unique.

    Returns
    -------
    CheckResult
        ``fail`` when a key repeats; ``value`` is the number of rows repeating an earlier
        row's key, evidence has the number of repeated keys and the first such rows.
    """
    table = as_table(data)
    names = columns_list(columns)
    require_columns(table, names)
    missing = np.zeros(table.num_rows, dtype=bool)
    for name in names:
        missing |= missing_mask(column_array(table, name))
    row_name = _fresh_name(table.column_names)
    keyed = table.select(names).append_column(
        row_name, pa.array(np.arange(table.num_rows, dtype=np.int64))
    )
    keyed = keyed.filter(pa.array(~missing))
    try:
        groups = keyed.group_by(names, use_threads=False).aggregate(
            [(row_name, "min"), (row_name, "count")]
        )
    except (pa.ArrowNotImplementedError, pa.ArrowInvalid) as exc:
        reason = f"values of {_names(names)} cannot be compared: {exc}"
        return _undefined("unique", reason, None, {"rows": table.num_rows})
    firsts = groups.column(f"{row_name}_min").to_numpy()
    sizes = groups.column(f"{row_name}_count").to_numpy()
    repeats = np.ones(table.num_rows, dtype=bool)
    repeats[missing] = False
    repeats[firsts] = False
    count = int(repeats.sum())
    evidence = {
        "rows": table.num_rows,
        "missing": int(missing.sum()),
        "keys": int(groups.num_rows),
        "repeated_keys": int((sizes > 1).sum()),
        "repeated_rows": count,
        "first_rows": first_rows(repeats),
    }
    if count == 0:
        message = f"{_names(names)} is unique over {keyed.num_rows:,} rows"
        return _result("unique", "pass", message, 0, 0, evidence)
    message = (
        f"{evidence['repeated_keys']:,} value(s) of {_names(names)} repeat, "
        f"in {count:,} rows after their first occurrence"
    )
    return _result("unique", "fail", message, count, 0, evidence)


@timed
def regex(data: Any, column: str, pattern: str, *, full_match: bool = True) -> CheckResult:
    """Check that every value of a column matches a regular expression.

    The pattern runs on pyarrow's RE2 engine, vectorised; a pattern RE2 cannot run
    (back-references, look-around) runs with Python's :mod:`re` on the distinct values.
    Non-string columns are compared in their string form (``12``, ``1.5``).

    Parameters
    ----------
    data : table
        The data.
    column : str
        The column.
    pattern : str
        A Python regular expression.
    full_match : bool
        The whole value must match (default); False accepts a match anywhere.

    Returns
    -------
    CheckResult
        ``fail`` when a value does not match; evidence has the count, share and first rows
        (not the values, which may be personal data).

    Raises
    ------
    InputError
        When the pattern is not a valid regular expression (the message gives the position).
    """
    table = as_table(data)
    require_columns(table, [column])
    compiled = _compile(pattern)
    array = column_array(table, column)
    missing = missing_mask(array)
    present = table.num_rows - int(missing.sum())
    threshold = pattern
    if present == 0:
        reason = REASON_NO_VALUES.format(
            what=f"all {table.num_rows:,} rows of '{column}' are missing"
        )
        return _undefined("regex", reason, threshold, {"rows": table.num_rows})
    strings = (
        array
        if pa.types.is_string(array.type) or pa.types.is_large_string(array.type)
        else pc.cast(array, pa.string())
    )
    matched = _matches(strings, compiled, full_match=full_match)
    failing = ~matched & ~missing
    count = int(failing.sum())
    evidence = {
        "rows": table.num_rows,
        "missing": table.num_rows - present,
        "not_matching": count,
        "share": count / present,
        "first_rows": first_rows(failing),
        "full_match": full_match,
    }
    if count == 0:
        message = f"all {present:,} values of '{column}' match the pattern"
        return _result("regex", "pass", message, 0, threshold, evidence)
    message = f"{count:,} of {present:,} values of '{column}' do not match {pattern!r}"
    return _result("regex", "fail", message, count, threshold, evidence)


@timed
def row_count(
    data: Any,
    min: int | None = None,
    max: int | None = None,
) -> CheckResult:
    """Check the number of rows.

    Parameters
    ----------
    data : table
        The data.
    min, max : int, optional
        Inclusive bounds; at least one is required.

    Returns
    -------
    CheckResult
        ``fail`` outside the bounds; ``value`` is the number of rows.
    """
    if min is None and max is None:
        raise InputError(ERR_NO_BOUNDS.format(check="row_count"))
    for name, bound in (("min", min), ("max", max)):
        if bound is not None and (isinstance(bound, bool) or not isinstance(bound, int)):
            raise InputError(f"row_count: {name} must be a whole number, not {bound!r}")
    if min is not None and max is not None and min > max:
        raise InputError(ERR_BOUNDS_ORDER.format(check="row_count", min=min, max=max))
    rows = as_table(data).num_rows
    threshold = [min, max]
    inside = (min is None or rows >= min) and (max is None or rows <= max)
    interval = _interval_text(threshold, strict=False)
    if inside:
        return _result(
            "row_count",
            "pass",
            f"{rows:,} rows, within {interval}",
            rows,
            threshold,
            {"rows": rows},
        )
    return _result(
        "row_count", "fail", f"{rows:,} rows, outside {interval}", rows, threshold, {"rows": rows}
    )


@timed
def schema_matches(data: Any, schema: Any, *, allow_extra: bool = False) -> CheckResult:
    """Check that the data has the training data's columns with the same types.

    Types are compared after normalisation (:func:`govml.datasets.coltypes.normalised_type`),
    so ``int32`` and ``int64`` are the same but ``int64`` and ``float64`` are not.
    Column order is reported but does not fail the check.

    Parameters
    ----------
    data : table
        The data.
    schema : DatasetFingerprint, sequence or mapping
        The training fingerprint, its ``schema`` (``ColumnSchema`` items or
        ``{"name", "type"}`` dicts), or a mapping of column name to type.
    allow_extra : bool
        Accept columns the training data did not have (a target or sensitive features).

    Returns
    -------
    CheckResult
        ``fail`` when a column is missing or changed type, or is extra and not allowed;
        every such column is named in the message and the evidence.
    """
    table = as_table(data)
    expected = _expected_schema(schema)
    actual = {field.name: _type_name(field) for field in table.schema}
    missing = [name for name in expected if name not in actual]
    extra = [name for name in actual if name not in expected]
    changed = [
        {"column": name, "expected": kind, "actual": actual[name]}
        for name, kind in expected.items()
        if name in actual and actual[name] != kind
    ]
    common = [name for name in actual if name in expected]
    evidence = {
        "expected": [{"name": name, "type": kind} for name, kind in expected.items()],
        "missing": missing,
        "extra": extra,
        "type_changed": changed,
        "order_changed": common != [name for name in expected if name in actual],
        "allow_extra": allow_extra,
    }
    problems = []
    if missing:
        problems.append(f"missing {_names(missing)}")
    if changed:
        problems.append(
            "type changed for "
            + ", ".join(
                f"'{item['column']}' ({item['expected']} -> {item['actual']})" for item in changed
            )
        )
    if extra and not allow_extra:
        problems.append(f"extra {_names(extra)}")
    value = len(missing) + len(changed) + (0 if allow_extra else len(extra))
    if problems:
        return _result(
            "schema_matches",
            "fail",
            "schema differs: " + "; ".join(problems),
            value,
            None,
            evidence,
        )
    message = f"all {len(expected)} training columns present with their types"
    if extra:
        message += f"; extra {_names(extra)} allowed"
    return _result("schema_matches", "pass", message, 0, None, evidence)


# --- helpers ------------------------------------------------------------------------


def _comparable(array: Any) -> str | None:
    """Return ``number`` or ``temporal`` for columns :func:`between` can compare."""
    if is_numeric(array):
        return "number"
    types = pa.types
    if types.is_timestamp(array.type) or types.is_date(array.type) or types.is_time(array.type):
        return "temporal"
    if types.is_duration(array.type):
        return "temporal"
    return None


_NUMBER = r"^[-+]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][-+]?[0-9]+)?$"


def _is_text(array: Any) -> bool:
    return bool(pa.types.is_string(array.type) or pa.types.is_large_string(array.type))


def _numbers_in_text(array: Any, missing: NDArray[np.bool_]) -> tuple[Any, NDArray[np.bool_]]:
    """Return the numbers of a text column (None when it holds none) and the other values.

    The second array is True for each present value that is not a number.
    """
    trimmed = pc.utf8_trim_whitespace(array)
    number = np.asarray(
        pc.fill_null(pc.match_substring_regex(trimmed, _NUMBER), False).to_numpy(
            zero_copy_only=False
        ),
        dtype=bool,
    )
    text = ~number & ~missing
    if not number.any():
        return None, text
    numbers = pc.cast(
        pc.if_else(pa.array(number), trimmed, pa.scalar(None, trimmed.type)), pa.float64()
    )
    return numbers, text


def _scalar(bound: Any, name: str, dtype: Any, kind: str) -> Any:
    if bound is None:
        return None
    if kind == "number":
        if isinstance(bound, bool) or not isinstance(bound, int | float):
            raise InputError(ERR_BOUND_TYPE.format(check="between", name=name, value=bound))
        return pa.scalar(bound)
    try:
        return pa.scalar(bound).cast(dtype)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError) as exc:
        raise InputError(ERR_BOUND_TYPE.format(check="between", name=name, value=bound)) from exc


def _flags(array: Any, bound: Any, op: str) -> Any:
    if bound is None:
        return np.zeros(len(array), dtype=bool)
    flagged = pc.fill_null(getattr(pc, op)(array, bound), False)
    return np.asarray(flagged.to_numpy(zero_copy_only=False), dtype=bool)


def _value_set(values: list[Any], dtype: Any) -> Any:
    try:
        return pa.array(values, type=dtype)
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError, OverflowError):
        pass
    try:
        return pa.array(values).cast(dtype)
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError, OverflowError):
        return None


def _top_values(array: Any) -> list[dict[str, Any]]:
    if len(array) == 0:
        return []
    counts = pc.value_counts(array)
    values = counts.field("values")
    totals = counts.field("counts").to_numpy()
    order = np.argsort(-totals, kind="stable")[:_SHOWN_VALUES]
    return [{"value": _short(values[int(i)].as_py()), "count": int(totals[i])} for i in order]


def _short(value: Any) -> Any:
    value = _json_bound(value)
    if isinstance(value, str) and len(value) > _VALUE_CHARS:
        return value[: _VALUE_CHARS - 1] + "…"
    return value


def _compile(pattern: str) -> re.Pattern[str]:
    if not isinstance(pattern, str):
        raise InputError(f"regex: the pattern must be a string, not {type(pattern).__name__}")
    try:
        return re.compile(pattern)
    except re.error as exc:
        raise InputError(ERR_REGEX.format(pattern=pattern, pos=exc.pos, msg=exc.msg)) from exc


def _matches(strings: Any, compiled: re.Pattern[str], *, full_match: bool) -> Any:
    anchored = f"^(?:{compiled.pattern})$" if full_match else compiled.pattern
    try:
        flags = pc.match_substring_regex(strings, anchored)
        return np.asarray(pc.fill_null(flags, False).to_numpy(zero_copy_only=False), dtype=bool)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        pass  # RE2 refuses the syntax: run Python's engine once per distinct value.
    encoded = pc.dictionary_encode(strings)
    test = compiled.fullmatch if full_match else compiled.search
    distinct = encoded.dictionary.to_pylist()
    hits = np.array([test(value) is not None for value in distinct] + [False], dtype=bool)
    indices = pc.fill_null(encoded.indices, len(distinct)).to_numpy(zero_copy_only=False)
    return hits[indices]


def _expected_schema(schema: Any) -> dict[str, str]:
    if isinstance(schema, DatasetFingerprint):
        schema = schema.schema
    if isinstance(schema, Mapping):
        return {str(name): str(kind) for name, kind in schema.items()}
    if isinstance(schema, Sequence) and not isinstance(schema, str):
        out: dict[str, str] = {}
        for entry in schema:
            if isinstance(entry, ColumnSchema):
                out[entry.name] = entry.type
            elif isinstance(entry, Mapping) and "name" in entry and "type" in entry:
                out[str(entry["name"])] = str(entry["type"])
            else:
                raise InputError(ERR_SCHEMA.format(kind=f"an entry {entry!r}"))
        return out
    raise InputError(ERR_SCHEMA.format(kind=type(schema).__name__))


def _type_name(field: Any) -> str:
    try:
        return normalised_type(field.type, column=field.name)
    except InputError:
        return str(field.type)


def _fresh_name(existing: Sequence[str]) -> str:
    name = "__row__"
    while name in existing:
        name = "_" + name
    return name


def _json_bound(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    isoformat = getattr(value, "isoformat", None)
    if callable(isoformat):
        return str(isoformat())
    return str(value)


def _interval_text(threshold: list[Any], strict: bool) -> str:
    low, high = threshold
    if low is None:
        return f"{'<' if strict else '<='} {high}"
    if high is None:
        return f"{'>' if strict else '>='} {low}"
    return f"({low}, {high})" if strict else f"[{low}, {high}]"


def _names(names: Sequence[str]) -> str:
    return ", ".join(f"'{name}'" for name in names)


def _result(
    check: str, status: Status, message: str, value: Any, threshold: Any, evidence: dict[str, Any]
) -> CheckResult:
    return CheckResult(
        check=check,
        category="data",
        status=status,
        message=message,
        value=value,
        threshold=threshold,
        evidence=evidence,
    )


def _undefined(check: str, reason: str, threshold: Any, evidence: dict[str, Any]) -> CheckResult:
    return CheckResult(
        check=check,
        category="data",
        status="undefined",
        message=reason,
        reason=reason,
        threshold=threshold,
        evidence=evidence,
    )
