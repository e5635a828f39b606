"""Audit use cases: verify the ledger and the records against it, and list entries.

Verification has three parts. First the ledger itself: every entry's stored bytes hash to its
leaf hash, entry numbers are contiguous, the query columns are the entry's fields, and every
tree head is the RFC 6962 tree of the entries before it (one fast pass over the raw rows, split
over worker processes for a large ledger; when it finds a problem, the reference verifier names
the first bad entry). Then its signed
checkpoints: each stored signed note is signed by a key the ledger records and states the root
of its tree head, and, given a checkpoint kept elsewhere, the ledger is proven to extend it
(RFC 9162 consistency). Finally the records: replaying the ledger must give exactly the
models, tags, versions and dataset fingerprints the tables hold, so a row changed by raw SQL is
caught even though it is not itself a ledger row. Last the artifacts: each stored artifact of a
version that holds an alias (of every version, with ``artifacts=True``) is re-hashed against the
digest its version records, so bytes changed or removed on disk are caught before a gateway or
an evaluation trips over them.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy.engine import Connection

from govml.domain.records import LedgerEntry, ModelVersion
from govml.errors import InputError, IntegrityError, LedgerVerificationError
from govml.ledger.checkpoint import Checkpoint, VerifierKey, open_checkpoint, verify_checkpoint
from govml.ledger.merkle import (
    Frontier,
    fold_frontier,
    leaf_hash,
    subtree_ranges,
    verify_consistency,
)
from govml.ledger.tree import MerkleTree, consistency_path
from govml.ledger.verify import CheckpointRecord, EntryRecord, VerifyReport, verify_ledger
from govml.services.context import ServiceContext
from govml.services.evaluation_replay import verify_evaluation_records
from govml.services.proofs import note_origin, read_checkpoint_file, trusted_keys
from govml.store import records
from govml.store.audit_records import count_models, dataset_fingerprints, ledger_rows
from govml.store.checkpoints import (
    StoredBlocks,
    note_keys,
    read_tree,
    require_origin,
    signed_heads,
    use_snapshot,
)
from govml.store.ledger import iter_entries
from govml.store.ledger_check import RowCheck, reference_heads

_T = TypeVar("_T")
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
    """What `govml audit verify` checked.

    ``checkpoint`` describes the external checkpoint the ledger was proven to extend, when
    one was given: its size, root, and the key that signed it. ``artifacts`` says which
    artifacts were re-hashed: ``scope`` (``aliased``: those of versions holding an alias;
    ``all``), the number of distinct artifacts ``checked`` and the ``versions`` they belong to.
    """

    entries: int
    tree_heads: int
    root_hash: str
    models: int
    versions: int
    datasets: int
    policies: int = 0
    evaluations: int = 0
    users: int = 0
    approvals: int = 0
    alias_changes: int = 0
    card_revisions: int = 0
    monitoring_runs: int = 0
    monitoring_points: int = 0
    monitoring_actions: int = 0
    signed_checkpoints: int = 0
    checkpoint: dict[str, Any] | None = None
    artifacts: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-safe dictionary."""
        return {"ok": True, **asdict(self)}


