"""Store administration: initialise, report status, upgrade the schema."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import govml
from govml.errors import IntegrityError
from govml.ledger.canonical import entry_bytes
from govml.ledger.merkle import leaf_hash
from govml.services.access import bootstrap
from govml.services.context import ServiceContext
from govml.store.audit_records import count_models, count_versions
from govml.store.checkpoints import (
    KEY_ACTION,
    key_entry_payload,
    key_subject,
    ledger_origin,
    origin_of,
    recorded_key,
)
from govml.store.db import safe_url
from govml.store.keys import ensure_key, key_paths
from govml.store.ledger import NewEntry, append, format_time, latest_tree_head


class AdminService:
    """What `govml init` and `govml db` do."""

    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx

    def initialize(self) -> dict[str, Any]:
        """Record the store's creation in the ledger (once), set up the signing key, report.

        The ledger's Ed25519 key is created in ``$GOVML_HOME/keys`` when this home has none
        for this ledger, and recorded in the ledger (``ledger.key_added``) when the ledger
        does not know it yet: `govml audit checkpoint` signs only with a recorded key.
        """
        key_created = False
        now = self.ctx.clock()
        with self.ctx.store.write() as conn:
            created = latest_tree_head(conn) is None
            entries: list[NewEntry] = []
            if created:
                first = NewEntry(
                    action="store.initialized",
                    subject="store",
                    payload={
                        "govml_version": govml.__version__,
                        "schema_revision": self.ctx.store.head_revision(),
                    },
                )
                entries.append(first)
                origin: str | None = origin_of(self._first_leaf_hash(first, now))
            else:
                origin = ledger_origin(conn)
            if self.ctx.keys is not None and origin is not None:
                signer, key_created = ensure_key(self.ctx.keys, origin)
                verifier = signer.verifier()
                if recorded_key(conn, verifier.label) is None:
                    entries.append(
                        NewEntry(
                            action=KEY_ACTION,
                            subject=key_subject(verifier),
                            payload=key_entry_payload(verifier),
                        )
                    )
            # One transaction, one append, one tree head: every tree head closes a transaction.
            written = append(conn, actor=self.ctx.actor, now=now, entries=entries)
            if created and origin_of(written[0].leaf_hash) != origin:
                raise IntegrityError("entry 0 was not written as expected; nothing was stored")
            bootstrap(conn, self.ctx)  # local mode: whoever creates the store is its admin
        self.ctx.artifacts.ensure()
        return {**self.status(), "created": created, "key_created": key_created}

    def _first_leaf_hash(self, first: NewEntry, now: datetime) -> str:
        """Return the leaf hash entry 0 will have, which names the ledger and its key."""
        data = entry_bytes(
            seq=0,
            time=format_time(now),
            actor=self.ctx.actor,
            action=first.action,
            subject=first.subject,
            payload=first.payload,
        )
        return leaf_hash(data).hex()

    def status(self) -> dict[str, Any]:
        """Return where the store is, its schema revision, its size and its signing key."""
        with self.ctx.store.read() as conn:
            head = latest_tree_head(conn)
            n_models = count_models(conn)
            n_versions = count_versions(conn)
            origin = ledger_origin(conn)
        signing_key = None
        if self.ctx.keys is not None and origin is not None:
            _, public = key_paths(self.ctx.keys, origin)
            signing_key = str(public) if public.is_file() else None
        return {
            "database": safe_url(self.ctx.store.url),
            "dialect": self.ctx.store.dialect,
            "artifacts": self.ctx.artifacts.location,
            "schema_revision": self.ctx.store.current_revision(),
            "schema_head": self.ctx.store.head_revision(),
            "models": n_models,
            "versions": n_versions,
            "ledger_size": head.tree_size if head else 0,
            "ledger_root": head.root_hash if head else None,
            "ledger_origin": origin,
            "signing_key": signing_key,
            "actor": self.ctx.actor,
        }
