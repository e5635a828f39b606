"""SQL for the ledger's proofs: its origin, signed tree heads, keys, leaves and subtrees.

The ledger is named by its first entry: its origin is ``govml/`` followed by the first 16 hex
digits of entry 0's leaf hash, stable for the life of the store and different for every store.
The keys that may sign its checkpoints are recorded in the ledger itself (``ledger.key_added``
entries, written by ``govml init``, subject ``key/<name>+<hex key id>``). The check of every
stored row is in `govml.store.ledger_check`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from govml.errors import InputError, IntegrityError, LedgerVerificationError
from govml.ledger.checkpoint import SignedNote, VerifierKey
from govml.ledger.merkle import NODE_PREFIX
from govml.ledger.tree import MerkleTree
from govml.store.ledger import subject_filter
from govml.store.ledger_check import row_batches
from govml.store.schema import ledger_checkpoints, ledger_entries

ORIGIN_PREFIX: Final = "govml/"
ORIGIN_HEX_DIGITS: Final = 16
KEY_ACTION: Final = "ledger.key_added"
KEY_SUBJECT_PREFIX: Final = "key/"
LEAF_READ_HEIGHT: Final = 10
"""Subtrees of up to 2**10 leaves missing from the tree heads are hashed from their leaves."""

_LEAF_SQL: Final = "SELECT seq, leaf_hash FROM ledger_entries WHERE seq < {size:d} ORDER BY seq"


@dataclass(frozen=True, kw_only=True)
class StoredHead:
    """A tree head row with its signed note, if it has one."""

    tree_size: int
    root_hash: str
    frontier: list[str]
    created_at: str
    signed_note: str | None


@dataclass(frozen=True, kw_only=True)
class StoredEntry:
    """One ledger row as proofs need it: its number, exact text and leaf hash."""

    seq: int
    entry: str
    leaf_hash: str


def origin_of(leaf_hash_hex: str) -> str:
    """Return the origin of the ledger whose entry 0 has this leaf hash (hex)."""
    return ORIGIN_PREFIX + leaf_hash_hex[:ORIGIN_HEX_DIGITS]


def ledger_origin(conn: Connection) -> str | None:
    """Return the ledger's origin, ``govml/<16 hex digits>``; None while it is empty."""
    first = conn.execute(
        sa.select(ledger_entries.c.leaf_hash).where(ledger_entries.c.seq == 0)
    ).scalar_one_or_none()
    return None if first is None else origin_of(str(first))


def require_origin(conn: Connection) -> str:
    """Return the ledger's origin.

    Raises
    ------
    InputError
        If the ledger is empty.
    """
    origin = ledger_origin(conn)
    if origin is None:
        raise InputError("the ledger is empty", hint="run `govml init`")
    return origin


def use_snapshot(conn: Connection) -> None:
    """Make every statement of the current transaction read the same snapshot.

    Must run before the first query of the transaction. SQLite already reads one snapshot
    per transaction; PostgreSQL's default (READ COMMITTED) takes one per statement, so two
    queries could see different ledgers while another process appends.
    """
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")


def read_tree(conn: Connection, size: int) -> MerkleTree:
    """Return the Merkle tree of the stored leaf hashes of entries ``0 .. size - 1``.

    Raises
    ------
    LedgerVerificationError
        If an entry is missing, out of place or has a malformed leaf hash; the error names it.
    """
    position = 0
    hexes: list[str] = []
    for batch in row_batches(conn, _LEAF_SQL.format(size=size), "govml_leaves"):
        for seq, digest in batch:
            if seq != position:
                raise LedgerVerificationError(
                    f"ledger entry {position} is missing or out of place", seq=position
                )
            hexes.append(digest)
            position += 1
    if position != size:
        raise LedgerVerificationError(
            f"the ledger has {position} entries, not the {size} its tree head covers",
            seq=position,
        )
    try:
        return MerkleTree.from_hex(hexes)
    except InputError:
        bad = next(i for i, text in enumerate(hexes) if not _is_hex_hash(text))
        raise LedgerVerificationError(
            f"ledger entry {bad} has a malformed leaf hash", seq=bad
        ) from None


