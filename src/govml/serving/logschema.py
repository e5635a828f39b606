"""The prediction log's records and their Parquet layout.

Files are written under the log folder, partitioned Hive-style so that DuckDB
(``read_parquet('.../**/*.parquet', hive_partitioning = true)``) and Polars
(``pl.scan_parquet(..., hive_partitioning=True)``) read the partition values as columns::

    model=NAME/version=V/date=YYYY-MM-DD/part-*.parquet   predictions (champion, canary, shadow)
    model=NAME/feedback/date=YYYY-MM-DD/part-*.parquet    ground-truth labels
    model=NAME/events/date=YYYY-MM-DD/part-*.parquet      start, stop, version switches

``date`` is the UTC date of the request. A file appears complete or not at all (it is
written under a hidden temporary name, then renamed).

Prediction columns (one row per scored record):

================ ============================ ===========================================
request_id       string                       the request's id (``X-Request-ID``)
record           int32                        position of the record in the request
time             timestamp[us, UTC]           when the request arrived
variant          string                       ``champion``, ``canary`` or ``shadow``
inputs           struct<one field per input>  the validated inputs, typed per signature
inputs_json      string                       the same record as JSON
prediction       per output signature         what the model decided
probabilities    struct<one float64 per class> class probabilities (classifiers only)
latency_ms       float64                      gateway time from arrival to the answer
decision         string                       ``answered`` or ``referred`` (to a person) under
                                              the policy's oversight or a suspension, else null
referral         string (JSON)                why a referred record was referred, else null
subject          string (JSON)                the fields the policy's ``retention.subject_key``
                                              names (pseudonymised where it says), else null
explanation      string (JSON)                the record's explanation when one was asked
                                              (``?explain=k``), else null
================ ============================ ===========================================

Feedback columns: ``request_id``, ``record`` (int32), ``time``, ``label`` (typed as the
prediction), ``correction`` (bool: the record had a label already; the latest one counts) and
``key_id`` (the gateway key that sent it; null for labels imported by a person). Event
columns: ``time``, ``event``, ``alias``, ``variant``, ``version``, ``previous`` (int64,
nullable), ``detail``, ``pid``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import orjson
import pyarrow as pa
from numpy.typing import NDArray

from govml.domain.signature import ColumnSpec

ARROW_TYPES: dict[str, Any] = {
    "int64": pa.int64(),
    "float64": pa.float64(),
    "bool": pa.bool_(),
    "string": pa.string(),
    "category": pa.string(),
    "datetime": pa.timestamp("us", tz="UTC"),
}
TIME = pa.timestamp("us", tz="UTC")


@dataclass(frozen=True, eq=False)
class PredictionEntry:
    """The records of one request as scored by one version."""

    model: str
    version: int
    variant: str
    request_id: str
    time: datetime
    inputs: tuple[ColumnSpec, ...]
    values: dict[str, list[Any]]
    count: int
    predictions: NDArray[Any]
    output_type: str | None
    probabilities: NDArray[np.float64] | None
    classes: tuple[Any, ...] | None
    latency_ms: float
    explanations: list[str] | None = None
    decisions: list[str] | None = None  # "answered" or "referred", under oversight
    referrals: list[str | None] | None = None  # why each referred record was referred (JSON)
    subjects: list[str | None] | None = None  # the data subject's key fields (JSON)
    text_columns: frozenset[str] = frozenset()  # inputs logged pseudonymised, as text

    def partition(self) -> str:
        """Return the folder of this entry's file, relative to the log root."""
        return f"model={self.model}/version={self.version}/date={self.time:%Y-%m-%d}"


@dataclass(frozen=True, eq=False)
class FeedbackEntry:
    """Ground-truth labels received in one ``/feedback`` request."""

    model: str
    time: datetime
    request_ids: list[str]
    records: list[int]
    labels: list[Any]
    label_type: str | None
    corrections: list[bool]
    key_id: str | None = None

    @property
    def count(self) -> int:
        """Number of labels."""
        return len(self.labels)

    def partition(self) -> str:
        """Return the folder of this entry's file, relative to the log root."""
        return f"model={self.model}/feedback/date={self.time:%Y-%m-%d}"


@dataclass(frozen=True, eq=False)
class EventEntry:
    """Something the gateway did: started, stopped, switched version, failed to load."""

    model: str
    time: datetime
    event: str
    alias: str
    variant: str
    version: int | None
    previous: int | None
    detail: str
    pid: int
    count: int = 1

    def partition(self) -> str:
        """Return the folder of this entry's file, relative to the log root."""
        return f"model={self.model}/events/date={self.time:%Y-%m-%d}"


Entry = PredictionEntry | FeedbackEntry | EventEntry


def _micros(moment: datetime) -> int:
    return int(moment.timestamp() * 1_000_000)


def _times(entries: list[Any]) -> pa.Array:
    micros = np.concatenate(
        [np.full(entry.count, _micros(entry.time), dtype=np.int64) for entry in entries]
    )
    return pa.array(micros).cast(TIME)


