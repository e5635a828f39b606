"""Gateway keys: issue, list and revoke the scoped keys of a model's serving gateway.

Issuing and revoking need the ``deploy`` permission (deployer or admin): whoever decides
which version answers also decides who may call it. Each issue is a ``gateway_key.issued``
ledger entry (key id, model, scopes, hash, expiry, description; never the secret) and each
revocation a ``gateway_key.revoked`` entry, in the transaction that changes the table;
`verify_gateway_key_records` replays them for ``govml audit verify``.

Reading the keys (their hashes included) needs only an active user: the hash of a 256-bit
secret gives no way to find it, and the ledger that every reader may read already carries
each hash. A gateway in client mode reads them with its token this way.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.engine import Connection

from govml.domain.lifecycle import Permission
from govml.errors import (
    AlreadyExistsError,
    ForbiddenError,
    IntegrityError,
    NotFoundError,
    ValidationError,
)
from govml.services.access import MAX_TOKEN_DAYS, authorize
from govml.services.context import ServiceContext
from govml.services.registry import model_subject
from govml.serving.keys import (
    KEY_PREFIX,
    MAX_DESCRIPTION,
    GatewayKey,
    IssuedGatewayKey,
    key_hash,
    parse_scopes,
)
from govml.store import gateway_records, records
from govml.store.gateway_records import KeyRow
from govml.store.ledger import NewEntry, append, iter_entries

RECENT_DAYS = 30  # revoked or expired keys a gateway still names in its refusals
ISSUED = "gateway_key.issued"
REVOKED = "gateway_key.revoked"
ERR_NO_KEY = "model {model} has no gateway key {key_id}"
ERR_REVOKED = "gateway key {key_id} of {model} was already revoked on {when:%Y-%m-%d %H:%M} UTC"


def _record(row: KeyRow) -> GatewayKey:
    return GatewayKey(
        key_id=row.key_id,
        model=row.model,
        scopes=row.scopes,
        hash=row.hash,
        description=row.description,
        created_at=row.created_at,
        created_by=row.created_by,
        expires_at=row.expires_at,
        revoked_at=row.revoked_at,
        revoked_by=row.revoked_by,
    )


def key_days(value: int | None, *, cap: int, admin: bool) -> int:
    """Return a key lifetime in days: ``cap`` by default, more only for an admin.

    Keys live as user tokens do: at most ``GOVML_TOKEN_MAX_DAYS`` (``cap``) when a deployer
    issues them; an admin may give up to `MAX_TOKEN_DAYS`. Every key expires.
    """
    if value is None:
        return cap
    if not 1 <= value <= MAX_TOKEN_DAYS:
        raise ValidationError(
            f"expires_in_days: a gateway key lives 1 to {MAX_TOKEN_DAYS} days, got {value}; "
            "every key expires"
        )
    if value > cap and not admin:
        raise ForbiddenError(
            f"expires_in_days: {value} days is over the {cap}-day limit of a key a deployer "
            "issues (GOVML_TOKEN_MAX_DAYS)",
            hint=f"give at most {cap} days; an admin may issue a longer-lived key",
        )
    return value


class GatewayKeyService:
    """Issue, list and revoke gateway keys; give gateways the keys they accept."""

    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx

    def issue(
        self,
        model: str,
        *,
        scopes: Sequence[str],
        expires_in_days: int | None = None,
        description: str = "",
    ) -> IssuedGatewayKey:
        """Issue a key of model ``model`` with ``scopes``; the secret is returned only here.

        ``expires_in_days`` defaults to ``GOVML_TOKEN_MAX_DAYS`` (`key_days`).

        Raises
        ------
        ValidationError
            For an unknown scope, a lifetime out of range or a description too long.
        ForbiddenError
            When the acting user may not deploy, or a deployer asks for more days than
            ``GOVML_TOKEN_MAX_DAYS``.
        NotFoundError
            For an unknown model.
        """
        parsed = parse_scopes(scopes)
        if len(description) > MAX_DESCRIPTION:
            raise ValidationError(f"description: at most {MAX_DESCRIPTION} characters")
        now = self.ctx.clock()
        key_id = secrets.token_hex(8)
        secret = f"{KEY_PREFIX}_{key_id}_{secrets.token_urlsafe(32)}"
        with self.ctx.store.write() as conn:
            issuer = authorize(conn, self.ctx, Permission.DEPLOY)
            admin = Permission.ADMINISTER in issuer.permissions()
            days = key_days(expires_in_days, cap=self.ctx.token_max_days, admin=admin)
            mid = records.model_id(conn, model)
            if gateway_records.load_key(conn, key_id) is not None:  # 2**-64: never in practice
                raise AlreadyExistsError(f"gateway key id {key_id} is taken; issue again")
            key = GatewayKey(
                key_id=key_id,
                model=model,
                scopes=parsed,
                hash=key_hash(secret),
                description=description,
                created_at=now,
                created_by=self.ctx.actor,
                expires_at=now + timedelta(days=days),
            )
            gateway_records.insert_key(
                conn,
                mid,
                gateway_records.KeyRow(
                    key_id=key.key_id,
                    model=model,
                    scopes=key.scopes,
                    hash=key.hash,
                    description=key.description,
                    created_at=now,
                    created_by=key.created_by,
                    expires_at=key.expires_at,
                    revoked_at=None,
                    revoked_by=None,
                ),
            )
            self._ledger(conn, ISSUED, model, _issued_payload(key), now)
        return IssuedGatewayKey(key=key, secret=secret)

    def list_keys(self, model: str, *, include_revoked: bool = False) -> list[GatewayKey]:
        """Return the keys of model ``model``, oldest first (live ones unless asked)."""
        now = self.ctx.clock()
        with self.ctx.store.read() as conn:
            mid = records.model_id(conn, model)
            keys = [_record(row) for row in gateway_records.model_keys(conn, mid)]
        return keys if include_revoked else [key for key in keys if key.live(now)]

    def revoke(self, model: str, key_id: str) -> GatewayKey:
        """Revoke key ``key_id`` of model ``model``; gateways refuse it from their next poll.

        Raises
        ------
        NotFoundError
            When the model has no such key.
        AlreadyExistsError
            When the key was already revoked.
        ForbiddenError
            When the acting user may not deploy.
        """
        now = self.ctx.clock()
        with self.ctx.store.write() as conn:
            authorize(conn, self.ctx, Permission.DEPLOY)
            records.model_id(conn, model)
            row = gateway_records.load_key(conn, key_id)
            if row is None or row.model != model:
                raise NotFoundError(ERR_NO_KEY.format(model=model, key_id=key_id))
            if row.revoked_at is not None:
                raise AlreadyExistsError(
                    ERR_REVOKED.format(key_id=key_id, model=model, when=row.revoked_at)
                )
            gateway_records.revoke_key(conn, key_id, now=now, actor=self.ctx.actor)
            self._ledger(conn, REVOKED, model, {"model": model, "key_id": key_id}, now)
            return _record(gateway_records.load_key(conn, key_id) or row)

    def for_gateways(self) -> list[GatewayKey]:
        """Return every key a gateway must know: live ones and those ended recently.

        Keys of every model are returned, so that a gateway can tell a key of another model
        (403) from an unknown one (401).
        """
        since = self.ctx.clock() - timedelta(days=RECENT_DAYS)
        with self.ctx.store.read() as conn:
            return [_record(row) for row in gateway_records.gateway_keys_since(conn, since)]

    def _ledger(
        self, conn: Connection, action: str, model: str, payload: dict[str, Any], now: datetime
    ) -> None:
        append(
            conn,
            actor=self.ctx.actor,
            now=now,
            entries=[NewEntry(action=action, subject=model_subject(model), payload=payload)],
        )


def _issued_payload(key: GatewayKey) -> dict[str, Any]:
    return {
        "model": key.model,
        "key_id": key.key_id,
        "scopes": list(key.scopes),
        "hash": key.hash,
        "expires_at": key.expires_at.isoformat(),
        "description": key.description,
    }


# -- replay for `audit verify` ---------------------------------------------------------------


def verify_gateway_key_records(conn: Connection) -> int:
    """Replay ``gateway_key.*`` entries and compare them with the table; return its rows.

    Raises
    ------
    IntegrityError
        Naming the first key that differs from its ledger history: a key inserted, its
        scopes, hash or expiry changed, or its revocation undone by SQL.
    """
    expected: dict[str, dict[str, Any]] = {}
    for entry in iter_entries(conn, actions=(ISSUED, REVOKED)):
        payload = entry.payload
        key_id = str(payload["key_id"])
        if entry.action == ISSUED:
            expected[key_id] = {
                "model": payload["model"],
                "scopes": payload["scopes"],
                "hash": payload["hash"],
                "expires_at": payload["expires_at"],
                "description": payload["description"],
                "created_by": entry.actor,
                "revoked": False,
                "seq": entry.seq,
            }
            continue
        state = expected.get(key_id)
        if state is None:
            raise IntegrityError(
                f"ledger entry {entry.seq} revokes gateway key {key_id}, never issued"
            )
        state.update(revoked=True, revoked_by=entry.actor, seq=entry.seq)
    rows = gateway_records.all_keys(conn)
    for row in rows:
        want = expected.pop(row.key_id, None)
        if want is None:
            raise IntegrityError(f"gateway key {row.key_id} of {row.model!r} has no {ISSUED} entry")
        actual: dict[str, Any] = {
            "model": row.model,
            "scopes": list(row.scopes),
            "hash": row.hash,
            "expires_at": row.expires_at.isoformat(),
            "description": row.description,
            "created_by": row.created_by,
            "revoked": row.revoked_at is not None,
        }
        if row.revoked_at is not None:
            actual["revoked_by"] = row.revoked_by
        for field, value in actual.items():
            if want.get(field) != value:
                raise IntegrityError(
                    f"gateway key {row.key_id} differs from its ledger history: {field} is "
                    f"{json.dumps(value)} in the database but {json.dumps(want.get(field))} "
                    f"per ledger entry {want['seq']}"
                )
    if expected:
        raise IntegrityError(
            f"gateway key {next(iter(expected))} is in the ledger but missing from the database"
        )
    return len(rows)