class AuditService:
    """Ledger verification and the audit log."""

    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx

    def verify(
        self,
        *,
        checkpoint: str | None = None,
        key: str | None = None,
        artifacts: bool = False,
        progress: Callable[[int, int], None] | None = None,
    ) -> VerifyResult:
        """Verify the ledger, its signed checkpoints, the records against it, and artifacts.

        Parameters
        ----------
        checkpoint
            Text of a checkpoint file kept elsewhere (a signed note, the JSON of ``audit
            checkpoint --json``, or a proof bundle): the ledger must extend it.
        key
            Text of the public key file to check that checkpoint with; default: the keys in
            this home's key folder.
        artifacts
            Re-hash the artifact of every version; by default only those of versions that
            hold an alias (what is served or about to be).
        progress
            Called with ``(done, total)`` as artifacts are re-hashed.

        Raises
        ------
        LedgerVerificationError
            Naming the first ledger entry that does not match, when it can be named.
        IntegrityError
            Naming the first record that differs from what the ledger says, or every artifact
            whose bytes no longer hash to its recorded digest or that is missing.
        InputError
            If a checkpoint is given but no key to check it with.
        """
        with self.ctx.store.read() as conn:
            use_snapshot(conn)
            with RowCheck(conn, meanwhile=REPLAY_WORK) as rows:
                # While worker processes check the rest of a large ledger, this process loads
                # the record replays (their services import the policy engine and metrics:
                # a second of CPU, spent while the workers run), checks its own range, then
                # the signed checkpoints and the records; what those find is reported only
                # once the ledger itself has passed, in the same order as when each check
                # runs after the one before.
                from govml.services.card_fields import verify_card_records
                from govml.services.lifecycle import verify_lifecycle_records
                from govml.services.monitoring import verify_monitoring_records
                from govml.services.policy import verify_policy_records

                if not rows.check_here():
                    _verify_ledger(conn, rows)  # raises: the first range does not pass
                signed_heads_ = _Deferred(_verify_signed_heads, conn)
                counts_ = _Deferred(_verify_records, conn)
                policies_ = _Deferred(verify_policy_records, conn)
                evaluations_ = _Deferred(verify_evaluation_records, conn)
                lifecycle_ = _Deferred(verify_lifecycle_records, conn)
                cards_ = _Deferred(verify_card_records, conn)
                monitoring_ = _Deferred(verify_monitoring_records, conn)
                report = _verify_ledger(conn, rows)
            signed = signed_heads_.result()
            external = None
            if checkpoint is not None:
                external = self._verify_extends(conn, checkpoint, key, report)
            counts = counts_.result()
            policies = policies_.result()
            evaluations = evaluations_.result()
            lifecycle = lifecycle_.result()
            cards = cards_.result()
            monitoring = monitoring_.result()
            versions = _versions_to_rehash(conn, everything=artifacts)
        checked = self._verify_artifacts(versions, progress)
        return VerifyResult(
            entries=report.entries,
            tree_heads=report.checkpoints,
            root_hash=report.root_hex,
            models=counts["models"],
            versions=counts["versions"],
            datasets=counts["datasets"],
            policies=policies,
            evaluations=evaluations,
            users=lifecycle["users"],
            approvals=lifecycle["approvals"],
            alias_changes=lifecycle["alias_changes"],
            card_revisions=cards,
            monitoring_runs=monitoring["monitoring_runs"],
            monitoring_points=monitoring["monitoring_points"],
            monitoring_actions=monitoring["monitoring_actions"],
            signed_checkpoints=signed,
            checkpoint=external,
            artifacts={
                "scope": "all" if artifacts else "aliased",
                "checked": checked,
                "versions": [version.ref for version in versions],
            },
        )

    def _verify_artifacts(
        self, versions: Sequence[ModelVersion], progress: Callable[[int, int], None] | None
    ) -> int:
        """Re-hash each distinct artifact; raise naming every version whose artifact is bad."""
        users: dict[str, list[str]] = {}
        for version in versions:
            users.setdefault(version.artifact_digest, []).append(version.ref)
        problems: list[str] = []
        for done, (digest, refs) in enumerate(sorted(users.items()), start=1):
            what = self.ctx.artifacts.problem(digest)
            if what is not None:
                # Named by version and digest only: the store's folder is not for the message.
                problems.append(f"{', '.join(refs)} ({digest}): {what}")
            if progress is not None:
                progress(done, len(users))
        if problems:
            raise IntegrityError(
                ERR_ARTIFACTS.format(count=len(problems), problems="; ".join(problems)),
                hint=HINT_ARTIFACTS,
            )
        return len(users)

    def _verify_extends(
        self, conn: Connection, text: str, key: str | None, report: VerifyReport
    ) -> dict[str, Any]:
        """Check that the ledger extends a checkpoint signed by a trusted key."""
        note, frontier = read_checkpoint_file(text)
        trusted = trusted_keys(self.ctx, key, name=note_origin(note))
        # 1. A trusted key signed it, and it is a checkpoint of this ledger.
        old, signer = verify_checkpoint(note, trusted)
        origin = require_origin(conn)
        if old.origin != origin:
            raise LedgerVerificationError(
                f"the checkpoint is of the log {old.origin}, but this ledger is {origin}: a "
                "checkpoint of another store, or entry 0 (which names the ledger) was rewritten",
                seq=0,
            )
        hashes = _checked_frontier(old, frontier)
        # 2. The ledger still holds every entry the checkpoint covers.
        if old.tree_size > report.tree_size:
            raise LedgerVerificationError(
                ERR_TRUNCATED.format(
                    entries=report.tree_size,
                    size=old.tree_size,
                    missing=_missing(report.tree_size, old.tree_size - 1),
                ),
                seq=report.tree_size,
            )
        # 3. RFC 9162 consistency: the current tree (whose root the ledger pass computed)
        #    extends the checkpoint's. The proof's subtrees come from the tree heads, as for
        #    `audit proof`; only when it does not verify is the whole tree read, to name the
        #    earliest entry that can have been rewritten.
        new_root = bytes.fromhex(report.root_hex)
        try:
            verify_consistency(
                old_size=old.tree_size,
                new_size=report.tree_size,
                old_root=old.root_hash,
                new_root=new_root,
                proof=consistency_path(old.tree_size, report.tree_size, StoredBlocks(conn)),
            )
        except LedgerVerificationError:
            tree = read_tree(conn, report.tree_size)
            if tree.root() != new_root:
                raise IntegrityError("the ledger changed while it was being verified") from None
            raise _rewritten_since(conn, tree, old, hashes, trusted) from None
        return {"tree_size": old.tree_size, "root_hash": old.root_hash.hex(), "key": signer.label}

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


