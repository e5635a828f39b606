"""Checking request records against a version's signature and its training profile.

Each input column of the signature is required unless it is nullable (then it may be null
or left out). A value must have the column's type as JSON writes it:

========== ==========================================================
int64      an integer (a float with a whole value, such as ``3.0``, is accepted)
float64    a number
bool       ``true`` or ``false``
string     a string (also for ``category`` columns)
datetime   an ISO 8601 string (``2024-05-01`` or ``2024-05-01T12:30:00+00:00``)
========== ==========================================================

A field that is not an input column is refused (never silently dropped), except the
canary's sticky key when the serving set-up names one that is not an input.

An integer must fit in 64 bits (``int64`` columns); a date or time must lie between
1677-09-22 and 2262-04-11 (what the model's tables hold) and is taken as UTC (an offset is
converted to UTC).

Values outside the training data's profile (a number below the training minimum or above
the maximum, a string the training data never had in that column, only when the profile's
category counts are exact) are accepted and reported as *warnings*; in *strict* mode (the
policy's ``serving: {strict: true}``) they are refused like type errors.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from govml.domain.signature import ColumnSpec, Signature
from govml.errors import did_you_mean
from govml.serving.payload import MISSING, FieldError, PayloadError, Records

MSG_MISSING_COLUMN = "missing column '{name}' (required: it is not nullable)"
MSG_MISSING_VALUE = "missing value for column '{name}' (required: it is not nullable)"
MSG_NULL = "null is not allowed: column '{name}' is not nullable"
MSG_UNKNOWN = "unknown column '{name}': the model has no such input"
MSG_TYPE = "expected {expected}, got {actual}"
MSG_DATETIME = "expected an ISO 8601 date or time, got {value!r}"
MSG_INT_RANGE = "expected an integer that fits in 64 bits, got {actual}"
MSG_DATETIME_RANGE = (
    "{value!r} is outside the dates the model's data can hold (1677-09-22 to 2262-04-11)"
)
MSG_STRICT = "{warning} (strict serving policy: refused)"
INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1
_EARLIEST = datetime(1677, 9, 22)
_LATEST = datetime(2262, 4, 11)

BELOW_MIN = "below_min"
ABOVE_MAX = "above_max"
UNSEEN = "unseen_category"
WARNING_TEXT = {
    BELOW_MIN: "{value!r} is below the training minimum {bound!r}",
    ABOVE_MAX: "{value!r} is above the training maximum {bound!r}",
    UNSEEN: "{value!r} never occurred in the training data",
}

_EXPECTED = {
    "int64": "an integer",
    "float64": "a number",
    "bool": "true or false",
    "string": "a string",
    "category": "a string",
    "datetime": "an ISO 8601 string",
}


@dataclass(frozen=True)
class RangeWarning:
    """A value outside the training profile: accepted, counted, reported."""

    record: int
    field: str
    kind: str
    value: Any
    bound: Any = None

    def to_dict(self) -> dict[str, Any]:
        """Return ``{"record", "field", "kind", "message"}``."""
        message = WARNING_TEXT[self.kind].format(value=self.value, bound=self.bound)
        return {"record": self.record, "field": self.field, "kind": self.kind, "message": message}


@dataclass(frozen=True)
class Validated:
    """Records that match the signature, column by column, in signature order.

    ``values`` holds plain Python values (``None`` for missing ones) converted to the
    column's type; ``extras`` the allowed non-input fields (the canary key).
    """

    values: dict[str, list[Any]]
    count: int
    warnings: list[RangeWarning]
    extras: dict[str, list[Any]]


@dataclass(frozen=True)
class _Bounds:
    low: Any = None
    high: Any = None
    categories: frozenset[str] | None = None


def _is_int(value: Any) -> bool:
    return type(value) is int and INT64_MIN <= value <= INT64_MAX


def _is_number(value: Any) -> bool:
    kind = type(value)
    return kind is float or kind is int


def _is_bool(value: Any) -> bool:
    return type(value) is bool


def _is_str(value: Any) -> bool:
    return type(value) is str


_CHECKS: dict[str, Callable[[Any], bool]] = {
    "int64": _is_int,
    "float64": _is_number,
    "bool": _is_bool,
    "string": _is_str,
    "category": _is_str,
    "datetime": _is_str,
}


def _describe(value: Any) -> str:
    if isinstance(value, bool):
        return f"boolean {str(value).lower()}"
    if isinstance(value, int | float):
        return f"number {value!r}"
    if isinstance(value, str):
        shown = value if len(value) <= 40 else value[:37] + "..."
        return f"string {shown!r}"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


class InputValidator:
    """Checks records against one signature and, when known, one training profile.

    Parameters
    ----------
    signature : Signature
        The version's registered signature; only its inputs are used.
    profile : Mapping, optional
        The training dataset's profile (``Profile.to_dict()``), for range warnings.
    """

    def __init__(self, signature: Signature, profile: Mapping[str, Any] | None = None) -> None:
        self.signature = signature
        self.columns: tuple[ColumnSpec, ...] = signature.inputs
        self.names = frozenset(spec.name for spec in self.columns)
        self._bounds = _bounds(profile, self.columns) if profile else {}

    def validate(
        self, records: Records, *, extras: Collection[str] = (), strict: bool = False
    ) -> Validated:
        """Return the records typed per the signature, with their range warnings.

        Parameters
        ----------
        records : Records
            Decoded request records.
        extras : collection of str
            Field names allowed besides the inputs (taken out, returned in ``extras``).
        strict : bool
            Refuse values outside the training profile instead of warning about them.

        Raises
        ------
        PayloadError
            422 listing every problem: unknown and missing columns, missing values, wrong
            types, and in strict mode values outside the training profile.
        """
        errors: list[FieldError] = []
        given = records.columns
        unknown = [name for name in given if name not in self.names and name not in extras]
        missing = [spec.name for spec in self.columns if spec.name not in given]
        for name in unknown:
            hint = did_you_mean(name, missing)
            message = MSG_UNKNOWN.format(name=name)
            errors.append(FieldError(f"{message} ({hint})" if hint else message, field=name))
        values: dict[str, list[Any]] = {}
        warnings: list[RangeWarning] = []
        for spec in self.columns:
            column = given.get(spec.name)
            if column is None:
                if spec.nullable:
                    values[spec.name] = [None] * records.count
                else:
                    errors.append(FieldError(MSG_MISSING_COLUMN.format(name=spec.name)))
                continue
            values[spec.name] = self._column(spec, column, errors, warnings)
        if strict and warnings:
            errors += [
                FieldError(
                    MSG_STRICT.format(warning=warning.to_dict()["message"]),
                    record=warning.record,
                    field=warning.field,
                )
                for warning in warnings
            ]
        if errors:
            raise PayloadError(422, errors)
        kept = {name: given[name] for name in extras if name in given and name not in self.names}
        return Validated(values, records.count, warnings, kept)

    def _column(
        self,
        spec: ColumnSpec,
        column: list[Any],
        errors: list[FieldError],
        warnings: list[RangeWarning],
    ) -> list[Any]:
        check = _CHECKS[spec.type]
        name = spec.name
        out = column
        if not all(map(check, column)):
            out = list(column)
            for index, value in enumerate(column):
                if check(value):
                    continue
                fixed = self._fix(spec, index, value, errors)
                out[index] = fixed
        if spec.type == "datetime":
            out = [_parse_datetime(name, i, v, errors) for i, v in enumerate(out)]
        bounds = self._bounds.get(name)
        if bounds is not None:
            _range(name, out, bounds, warnings)
        return out

    def _fix(self, spec: ColumnSpec, index: int, value: Any, errors: list[FieldError]) -> Any:
        """Return an accepted form of a value that failed the fast check, or record why not."""
        name = spec.name
        if value is None or value is MISSING:
            if not spec.nullable:
                template = MSG_NULL if value is None else MSG_MISSING_VALUE
                errors.append(FieldError(template.format(name=name), record=index, field=name))
            return None
        if spec.type == "int64" and type(value) in (int, float):
            if type(value) is float and not value.is_integer():
                pass
            elif INT64_MIN <= value <= INT64_MAX:
                return int(value)
            else:
                message = MSG_INT_RANGE.format(actual=_describe(value))
                errors.append(FieldError(message, record=index, field=name))
                return None
        expected = _EXPECTED[spec.type]
        message = MSG_TYPE.format(expected=expected, actual=_describe(value))
        errors.append(FieldError(message, record=index, field=name))
        return None


def _parse_datetime(name: str, index: int, value: Any, errors: list[FieldError]) -> Any:
    """Return the moment as a naive UTC datetime (an offset converted to UTC), or record why not."""
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except (TypeError, ValueError):
        errors.append(FieldError(MSG_DATETIME.format(value=value), record=index, field=name))
        return None
    if moment.tzinfo is not None:
        try:
            moment = moment.astimezone(UTC).replace(tzinfo=None)
        except OverflowError:
            moment = datetime.max
    if not _EARLIEST <= moment <= _LATEST:
        errors.append(FieldError(MSG_DATETIME_RANGE.format(value=value), record=index, field=name))
        return None
    return moment


def _range(name: str, values: list[Any], bounds: _Bounds, warnings: list[RangeWarning]) -> None:
    categories = bounds.categories
    if categories is not None:
        for index, value in enumerate(values):
            if value is not None and value not in categories:
                warnings.append(RangeWarning(index, name, UNSEEN, value))
        return
    low, high = bounds.low, bounds.high
    if low is None or high is None:
        return
    for index, value in enumerate(values):
        if value is None:
            continue
        point = _nanoseconds(value) if isinstance(value, datetime) else value
        if point < low:
            warnings.append(RangeWarning(index, name, BELOW_MIN, value, _shown(value, low)))
        elif point > high:
            warnings.append(RangeWarning(index, name, ABOVE_MAX, value, _shown(value, high)))


def _nanoseconds(value: datetime) -> int:
    moment = value if value.tzinfo else value.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1_000_000) * 1000


def _shown(value: Any, bound: Any) -> Any:
    if isinstance(value, datetime):
        return datetime.fromtimestamp(bound / 1e9, tz=UTC).isoformat()
    return bound


def _bounds(profile: Mapping[str, Any], columns: tuple[ColumnSpec, ...]) -> dict[str, _Bounds]:
    """Read each input column's training range or categories from a profile dictionary."""
    wanted = {spec.name: spec for spec in columns}
    out: dict[str, _Bounds] = {}
    for column in profile.get("columns", []):
        spec = wanted.get(column.get("name"))
        if spec is None:
            continue
        kind = column.get("kind")
        if kind == "numeric" and spec.type in ("int64", "float64", "datetime"):
            low, high = column.get("min"), column.get("max")
            if low is not None and high is not None:
                out[spec.name] = _Bounds(low=low, high=high)
        elif (
            kind == "categorical"
            and spec.type in ("string", "category")
            and not column.get("error")  # exact counts: every training value is listed
        ):
            counts = column.get("counts", [])
            out[spec.name] = _Bounds(categories=frozenset(str(v) for v, _ in counts))
    return out
