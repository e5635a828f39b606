"""Audit use cases: verify the ledger and the records against it, and list entries.

Verification has two halves. First the ledger itself: every entry's stored bytes hash to its
leaf hash, entry numbers are contiguous, and every tree head's root is the RFC 6962 root of the
entries before it. Then the records: replaying the ledger must give exactly the models, tags,
versions and dataset fingerprints the tables hold, so a row changed by raw SQL is caught even
though it is not itself a ledger row.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from govml.domain.records import LedgerEntry
from govml.errors import IntegrityError, LedgerVerificationError
from govml.ledger.merkle import leaf_hash
from govml.ledger.verify import CheckpointRecord, EntryRecord, verify_ledger
from govml.services.context import ServiceContext
from govml.services.registry import record_digest, version_subject
from govml.store import records
from govml.store.ledger import iter_entries
from govml.store.schema import datasets, ledger_checkpoints, ledger_entries, models

_MODEL_FIELDS = ("owner", "risk_tier", "intended_use", "out_of_scope_use", "description")
_STATE_ACTIONS = (
    "model.created",
    "model.tag_set",
    "model.tag_removed",
    "version.registered",
    "dataset.recorded",
)


@dataclass(frozen=True, kw_only=True)
class VerifyResult:
    """What `govml audit verify` checked."""

    entries: int
    tree_heads: int
    root_hash: str
    models: int
    versions: int
    datasets: int

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-safe dictionary."""
        return {"ok": True, **asdict(self)}


class AuditService:
    """Ledger verification and the audit log."""

    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx

    def verify(self) -> VerifyResult:
        """Verify the ledger and the records against it.

        Raises
        ------
        LedgerVerificationError
            Naming the first ledger entry that does not match.
        IntegrityError
            Naming the first record that differs from what the ledger says.
        """
        with self.ctx.store.read() as conn:
            heads = [
                CheckpointRecord(
                    tree_size=row.tree_size,
                    root_hash=_hex(row.root_hash, f"tree head {row.tree_size}"),
                    frontier=list(row.frontier),
                )
                for row in conn.execute(
                    sa.select(ledger_checkpoints).order_by(ledger_checkpoints.c.tree_size)
                )
            ]
            report = verify_ledger(_entry_records(conn), heads)
            counts = _verify_records(conn)
        return VerifyResult(
            entries=report.entries,
            tree_heads=len(heads),
            root_hash=report.root_hex,
            models=counts["models"],
            versions=counts["versions"],
            datasets=counts["datasets"],
        )

    def log(
        self,
        *,
        model: str | None = None,
        action: str | None = None,
        limit: int | None = None,
    ) -> list[LedgerEntry]:
        """Return entries oldest first (the newest ``limit`` of them when a limit is given)."""
        with self.ctx.store.read() as conn:
            if model is not None:
                records.model_id(conn, model)  # unknown model → NotFoundError with a suggestion
            found = list(
                iter_entries(
                    conn, model=model, action=action, limit=limit, newest_first=limit is not None
                )
            )
        return sorted(found, key=lambda entry: entry.seq)


def _hex(value: str, what: str) -> bytes:
    try:
        return bytes.fromhex(value)
    except (TypeError, ValueError):
        raise LedgerVerificationError(f"{what} has a malformed hash {value!r}") from None


def _entry_records(conn: Connection) -> Iterator[EntryRecord]:
    rows = conn.execution_options(yield_per=10_000).execute(
        sa.select(ledger_entries).order_by(ledger_entries.c.seq)
    )
    for row in rows:
        stored_hash = _hex(row.leaf_hash, f"ledger entry {row.seq}")
        # The stored text must be exactly the leaf data; verify_ledger then checks that the
        # query columns and the payload re-encode to the same bytes.
        if leaf_hash(row.entry.encode("utf-8")) != stored_hash:
            raise LedgerVerificationError(
                f"ledger entry {row.seq}'s stored bytes do not match its leaf hash "
                f"{row.leaf_hash[:16]}…",
                seq=row.seq,
            )
        yield EntryRecord(
            seq=row.seq,
            time=row.time,
            actor=row.actor,
            action=row.action,
            subject=row.subject,
            payload=_payload(row.seq, row.entry),
            leaf_hash=stored_hash,
        )


