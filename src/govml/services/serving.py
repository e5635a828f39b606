"""Serving use cases: the challenger set-up of a model's gateway (off, shadow or canary).

The set-up is a row per model plus a ``serving.configured`` ledger entry per change, in one
transaction; changing it needs the deployer role. Gateways re-read it on their poll, together
with the alias they serve and their keys (:mod:`govml.services.gateway_keys`).
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy.engine import Connection

from govml.domain.lifecycle import Permission
from govml.domain.serving import ServingConfig, check_serving
from govml.errors import IntegrityError
from govml.services.access import authorize
from govml.services.context import ServiceContext
from govml.services.gateway_keys import verify_gateway_key_records
from govml.services.registry import model_subject
from govml.store import gateway_records, records
from govml.store.ledger import NewEntry, append, iter_entries


class ServingService:
    """Read and change how a model's gateway uses its challenger."""

    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx

    def get(self, name: str) -> ServingConfig:
        """Return model ``name``'s serving set-up (``off`` when never configured)."""
        with self.ctx.store.read() as conn:
            return serving_config(conn, name)

    def configure(
        self, name: str, *, mode: str, share: float | None = None, key: str | None = None
    ) -> ServingConfig:
        """Set model ``name``'s challenger to ``off``, ``shadow`` or ``canary`` (with ``share``).

        Raises
        ------
        ValidationError
            Naming the field (mode, share or key) that is inconsistent.
        ForbiddenError
            When the acting user may not deploy.
        """
        check_serving(mode, share, key)
        now = self.ctx.clock()
        with self.ctx.store.write() as conn:
            authorize(conn, self.ctx, Permission.DEPLOY)
            mid = records.model_id(conn, name)
            values: dict[str, Any] = {"mode": mode, "share": share, "key": key}
            gateway_records.save_serving(
                conn, mid, {**values, "updated_at": now, "updated_by": self.ctx.actor}
            )
            append(
                conn,
                actor=self.ctx.actor,
                now=now,
                entries=[
                    NewEntry(
                        action="serving.configured",
                        subject=model_subject(name),
                        payload={"model": name, **values},
                    )
                ],
            )
            return ServingConfig(
                model=name,
                mode=mode,
                share=share,
                key=key,
                updated_at=now,
                updated_by=self.ctx.actor,
            )


def serving_config(conn: Connection, name: str) -> ServingConfig:
    """Return model ``name``'s serving set-up inside a transaction (``off`` by default)."""
    row = gateway_records.load_serving(conn, records.model_id(conn, name))
    if row is None:
        return ServingConfig(model=name)
    return ServingConfig(
        model=name,
        mode=row.mode,
        share=row.share,
        key=row.key,
        updated_at=row.updated_at,
        updated_by=row.updated_by,
    )


def verify_serving_records(conn: Connection) -> int:
    """Replay ``serving.configured`` and ``gateway_key.*`` entries against their tables.

    Returns the number of serving set-ups. Raises `IntegrityError` naming the model whose
    set-up differs from its last entry, or the gateway key that differs from its history.
    """
    expected: dict[str, tuple[int, dict[str, Any]]] = {}
    for entry in iter_entries(conn, actions=("serving.configured",)):
        payload = entry.payload
        expected[payload["model"]] = (
            entry.seq,
            {"mode": payload["mode"], "share": payload["share"], "key": payload["key"]},
        )
    rows = gateway_records.all_serving(conn)
    for row in rows:
        seq, values = expected.pop(row.model, (None, None))
        if values is None:
            raise IntegrityError(f"serving set-up of {row.model!r} has no ledger entry")
        actual = {"mode": row.mode, "share": row.share, "key": row.key}
        for field, value in actual.items():
            if values[field] != value:
                raise IntegrityError(
                    f"serving set-up of {row.model!r} differs from ledger entry {seq}: {field} "
                    f"is {json.dumps(value)} in the database but {json.dumps(values[field])} "
                    "in the ledger"
                )
    if expected:
        raise IntegrityError(
            f"serving set-up of {next(iter(expected))!r} is in the ledger but missing from the "
            "database"
        )
    verify_gateway_key_records(conn)
    from govml.services.oversight import verify_oversight_records

    verify_oversight_records(conn)
    return len(rows)
