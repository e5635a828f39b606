"""Gateway keys: scoped credentials of a model's serving gateway, and how a gateway checks them.

A gateway key looks like ``gwk_<id>_<secret>``: a public id of 16 hex digits and a 256-bit
random secret. It is printed once when a deployer issues it (``govml serving keys add``); the
store keeps only the SHA-256 of the whole key, looked up by its id and compared in constant
time (a hash of a high-entropy secret needs no slow KDF, and the hash is published in the
ledger's ``gateway_key.issued`` entry anyway).

A key belongs to one model and carries scopes:

================ ==========================================================================
``predict``      ``POST /predict`` (and ``GET /version``)
``feedback``     ``POST /feedback`` (and ``GET /version``): one label per record
``correct_labels`` with ``feedback``: a second label for a labelled record, kept as a correction
``metrics``      ``GET /metrics`` when the gateway runs with ``--metrics-auth``
================ ==========================================================================

Every key expires. A gateway holds the keys of the store in memory (`KeyRing`), refreshed on
each poll of the registry, so a revocation takes effect within one poll interval and no
request reads the database.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from govml.errors import ValidationError, did_you_mean

KEY_PREFIX = "gwk"
PREDICT = "predict"
FEEDBACK = "feedback"
CORRECT_LABELS = "correct_labels"
METRICS = "metrics"
SCOPES = (PREDICT, FEEDBACK, CORRECT_LABELS, METRICS)
MAX_DESCRIPTION = 500

ERR_NO_KEY = (
    "no gateway key: send the header `Authorization: Bearer KEY` with a key of {model} "
    "(a deployer issues one with `govml serving keys add {model} --scope {scope}`)"
)
ERR_MALFORMED = "malformed gateway key: gateway keys look like gwk_<id>_<secret>"
ERR_UNKNOWN = "invalid gateway key: it is not a key of this gateway's store"
ERR_REVOKED = "gateway key {key_id} was revoked on {when:%Y-%m-%d %H:%M} UTC"
ERR_EXPIRED = "gateway key {key_id} expired on {when:%Y-%m-%d %H:%M} UTC"
ERR_OTHER_MODEL = "gateway key {key_id} is a key of model {other}, not of {model}"
ERR_SCOPE = "gateway key {key_id} may not {verb}: its scopes are {scopes}"
ERR_ANY_SCOPE = "use this endpoint (scope {scopes})"
HINT_NEW_KEY = "a deployer issues a new one with `govml serving keys add {model} --scope {scope}`"
_VERBS = {
    PREDICT: "ask for predictions (scope predict)",
    FEEDBACK: "send labels (scope feedback)",
    CORRECT_LABELS: "correct a label already given (scope correct_labels)",
    METRICS: "read the metrics (scope metrics)",
}


def key_hash(key: str) -> str:
    """Return the hex SHA-256 of a gateway key, the only form in which it is stored."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def key_id_of(key: str) -> str | None:
    """Return the public id of a well-formed key, or None."""
    parts = key.split("_", 2)
    if len(parts) != 3 or parts[0] != KEY_PREFIX or len(parts[1]) != 16 or not parts[2]:
        return None
    if any(c not in "0123456789abcdef" for c in parts[1]):
        return None
    return parts[1]


