"""Request bodies of ``POST /predict`` and ``POST /feedback``: shapes and their errors.

``/predict`` takes JSON in one of four shapes, told apart by this rule:

1. an array: a list of records (``[{"age": 39, ...}, ...]``);
2. an object whose only key is ``records`` holding an array: the same list;
3. an object whose only key is ``columns`` holding an object: columnar data,
   ``{"columns": {"age": [39, 50], ...}}``, every column as long as the others;
4. any other object: one record.

A record is an object from column name to value. Record positions in error messages count
from 0 in the order given (rows of columnar data likewise). Malformed JSON is answered 400
with the line, column and character offset of the problem (and the field it was in); JSON of
the wrong shape, or an object giving one key twice, 422.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

import orjson

from govml.serving.chunked import loads_in_pieces

MAX_ERRORS = 100
SMALL_BODY = 64 * 1024  # larger bodies are decoded in pieces, off the event loop
ERR_JSON = "invalid JSON at line {line} column {column} (char {pos}): {reason}"
ERR_EMPTY = "the request body is empty; send JSON records"
ERR_SHAPE = (
    'expected a record (object), a list of records, {{"records": [...]}} or '
    '{{"columns": {{...}}}}, got {kind}'
)
ERR_RECORD = "record must be an object of column name to value, got {kind}"
ERR_COLUMN = "column must be a list of values, got {kind}"
ERR_LENGTH = "column has {actual} values, but column '{first}' has {expected}"
ERR_NO_RECORDS = "no records to score"
ERR_DUPLICATE_KEY = "key {key!r} is given twice in one object: which value is meant?"
ERR_DEEP = "the JSON is nested too deeply"
MAX_FIELD_SHOWN = 200


@dataclass(frozen=True)
class FieldError:
    """One problem in a request: which record and field, and what is wrong."""

    message: str
    record: int | None = None
    field: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """Return ``{"record", "field", "message"}`` without the parts that are unknown."""
        out: dict[str, Any] = {}
        if self.record is not None:
            out["record"] = self.record
        if self.field is not None:
            out["field"] = self.field
        out["message"] = self.message
        return out


class PayloadError(Exception):
    """A request body that cannot be used, with its HTTP status and every problem found."""

    def __init__(self, status: int, errors: list[FieldError]) -> None:
        super().__init__(errors[0].message if errors else "invalid request")
        self.status = status
        self.errors = errors

    def to_dict(self, limit: int = MAX_ERRORS) -> dict[str, Any]:
        """Return ``{"errors": [...]}``, at most ``limit`` of them plus a count of the rest."""
        out: dict[str, Any] = {"errors": [error.to_dict() for error in self.errors[:limit]]}
        if len(self.errors) > limit:
            out["more_errors"] = len(self.errors) - limit
        return out


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


def parse_json(body: bytes) -> Any:
    """Decode a JSON body, refusing an object that names a key twice.

    orjson (strict RFC 8259: no NaN or Infinity, integers up to 64 bits, UTF-8 only, at most
    1024 levels of nesting) decodes it. A duplicate key would be decoded silently as its last
    value, so the keys are counted: when the body has exactly as many ``:`` as the objects the
    gateway reads have keys, no object can hold a key twice; otherwise (colons in strings,
    nested objects) the body is scanned once more to find one.

    Raises
    ------
    PayloadError
        400 for malformed JSON, naming the line, column and character where decoding failed
        and the field it was in; 422 for a key given twice in one object, naming it.
    """
    if not body.strip():
        raise PayloadError(400, [FieldError(ERR_EMPTY)])
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        message = ERR_JSON.format(line=exc.lineno, column=exc.colno, pos=exc.pos, reason=exc.msg)
        near = _field_before(body, exc.pos)
        if near is not None:
            message += f" (in field {near!r})"
        raise PayloadError(400, [FieldError(message, field=near)]) from None
    if body.count(b":") != _read_keys(data):
        _refuse_duplicate_keys(body)
    return data


def decode_body(body: bytes) -> Any:
    """Decode a request body: one over `SMALL_BODY` bytes in pieces when it can be, else whole.

    See :mod:`govml.serving.chunked` for why, and `parse_json` for the errors.
    """
    if len(body) > SMALL_BODY:
        data = loads_in_pieces(body)
        if data is not None:
            return data
    return parse_json(body)


_KEY_BEFORE = re.compile(rb'"((?:[^"\\]|\\.){1,200})"\s*:')
_LOOK_BACK = 4096


def _field_before(body: bytes, pos: int) -> str | None:
    """Return the last object key written before byte ``pos`` (where decoding failed)."""
    window = body[max(0, pos - _LOOK_BACK) : pos]
    last = None
    for found in _KEY_BEFORE.finditer(window):
        last = found
    if last is None:
        return None
    try:
        name = json.loads(b'"' + last.group(1) + b'"')
    except ValueError:
        return None
    return str(name)[:MAX_FIELD_SHOWN]


def _read_keys(data: Any) -> int:
    """Count the keys of the objects the gateway reads: the top level and its records."""
    if isinstance(data, list):
        return sum(len(item) for item in data if type(item) is dict)
    if not isinstance(data, dict):
        return 0
    count = len(data)
    if len(data) == 1:
        inner = next(iter(data.values()))
        if isinstance(inner, list):
            count += sum(len(item) for item in inner if type(item) is dict)
        elif isinstance(inner, dict):
            count += len(inner)
    return count


class _DuplicateKey(Exception):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _DuplicateKey(key)
        out[key] = value
    return out


def _refuse_duplicate_keys(body: bytes) -> None:
    try:
        json.loads(body, object_pairs_hook=_no_duplicates)
    except _DuplicateKey as exc:
        key = exc.key[:MAX_FIELD_SHOWN]
        raise PayloadError(
            422, [FieldError(ERR_DUPLICATE_KEY.format(key=key), field=key)]
        ) from None
    except RecursionError:
        raise PayloadError(400, [FieldError(ERR_DEEP)]) from None


@dataclass(frozen=True)
class Records:
    """Decoded records in column-major form, before validation.

    ``columns`` maps each field name seen to its values, one per record (``MISSING`` where
    a record lacks the field); ``count`` is the number of records.
    """

    columns: dict[str, list[Any]]
    count: int


class _Missing:
    """Marks a field a record did not have (distinct from JSON null)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()


