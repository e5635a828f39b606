"""Prediction log files that a gateway in client mode sends to the server, checked before use.

A file is taken only in the layout the gateway writes (:mod:`govml.serving.logschema`): its
columns are selected and cast to their types, so the server writes exactly those columns; every
row is checked (no missing request id, record or time; a known variant; times on one UTC date,
which is the partition the server puts the file in); a prediction file's inputs are the
version's signature inputs. Nothing in a file decides where it goes or what else it holds.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime

import pyarrow as pa
import pyarrow.compute as pc

from govml.errors import InputError

KINDS = ("predictions", "feedback", "events")
VARIANTS = ("champion", "canary", "shadow")
TIME = pa.timestamp("us", tz="UTC")
MAX_REQUEST_ID = 128

ERR_KIND = "kind: {kind!r} is not one of predictions, feedback, events"
ERR_COLUMN = "file: no column {column!r}, which a {kind} file of the prediction log has"
ERR_TYPE = "file: column {column!r} cannot be read as {type}: {reason}"
ERR_NULL = "file: column {column!r} has {count} missing value(s)"
ERR_VARIANT = "file: variant {value!r} is not one of champion, canary, shadow"
ERR_RECORD = "file: column 'record' has a negative value"
ERR_REQUEST_ID = "file: a request_id is longer than 128 characters"
ERR_DATES = "file: its rows span {first} to {last}; a log file holds the rows of one UTC date"
ERR_EMPTY = "file: it has no rows"
ERR_INPUTS = "file: its inputs are {found}, but {ref} takes {expected}"
ERR_FLAT = "file: column {column!r} must hold single values, not {type}"


@dataclass(frozen=True)
class Received:
    """A checked log file: the table to write and the date partition it belongs to."""

    table: pa.Table
    day: date


_COLUMNS: dict[str, list[tuple[str, pa.DataType | None, bool]]] = {
    # name, type (None: kept as it is, checked separately), required
    "predictions": [
        ("request_id", pa.string(), True),
        ("record", pa.int32(), True),
        ("time", TIME, True),
        ("variant", pa.string(), True),
        ("inputs", None, True),
        ("inputs_json", pa.string(), False),
        ("prediction", None, True),
        ("probabilities", None, False),
        ("latency_ms", pa.float64(), False),
        ("decision", pa.string(), False),
        ("referral", pa.string(), False),
        ("explanation", pa.string(), False),
        ("subject", pa.string(), False),
    ],
    "feedback": [
        ("request_id", pa.string(), True),
        ("record", pa.int32(), True),
        ("time", TIME, True),
        ("label", None, True),
        ("correction", pa.bool_(), False),
        ("key_id", pa.string(), False),
    ],
    "events": [
        ("time", TIME, True),
        ("event", pa.string(), True),
        ("alias", pa.string(), True),
        ("variant", pa.string(), True),
        ("version", pa.int64(), False),
        ("previous", pa.int64(), False),
        ("detail", pa.string(), False),
        ("pid", pa.int64(), False),
    ],
}


def check_kind(kind: str) -> str:
    """Return ``kind`` when it is one of `KINDS`, else raise `InputError`."""
    if kind not in KINDS:
        raise InputError(ERR_KIND.format(kind=kind))
    return kind


def check_log_table(
    kind: str, table: pa.Table, *, inputs: Sequence[str] = (), ref: str = ""
) -> Received:
    """Return the file's table in the log's layout, and its date, or say what is wrong.

    Parameters
    ----------
    kind
        ``predictions``, ``feedback`` or ``events``.
    table
        The file as read.
    inputs
        For predictions: the version's signature inputs, which the ``inputs`` struct must have.
    ref
        The version (``credit@3``), for messages.

    Raises
    ------
    InputError
        Naming the column, value or date that does not fit.
    """
    check_kind(kind)
    if table.num_rows == 0:
        raise InputError(ERR_EMPTY)
    columns: dict[str, pa.ChunkedArray] = {}
    for name, kind_type, required in _COLUMNS[kind]:
        if name not in table.column_names:
            if required:
                raise InputError(ERR_COLUMN.format(column=name, kind=kind))
            if name == "correction":
                columns[name] = pa.chunked_array([pa.array([False] * table.num_rows)])
            elif name == "key_id":
                columns[name] = pa.chunked_array([pa.nulls(table.num_rows, pa.string())])
            continue
        column = table.column(name)
        if kind_type is not None:
            try:
                column = column.cast(kind_type)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
                reason = str(exc).splitlines()[0]
                raise InputError(
                    ERR_TYPE.format(column=name, type=kind_type, reason=reason)
                ) from None
        columns[name] = column
    _check_shapes(kind, columns, inputs, ref)
    for name in ("request_id", "record", "time", "variant", "event"):
        if name in columns and columns[name].null_count:
            raise InputError(ERR_NULL.format(column=name, count=columns[name].null_count))
    if "variant" in columns and kind == "predictions":
        for value in pc.unique(columns["variant"]).to_pylist():
            if value not in VARIANTS:
                raise InputError(ERR_VARIANT.format(value=value))
    if "record" in columns and pc.min(columns["record"]).as_py() < 0:
        raise InputError(ERR_RECORD)
    if "request_id" in columns and pc.max(pc.utf8_length(columns["request_id"])).as_py() > (
        MAX_REQUEST_ID
    ):
        raise InputError(ERR_REQUEST_ID)
    return Received(pa.table(columns), _one_day(columns["time"]))


def _check_shapes(
    kind: str, columns: dict[str, pa.ChunkedArray], inputs: Sequence[str], ref: str
) -> None:
    if kind == "predictions":
        found = columns["inputs"].type
        names = (
            [found.field(i).name for i in range(found.num_fields)]
            if pa.types.is_struct(found)
            else None
        )
        if names != list(inputs):
            raise InputError(
                ERR_INPUTS.format(found=names or found, ref=ref, expected=list(inputs))
            )
        for i in range(found.num_fields):
            _flat(f"inputs.{found.field(i).name}", found.field(i).type)
        _flat("prediction", columns["prediction"].type)
        if "probabilities" in columns:
            probabilities = columns["probabilities"].type
            if not pa.types.is_struct(probabilities) or any(
                not pa.types.is_floating(probabilities.field(i).type)
                for i in range(probabilities.num_fields)
            ):
                raise InputError(ERR_FLAT.format(column="probabilities", type=probabilities))
    elif kind == "feedback":
        _flat("label", columns["label"].type)


def _flat(name: str, kind: pa.DataType) -> None:
    if pa.types.is_nested(kind) or pa.types.is_dictionary(kind):
        raise InputError(ERR_FLAT.format(column=name, type=kind))


def _one_day(times: pa.ChunkedArray) -> date:
    first, last = pc.min(times).as_py(), pc.max(times).as_py()
    start, end = _utc(first).date(), _utc(last).date()
    if start != end:
        raise InputError(ERR_DATES.format(first=start, last=end))
    return start


def _utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)
