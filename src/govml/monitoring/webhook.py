"""Signed webhook deliveries with retries.

The body is the event as compact JSON with sorted keys. With a secret, three headers let
the receiver check it came from this govml and is fresh::

    X-Govml-Event: monitoring.alert            (or monitoring.retrain)
    X-Govml-Delivery: <uuid, the same for every attempt of one delivery>
    X-Govml-Timestamp: <unix seconds of the attempt>
    X-Govml-Signature: sha256=<hex HMAC-SHA256 over "<timestamp>.<body>">

A receiver recomputes the HMAC with the shared secret over the timestamp, a dot and the
raw body, compares it in constant time (``hmac.compare_digest``) and refuses timestamps
older than a few minutes. The secret is read from the environment variable the policy's
``monitoring.notify.secret_env`` names (else ``GOVML_WEBHOOK_SECRET``); a policy that names
a variable which is not set gets no unsigned delivery: the attempt fails and says why.

An attempt fails on a connection error, a timeout or a status other than 2xx. Failures
that may pass later (network errors, 408, 425, 429 and 5xx) are retried after 0.5 s, 1 s,
2 s, ... (``backoff * 2**n``, a ``Retry-After`` header of at most 60 s wins); other 4xx
answers are not retried. Every attempt is returned, to be recorded.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

import govml

SIGNATURE_HEADER = "X-Govml-Signature"
TIMESTAMP_HEADER = "X-Govml-Timestamp"
EVENT_HEADER = "X-Govml-Event"
DELIVERY_HEADER = "X-Govml-Delivery"
DEFAULT_SECRET_ENV = "GOVML_WEBHOOK_SECRET"  # noqa: S105 - a variable name, not a secret
DEFAULT_ATTEMPTS = 4
DEFAULT_BACKOFF = 0.5
DEFAULT_TIMEOUT = 5.0
_RETRIED = {408, 425, 429}
_MAX_RETRY_AFTER = 60.0


def body_bytes(event: Mapping[str, Any]) -> bytes:
    """Return the bytes sent: compact JSON with sorted keys."""
    return json.dumps(event, sort_keys=True, separators=(",", ":"), default=str).encode("utf-8")


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """Return the ``X-Govml-Signature`` value: ``sha256=`` and the HMAC over ``ts.body``."""
    mac = hmac.new(secret.encode("utf-8"), timestamp.encode("ascii") + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def verify_signature(secret: str, timestamp: str, body: bytes, signature: str) -> bool:
    """Return True when ``signature`` is this body's signature (receivers can use this)."""
    return hmac.compare_digest(sign(secret, timestamp, body), signature)


@dataclass(frozen=True, kw_only=True)
class Secret:
    """Where the signing secret comes from, and the secret itself (None when unsigned)."""

    env: str | None
    value: str | None
    problem: str | None = None


def secret_from_env(named: str | None, environ: Mapping[str, str] | None = None) -> Secret:
    """Return the secret of the variable the policy names, or of ``GOVML_WEBHOOK_SECRET``."""
    env = os.environ if environ is None else environ
    if named is not None:
        value = env.get(named)
        if not value:
            return Secret(
                env=named,
                value=None,
                problem=f"the policy signs webhooks with ${named}, which is not set",
            )
        return Secret(env=named, value=value)
    value = env.get(DEFAULT_SECRET_ENV)
    return Secret(env=DEFAULT_SECRET_ENV if value else None, value=value or None)


@dataclass(frozen=True, kw_only=True)
class Delivery:
    """The outcome of one delivery: every attempt and whether one got a 2xx."""

    url: str
    event: str
    delivery_id: str
    signed: bool
    body_sha256: str
    ok: bool
    attempts: list[dict[str, Any]] = field(default_factory=list)

    @property
    def summary(self) -> str:
        """One line: delivered or not, after how many attempts."""
        last = self.attempts[-1] if self.attempts else {}
        what = last.get("status_code") or last.get("error") or "not sent"
        n = len(self.attempts)
        tried = f"{n} attempt{'s' if n != 1 else ''}"
        if self.ok:
            return f"delivered to {self.url} ({what}, {tried})"
        return f"not delivered to {self.url}: {what} ({tried})"


def deliver(
    url: str,
    event: str,
    payload: Mapping[str, Any],
    secret: Secret,
    *,
    attempts: int | None = None,
    backoff: float | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    sleep: Callable[[float], None] | None = None,
    transport: httpx.BaseTransport | None = None,
) -> Delivery:
    """POST ``payload`` to ``url`` until a 2xx answer or ``attempts`` tries (module docstring).

    ``attempts`` and ``backoff`` default to :data:`DEFAULT_ATTEMPTS` and
    :data:`DEFAULT_BACKOFF` as they are when called.
    """
    attempts = DEFAULT_ATTEMPTS if attempts is None else attempts
    backoff = DEFAULT_BACKOFF if backoff is None else backoff
    pause = time.sleep if sleep is None else sleep
    body = body_bytes(payload)
    delivery_id = str(uuid.uuid4())
    digest = hashlib.sha256(body).hexdigest()
    done: list[dict[str, Any]] = []
    if secret.problem is not None:
        done.append(
            {"attempt": 1, "status_code": None, "error": secret.problem, "duration_ms": 0.0}
        )
        return Delivery(
            url=url,
            event=event,
            delivery_id=delivery_id,
            signed=False,
            body_sha256=digest,
            ok=False,
            attempts=done,
        )
    with httpx.Client(timeout=timeout, transport=transport) as http:
        for attempt in range(1, attempts + 1):
            headers = {
                "Content-Type": "application/json",
                "User-Agent": f"govml/{govml.__version__}",
                EVENT_HEADER: event,
                DELIVERY_HEADER: delivery_id,
            }
            stamp = str(int(time.time()))
            if secret.value is not None:
                headers[TIMESTAMP_HEADER] = stamp
                headers[SIGNATURE_HEADER] = sign(secret.value, stamp, body)
            started = time.perf_counter()
            retry_after: float | None = None
            try:
                response = http.post(url, content=body, headers=headers)
            except httpx.HTTPError as exc:
                record: dict[str, Any] = {
                    "status_code": None,
                    "error": f"{type(exc).__name__}: {exc}",
                }
                retry = True
            else:
                ok = response.is_success
                record = {
                    "status_code": response.status_code,
                    "error": None if ok else f"HTTP {response.status_code}",
                }
                retry = not ok and (response.status_code in _RETRIED or response.status_code >= 500)
                retry_after = _retry_after(response.headers.get("Retry-After"))
            record["attempt"] = attempt
            record["duration_ms"] = round((time.perf_counter() - started) * 1000, 3)
            done.append(record)
            if record["error"] is None:
                return Delivery(
                    url=url,
                    event=event,
                    delivery_id=delivery_id,
                    signed=secret.value is not None,
                    body_sha256=digest,
                    ok=True,
                    attempts=done,
                )
            if not retry or attempt == attempts:
                break
            pause(retry_after if retry_after is not None else backoff * 2 ** (attempt - 1))
    return Delivery(
        url=url,
        event=event,
        delivery_id=delivery_id,
        signed=secret.value is not None,
        body_sha256=digest,
        ok=False,
        attempts=done,
    )


def _retry_after(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        return None
    return min(max(seconds, 0.0), _MAX_RETRY_AFTER)
