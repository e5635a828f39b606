"""Signed checkpoints, proofs and export bundles of the ledger, and the instance's key.

`ProofService.checkpoint` signs the latest tree head with the instance's key after checking
that its stored frontier folds to its root and that it extends the last checkpoint signed
before (a log must never sign two inconsistent checkpoints), by a consistency proof whose
subtrees come from the tree heads: signing reads a few dozen rows, not every leaf hash
(`audit verify` checks every tree head against the entries). `proof` and `export`
hand out self-contained bundles (`govml.ledger.bundle`), signed with the same key and
verified before they leave.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Connection

from govml.domain.lifecycle import Permission
from govml.errors import ConfigurationError, InputError, LedgerVerificationError, NotFoundError
from govml.ledger.bundle import BundleEntry, ConsistencyLink, ProofBundle, verify_bundle
from govml.ledger.checkpoint import (
    Checkpoint,
    SignedNote,
    VerifierKey,
    sign_checkpoint,
    verify_checkpoint,
)
from govml.ledger.merkle import Frontier, leaf_hash, verify_consistency
from govml.ledger.tree import MerkleTree, consistency_path, inclusion_path
from govml.services.access import authorize
from govml.services.context import ServiceContext
from govml.store import records
from govml.store.checkpoints import (
    StoredBlocks,
    StoredHead,
    latest_head,
    latest_signed_head,
    note_keys,
    read_entries,
    read_tree,
    recorded_key,
    require_origin,
    store_signed_note,
    use_snapshot,
)
from govml.store.keys import key_paths, load_signer, parse_verifier_key, public_keys

ERR_NOT_SIGNED_YET = "no checkpoint of this ledger has been signed yet"
HINT_SIGN = "run `govml audit checkpoint`"


@dataclass(frozen=True, kw_only=True)
class CheckpointResult:
    """A signed checkpoint of the ledger, as `govml audit checkpoint` prints it."""

    origin: str
    tree_size: int
    root_hash: str
    signed_note: str
    frontier: list[str]
    key: str
    created: bool

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-safe dictionary (``frontier`` lets a verifier name rewritten entries)."""
        return {
            "origin": self.origin,
            "tree_size": self.tree_size,
            "root_hash": self.root_hash,
            "signed_note": self.signed_note,
            "frontier": self.frontier,
            "key": self.key,
            "created": self.created,
        }


@dataclass(frozen=True, kw_only=True)
class ExportResult:
    """An export bundle and how many newer entries it does not cover yet."""

    bundle: ProofBundle
    tree_size: int
    uncovered: int