def _payload(seq: int, entry: str) -> dict[str, Any]:
    try:
        payload = json.loads(entry)["payload"]
    except (ValueError, KeyError, TypeError):
        raise LedgerVerificationError(
            f"ledger entry {seq} is not a well-formed entry", seq=seq
        ) from None
    if not isinstance(payload, dict):
        raise LedgerVerificationError(f"ledger entry {seq} has no payload object", seq=seq)
    return payload


def _verify_records(conn: Connection) -> dict[str, int]:
    """Replay the ledger's state changes and compare them with the tables."""
    expected_models: dict[str, dict[str, Any]] = {}
    expected_versions: dict[str, tuple[int, str]] = {}
    expected_datasets: dict[str, tuple[int, str]] = {}
    for entry in iter_entries(conn, actions=_STATE_ACTIONS):
        payload = entry.payload
        if entry.action == "model.created":
            expected_models[payload["name"]] = {
                **{k: payload.get(k, "") for k in _MODEL_FIELDS},
                "tags": dict(payload.get("tags", {})),
                "seq": entry.seq,
            }
        elif entry.action in ("model.tag_set", "model.tag_removed"):
            name = entry.subject.removeprefix("model/")
            state = expected_models.setdefault(name, {"tags": {}, "seq": entry.seq})
            if entry.action == "model.tag_set":
                state["tags"][payload["key"]] = payload["value"]
            else:
                state["tags"].pop(payload["key"], None)
            state["seq"] = entry.seq
        elif entry.action == "version.registered":
            subject = version_subject(payload["model"], payload["version"])
            expected_versions[subject] = (entry.seq, payload["record_digest"])
        else:
            expected_datasets[payload["digest"]] = (entry.seq, payload["fingerprint_digest"])

    stored_models = {m.name: m for m in records.list_models(conn)}
    for name in sorted(set(stored_models) | set(expected_models)):
        _compare_model(name, stored_models.get(name), expected_models.get(name))

    n_versions = 0
    for name in sorted(stored_models):
        for version in records.list_versions(conn, name):
            n_versions += 1
            subject = version_subject(name, version.version)
            if subject not in expected_versions:
                raise IntegrityError(f"version {version.ref} has no version.registered entry")
            seq, digest = expected_versions.pop(subject)
            actual = record_digest(version.record())
            if actual != digest:
                raise IntegrityError(
                    f"version {version.ref} was changed after registration: its record hashes "
                    f"to {actual}, ledger entry {seq} says {digest}"
                )
    if expected_versions:
        missing = next(iter(expected_versions))
        raise IntegrityError(f"{missing} is in the ledger but missing from the database")

    n_datasets = 0
    for row in conn.execute(sa.select(datasets).order_by(datasets.c.digest)):
        n_datasets += 1
        if row.digest not in expected_datasets:
            raise IntegrityError(f"dataset {row.digest} has no dataset.recorded entry")
        seq, digest = expected_datasets.pop(row.digest)
        if record_digest(dict(row.fingerprint)) != digest:
            raise IntegrityError(
                f"dataset {row.digest}'s stored fingerprint was changed: it no longer matches "
                f"ledger entry {seq}"
            )
    if expected_datasets:
        raise IntegrityError(
            f"dataset {next(iter(expected_datasets))} is in the ledger but missing from the "
            "database"
        )
    n_models = conn.execute(sa.select(sa.func.count()).select_from(models)).scalar_one()
    return {"models": n_models, "versions": n_versions, "datasets": n_datasets}


def _compare_model(name: str, stored: Any, expected: dict[str, Any] | None) -> None:
    if expected is None:
        raise IntegrityError(f"model {name!r} has no model.created ledger entry")
    if stored is None:
        raise IntegrityError(f"model {name!r} is in the ledger but missing from the database")
    actual = {
        "owner": stored.owner,
        "risk_tier": stored.risk_tier.value,
        "intended_use": stored.intended_use,
        "out_of_scope_use": stored.out_of_scope_use,
        "description": stored.description,
        "tags": stored.tags,
    }
    for key, value in actual.items():
        if expected.get(key) != value:
            raise IntegrityError(
                f"model {name!r} differs from its ledger history: {key} is "
                f"{json.dumps(value)} in the database but {json.dumps(expected.get(key))} per "
                f"ledger entry {expected['seq']}"
            )