def _typed(values: list[Any] | NDArray[Any], kind: str | None) -> pa.Array:
    arrow_type = ARROW_TYPES.get(kind) if kind else None
    if isinstance(values, np.ndarray) and values.dtype.kind in "biuf":
        array = pa.array(values)
        return array.cast(arrow_type) if arrow_type is not None else array
    items = values.tolist() if isinstance(values, np.ndarray) else values
    return pa.array(items, type=arrow_type)


def prediction_table(entries: list[PredictionEntry]) -> pa.Table:
    """Build one table from prediction entries of the same partition."""
    first = entries[0]
    columns: dict[str, pa.Array] = {}
    columns["request_id"] = pa.array(
        [entry.request_id for entry in entries for _ in range(entry.count)], type=pa.string()
    )
    columns["record"] = pa.array(
        np.concatenate([np.arange(entry.count, dtype=np.int32) for entry in entries])
    )
    columns["time"] = _times(entries)
    columns["variant"] = pa.array(
        [entry.variant for entry in entries for _ in range(entry.count)], type=pa.string()
    )
    names = [spec.name for spec in first.inputs]
    as_text = frozenset().union(*(entry.text_columns for entry in entries))
    fields = [
        _typed(
            [v for entry in entries for v in entry.values[spec.name]],
            spec.type,
        )
        if spec.name not in as_text
        else pa.array(
            [None if v is None else str(v) for entry in entries for v in entry.values[spec.name]],
            type=pa.string(),
        )
        for spec in first.inputs
    ]
    columns["inputs"] = pa.StructArray.from_arrays(fields, names=names)
    columns["inputs_json"] = pa.array(
        [
            orjson.dumps(dict(zip(names, row, strict=True))).decode()
            for entry in entries
            for row in zip(*(entry.values[name] for name in names), strict=True)
        ],
        type=pa.string(),
    )
    predictions = np.concatenate([entry.predictions for entry in entries])
    columns["prediction"] = _typed(predictions, first.output_type)
    if first.probabilities is not None and first.classes is not None:
        matrix = np.concatenate([e.probabilities for e in entries if e.probabilities is not None])
        columns["probabilities"] = pa.StructArray.from_arrays(
            [pa.array(matrix[:, i]) for i in range(matrix.shape[1])],
            names=[str(label) for label in first.classes],
        )
    columns["latency_ms"] = pa.array(
        np.concatenate(
            [np.full(entry.count, entry.latency_ms, dtype=np.float64) for entry in entries]
        )
    )
    # Always written (null when unused), so that every file of the log has one schema.
    decisions: list[str | None] = []
    reasons: list[str | None] = []
    texts: list[str | None] = []
    subjects: list[str | None] = []
    for entry in entries:
        nothing: list[str | None] = [None for _ in range(entry.count)]
        decisions.extend(entry.decisions or nothing)
        reasons.extend(entry.referrals or nothing)
        texts.extend(entry.explanations or nothing)
        subjects.extend(entry.subjects or nothing)
    columns["subject"] = pa.array(subjects, type=pa.string())
    columns["decision"] = pa.array(decisions, type=pa.string())
    columns["referral"] = pa.array(reasons, type=pa.string())
    columns["explanation"] = pa.array(texts, type=pa.string())
    return pa.table(columns)


def feedback_table(entries: list[FeedbackEntry]) -> pa.Table:
    """Build one table from feedback entries of the same partition."""
    return pa.table(
        {
            "request_id": pa.array(
                [rid for entry in entries for rid in entry.request_ids], type=pa.string()
            ),
            "record": pa.array([r for entry in entries for r in entry.records], type=pa.int32()),
            "time": _times(entries),
            "label": _typed(
                [label for entry in entries for label in entry.labels], entries[0].label_type
            ),
            "correction": pa.array(
                [flag for entry in entries for flag in entry.corrections], type=pa.bool_()
            ),
            "key_id": pa.array(
                [entry.key_id for entry in entries for _ in range(entry.count)], type=pa.string()
            ),
        }
    )


def event_table(entries: list[EventEntry]) -> pa.Table:
    """Build one table from event entries of the same partition."""
    return pa.table(
        {
            "time": _times(entries),
            "event": pa.array([e.event for e in entries], type=pa.string()),
            "alias": pa.array([e.alias for e in entries], type=pa.string()),
            "variant": pa.array([e.variant for e in entries], type=pa.string()),
            "version": pa.array([e.version for e in entries], type=pa.int64()),
            "previous": pa.array([e.previous for e in entries], type=pa.int64()),
            "detail": pa.array([e.detail for e in entries], type=pa.string()),
            "pid": pa.array([e.pid for e in entries], type=pa.int64()),
        }
    )


def table_for(entries: list[Any]) -> pa.Table:
    """Build the table of a group of entries of one kind and partition."""
    first = entries[0]
    if isinstance(first, PredictionEntry):
        return prediction_table(entries)
    if isinstance(first, FeedbackEntry):
        return feedback_table(entries)
    return event_table(entries)


def entry_json(entry: Entry) -> list[dict[str, Any]]:
    """Return an entry's rows as plain dictionaries (the last-resort JSON Lines form)."""
    table = table_for([entry])
    rows: list[dict[str, Any]] = table.to_pylist()
    for row in rows:
        row["partition"] = entry.partition()
    return rows