@dataclass(frozen=True, kw_only=True)
class KeyInfo:
    """The instance's public key, as `govml audit key` prints it."""

    origin: str
    verifier_key: str
    key_id: str
    pem: str
    path: str
    recorded_in_entry: int | None

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-safe dictionary."""
        return {
            "origin": self.origin,
            "verifier_key": self.verifier_key,
            "key_id": self.key_id,
            "public_key_pem": self.pem,
            "path": self.path,
            "recorded_in_entry": self.recorded_in_entry,
        }


class ProofService:
    """Checkpoints, proofs, export bundles and the public key."""

    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx

    def checkpoint(self) -> CheckpointResult:
        """Sign the latest tree head and store the signed note with it.

        Returns
        -------
        CheckpointResult
            The signed checkpoint; ``created`` is False when that tree head was already
            signed (no entry since the last checkpoint).

        Raises
        ------
        InputError
            If the ledger is empty or this home has no key recorded in the ledger.
        LedgerVerificationError
            If the tree head's frontier does not fold to its root, or the ledger is not
            consistent with the last checkpoint signed: nothing is signed then.
        """
        keys_dir = self.keys_dir()
        with self.ctx.store.write() as conn:
            authorize(conn, self.ctx, Permission.ADMINISTER)
            head = latest_head(conn)
            if head is None:
                raise InputError(
                    "the ledger is empty: there is nothing to sign", hint="run `govml init`"
                )
            origin = require_origin(conn)
            signer = load_signer(keys_dir, origin)
            recorded = recorded_key(conn, signer.verifier().label)
            if recorded is None or recorded[1] != signer.verifier():
                raise InputError(
                    f"the signing key {signer.verifier().label} is not recorded in this ledger",
                    hint="run `govml init`",
                )
            # 1. What is signed is the tree head's root, which its stored frontier folds to.
            root = _head_root(head)
            # 2. Never sign a checkpoint inconsistent with one signed before.
            previous = latest_signed_head(conn)
            if previous is not None:
                assert previous.signed_note is not None
                keys = [key for _, key in note_keys(conn, previous.signed_note)]
                _check_extends(previous, head.tree_size, root, StoredBlocks(conn), keys, origin)
            if head.signed_note is not None:
                note, created = head.signed_note, False
            else:
                checkpoint = Checkpoint(origin=origin, tree_size=head.tree_size, root_hash=root)
                note = sign_checkpoint(checkpoint, signer)
                store_signed_note(conn, head.tree_size, note)
                created = True
        return CheckpointResult(
            origin=origin,
            tree_size=head.tree_size,
            root_hash=head.root_hash,
            signed_note=note,
            frontier=list(head.frontier),
            key=signer.verifier().label,
            created=created,
        )

    def proof(self, seq: int, *, checkpoint: str | None = None) -> ProofBundle:
        """Return a bundle proving entry ``seq`` against the latest (or the given) checkpoint.

        Parameters
        ----------
        seq
            The entry number.
        checkpoint
            Text of a checkpoint file (a signed note, ``audit checkpoint --json`` output or a
            bundle); default: the latest signed checkpoint of the ledger.

        Raises
        ------
        InputError
            If no checkpoint is signed yet or it does not cover the entry.
        LedgerVerificationError
            If the checkpoint does not verify or the ledger does not match it.
        """
        with self.ctx.store.read() as conn:
            use_snapshot(conn)
            origin = require_origin(conn)
            if checkpoint is not None:
                note = read_checkpoint_file(checkpoint)[0]
                recorded = [key for _, key in note_keys(conn, note)]
                trusted = _unique([*recorded, *public_keys(self.ctx.keys)])
            else:
                head = latest_signed_head(conn)
                if head is None or head.signed_note is None:
                    raise InputError(ERR_NOT_SIGNED_YET, hint=HINT_SIGN)
                note = head.signed_note
                trusted = [key for _, key in note_keys(conn, note)]
            signed, signer = verify_checkpoint(note, trusted, origin=origin)
            if not 0 <= seq < signed.tree_size:
                raise InputError(
                    f"entry {seq} is not covered by the checkpoint at size {signed.tree_size}",
                    hint=HINT_SIGN if seq >= signed.tree_size else None,
                )
            # One proof: its subtrees come from the tree heads, not from a rebuilt tree.
            path = inclusion_path(seq, signed.tree_size, StoredBlocks(conn))
            (entry,) = read_entries(conn, seqs=[seq])
        item = BundleEntry(
            index=seq,
            entry=entry.entry,
            leaf_hash=leaf_hash(entry.entry.encode("utf-8")),
            inclusion_proof=tuple(path),
        )
        bundle = ProofBundle(
            origin=origin, public_key=str(signer), checkpoint=note, entries=(item,)
        )
        return self._signed(bundle, signer, origin)

    def export(self, *, model: str | None = None, since: str | None = None) -> ExportResult:
        """Return a bundle of every entry (or every entry about ``model``) with proofs.

        Entries up to the latest signed checkpoint are included; the bundle also proves that
        the log extends an older checkpoint: ``since`` (the text of a checkpoint file) or else
        the previous signed checkpoint, if there is one.

        Raises
        ------
        InputError
            If no checkpoint is signed yet, or ``since`` is newer than the latest one.
        NotFoundError
            If the model does not exist.
        LedgerVerificationError
            If a checkpoint does not verify or the ledger does not match it.
        """
        with self.ctx.store.read() as conn:
            use_snapshot(conn)
            origin = require_origin(conn)
            head = latest_signed_head(conn)
            if head is None or head.signed_note is None:
                raise InputError(ERR_NOT_SIGNED_YET, hint=HINT_SIGN)
            recorded = [key for _, key in note_keys(conn, head.signed_note)]
            signed, signer = verify_checkpoint(head.signed_note, recorded, origin=origin)
            if model is not None:
                records.model_id(conn, model)  # unknown model → NotFoundError with a suggestion
            tree = tree_of(conn, signed)
            found = read_entries(conn, model=model)
            older_note = None
            if since is not None:
                older_note = read_checkpoint_file(since)[0]
            else:
                previous = latest_signed_head(conn, below=signed.tree_size)
                older_note = None if previous is None else previous.signed_note
            trusted = [*recorded, *public_keys(self.ctx.keys)] if since else recorded
            if older_note is not None:
                trusted = _unique([*trusted, *(key for _, key in note_keys(conn, older_note))])
        covered = [entry for entry in found if entry.seq < signed.tree_size]
        consistency = None
        if older_note is not None:
            older = verify_checkpoint(older_note, trusted, origin=origin)[0]
            if older.tree_size > signed.tree_size:
                raise InputError(
                    f"the older checkpoint (size {older.tree_size}) is newer than the latest "
                    f"signed one (size {signed.tree_size})",
                    hint=HINT_SIGN,
                )
            consistency = ConsistencyLink(
                checkpoint=older_note,
                proof=tuple(tree.consistency_proof(older.tree_size, signed.tree_size)),
            )
        bundle = ProofBundle(
            origin=origin,
            public_key=str(signer),
            checkpoint=head.signed_note,
            entries=tuple(_bundle_entry(e.seq, e.entry, tree, signed) for e in covered),
            consistency=consistency,
        )
        return ExportResult(
            bundle=self._signed(bundle, signer, origin),
            tree_size=signed.tree_size,
            uncovered=len(found) - len(covered),
        )

    def public_key(self) -> KeyInfo:
        """Return this instance's public key for the ledger.

        Raises
        ------
        NotFoundError
            If this home has no key for the ledger.
        """
        keys_dir = self.keys_dir()
        with self.ctx.store.read() as conn:
            origin = require_origin(conn)
            _, public = key_paths(keys_dir, origin)
            if not public.is_file():
                raise NotFoundError(
                    f"no signing key for the ledger {origin} in {keys_dir}",
                    hint="run `govml init`",
                )
            key = parse_verifier_key(public.read_text(encoding="utf-8"), source=str(public))
            recorded = recorded_key(conn, key.label)
        return KeyInfo(
            origin=origin,
            verifier_key=str(key),
            key_id=key.key_id.hex(),
            pem=key.pem(),
            path=str(public),
            recorded_in_entry=None if recorded is None or recorded[1] != key else recorded[0],
        )

    def _signed(self, bundle: ProofBundle, key: VerifierKey, origin: str) -> ProofBundle:
        """Sign a bundle with this home's key, which must be the checkpoint's; verify it."""
        signer = load_signer(self.keys_dir(), origin)
        if signer.verifier() != key:
            raise InputError(
                f"the checkpoint is signed by {key.label}, not by this home's key "
                f"{signer.verifier().label}: a bundle is signed by the key of its checkpoint",
                hint="export from the home that signed the checkpoint",
            )
        bundle = bundle.signed(signer)
        try:
            verify_bundle(bundle, [key])
        except LedgerVerificationError as error:
            raise LedgerVerificationError(
                f"the stored ledger does not match its signed checkpoint: {error.message}",
                hint="run `govml audit verify`",
            ) from None
        return bundle

    def keys_dir(self) -> Path:
        """Return the folder of the instance's keys.

        Raises
        ------
        ConfigurationError
            If the context has no home folder.
        """
        if self.ctx.keys is None:
            raise ConfigurationError("no key folder: open the store through govml.connect()")
        return self.ctx.keys


def trusted_keys(ctx: ServiceContext, key: str | None, *, name: str) -> list[VerifierKey]:
    """Return the keys a caller trusts: the text of ``--key`` if given, else this home's keys.

    Parameters
    ----------
    ctx
        The service context (its ``keys`` folder).
    key
        Text of a public key file, or None.
    name
        Key name for a PEM-only key (a log's key is named after its origin).

    Raises
    ------
    InputError
        If the key text holds no key, or no key is given and this home has none.
    """
    if key is not None:
        return [parse_verifier_key(key, name=name, source="--key")]
    found = public_keys(ctx.keys)
    if not found:
        raise InputError(
            f"no public key to verify with: {ctx.keys} holds no ledger key",
            hint="pass --key FILE (what `govml audit key` prints on the store that signed it)",
        )
    return found


def read_checkpoint_file(text: str) -> tuple[str, list[str] | None]:
    """Return the signed note held in a checkpoint file, and its frontier when it has one.

    Accepts a signed note, the JSON that ``govml audit checkpoint --json`` prints (which
    carries the frontier) and a proof bundle.

    Raises
    ------
    LedgerVerificationError
        If the text is none of these.
    """
    if not text.lstrip().startswith("{"):
        return text, None
    try:
        document = json.loads(text)
    except ValueError:
        document = None
    if isinstance(document, dict):
        note = document.get("signed_note", document.get("checkpoint"))
        frontier = document.get("frontier") if "signed_note" in document else None
        if isinstance(note, str) and (frontier is None or isinstance(frontier, list)):
            return note, frontier
    raise LedgerVerificationError(
        "the checkpoint file holds no signed checkpoint (expected a signed note, the JSON of "
        "`govml audit checkpoint --json`, or a proof bundle)"
    )


def note_origin(note: str) -> str:
    """Return the first line of a note's text (a checkpoint's origin), for naming PEM keys.

    Raises
    ------
    LedgerVerificationError
        If the note is malformed.
    """
    return SignedNote.parse(note).text.split("\n", 1)[0]


def tree_of(conn: Connection, checkpoint: Checkpoint) -> MerkleTree:
    """Return the tree of the stored leaf hashes up to a checkpoint, checked against it.

    Raises
    ------
    LedgerVerificationError
        If the ledger is shorter than the checkpoint or its root differs.
    """
    tree = read_tree(conn, checkpoint.tree_size)
    if tree.root() != checkpoint.root_hash:
        raise LedgerVerificationError(
            f"the ledger does not match the checkpoint at size {checkpoint.tree_size}",
            hint="run `govml audit verify --checkpoint FILE`",
        )
    return tree


def _head_root(head: StoredHead) -> bytes:
    """Return the root of a tree head once its stored frontier is shown to fold to it.

    Raises
    ------
    LedgerVerificationError
        If the frontier is malformed or folds to another root.
    """
    try:
        root = Frontier.from_json(head.tree_size, head.frontier).root()
    except InputError:
        root = None
    if root is None or root.hex() != head.root_hash:
        raise LedgerVerificationError(
            f"not signing: the tree head at size {head.tree_size} has a root that is not the "
            "root of its frontier",
            hint="run `govml audit verify`",
        )
    return root


def _check_extends(
    previous: StoredHead,
    size: int,
    root: bytes,
    blocks: StoredBlocks,
    recorded: Sequence[VerifierKey],
    origin: str,
) -> None:
    """Raise unless the tree of ``size`` and ``root`` extends the last signed checkpoint.

    RFC 9162 consistency, the proof's subtrees read from the tree heads (`StoredBlocks`):
    whatever they hold, the proof verifies only if both roots are of one log.
    """
    assert previous.signed_note is not None
    try:
        old = verify_checkpoint(previous.signed_note, recorded, origin=origin)[0]
        if old.tree_size > size:
            raise LedgerVerificationError(f"the ledger has only {size} entries")
        verify_consistency(
            old_size=old.tree_size,
            new_size=size,
            old_root=old.root_hash,
            new_root=root,
            proof=consistency_path(old.tree_size, size, blocks),
        )
    except LedgerVerificationError as error:
        raise LedgerVerificationError(
            "not signing: the ledger is not consistent with the checkpoint signed at size "
            f"{previous.tree_size} ({error.message})",
            hint="run `govml audit verify`",
        ) from None


def _bundle_entry(seq: int, entry: str, tree: MerkleTree, checkpoint: Checkpoint) -> BundleEntry:
    return BundleEntry(
        index=seq,
        entry=entry,
        leaf_hash=leaf_hash(entry.encode("utf-8")),
        inclusion_proof=tuple(tree.inclusion_proof(seq, checkpoint.tree_size)),
    )


def _unique(keys: Sequence[VerifierKey]) -> list[VerifierKey]:
    return list(dict.fromkeys(keys))
