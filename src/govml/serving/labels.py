"""What a ground-truth label sent to ``/feedback`` may be, and which records it may label.

Labels feed monitoring, whose performance and fairness rules can roll production back, so a
label is accepted only when it could be true and is about a decision this gateway made:

- a classifier's label is one of the model's classes (when the model knows them), a
  regressor's a finite number;
- its request id is one the gateway answered (:mod:`govml.serving.issued`), and its record
  position is within that request;
- a record is labelled once; a second label needs a key with the ``correct_labels`` scope and
  is kept as a new row marked as a correction, never written over the first.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from govml.serving.deployment import Deployment
from govml.serving.issued import IssuedRequests
from govml.serving.payload import (
    Feedback,
    FieldError,
    PayloadError,
    decode_body,
    feedback_from_json,
)

ERR_CLASS = "label {label!r} is not one of {model}'s classes: {classes}"
ERR_NUMBER = "label must be a finite number (the model predicts numbers), got {label!r}"
ERR_TWICE = "record {record} of request {request_id} is labelled twice in this request"
ERR_UNKNOWN = (
    "request id {request_id!r} is not one this gateway answered for {model} in the last "
    "{days} days: labels are only taken for its own decisions"
)
ERR_RECORD = "record {record} is out of range: request {request_id!r} had {count} record(s)"
ERR_LABELLED = (
    "record {record} of request {request_id!r} is already labelled; a correction needs a key "
    "with the correct_labels scope"
)
MAX_CLASSES_SHOWN = 20
LABEL_KINDS = frozenset({"int64", "float64", "bool", "string", "category"})


def _key(value: Any) -> tuple[str, Any]:
    """Compare labels by kind and value: ``True`` is not the class ``1``, ``1`` is ``1.0``."""
    if isinstance(value, bool):
        return ("bool", value)
    if isinstance(value, int | float):
        return ("number", float(value))
    return ("text", str(value))


def check_labels(
    feedback: Feedback,
    *,
    model: str,
    classes: Sequence[Any] | None,
    numeric: bool,
    as_text: bool,
) -> list[FieldError]:
    """Return the problems of labels that cannot be true, and of records labelled twice.

    Parameters
    ----------
    feedback
        The labels of one request, already checked for shape and type.
    model
        The model's name, for messages.
    classes
        The model's classes, when it knows them.
    numeric
        Whether the model is a regressor (its labels are finite numbers).
    as_text
        Whether the labels were kept as text (the prediction's type is not known).
    """
    errors: list[FieldError] = []
    allowed = None
    if classes is not None:
        allowed = {_key(c) for c in classes}
        if as_text:
            allowed |= {("text", str(c)) for c in classes}
        shown = ", ".join(repr(c) for c in list(classes)[:MAX_CLASSES_SHOWN])
        if len(classes) > MAX_CLASSES_SHOWN:
            shown += f" and {len(classes) - MAX_CLASSES_SHOWN} more"
    seen: set[tuple[str, int]] = set()
    for index, (request_id, record, label) in enumerate(
        zip(feedback.request_ids, feedback.records, feedback.labels, strict=True)
    ):
        if allowed is not None and _key(label) not in allowed:
            message = ERR_CLASS.format(label=label, model=model, classes=shown)
            errors.append(FieldError(message, record=index, field="label"))
        elif numeric and (
            isinstance(label, bool)
            or not isinstance(label, int | float)
            or not math.isfinite(label)
        ):
            errors.append(FieldError(ERR_NUMBER.format(label=label), record=index, field="label"))
        key = (request_id, record)
        if key in seen:
            message = ERR_TWICE.format(record=record, request_id=request_id)
            errors.append(FieldError(message, record=index, field="record"))
        seen.add(key)
    return errors


def check_feedback(
    body: bytes,
    *,
    model: str,
    champion: Deployment,
    challenger: Deployment | None,
    issued: IssuedRequests,
    may_correct: bool,
) -> tuple[Feedback, list[bool]]:
    """Decode and check a ``/feedback`` body, and claim its records (in a worker thread).

    Returns the labels and, for each, whether it corrects an earlier one.

    Raises
    ------
    PayloadError
        400 / 422 for a malformed body, a label that cannot be true or a request the
        gateway did not answer; 409 for records labelled already, unless ``may_correct``.
    """
    label_type = champion.output_type
    feedback = feedback_from_json(decode_body(body), label_type)
    labels = [d.labels for d in (champion, challenger) if d is not None and d.labels]
    classes = tuple(dict.fromkeys(c for found in labels for c in found)) if labels else None
    errors = check_labels(
        feedback,
        model=model,
        classes=classes,
        numeric=champion.regressor,
        as_text=label_type not in LABEL_KINDS,
    )
    counts = issued.counts(feedback.request_ids)
    keys = list(zip(feedback.request_ids, feedback.records, strict=True))
    for index, (request_id, record) in enumerate(keys):
        count = counts.get(request_id)
        if count is None:
            text = ERR_UNKNOWN.format(request_id=request_id, model=model, days=issued.days)
            errors.append(FieldError(text, record=index, field="request_id"))
        elif record >= count:
            text = ERR_RECORD.format(record=record, request_id=request_id, count=count)
            errors.append(FieldError(text, record=index, field="record"))
    if errors:
        raise PayloadError(422, errors)
    claim = issued.claim(keys, correct=may_correct)
    if any(claim.labelled) and not may_correct:
        raise PayloadError(
            409,
            [
                FieldError(
                    ERR_LABELLED.format(record=record, request_id=request_id),
                    record=index,
                    field="label",
                )
                for index, ((request_id, record), labelled) in enumerate(
                    zip(keys, claim.labelled, strict=True)
                )
                if labelled
            ],
        )
    return feedback, claim.labelled
