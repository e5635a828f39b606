"""Human oversight in the serving path: which records go to a person, and sending them.

Under the policy's ``oversight`` section (and a suspension), the gateway answers some records
``"decision": "referred"`` instead of the model's prediction:

* every record while the model is suspended with ``when_suspended: refer``;
* a record whose score (the probability of the favourable class: the class that is not
  ``reason_codes.adverse_outcome``, by default the second of two) falls in
  ``refer.score_between``;
* with ``refer.out_of_range``, a record with any input outside the training profile.

The model still scores a referred record: its decision, score and reasons go to the
prediction log (columns ``decision`` and ``referral``) and to the review queue, where a
reviewer records the final decision (:mod:`govml.services.oversight`). `ReferralSender`
sends the queue's entries from a background thread, in batches, retrying while the store is
unreachable, so a request never waits for the store.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections import deque
from collections.abc import Callable
from datetime import datetime
from typing import Any

import numpy as np
import orjson

from govml.domain.oversight import Referral
from govml.serving.deployment import Deployment, Scores
from govml.serving.governance import Governance
from govml.serving.http import Response, json_response
from govml.serving.validation import Validated

logger = logging.getLogger("govml.serving")

REFERRED = "referred"
ANSWERED = "answered"
MAX_WAITING = 100_000
DECISION_FIELDS = ("adverse", "reasons")  # withheld from a referred record's explanation


def favourable_index(governance: Governance, classes: tuple[Any, ...] | None) -> int | None:
    """Return the column of the favourable class's probability (binary classifiers only)."""
    if classes is None or len(classes) != 2:
        return None
    adverse = None if governance.reason_codes is None else governance.reason_codes.adverse_outcome
    if adverse is None:
        return 1
    for index, label in enumerate(classes):
        if label == adverse or str(label) == str(adverse):
            return 1 - index
    return 1


def referral_reasons(
    governance: Governance, deployment: Deployment, validated: Validated, scores: Scores
) -> dict[int, list[str]]:
    """Return, for each record to refer, why (empty when every record is answered)."""
    out: dict[int, list[str]] = {}
    suspended = governance.suspended
    section = governance.oversight
    if suspended is not None and (section is None or section.when_suspended == "refer"):
        text = f"the model is suspended ({suspended.reason})"
        out = {record: [text] for record in range(validated.count)}
    refer = None if section is None else section.refer
    if refer is None:
        return out
    status = governance.monitor_status
    if refer.drift is not None and status is not None and _rank(status) >= _rank(refer.drift):
        text = f"the latest monitoring run is at {status} (refer from {refer.drift})"
        for record in range(validated.count):
            out.setdefault(record, []).append(text)
    if refer.score_between is not None and scores.probabilities is not None:
        column = favourable_index(governance, deployment.classes)
        if column is not None:
            low, high = refer.score_between
            score = scores.probabilities[:, column]
            for record in np.flatnonzero((score >= low) & (score <= high)).tolist():
                out.setdefault(record, []).append(
                    f"score {score[record]:.4f} in the referral band [{low:g}, {high:g}]"
                )
    if refer.out_of_range:
        for warning in validated.warnings:
            reasons = out.setdefault(warning.record, [])
            text = f"{warning.field} outside the training profile ({warning.to_dict()['message']})"
            if text not in reasons:
                reasons.append(text)
    return out


SUSPENDED_FALLBACK = (
    "the model is suspended: decide without it, by the documented manual process, or send "
    "the case to a person"
)


def suspended_answer(governance: Governance, model: str, request_id: str) -> Response | None:
    """Return the 503 a model suspended with ``when_suspended: unavailable`` answers, else None.

    The body says who suspended it, why and since when, and ``fallback``: what the caller
    does instead (the documented fallback, :data:`SUSPENDED_FALLBACK`).
    """
    suspended = governance.suspended
    section = governance.oversight
    if suspended is None or section is None or section.when_suspended != "unavailable":
        return None
    message = f"{model} is suspended by {suspended.by} since {suspended.since}: {suspended.reason}"
    body = {
        "request_id": request_id,
        "errors": [{"message": message}],
        "suspended": {"by": suspended.by, "since": suspended.since, "reason": suspended.reason},
        "fallback": SUSPENDED_FALLBACK,
    }
    return json_response(503, body)