REPLAY_WORK = 150_000
"""Loading and running the record replays (about a second of CPU, most of it importing the
services) costs about what checking 150,000 entries without tree heads does (measured on a
million entries: 1.2 s of CPU for the replays against 9.2 s for the entries)."""
ERR_TRUNCATED = "the ledger has {entries} entries but the checkpoint covers {size}: {missing}"
ERR_ARTIFACTS = "{count} artifact(s) do not match the digest their versions record: {problems}"
HINT_ARTIFACTS = "restore the files from a backup; govml will not load changed bytes"


def _versions_to_rehash(conn: Connection, *, everything: bool) -> list[ModelVersion]:
    """Return every version (``everything``) or those holding an alias, by model and number."""
    found = []
    for model in records.list_models(conn):
        for version in records.list_versions(conn, model.name):
            if everything or version.aliases:
                found.append(version)
    return found


ERR_REWRITTEN_SINCE = "the ledger was rewritten since the checkpoint at size {size}: {what}"


class _Deferred(Generic[_T]):
    """A check run now whose outcome, a value or an exception, is given later by `result`."""

    def __init__(self, check: Callable[[Connection], _T], conn: Connection) -> None:
        self._error: Exception | None = None
        try:
            self._value = check(conn)
        except Exception as error:  # raised again by result(), in its turn
            self._error = error

    def result(self) -> _T:
        """Return the check's value, or raise the exception it raised."""
        if self._error is not None:
            raise self._error
        return self._value


def _verify_ledger(conn: Connection, rows: RowCheck) -> VerifyReport:
    """Check the stored rows in one fast pass; on a problem, let the reference pass name it."""
    try:
        return rows.finish()
    except LedgerVerificationError as error:
        problem = error
    # The reference verifier decodes every entry and re-encodes it; it knows which entry a
    # failed tree head points to. When it finds nothing, the fast pass's finding stands (it
    # checks a few things more: tree head times, entries past the last tree head).
    checkpoints = [
        CheckpointRecord(
            tree_size=size,
            root_hash=_hex(root, f"the tree head at size {size}"),
            frontier=frontier,  # type: ignore[arg-type]  # verify_ledger judges malformed ones
        )
        for size, root, frontier in reference_heads(conn)
    ]
    verify_ledger(_entry_records(conn), checkpoints)
    raise problem