class StoredBlocks:
    """Perfect-subtree hashes of the stored ledger, for a proof without the whole tree.

    A tree head of size ``s`` stores in its frontier the perfect subtree of ``2**h`` leaves
    starting at ``a`` when ``a`` is a multiple of ``2**(h + 1)`` (a left child) and
    ``a + 2**h <= s < a + 2**(h + 1)``. Tree heads are frequent (one per write transaction),
    so most subtrees a proof names are one indexed query away; a right child is hashed from
    its two halves, and a small subtree between sparse tree heads from its leaves. Nothing
    here is trusted: a proof built from these hashes is verified against a signed root
    before anyone gets it.
    """

    def __init__(self, conn: Connection) -> None:
        self._conn = conn
        self._cache: dict[tuple[int, int], bytes] = {}

    def __call__(self, height: int, index: int) -> bytes:
        """Return the hash of the perfect subtree of ``2**height`` leaves numbered ``index``."""
        key = (height, index)
        found = self._cache.get(key)
        if found is not None:
            return found
        if index % 2 == 0:
            found = self._from_tree_head(height, index)
        if found is None:
            if height <= LEAF_READ_HEIGHT:
                found = self._from_leaves(height, index)
            else:
                left, right = self(height - 1, 2 * index), self(height - 1, 2 * index + 1)
                found = hashlib.sha256(NODE_PREFIX + left + right).digest()
        self._cache[key] = found
        return found

    def _from_tree_head(self, height: int, index: int) -> bytes | None:
        width = 1 << height
        start = index * width
        row = self._conn.execute(
            sa.select(
                ledger_checkpoints.c.tree_size,
                sa.cast(ledger_checkpoints.c.frontier, sa.Text).label("frontier"),
            )
            .where(
                ledger_checkpoints.c.tree_size >= start + width,
                ledger_checkpoints.c.tree_size < start + 2 * width,
            )
            .order_by(ledger_checkpoints.c.tree_size)
            .limit(1)
        ).first()
        if row is None:
            return None
        hashes = _frontier(row.tree_size, row.frontier)
        # The frontier lists one subtree per set bit of the size, largest first.
        position = (row.tree_size >> (height + 1)).bit_count()
        if len(hashes) != row.tree_size.bit_count() or not _is_hex_hash(hashes[position]):
            raise LedgerVerificationError(
                f"the tree head at size {row.tree_size} has a malformed frontier",
                hint="run `govml audit verify`",
            )
        return bytes.fromhex(hashes[position])

    def _from_leaves(self, height: int, index: int) -> bytes:
        start, end = index << height, (index + 1) << height
        rows = self._conn.execute(
            sa.select(ledger_entries.c.leaf_hash)
            .where(ledger_entries.c.seq >= start, ledger_entries.c.seq < end)
            .order_by(ledger_entries.c.seq)
        ).scalars()
        tree = MerkleTree.from_hex(list(rows))
        if tree.size != end - start:
            raise LedgerVerificationError(
                f"ledger entries {start} to {end - 1} are not all stored",
                hint="run `govml audit verify`",
            )
        return tree.root()


def read_entries(
    conn: Connection, *, seqs: Sequence[int] | None = None, model: str | None = None
) -> list[StoredEntry]:
    """Return stored entries by number, or all entries about a model, or all entries."""
    query = sa.select(ledger_entries.c.seq, ledger_entries.c.entry, ledger_entries.c.leaf_hash)
    if seqs is not None:
        query = query.where(ledger_entries.c.seq.in_(list(seqs)))
    where = subject_filter(model)
    if where is not None:
        query = query.where(where)
    return [
        StoredEntry(seq=row.seq, entry=row.entry, leaf_hash=row.leaf_hash)
        for row in conn.execute(query.order_by(ledger_entries.c.seq))
    ]


def find_entry(conn: Connection, *, action: str, subject: str) -> StoredEntry | None:
    """Return the first entry with this action and subject, or None."""
    row = conn.execute(
        sa.select(ledger_entries.c.seq, ledger_entries.c.entry, ledger_entries.c.leaf_hash)
        .where(ledger_entries.c.subject == subject, ledger_entries.c.action == action)
        .order_by(ledger_entries.c.seq)
        .limit(1)
    ).first()
    return (
        None if row is None else StoredEntry(seq=row.seq, entry=row.entry, leaf_hash=row.leaf_hash)
    )


def latest_head(conn: Connection) -> StoredHead | None:
    """Return the newest tree head, or None for an empty ledger."""
    row = conn.execute(
        _select_heads().order_by(ledger_checkpoints.c.tree_size.desc()).limit(1)
    ).first()
    return None if row is None else _head(row)


