"""Low-confidence predictions out as Label Studio tasks, their labels back in as feedback.

Export: the window's served predictions whose top class probability is lowest become
tasks in Label Studio's JSON import format, each with the model's prediction as a
pre-annotation (``predictions[].result[]`` of type ``choices``, ``score`` = confidence)::

    {"data": {"age": 39, ..., "govml_request_id": "r-1", "govml_record": 0,
              "govml_version": 3, "govml_time": "...", "govml_text": "age: 39; ..."},
     "predictions": [{"model_version": "credit@3", "score": 0.52,
                      "result": [{"from_name": "label", "to_name": "record",
                                  "type": "choices", "value": {"choices": ["1"]}}]}]}

A labelling config that shows the record and asks for the class::

    <View>
      <Text name="record" value="$govml_text"/>
      <Choices name="label" toName="record" choice="single">
        <Choice value="0"/><Choice value="1"/>
      </Choices>
    </View>

Import: Label Studio's JSON export of the annotated tasks. Each task's latest annotation
that was not cancelled gives the label (its first ``choices`` result, of control
``from_name`` when given). A label is skipped, counted and named when it cannot be true (not
of the predictions' type, not one of the classes the log's probabilities name, not a finite
number for a regressor), when its ``govml_request_id`` / ``govml_record`` is not in the
prediction log, or when the same record is labelled twice in the import. A record that
already has a label gets the new one as a correction (``correction`` true; the latest label
counts). Labels are written as one Parquet file of the feedback layout
(``model=NAME/feedback/date=YYYY-MM-DD/``), typed as the predictions are, under a hidden name
first (`prepare_import`) and renamed only once the import is recorded (`ImportFile.publish`),
so a reader never sees half a file.
"""

from __future__ import annotations

import hashlib
import json
import math
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from govml.errors import InputError
from govml.monitoring.logs import PredictionLogs
from govml.monitoring.window import Window

ERR_TASKS = "labelled tasks must be a JSON list of Label Studio tasks, got {got}"
ERR_NO_LOG = "{model} has no prediction in the log under {path}: there is nothing to label"
_TIME = pa.timestamp("us", tz="UTC")


def labelling_tasks(
    logs: PredictionLogs,
    window: Window,
    *,
    limit: int,
    below: float | None,
    from_name: str,
    to_name: str,
) -> list[dict[str, Any]]:
    """Return the ``limit`` least confident served predictions of the window as tasks."""
    if limit < 1:
        raise InputError(f"limit must be at least 1, got {limit}")
    if below is not None and not 0.0 < below <= 1.0:
        raise InputError(f"--below must be a probability in (0, 1], got {below}")
    rows: list[tuple[float, int, dict[str, Any]]] = []
    for version, files in sorted(logs.prediction_files(window.days()).items()):
        columns = logs.columns(files, f"{logs.model}@{version}")
        table = logs.low_confidence(
            files, window, classes=columns.classes, limit=limit, below=below
        )
        for row in table.to_pylist():
            rows.append((float(row["confidence"]), version, row))
    rows.sort(key=lambda item: (item[0], item[2]["time"], item[2]["request_id"]))
    return [_task(logs.model, version, row, from_name, to_name) for _, version, row in rows[:limit]]


def _task(
    model: str, version: int, row: Mapping[str, Any], from_name: str, to_name: str
) -> dict[str, Any]:
    inputs = json.loads(row["inputs_json"])
    moment = row["time"]
    when = moment.astimezone(UTC).isoformat().replace("+00:00", "Z")
    text = "; ".join(f"{k}: {v}" for k, v in inputs.items())
    return {
        "data": {
            **inputs,
            "govml_request_id": row["request_id"],
            "govml_record": int(row["record"]),
            "govml_version": version,
            "govml_time": when,
            "govml_text": text,
        },
        "predictions": [
            {
                "model_version": f"{model}@{version}",
                "score": float(row["confidence"]),
                "result": [
                    {
                        "from_name": from_name,
                        "to_name": to_name,
                        "type": "choices",
                        "value": {"choices": [str(row["prediction"])]},
                    }
                ],
            }
        ],
        "meta": {"probabilities": json.loads(row["probabilities_json"])},
    }


def _label_of(task: Mapping[str, Any], from_name: str | None) -> tuple[str | None, str | None]:
    annotations = [
        a
        for a in task.get("annotations") or []
        if isinstance(a, Mapping) and not a.get("was_cancelled")
    ]
    if not annotations:
        return None, "no annotation (or only cancelled ones)"
    latest = max(
        enumerate(annotations),
        key=lambda item: (
            str(item[1].get("updated_at") or item[1].get("created_at") or ""),
            item[0],
        ),
    )[1]
    for result in latest.get("result") or []:
        if not isinstance(result, Mapping) or result.get("type") != "choices":
            continue
        if from_name is not None and result.get("from_name") != from_name:
            continue
        choices = (result.get("value") or {}).get("choices") or []
        if choices:
            return str(choices[0]), None
    named = f" of control {from_name!r}" if from_name else ""
    return None, f"the latest annotation has no choice{named}"


def _typed(text: str, kind: pa.DataType) -> Any:
    if pa.types.is_integer(kind):
        number = float(text)
        if not number.is_integer() or not -(2**63) <= number < 2**63:
            raise ValueError(text)
        return int(number)
    if pa.types.is_floating(kind):
        return float(text)
    if pa.types.is_boolean(kind):
        if text.lower() in ("true", "1", "yes"):
            return True
        if text.lower() in ("false", "0", "no"):
            return False
        raise ValueError(text)
    return text


