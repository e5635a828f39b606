"""Store administration: initialise, report status, upgrade the schema."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

import govml
from govml.services.context import ServiceContext
from govml.store.db import safe_url
from govml.store.ledger import NewEntry, append, latest_tree_head
from govml.store.schema import model_versions, models


class AdminService:
    """What `govml init` and `govml db` do."""

    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx

    def initialize(self) -> dict[str, Any]:
        """Record the store's creation in the ledger (once) and return its status."""
        with self.ctx.store.write() as conn:
            created = latest_tree_head(conn) is None
            if created:
                append(
                    conn,
                    actor=self.ctx.actor,
                    now=self.ctx.clock(),
                    entries=[
                        NewEntry(
                            action="store.initialized",
                            subject="store",
                            payload={
                                "govml_version": govml.__version__,
                                "schema_revision": self.ctx.store.head_revision(),
                            },
                        )
                    ],
                )
        self.ctx.artifacts.root.mkdir(parents=True, exist_ok=True)
        return {**self.status(), "created": created}

    def status(self) -> dict[str, Any]:
        """Return where the store is, its schema revision and its size."""
        with self.ctx.store.read() as conn:
            head = latest_tree_head(conn)
            n_models = conn.execute(sa.select(sa.func.count()).select_from(models)).scalar_one()
            n_versions = conn.execute(
                sa.select(sa.func.count()).select_from(model_versions)
            ).scalar_one()
        return {
            "database": safe_url(self.ctx.store.url),
            "dialect": self.ctx.store.dialect,
            "artifacts": str(self.ctx.artifacts.root),
            "schema_revision": self.ctx.store.current_revision(),
            "schema_head": self.ctx.store.head_revision(),
            "models": n_models,
            "versions": n_versions,
            "ledger_size": head.tree_size if head else 0,
            "ledger_root": head.root_hash if head else None,
            "actor": self.ctx.actor,
        }