def withhold(body: dict[str, Any], referred: dict[int, list[str]], count: int) -> None:
    """Answer ``decision: referred`` for referred records: no prediction or probabilities.

    A referred record's explanation keeps its contributions (what moved the score, for the
    reviewer) but not ``adverse`` and ``reasons``: those are the reasons for a decision,
    and a person has not made it yet. The prediction log keeps them whole.
    """
    body["decisions"] = [REFERRED if i in referred else ANSWERED for i in range(count)]
    if not referred:
        return
    if "explanations" in body:
        body["explanations"] = [
            {k: v for k, v in item.items() if k not in DECISION_FIELDS} if i in referred else item
            for i, item in enumerate(body["explanations"])
        ]
    body["predictions"] = [None if i in referred else p for i, p in enumerate(body["predictions"])]
    if "probabilities" in body:
        body["probabilities"] = [
            None if i in referred else p for i, p in enumerate(body["probabilities"])
        ]
    body["referrals"] = [
        {"record": record, "reasons": reasons} for record, reasons in sorted(referred.items())
    ]


def governance_summary(governance: Governance, champion: Deployment | None) -> dict[str, Any]:
    """Return what ``GET /version`` says of the decision sections in force.

    ``reason_code_problems`` lists the policy's reason codes that do not fit the version
    answering (a feature it does not read, an adverse outcome that is not one of its classes).
    """
    from govml.serving.reasons import reason_code_problems

    held = governance.suspended
    problems: list[str] = []
    if champion is not None:
        classes = None if champion.classes is None else list(champion.classes)
        features = [spec.name for spec in champion.inputs]
        problems = reason_code_problems(
            governance.reason_codes, features, classes, champion.version.ref
        )
    return {
        "reason_codes": governance.reason_codes is not None,
        "reason_code_problems": problems,
        "oversight": None if governance.oversight is None else governance.oversight.model_dump(),
        "suspended": None
        if held is None
        else {"by": held.by, "reason": held.reason, "since": held.since},
    }


_RANKS = ("insufficient", "ok", "warn", "alert", "critical")


def _rank(status: str) -> int:
    return _RANKS.index(status) if status in _RANKS else 0


def inputs_digest(values: dict[str, list[Any]], names: list[str], record: int) -> str:
    """Return the SHA-256 of one record's inputs as the log's ``inputs_json`` has them."""
    row = {name: values[name][record] for name in names}
    return "sha256:" + hashlib.sha256(orjson.dumps(row)).hexdigest()


def score_of(
    governance: Governance, deployment: Deployment, scores: Scores, record: int
) -> float | None:
    """Return the favourable class's probability of one record, when there is one."""
    if scores.probabilities is None:
        return None
    column = favourable_index(governance, deployment.classes)
    return None if column is None else float(scores.probabilities[record, column])


class ReferralSender:
    """Sends referred records to the store's review queue from a background thread.

    Parameters
    ----------
    send : callable
        ``send(model, referrals)`` records them (`OversightService.record_referrals`).
    model : str
        The served model.
    every : float
        Seconds between attempts.
    """

    def __init__(self, send: Callable[[str, list[Any]], int], model: str, every: float) -> None:
        self.send = send
        self.model = model
        self.every = every
        self.waiting: deque[Any] = deque()
        self.dropped = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def put(self, items: list[Any]) -> None:
        """Queue referrals (the oldest are dropped, and counted, past `MAX_WAITING`)."""
        with self._lock:
            self.waiting.extend(items)
            while len(self.waiting) > MAX_WAITING:
                self.waiting.popleft()
                self.dropped += 1

    def start(self) -> None:
        """Send in a background thread until `stop`."""
        self._thread = threading.Thread(target=self._run, name="govml-referrals", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            self.flush()

    def flush(self) -> bool:
        """Send what waits; return False when the store refused or was unreachable."""
        with self._lock:
            batch = list(self.waiting)
        if not batch:
            return True
        try:
            self.send(self.model, batch)
        except Exception:
            logger.exception("recording %d referrals of %s failed", len(batch), self.model)
            return False
        with self._lock:
            for _ in range(min(len(batch), len(self.waiting))):
                self.waiting.popleft()
        return True

    def stop(self) -> None:
        """Stop the thread and try once more to send what waits."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        self.flush()


def referral_items(
    governance: Governance,
    deployment: Deployment,
    values: dict[str, list[Any]],
    scores: Scores,
    reasons: dict[int, list[str]],
    request_id: str,
    arrived: datetime,
) -> list[Referral]:
    """Build the review-queue entries of one request's referred records."""
    names = [spec.name for spec in deployment.inputs]
    predictions = scores.predictions.tolist()
    return [
        Referral(
            version=deployment.number,
            request_id=request_id,
            record=record,
            reasons=why,
            score=score_of(governance, deployment, scores, record),
            model_decision=predictions[record],
            inputs_digest=inputs_digest(values, names, record),
            referred_at=arrived,
        )
        for record, why in sorted(reasons.items())
    ]