@dataclass(frozen=True)
class ImportFile:
    """A feedback file written under a hidden name, to publish once the import is recorded."""

    hidden: Path
    path: Path
    digest: str
    rows: int
    corrections: int

    def publish(self) -> None:
        """Rename the file into the log, where monitoring reads it."""
        self.hidden.replace(self.path)

    def discard(self) -> None:
        """Remove the hidden file (the import was not recorded)."""
        self.hidden.unlink(missing_ok=True)


def prepare_import(
    logs: PredictionLogs,
    tasks: Sequence[Mapping[str, Any]],
    *,
    now: datetime,
    from_name: str | None,
) -> tuple[ImportFile | None, list[dict[str, Any]]]:
    """Check annotated tasks' labels and write the good ones as a hidden feedback file.

    Returns the file (None when no label is kept) and the skipped tasks with their reasons.
    """
    if not isinstance(tasks, list | tuple):
        raise InputError(ERR_TASKS.format(got=type(tasks).__name__))
    kind = logs.label_type()
    if kind is None:
        raise InputError(ERR_NO_LOG.format(model=logs.model, path=logs.root))
    classes = _classes(logs, kind)
    skipped: list[dict[str, Any]] = []
    found: dict[tuple[str, int], Any] = {}
    for index, task in enumerate(tasks):
        if not isinstance(task, Mapping):
            skipped.append({"task": index, "reason": "not a JSON object"})
            continue
        data = task.get("data") or {}
        request_id, record = data.get("govml_request_id"), data.get("govml_record")
        if not isinstance(request_id, str) or type(record) is not int or record < 0:
            skipped.append({"task": index, "reason": "no govml_request_id / govml_record in data"})
            continue
        text, why = _label_of(task, from_name)
        if text is None:
            skipped.append({"task": index, "request_id": request_id, "reason": why})
            continue
        label, why = _checked(text, kind, classes)
        if why is not None:
            skipped.append({"task": index, "request_id": request_id, "reason": why})
            continue
        if (request_id, record) in found:
            reason = "the record is labelled twice in this import: the first label is kept"
            skipped.append({"task": index, "request_id": request_id, "reason": reason})
            continue
        found[(request_id, record)] = label
    served = logs.served_keys(list(found), None)
    kept = []
    for (request_id, record), label in found.items():
        if (request_id, record) in served:
            kept.append((request_id, record, label))
        else:
            skipped.append(
                {"request_id": request_id, "record": record, "reason": "not in the prediction log"}
            )
    if not kept:
        return None, skipped
    labelled = logs.labelled_keys([(r, n) for r, n, _ in kept])
    corrections = [(r, n) in labelled for r, n, _ in kept]
    return _write(logs, kept, corrections, kind, now), skipped


def import_tasks(
    logs: PredictionLogs,
    tasks: Sequence[Mapping[str, Any]],
    *,
    now: datetime,
    from_name: str | None,
) -> dict[str, Any]:
    """Write the labels of annotated tasks as one feedback file (module docstring)."""
    written, skipped = prepare_import(logs, tasks, now=now, from_name=from_name)
    if written is not None:
        written.publish()
    return import_result(written, skipped)


def import_result(written: ImportFile | None, skipped: list[dict[str, Any]]) -> dict[str, Any]:
    """Return ``written``, ``corrections``, ``skipped`` (with reasons), ``file`` and ``digest``."""
    return {
        "written": 0 if written is None else written.rows,
        "corrections": 0 if written is None else written.corrections,
        "skipped": skipped,
        "file": None if written is None else str(written.path),
        "digest": None if written is None else written.digest,
    }


def _classes(logs: PredictionLogs, kind: pa.DataType) -> set[Any] | None:
    """Return the classes the log's probabilities name (typed as labels), or None."""
    names: set[str] = set()
    for version, files in logs.prediction_files(None).items():
        names.update(logs.columns(files, f"{logs.model}@{version}").classes)
    if not names:
        return None
    try:
        return {_typed(name, kind) for name in names}
    except ValueError:
        return None


def _checked(text: str, kind: pa.DataType, classes: set[Any] | None) -> tuple[Any, str | None]:
    """Return the label typed as the predictions, or why it cannot be true."""
    try:
        label = _typed(text, kind)
    except ValueError:
        return None, f"label {text!r} is not a {kind}"
    if classes is not None and label not in classes:
        shown = ", ".join(sorted(str(c) for c in classes)[:20])
        return None, f"label {text!r} is not one of the classes {shown}"
    if classes is None and pa.types.is_floating(kind) and not math.isfinite(label):
        return None, f"label {text!r} is not a finite number"
    return label, None


def _write(
    logs: PredictionLogs,
    rows: list[tuple[str, int, Any]],
    corrections: list[bool],
    kind: pa.DataType,
    now: datetime,
) -> ImportFile:
    moment = now.astimezone(UTC)
    table = pa.table(
        {
            "request_id": pa.array([r for r, _, _ in rows], type=pa.string()),
            "record": pa.array([n for _, n, _ in rows], type=pa.int32()),
            "time": pa.array([moment] * len(rows), type=_TIME),
            "label": pa.array([label for _, _, label in rows], type=kind),
            "correction": pa.array(corrections, type=pa.bool_()),
            "key_id": pa.array([None] * len(rows), type=pa.string()),
        }
    )
    folder = logs.base / "feedback" / f"date={moment:%Y-%m-%d}"
    folder.mkdir(parents=True, exist_ok=True)
    name = f"part-{moment:%Y%m%dT%H%M%S%f}-import-{secrets.token_hex(3)}.parquet"
    hidden = folder / f".{name}.tmp"
    pq.write_table(table, hidden)
    digest = "sha256:" + hashlib.sha256(hidden.read_bytes()).hexdigest()
    return ImportFile(hidden, folder / name, digest, len(rows), sum(corrections))