def signed_heads(conn: Connection) -> list[StoredHead]:
    """Return every tree head that has a signed note, smallest first."""
    rows = conn.execute(
        _select_heads()
        .where(ledger_checkpoints.c.signed_note.is_not(None))
        .order_by(ledger_checkpoints.c.tree_size)
    )
    return [_head(row) for row in rows]


def latest_signed_head(conn: Connection, *, below: int | None = None) -> StoredHead | None:
    """Return the newest signed tree head (smaller than ``below`` when given), or None."""
    query = _select_heads().where(ledger_checkpoints.c.signed_note.is_not(None))
    if below is not None:
        query = query.where(ledger_checkpoints.c.tree_size < below)
    row = conn.execute(query.order_by(ledger_checkpoints.c.tree_size.desc()).limit(1)).first()
    return None if row is None else _head(row)


def store_signed_note(conn: Connection, tree_size: int, note: str) -> None:
    """Record the signed note of the tree head of ``tree_size`` (which has none yet).

    Raises
    ------
    IntegrityError
        If that tree head does not exist or is already signed.
    """
    result = conn.execute(
        sa.update(ledger_checkpoints)
        .where(
            ledger_checkpoints.c.tree_size == tree_size,
            ledger_checkpoints.c.signed_note.is_(None),
        )
        .values(signed_note=note)
    )
    if result.rowcount != 1:
        raise IntegrityError(f"the tree head at size {tree_size} is missing or already signed")


def recorded_key(conn: Connection, label: str) -> tuple[int, VerifierKey] | None:
    """Return the signing key ``<name>+<hex key id>`` as the ledger records it, with its entry.

    Looked up by its subject (an index), not by scanning the ledger.

    Raises
    ------
    LedgerVerificationError
        If its ``ledger.key_added`` entry does not hold that key.
    """
    row = conn.execute(
        sa.select(ledger_entries.c.seq, ledger_entries.c.entry)
        .where(
            ledger_entries.c.subject == KEY_SUBJECT_PREFIX + label,
            ledger_entries.c.action == KEY_ACTION,
        )
        .order_by(ledger_entries.c.seq)
        .limit(1)
    ).first()
    if row is None:
        return None
    seq, text = row
    try:
        key = VerifierKey.parse(json.loads(text)["payload"]["key"])
    except (ValueError, KeyError, TypeError, InputError):
        key = None
    if key is None or key.label != label:
        raise LedgerVerificationError(
            f"ledger entry {seq} does not record the signing key {label} it names", seq=seq
        )
    return int(seq), key


def note_keys(conn: Connection, note: str) -> list[tuple[int, VerifierKey]]:
    """Return the recorded keys among those a signed note names in its signature lines.

    Raises
    ------
    LedgerVerificationError
        If the note is malformed or a key entry is unreadable.
    """
    labels = dict.fromkeys(sig.label for sig in SignedNote.parse(note).signatures)
    return [found for label in labels if (found := recorded_key(conn, label)) is not None]


def key_entry_payload(verifier: VerifierKey) -> dict[str, str]:
    """Return the payload of the ``ledger.key_added`` entry for a key."""
    return {
        "key": str(verifier),
        "name": verifier.name,
        "key_id": verifier.key_id.hex(),
        "algorithm": "ed25519",
    }


def key_subject(verifier: VerifierKey) -> str:
    """Return the ledger subject of a signing key: ``key/<name>+<hex key id>``."""
    return KEY_SUBJECT_PREFIX + verifier.label


def _select_heads() -> sa.Select[Any]:
    # The frontier as text: a row changed behind govml's back may not even be JSON.
    return sa.select(
        ledger_checkpoints.c.tree_size,
        ledger_checkpoints.c.root_hash,
        sa.cast(ledger_checkpoints.c.frontier, sa.Text).label("frontier"),
        ledger_checkpoints.c.created_at,
        ledger_checkpoints.c.signed_note,
    )


def _head(row: Any) -> StoredHead:
    return StoredHead(
        tree_size=row.tree_size,
        root_hash=row.root_hash,
        frontier=_frontier(row.tree_size, row.frontier),
        created_at=row.created_at,
        signed_note=row.signed_note,
    )


def _frontier(size: int, text: str) -> list[str]:
    try:
        frontier = json.loads(text)
    except ValueError:
        frontier = None
    if not isinstance(frontier, list):
        raise LedgerVerificationError(
            f"the tree head at size {size} has a malformed frontier",
            hint="run `govml audit verify`",
        )
    return frontier


def _is_hex_hash(text: object) -> bool:
    return isinstance(text, str) and len(text) == 64 and all(c in "0123456789abcdef" for c in text)
