"""Verify a whole ledger from its rows alone: no database, no network, no keys.

``verify_ledger`` streams the entries once, recomputes every leaf hash from the entry's
fields, rebuilds the tree with a ``Frontier`` and compares it with every stored checkpoint
as soon as the tree reaches the checkpoint's size. It raises ``LedgerVerificationError``
naming the first entry that does not match (``error.seq``). Checking that checkpoints are
genuinely signed is a separate step: here a checkpoint is trusted to say what the tree was.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Final

from govml.errors import InputError, LedgerVerificationError
from govml.ledger.canonical import entry_bytes, quick_entry_bytes
from govml.ledger.merkle import (
    HASH_SIZE,
    LEAF_PREFIX,
    Frontier,
    fold_frontier,
    leaf_hash,
    subtree_ranges,
)

ERR_LEAF_HASH: Final = (
    "ledger entry {seq} does not match its leaf hash (stored {stored}, recomputed {recomputed})"
)
ERR_UNREADABLE: Final = "ledger entry {seq} cannot be canonicalised: {reason}"
ERR_SEQ_TYPE: Final = "position {position} holds an entry whose seq is {seq!r}"
ERR_SWAPPED: Final = (
    "ledger entry {position} is out of order: position {position} holds entry {seq}"
)
ERR_MISSING: Final = "ledger entry {position} is missing (position {position} holds entry {seq})"
ERR_MISSING_OR_MOVED: Final = (
    "ledger entry {position} is missing or out of place (position {position} holds entry {seq})"
)
ERR_REPEATED: Final = "ledger entry {seq} appears again at position {position}"
ERR_REWRITTEN: Final = (
    "the checkpoint at size {size} does not match ledger entries {first} to {last}: one of "
    "them was rewritten along with its leaf hash, entry {first} at the earliest"
)
ERR_REWRITTEN_ONE: Final = (
    "the checkpoint at size {size} does not match ledger entry {first}: it was rewritten "
    "along with its leaf hash"
)
ERR_TRUNCATED: Final = (
    "the ledger has {entries} entries but the checkpoint at size {size} covers {size}: "
    "{missing} missing"
)
ERR_CHECKPOINT_SIZE: Final = "a checkpoint has an invalid tree size {size!r}"
ERR_CHECKPOINT_ROOT: Final = "the checkpoint at size {size} has a malformed root hash {root!r}"
ERR_CHECKPOINT_FRONTIER: Final = "the checkpoint at size {size} has a malformed frontier: {reason}"
ERR_CHECKPOINT_CORRUPT: Final = (
    "the checkpoint at size {size} is corrupt: its frontier does not hash to its root"
)
ERR_CHECKPOINTS_DISAGREE: Final = (
    "the checkpoints at sizes {earlier} and {size} disagree about entries {first} to {last}"
)


@dataclass(frozen=True, slots=True, kw_only=True)
class EntryRecord:
    """One ledger row as stored.

    Records carry rows exactly as read back, possibly tampered with, so they do not check
    themselves: judging them is what ``verify_ledger`` does.

    Attributes
    ----------
    seq, time, actor, action, subject, payload
        The entry's fields, as ``entry_bytes`` takes them; ``payload`` is the decoded JSON.
    leaf_hash
        The leaf hash stored with the row.
    """

    seq: int
    time: str
    actor: str
    action: str
    subject: str
    payload: Mapping[str, object]
    leaf_hash: bytes


@dataclass(frozen=True, slots=True, kw_only=True)
class CheckpointRecord:
    """One checkpoint row as stored.

    Attributes
    ----------
    tree_size
        Number of entries the checkpoint covers.
    root_hash
        Root hash of the tree of those entries.
    frontier
        ``Frontier.to_json()`` of that tree: hex roots of its perfect subtrees.
    """

    tree_size: int
    root_hash: bytes
    frontier: Sequence[str]


@dataclass(frozen=True, slots=True, kw_only=True)
class VerifyReport:
    """What a successful verification covered.

    Attributes
    ----------
    entries
        Number of entries read and recomputed.
    checkpoints
        Number of checkpoints compared with the recomputed tree.
    tree_size
        Size of the recomputed tree (equal to ``entries``).
    root_hex
        Its root hash, lowercase hex.
    """

    entries: int
    checkpoints: int
    tree_size: int
    root_hex: str


def verify_ledger(
    entries: Iterable[EntryRecord], checkpoints: Sequence[CheckpointRecord]
) -> VerifyReport:
    """Recompute a ledger from its rows and check it against its checkpoints.

    Checks, in one pass over the entries:

    - seq numbers start at 0 and go up by one (a deleted row, a repeated or a moved row is
      named by the position where it breaks the sequence);
    - every entry's recomputed leaf hash equals its stored leaf hash;
    - every checkpoint's frontier hashes to its root, and equals the frontier of the first
      ``tree_size`` recomputed leaves (which also proves the root);
    - no checkpoint is larger than the ledger (a truncated ledger names its first missing
      entry).

    A checkpoint larger than the ledger is compared as far as the ledger goes, then names
    the first missing entry.

    Which entry a failed checkpoint names. An entry rewritten together with its stored leaf
    hash passes the leaf check; only the next checkpoint sees it (a rewrite after the last
    checkpoint cannot be seen at all). The checkpoint's frontier splits its tree into
    perfect subtrees (size 24: entries 0-15 and 16-23), so the first subtree whose
    recomputed hash differs holds a rewritten entry, and every entry under an earlier
    matching checkpoint is known good. The entry named is the first one of that subtree not
    under an earlier matching checkpoint: the earliest entry that can have been rewritten.
    With a checkpoint after every entry that is exactly the rewritten entry; otherwise the
    message gives the range that holds it. One exception: when an entry of that range (or
    before it) already failed the leaf check, that entry is named, being known bad. Rows
    between checkpoints are never searched further: the checkpoint hashes are all that is
    trusted, and they cannot tell apart the entries inside one subtree.

    Parameters
    ----------
    entries
        Ledger rows in storage order; any iterable, read once.
    checkpoints
        Checkpoint rows, in any order.

    Returns
    -------
    VerifyReport
        Number of entries and checkpoints checked, the tree size and its root hash (hex).

    Raises
    ------
    LedgerVerificationError
        At the first problem; ``seq`` names the first entry that does not match, or is
        None when a checkpoint row itself is malformed or contradicts another checkpoint.
    """
    due = _sorted_checkpoints(checkpoints)
    frontier = Frontier()
    append = frontier.append
    state = _State()
    due_index = _check_due(due, 0, frontier, state)
    next_size = due[due_index].tree_size if due_index < len(due) else -1
    position = 0
    sha256, prefix, quick_bytes = hashlib.sha256, LEAF_PREFIX, quick_entry_bytes
    records = iter(entries)
    for record in records:
        if record.seq != position:
            raise state.first(_sequence_error(position, record, records))
        # The quick encoding first, the exact one only when it misses (see _exact_leaf_hash).
        try:
            data = quick_bytes(
                seq=record.seq,
                time=record.time,
                actor=record.actor,
                action=record.action,
                subject=record.subject,
                payload=record.payload,
            )
            computed = sha256(prefix + data).digest()
            matched = computed == record.leaf_hash
        except (TypeError, ValueError, RecursionError):
            matched = False
        if not matched:
            computed = _exact_leaf_hash(record, state)
            if computed != record.leaf_hash:
                state.note(position, _leaf_hash_error(position, record.leaf_hash, computed))
        append(computed)
        position += 1
        if position == next_size:
            due_index = _check_due(due, due_index, frontier, state)
            next_size = due[due_index].tree_size if due_index < len(due) else -1
    if due_index < len(due):
        # A checkpoint larger than the ledger: the ledger was truncated.
        _check_checkpoint(due[due_index], frontier, state)
    if state.pending is not None:
        raise state.pending
    return VerifyReport(
        entries=position,
        checkpoints=len(due),
        tree_size=frontier.size,
        root_hex=frontier.root().hex(),
    )


class _State:
    """What verification knows so far besides the tree itself.

    ``certified`` is the size of the largest checkpoint that matched: every entry below it
    is known good. ``pending`` is the first leaf hash mismatch, held until the next
    checkpoint shows whether an earlier entry was rewritten consistently.
    """

    __slots__ = ("certified", "pending", "pending_seq")

    def __init__(self) -> None:
        self.certified = 0
        self.pending: LedgerVerificationError | None = None
        self.pending_seq = -1

    def note(self, seq: int, error: LedgerVerificationError) -> None:
        if self.pending is None:
            self.pending, self.pending_seq = error, seq

    def first(self, error: LedgerVerificationError) -> LedgerVerificationError:
        """Return the pending error, which is always earlier, or else ``error``."""
        return self.pending if self.pending is not None else error


def _exact_leaf_hash(record: EntryRecord, state: _State) -> bytes:
    """Return the leaf hash over the RFC 8785 bytes of the entry.

    Called only when ``quick_entry_bytes`` does not reproduce the stored hash. That shortcut
    is sound: bytes that hash to the stored leaf hash are the bytes the writer canonicalised
    (SHA-256 is collision resistant), and they read back as the row's own JSON document. It
    can only miss, never wrongly accept; its misses (floats that Python and RFC 8785 write
    differently, keys above U+FFFF) land here.
    """
    try:
        data = entry_bytes(
            seq=record.seq,
            time=record.time,
            actor=record.actor,
            action=record.action,
            subject=record.subject,
            payload=record.payload,
        )
    except InputError as error:
        reason = ERR_UNREADABLE.format(seq=record.seq, reason=error.message)
        raise state.first(LedgerVerificationError(reason, seq=record.seq)) from error
    return leaf_hash(data)


def _sequence_error(
    position: int, record: EntryRecord, records: Iterator[EntryRecord]
) -> LedgerVerificationError:
    """Describe the row found where entry ``position`` belongs, peeking one row further."""
    seq = record.seq
    if type(seq) is not int:
        message = ERR_SEQ_TYPE.format(position=position, seq=seq)
    elif seq < position:
        message = ERR_REPEATED.format(seq=seq, position=position)
    else:
        following = next(records, None)
        if following is not None and following.seq == position:
            message = ERR_SWAPPED.format(position=position, seq=seq)
        elif seq == position + 1:
            message = ERR_MISSING.format(position=position, seq=seq)
        else:
            message = ERR_MISSING_OR_MOVED.format(position=position, seq=seq)
    return LedgerVerificationError(message, seq=position)


def _check_due(
    due: Sequence[CheckpointRecord], index: int, frontier: Frontier, state: _State
) -> int:
    """Check every checkpoint of the current tree size; return the index of the next one."""
    while index < len(due) and due[index].tree_size == frontier.size:
        _check_checkpoint(due[index], frontier, state)
        index += 1
    return index


def _check_checkpoint(checkpoint: CheckpointRecord, frontier: Frontier, state: _State) -> None:
    """Compare one checkpoint with the tree rebuilt so far, whose size is at most its own."""
    size = checkpoint.tree_size
    if not isinstance(checkpoint.root_hash, bytes) or len(checkpoint.root_hash) != HASH_SIZE:
        raise LedgerVerificationError(
            ERR_CHECKPOINT_ROOT.format(size=size, root=checkpoint.root_hash)
        )
    try:
        claimed = Frontier.from_json(size, checkpoint.frontier)
    except InputError as error:
        raise LedgerVerificationError(
            ERR_CHECKPOINT_FRONTIER.format(size=size, reason=error.message)
        ) from error
    if fold_frontier(claimed.hashes) != checkpoint.root_hash:
        raise LedgerVerificationError(ERR_CHECKPOINT_CORRUPT.format(size=size))
    # Subtrees of the checkpoint that end inside the rebuilt tree are also subtrees of the
    # rebuilt tree's frontier (a larger tree's edge is coarser on their common prefix).
    rebuilt = dict(zip(subtree_ranges(frontier.size), frontier.hashes, strict=True))
    for (start, end), claimed_hash in zip(subtree_ranges(size), claimed.hashes, strict=True):
        if end > frontier.size:
            break
        if rebuilt[start, end] != claimed_hash:
            raise _rewritten_error(size, start, end, state)
    if size > frontier.size:
        raise state.first(
            LedgerVerificationError(
                ERR_TRUNCATED.format(
                    entries=frontier.size, size=size, missing=_entries(frontier.size, size - 1)
                ),
                seq=frontier.size,
            )
        )
    state.certified = size
    if state.pending is not None:
        # The checkpoint vouches for every recomputed leaf: only the stored hash was wrong.
        raise state.pending


def _rewritten_error(size: int, start: int, end: int, state: _State) -> LedgerVerificationError:
    """Name the first entry that can explain a subtree [start, end) not matching checkpoint."""
    if end <= state.certified:
        return LedgerVerificationError(
            ERR_CHECKPOINTS_DISAGREE.format(
                earlier=state.certified, size=size, first=start, last=end - 1
            )
        )
    if state.pending is not None and state.pending_seq < end:
        return state.pending
    first = max(start, state.certified)
    template = ERR_REWRITTEN_ONE if end - first == 1 else ERR_REWRITTEN
    return LedgerVerificationError(template.format(size=size, first=first, last=end - 1), seq=first)


def _leaf_hash_error(seq: int, stored: object, computed: bytes) -> LedgerVerificationError:
    return LedgerVerificationError(
        ERR_LEAF_HASH.format(seq=seq, stored=_short_hex(stored), recomputed=_short_hex(computed)),
        seq=seq,
    )


def _entries(first: int, last: int) -> str:
    return f"entry {first} is" if first == last else f"entries {first} to {last} are"


def _short_hex(value: object) -> str:
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).hex()[:12] + "…"
    return repr(value)


def _sorted_checkpoints(checkpoints: Sequence[CheckpointRecord]) -> list[CheckpointRecord]:
    for checkpoint in checkpoints:
        size = checkpoint.tree_size
        if type(size) is not int or size < 0:
            raise LedgerVerificationError(ERR_CHECKPOINT_SIZE.format(size=size))
    return sorted(checkpoints, key=lambda checkpoint: checkpoint.tree_size)
