"""Serving use cases: the challenger set-up of a model's gateway (off, shadow or canary).

The set-up is a row per model plus a ``serving.configured`` ledger entry per change, in one
transaction; changing it needs the deployer role. Gateways re-read it on their poll, together
with the alias they serve.
"""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from govml.domain.lifecycle import Permission
from govml.domain.serving import ServingConfig, check_serving
from govml.errors import IntegrityError
from govml.services.access import authorize
from govml.services.context import ServiceContext
from govml.services.registry import model_subject
from govml.store import records
from govml.store.ledger import NewEntry, append, iter_entries
from govml.store.schema import models, serving_configs


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
            stored = {"updated_at": now, "updated_by": self.ctx.actor}
            exists = conn.execute(
                sa.select(serving_configs.c.model_id).where(serving_configs.c.model_id == mid)
            ).first()
            if exists is None:
                conn.execute(sa.insert(serving_configs).values(model_id=mid, **values, **stored))
            else:
                conn.execute(
                    sa.update(serving_configs)
                    .where(serving_configs.c.model_id == mid)
                    .values(**values, **stored)
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
    mid = records.model_id(conn, name)
    row = conn.execute(sa.select(serving_configs).where(serving_configs.c.model_id == mid)).first()
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
    """Replay ``serving.configured`` entries and compare them with the table; return its rows.

    Raises `IntegrityError` naming the model whose set-up differs from its last entry.
    """
    expected: dict[str, tuple[int, dict[str, Any]]] = {}
    for entry in iter_entries(conn, actions=("serving.configured",)):
        payload = entry.payload
        expected[payload["model"]] = (
            entry.seq,
            {"mode": payload["mode"], "share": payload["share"], "key": payload["key"]},
        )
    rows = conn.execute(
        sa.select(serving_configs, models.c.name).join(
            models, models.c.id == serving_configs.c.model_id
        )
    ).all()
    for row in sorted(rows, key=lambda r: str(r.name)):
        seq, values = expected.pop(row.name, (None, None))
        if values is None:
            raise IntegrityError(f"serving set-up of {row.name!r} has no ledger entry")
        actual = {"mode": row.mode, "share": row.share, "key": row.key}
        for field, value in actual.items():
            if values[field] != value:
                raise IntegrityError(
                    f"serving set-up of {row.name!r} differs from ledger entry {seq}: {field} "
                    f"is {json.dumps(value)} in the database but {json.dumps(values[field])} "
                    "in the ledger"
                )
    if expected:
        raise IntegrityError(
            f"serving set-up of {next(iter(expected))!r} is in the ledger but missing from the "
            "database"
        )
    return len(rows)
