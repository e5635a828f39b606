"""The model card's editable fields: read, change (a ledgered revision), history.

What people write about a model (intended users, limitations, ethical risks, Annex IV items)
is kept apart from the documents that show it: `DocumentService` reads the fields to build
model cards and Annex IV, the documentation section of an evaluation reads them to check
that the policy's required fields are written, and both go through this service. Each
change is a new revision row (append-only) and a ``model.card_updated`` ledger entry, in one
transaction; `verify_card_records` replays the entries for ``govml audit verify``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy.engine import Connection

from govml.documents.fields import ModelCardFields, apply_changes
from govml.domain.lifecycle import Permission
from govml.errors import IntegrityError, NotFoundError
from govml.ledger.canonical import canonical_json
from govml.services.access import authorize
from govml.services.context import ServiceContext
from govml.services.registry import model_subject
from govml.store import card_records, records
from govml.store.ledger import NewEntry, append, iter_entries

CARD_UPDATED = "model.card_updated"
ERR_NO_REVISION = "model {name!r} has no card revision {revision} (it has {count})"


class CardFieldService:
    """Read and change a model's editable card fields."""

    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx

    def set(
        self, name: str, fields: Mapping[str, Any] | None = None, *, unset: Sequence[str] = ()
    ) -> ModelCardFields:
        """Set (or ``unset``) editable model card fields: a new revision, ledgered.

        Raises
        ------
        ValidationError
            On an unknown field or a bad value (naming the field), or nothing to change.
        ForbiddenError
            When the acting user may not register (contributors and admins may).
        """
        now = self.ctx.clock()
        with self.ctx.store.write() as conn:
            authorize(conn, self.ctx, Permission.REGISTER)
            mid = records.model_id(conn, name)
            current = latest_card(conn, name)
            updated, changed = apply_changes(current.fields, dict(fields or {}), list(unset))
            revision = current.revision + 1
            card_records.insert_revision(
                conn,
                model_id=mid,
                revision=revision,
                fields=updated,
                changed=changed,
                created_at=now,
                created_by=self.ctx.actor,
            )
            (entry,) = append(
                conn,
                actor=self.ctx.actor,
                now=now,
                entries=[
                    NewEntry(
                        action=CARD_UPDATED,
                        subject=model_subject(name),
                        payload=card_payload(name, revision, updated, changed),
                    )
                ],
            )
        return ModelCardFields(
            model=name,
            revision=revision,
            fields=updated,
            changed=tuple(changed),
            actor=self.ctx.actor,
            created_at=now,
            ledger_entry=entry.seq,
        )

    def get(self, name: str, *, revision: int | None = None) -> ModelCardFields:
        """Return a model's editable card fields, at the latest (or a given) revision.

        Revision 0, with no field, when nothing was written yet.

        Raises
        ------
        NotFoundError
            When the model does not exist, or has no such revision.
        """
        history = self.history(name)
        if revision is None:
            return history[-1] if history else ModelCardFields(model=name, revision=0)
        for item in history:
            if item.revision == revision:
                return item
        raise NotFoundError(
            ERR_NO_REVISION.format(name=name, revision=revision, count=len(history))
        )

    def history(self, name: str) -> list[ModelCardFields]:
        """Return every revision of a model's editable card fields, oldest first."""
        with self.ctx.store.read() as conn:
            records.model_id(conn, name)
            return card_history(conn, name)


def card_history(conn: Connection, name: str) -> list[ModelCardFields]:
    """Return every revision of model ``name``'s card fields with its ledger entry."""
    seqs = {
        int(e.payload["revision"]): e.seq
        for e in iter_entries(conn, action=CARD_UPDATED, model=name)
        if e.subject == model_subject(name)
    }
    return [
        ModelCardFields(
            model=name,
            revision=row.revision,
            fields=row.fields,
            changed=row.changed,
            actor=row.created_by,
            created_at=row.created_at,
            ledger_entry=seqs.get(row.revision),
        )
        for row in card_records.revisions(conn, name)
    ]


def latest_card(conn: Connection, name: str) -> ModelCardFields:
    """Return model ``name``'s card fields at their latest revision (revision 0: none)."""
    history = card_history(conn, name)
    return history[-1] if history else ModelCardFields(model=name, revision=0)


def fields_digest(fields: Mapping[str, Any]) -> str:
    """Return the digest a ``model.card_updated`` entry records for a set of fields."""
    return "sha256:" + hashlib.sha256(canonical_json(dict(fields))).hexdigest()


def card_payload(
    name: str, revision: int, fields: Mapping[str, Any], changed: Sequence[str]
) -> dict[str, Any]:
    """Return the payload of the ``model.card_updated`` entry of one revision."""
    return {
        "model": name,
        "revision": revision,
        "changed": list(changed),
        "fields": dict(fields),
        "fields_digest": fields_digest(fields),
    }


def verify_card_records(conn: Connection) -> int:
    """Replay ``model.card_updated`` entries against the card revisions; return the rows.

    Every revision row must have its entry (same model, revision, changed fields and the
    digest of the same fields) and every entry its row.

    Raises
    ------
    IntegrityError
        Naming the first model and revision whose row differs from, or lacks, its entry.
    """
    expected: dict[tuple[str, int], tuple[int, Mapping[str, Any]]] = {}
    for entry in iter_entries(conn, action=CARD_UPDATED):
        payload = entry.payload
        expected[(str(payload["model"]), int(payload["revision"]))] = (entry.seq, payload)
    rows = card_records.revisions(conn)
    for row in rows:
        what = f"card revision {row.revision} of {row.model!r}"
        found = expected.pop((row.model, row.revision), None)
        if found is None:
            raise IntegrityError(f"{what} has no {CARD_UPDATED} ledger entry")
        seq, recorded = found
        digest = fields_digest(row.fields)
        for part, actual, wanted in (
            ("fields hash to", digest, recorded.get("fields_digest")),
            ("recorded fields hash to", fields_digest(recorded.get("fields") or {}), digest),
            ("changed fields are", list(row.changed), recorded.get("changed")),
        ):
            if actual != wanted:
                raise IntegrityError(
                    f"{what} was changed after it was recorded: its {part} {actual}, "
                    f"ledger entry {seq} says {wanted}"
                )
    if expected:
        (name, revision), (seq, _) = min(expected.items(), key=lambda item: item[1][0])
        raise IntegrityError(
            f"card revision {revision} of {name!r} is in the ledger (entry {seq}) but missing "
            "from the database"
        )
    return len(rows)