def records_from_json(data: Any) -> Records:
    """Turn decoded JSON of one of the four shapes into column-major `Records`.

    Raises
    ------
    PayloadError
        422 for JSON of another shape, a record that is not an object, columns of unequal
        length, or no records at all.
    """
    if isinstance(data, dict):
        if len(data) == 1 and isinstance(data.get("records"), list):
            return _from_records(data["records"])
        if len(data) == 1 and isinstance(data.get("columns"), dict):
            return _from_columns(data["columns"])
        return _from_records([data])
    if isinstance(data, list):
        return _from_records(data)
    raise PayloadError(422, [FieldError(ERR_SHAPE.format(kind=_kind(data)))])


def _from_records(items: list[Any]) -> Records:
    if not items:
        raise PayloadError(422, [FieldError(ERR_NO_RECORDS)])
    first = items[0]
    if isinstance(first, dict) and all(type(item) is dict for item in items):
        names = list(first)
        if all(len(item) == len(names) for item in items):
            # The usual case: every record has the same fields.  Build columns directly and
            # fall back to the general path only if a record has different keys.
            try:
                columns = {name: [item[name] for item in items] for name in names}
            except KeyError:
                pass
            else:
                return Records(columns, len(items))
    errors = [
        FieldError(ERR_RECORD.format(kind=_kind(item)), record=index)
        for index, item in enumerate(items)
        if not isinstance(item, dict)
    ]
    if errors:
        raise PayloadError(422, errors)
    general: dict[str, list[Any]] = {}
    for index, item in enumerate(items):
        for name, value in item.items():
            column = general.get(name)
            if column is None:
                column = general[name] = [MISSING] * len(items)
            column[index] = value
    return Records(general, len(items))


def _from_columns(columns: dict[str, Any]) -> Records:
    errors = [
        FieldError(ERR_COLUMN.format(kind=_kind(values)), field=name)
        for name, values in columns.items()
        if not isinstance(values, list)
    ]
    if errors:
        raise PayloadError(422, errors)
    if not columns:
        raise PayloadError(422, [FieldError(ERR_NO_RECORDS)])
    first = next(iter(columns))
    expected = len(columns[first])
    errors = [
        FieldError(
            ERR_LENGTH.format(actual=len(values), first=first, expected=expected), field=name
        )
        for name, values in columns.items()
        if len(values) != expected
    ]
    if errors:
        raise PayloadError(422, errors)
    if expected == 0:
        raise PayloadError(422, [FieldError(ERR_NO_RECORDS)])
    return Records(dict(columns), expected)


