"""Personal data in the prediction log: subject keys and pseudonymisation at write time.

Under the policy's ``retention`` section:

* ``subject_key`` names the fields that identify the person a request is about (a customer
  number, say). A field that is not a model input is accepted beside the inputs (it never
  reaches the model) and written to the log's ``subject`` column (JSON), so that
  ``govml log erase --subject-key`` can find that person's rows.
* ``pseudonymise`` names fields (subject keys or inputs) written to the log as
  ``hmac-sha256:<hex>``: HMAC-SHA-256 of the value's text under the key in
  ``GOVML_LOG_PSEUDONYM_KEY``, which is never written to the log or the store. The same key
  finds a subject's rows again for erasure; without it the log cannot be linked back to a
  person. A gateway asked to pseudonymise without the key answers 503 rather than log
  personal data in clear.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from govml.policy.decisions import Retention
from govml.serving.payload import FieldError, PayloadError

ENV_KEY = "GOVML_LOG_PSEUDONYM_KEY"
PREFIX = "hmac-sha256:"
MIN_KEY_LENGTH = 16
MAX_SUBJECT_TEXT = 200
ERR_NO_KEY = (
    "the policy asks to pseudonymise {columns} in the prediction log, but {env} is not set "
    "(at least {length} characters); nothing is logged in clear"
)
ERR_SUBJECT = (
    "{field} identifies the data subject: give a string or whole number of at most {n} characters"
)


def pseudonym_key(environ: Mapping[str, str] | None = None) -> bytes | None:
    """Return the pseudonymisation key from the environment, or None when unset or too short."""
    value = (os.environ if environ is None else environ).get(ENV_KEY, "")
    return value.encode() if len(value) >= MIN_KEY_LENGTH else None


def pseudonym(key: bytes, value: Any) -> str | None:
    """Return ``hmac-sha256:<hex>`` of the value's text (None stays None)."""
    if value is None:
        return None
    digest = hmac.new(key, str(value).encode(), hashlib.sha256).hexdigest()
    return PREFIX + digest


def subject_extras(retention: Retention | None, inputs: frozenset[str]) -> tuple[str, ...]:
    """Return the subject-key fields a request may carry besides the model's inputs."""
    if retention is None:
        return ()
    return tuple(name for name in retention.subject_key if name not in inputs)


@dataclass(frozen=True)
class Logged:
    """What the log gets for a request: inputs as logged, the subjects, text columns."""

    values: dict[str, list[Any]]
    subjects: list[str | None] | None
    text_columns: frozenset[str]


def for_log(
    retention: Retention | None,
    key: bytes | None,
    values: dict[str, list[Any]],
    extras: dict[str, list[Any]],
    count: int,
) -> Logged:
    """Return the request's values as the log keeps them (pseudonymised where asked).

    Raises
    ------
    PayloadError
        503 when the policy asks to pseudonymise and there is no key; 422 naming a subject
        field whose value is not a short string or whole number.
    """
    if retention is None or (not retention.subject_key and not retention.pseudonymise):
        return Logged(values, None, frozenset())
    hidden = set(retention.pseudonymise)
    if hidden and key is None:
        message = ERR_NO_KEY.format(
            columns=", ".join(sorted(hidden)), env=ENV_KEY, length=MIN_KEY_LENGTH
        )
        raise PayloadError(503, [FieldError(message)])
    logged = dict(values)
    text_columns = set()
    for name in hidden & set(values):
        assert key is not None
        logged[name] = [pseudonym(key, value) for value in values[name]]
        text_columns.add(name)
    subjects: list[str | None] | None = None
    if retention.subject_key:
        columns: dict[str, list[Any]] = {}
        for name in retention.subject_key:
            column = values.get(name) or extras.get(name)
            if column is None:
                continue
            checked = [_subject_value(name, record, value) for record, value in enumerate(column)]
            if name in hidden:
                assert key is not None
                checked = [pseudonym(key, value) for value in checked]
            columns[name] = checked
        subjects = [
            orjson.dumps({name: column[i] for name, column in columns.items()}).decode()
            if columns
            else None
            for i in range(count)
        ]
    return Logged(logged, subjects, frozenset(text_columns))


def _subject_value(name: str, record: int, value: Any) -> Any:
    ok = value is None or (
        (isinstance(value, str) and len(value) <= MAX_SUBJECT_TEXT)
        or (isinstance(value, int) and not isinstance(value, bool) and abs(value) < 2**63)
    )
    if not ok:
        message = ERR_SUBJECT.format(field=name, n=MAX_SUBJECT_TEXT)
        raise PayloadError(422, [FieldError(message, record=record, field=name)])
    return value


def subject_matches(subject_json: str | None, wanted: Mapping[str, str], key: bytes | None) -> bool:
    """Whether a logged ``subject`` has every field of ``wanted`` (values pseudonymised alike)."""
    if not subject_json:
        return False
    found = orjson.loads(subject_json)
    for name, value in wanted.items():
        logged = found.get(name)
        if logged is None:
            return False
        if isinstance(logged, str) and logged.startswith(PREFIX):
            if key is None or not hmac.compare_digest(logged, pseudonym(key, value) or ""):
                return False
        elif str(logged) != str(value):
            return False
    return True