def parse_scopes(scopes: Iterable[str]) -> tuple[str, ...]:
    """Return the scopes named (``"predict,feedback"`` items split), in canonical order.

    Raises
    ------
    ValidationError
        For no scope, an unknown one (with a suggestion), or ``correct_labels`` without
        ``feedback``.
    """
    named = {part.strip() for item in scopes for part in str(item).split(",") if part.strip()}
    if not named:
        raise ValidationError(f"scope: give at least one of {', '.join(SCOPES)}")
    for scope in sorted(named):
        if scope not in SCOPES:
            raise ValidationError(
                f"scope: {scope!r} is not one of {', '.join(SCOPES)}",
                hint=did_you_mean(scope, SCOPES),
            )
    if CORRECT_LABELS in named and FEEDBACK not in named:
        raise ValidationError(
            "scope: correct_labels corrects labels sent with feedback; give feedback too"
        )
    return tuple(scope for scope in SCOPES if scope in named)


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _time(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


@dataclass(frozen=True, kw_only=True)
class GatewayKey:
    """A gateway key as the store knows it: everything but the secret."""

    key_id: str
    model: str
    scopes: tuple[str, ...]
    hash: str
    description: str
    created_at: datetime
    created_by: str
    expires_at: datetime
    revoked_at: datetime | None = None
    revoked_by: str | None = None

    def live(self, now: datetime) -> bool:
        """Whether the key is neither revoked nor expired at ``now``."""
        return self.revoked_at is None and now < self.expires_at

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-safe dictionary."""
        return {
            "key_id": self.key_id,
            "model": self.model,
            "scopes": list(self.scopes),
            "hash": self.hash,
            "description": self.description,
            "created_at": self.created_at.isoformat(),
            "created_by": self.created_by,
            "expires_at": self.expires_at.isoformat(),
            "revoked_at": _iso(self.revoked_at),
            "revoked_by": self.revoked_by,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> GatewayKey:
        """Inverse of `to_dict`."""
        expires = _time(data["expires_at"])
        created = _time(data["created_at"])
        assert expires is not None and created is not None
        return cls(
            key_id=str(data["key_id"]),
            model=str(data["model"]),
            scopes=tuple(str(s) for s in data["scopes"]),
            hash=str(data["hash"]),
            description=str(data.get("description") or ""),
            created_at=created,
            created_by=str(data["created_by"]),
            expires_at=expires,
            revoked_at=_time(data.get("revoked_at")),
            revoked_by=data.get("revoked_by"),
        )


@dataclass(frozen=True, kw_only=True)
class IssuedGatewayKey:
    """A key just issued: its record and the secret, shown this once."""

    key: GatewayKey
    secret: str

    def to_dict(self) -> dict[str, Any]:
        """Return the record with the secret as ``key``."""
        return {**self.key.to_dict(), "key": self.secret}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> IssuedGatewayKey:
        """Inverse of `to_dict`."""
        return cls(key=GatewayKey.from_dict(data), secret=str(data["key"]))


@dataclass(frozen=True)
class Refusal:
    """Why a request's key was refused: 401 (who are you?) or 403 (not allowed)."""

    status: int
    message: str
    hint: str | None = None


@dataclass(frozen=True)
class Caller:
    """The key a request was authenticated with."""

    key_id: str
    scopes: frozenset[str]

    def may(self, scope: str) -> bool:
        """Whether the key holds ``scope``."""
        return scope in self.scopes


@dataclass(frozen=True)
class _Entry:
    model: str
    hash: str
    scopes: frozenset[str]
    expires_at: float
    expires: datetime
    revoked: datetime | None


class KeyRing:
    """The gateway keys a gateway accepts, held in memory and replaced whole on each poll.

    Parameters
    ----------
    model : str
        The gateway's model: keys of other models are refused with 403.
    keys : sequence of GatewayKey
        The store's keys (revoked and expired ones too, for precise refusals).
    """

    def __init__(self, model: str, keys: Sequence[GatewayKey] = ()) -> None:
        self.model = model
        self._keys = {
            key.key_id: _Entry(
                model=key.model,
                hash=key.hash,
                scopes=frozenset(key.scopes),
                expires_at=key.expires_at.timestamp(),
                expires=key.expires_at,
                revoked=key.revoked_at,
            )
            for key in keys
        }

    def __len__(self) -> int:
        return len(self._keys)

    def live_count(self, now: float) -> int:
        """Return how many keys of this model are neither revoked nor expired."""
        return sum(
            1
            for entry in self._keys.values()
            if entry.model == self.model and entry.revoked is None and now < entry.expires_at
        )

    def check(self, authorization: bytes | None, scopes: Sequence[str], now: float) -> Caller:
        """Return the caller when ``authorization`` holds a live key of any of ``scopes``.

        Parameters
        ----------
        authorization : bytes or None
            The request's ``Authorization`` header.
        scopes : sequence of str
            The scopes that allow the endpoint (any one is enough).
        now : float
            ``time.time()``.

        Raises
        ------
        KeyRefused
            401 for a missing, malformed, unknown, revoked or expired key; 403 for a key of
            another model or without the scope.
        """
        wanted = scopes[0]
        if authorization is None:
            raise KeyRefused(Refusal(401, ERR_NO_KEY.format(model=self.model, scope=wanted)))
        scheme, _, token = authorization.decode("latin-1").strip().partition(" ")
        key = token.strip()
        if scheme.lower() != "bearer" or not key:
            raise KeyRefused(Refusal(401, ERR_NO_KEY.format(model=self.model, scope=wanted)))
        key_id = key_id_of(key)
        if key_id is None:
            raise KeyRefused(Refusal(401, ERR_MALFORMED))
        entry = self._keys.get(key_id)
        # The id is public; the secret is compared in constant time, and an unknown id costs
        # the same hash as a known one.
        digest = key_hash(key)
        if entry is None or not hmac.compare_digest(entry.hash, digest):
            raise KeyRefused(Refusal(401, ERR_UNKNOWN))
        hint = HINT_NEW_KEY.format(model=self.model, scope=wanted)
        if entry.revoked is not None:
            raise KeyRefused(
                Refusal(401, ERR_REVOKED.format(key_id=key_id, when=entry.revoked), hint)
            )
        if now >= entry.expires_at:
            message = ERR_EXPIRED.format(key_id=key_id, when=entry.expires.astimezone(UTC))
            raise KeyRefused(Refusal(401, message, hint))
        if entry.model != self.model:
            message = ERR_OTHER_MODEL.format(key_id=key_id, other=entry.model, model=self.model)
            raise KeyRefused(Refusal(403, message))
        if not any(scope in entry.scopes for scope in scopes):
            held = ", ".join(s for s in SCOPES if s in entry.scopes)
            verb = (
                _VERBS[wanted]
                if len(scopes) == 1
                else ERR_ANY_SCOPE.format(scopes=" or ".join(scopes))
            )
            message = ERR_SCOPE.format(key_id=key_id, verb=verb, scopes=held)
            raise KeyRefused(Refusal(403, message, hint))
        return Caller(key_id, entry.scopes)


class KeyRefused(Exception):
    """A request's key does not allow it (see `Refusal`)."""

    def __init__(self, refusal: Refusal) -> None:
        super().__init__(refusal.message)
        self.refusal = refusal