ERR_FEEDBACK_SHAPE = (
    'expected {{"request_id": ..., "label": ...}}, a list of them or {{"feedback": [...]}}, '
    "got {kind}"
)
ERR_FEEDBACK_ITEM = "feedback must be an object, got {kind}"
ERR_FEEDBACK_FIELD = "unknown field '{name}': feedback has request_id, label and record"
ERR_REQUEST_ID = "request_id must be a non-empty string of at most 128 characters"
ERR_RECORD_INDEX = "record must be a non-negative integer (the record's position in the request)"
ERR_LABEL_MISSING = "label is required"
ERR_LABEL = "label must be {expected}, got {actual}"
_FEEDBACK_FIELDS = frozenset({"request_id", "label", "record"})
_LABEL_TYPES: dict[str, tuple[str, tuple[type, ...]]] = {
    "int64": ("an integer", (int,)),
    "float64": ("a number", (int, float)),
    "bool": ("true or false", (bool,)),
    "string": ("a string", (str,)),
    "category": ("a string", (str,)),
}


@dataclass(frozen=True)
class Feedback:
    """Ground-truth labels for earlier predictions, by request id and record position."""

    request_ids: list[str]
    records: list[int]
    labels: list[Any]


def feedback_from_json(data: Any, label_type: str | None) -> Feedback:
    """Read one label, a list of labels or ``{"feedback": [...]}``.

    Each item is ``{"request_id": str, "label": value, "record": int}``; ``record`` (the
    position in the original request) defaults to 0. ``label_type`` is the type of the
    model's prediction (``int64``, ``float64``, ``bool``, ``string``); None accepts any
    scalar and keeps it as text.

    Raises
    ------
    PayloadError
        422 listing every problem, by item position (``record`` in the error) and field.
    """
    if isinstance(data, dict) and len(data) == 1 and isinstance(data.get("feedback"), list):
        items = data["feedback"]
    elif isinstance(data, dict):
        items = [data]
    elif isinstance(data, list):
        items = data
    else:
        raise PayloadError(422, [FieldError(ERR_FEEDBACK_SHAPE.format(kind=_kind(data)))])
    if not items:
        raise PayloadError(422, [FieldError("no feedback given")])
    errors: list[FieldError] = []
    out = Feedback([], [], [])
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            errors.append(FieldError(ERR_FEEDBACK_ITEM.format(kind=_kind(item)), record=index))
            continue
        for name in item:
            if name not in _FEEDBACK_FIELDS:
                errors.append(
                    FieldError(ERR_FEEDBACK_FIELD.format(name=name), record=index, field=name)
                )
        request_id = item.get("request_id")
        if not isinstance(request_id, str) or not 0 < len(request_id) <= 128:
            errors.append(FieldError(ERR_REQUEST_ID, record=index, field="request_id"))
        position = item.get("record", 0)
        if type(position) is not int or position < 0:
            errors.append(FieldError(ERR_RECORD_INDEX, record=index, field="record"))
        label = _label(item, index, label_type, errors)
        out.request_ids.append(str(request_id))
        out.records.append(position if type(position) is int else 0)
        out.labels.append(label)
    if errors:
        raise PayloadError(422, errors)
    return out


def _label(
    item: dict[str, Any], index: int, label_type: str | None, errors: list[FieldError]
) -> Any:
    if "label" not in item or item["label"] is None:
        errors.append(FieldError(ERR_LABEL_MISSING, record=index, field="label"))
        return None
    label = item["label"]
    if label_type is None or label_type not in _LABEL_TYPES:
        if isinstance(label, dict | list):
            errors.append(
                FieldError(
                    ERR_LABEL.format(expected="a scalar", actual=_kind(label)),
                    record=index,
                    field="label",
                )
            )
        return label if isinstance(label, str) else orjson.dumps(label).decode()
    expected, accepted = _LABEL_TYPES[label_type]
    if label_type == "int64" and type(label) is float and label.is_integer():
        return int(label)
    if type(label) not in accepted:
        errors.append(
            FieldError(
                ERR_LABEL.format(expected=expected, actual=_kind(label)),
                record=index,
                field="label",
            )
        )
    return label