def _verify_signed_heads(conn: Connection) -> int:
    """Check every stored signed checkpoint; return how many there are.

    Each must be signed by a key the ledger recorded before it, be of this ledger, and state
    the size and root of the tree head it is stored with (whose root the ledger pass has
    checked against the entries).
    """
    heads = signed_heads(conn)
    if not heads:
        return 0
    origin = require_origin(conn)
    vouched = 0
    for head in heads:
        assert head.signed_note is not None
        try:
            keys = note_keys(conn, head.signed_note)
            usable = [key for seq, key in keys if seq < head.tree_size]
            signed = open_checkpoint(head.signed_note, usable)
        except LedgerVerificationError as error:
            raise LedgerVerificationError(
                f"the signed checkpoint at size {head.tree_size} does not verify: {error.message}"
            ) from None
        if signed.tree_size != head.tree_size:
            raise LedgerVerificationError(
                f"the tree head at size {head.tree_size} holds the signed checkpoint of size "
                f"{signed.tree_size}"
            )
        if signed.root_hash.hex() != head.root_hash:
            what = _differs(vouched, head.tree_size - 1) + " (along with the tree heads)"
            raise LedgerVerificationError(
                ERR_REWRITTEN_SINCE.format(size=head.tree_size, what=what), seq=vouched
            )
        if signed.origin != origin:
            raise LedgerVerificationError(
                f"the signed checkpoint at size {head.tree_size} is of the log {signed.origin}, "
                f"not of this ledger ({origin}): entry 0, which names the ledger, was rewritten",
                seq=0,
            )
        vouched = head.tree_size
    return len(heads)


def _checked_frontier(checkpoint: Checkpoint, frontier: Sequence[str] | None) -> list[bytes]:
    """Return the frontier given with a checkpoint, once it is proven by the signed root."""
    if frontier is None:
        return []
    try:
        hashes = list(Frontier.from_json(checkpoint.tree_size, frontier).hashes)
    except InputError as error:
        raise LedgerVerificationError(
            f"the frontier given with the checkpoint is malformed: {error.message}"
        ) from None
    if fold_frontier(hashes) != checkpoint.root_hash:
        raise LedgerVerificationError(
            "the frontier given with the checkpoint does not hash to its signed root"
        )
    return hashes


def _rewritten_since(
    conn: Connection,
    tree: MerkleTree,
    old: Checkpoint,
    frontier: Sequence[bytes],
    trusted: Sequence[VerifierKey],
) -> LedgerVerificationError:
    """Name the earliest entry that can have been rewritten since a trusted checkpoint.

    Entries under a stored checkpoint signed by a trusted key that still matches are known
    good; the checkpoint's frontier (when given) narrows the rest to its first subtree that
    no longer matches.
    """
    first, last = 0, old.tree_size - 1
    for head in signed_heads(conn):
        if head.tree_size >= old.tree_size or head.signed_note is None:
            break
        try:
            earlier = open_checkpoint(head.signed_note, trusted, origin=old.origin)
        except LedgerVerificationError:
            continue
        if (
            earlier.tree_size == head.tree_size
            and tree.root(earlier.tree_size) == earlier.root_hash
        ):
            first = earlier.tree_size
    for (start, end), expected in zip(subtree_ranges(old.tree_size), frontier, strict=False):
        if end > first and tree.subtree(start, end) != expected:
            first, last = max(start, first), end - 1
            break
    return LedgerVerificationError(
        ERR_REWRITTEN_SINCE.format(size=old.tree_size, what=_differs(first, last)), seq=first
    )


def _missing(first: int, last: int) -> str:
    if first == last:
        return f"entry {first} is missing"
    return f"entries {first} to {last} are missing"


def _differs(first: int, last: int) -> str:
    if first == last:
        return f"entry {first} differs from what it signed"
    return (
        f"one of entries {first} to {last} differs from what it signed "
        f"(entry {first} at the earliest)"
    )


def _hex(value: str, what: str, *, seq: int | None = None) -> bytes:
    try:
        return bytes.fromhex(value)
    except (TypeError, ValueError):
        raise LedgerVerificationError(f"{what} has a malformed hash {value!r}", seq=seq) from None


def _entry_records(conn: Connection) -> Iterator[EntryRecord]:
    for row in ledger_rows(conn):
        stored_hash = _hex(row.leaf_hash, f"ledger entry {row.seq}", seq=row.seq)
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
    from govml.services.registry import record_digest, version_subject  # see verify

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
    for stored, fingerprint in dataset_fingerprints(conn):
        n_datasets += 1
        if stored not in expected_datasets:
            raise IntegrityError(f"dataset {stored} has no dataset.recorded entry")
        seq, digest = expected_datasets.pop(stored)
        if record_digest(fingerprint) != digest:
            raise IntegrityError(
                f"dataset {stored}'s stored fingerprint was changed: it no longer matches "
                f"ledger entry {seq}"
            )
    if expected_datasets:
        raise IntegrityError(
            f"dataset {next(iter(expected_datasets))} is in the ledger but missing from the "
            "database"
        )
    n_models = count_models(conn)
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
