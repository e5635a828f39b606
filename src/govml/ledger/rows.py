"""Verify the ledger as the database stores it, in one fast pass over its raw rows.

``verify_ledger`` rebuilds every entry's bytes from its decoded fields, which needs each
entry's JSON parsed and encoded again; on a large ledger that is most of the time spent. The
store keeps the leaf data itself (the ``entry`` text, the exact canonical bytes written), so
this pass hashes those bytes once and checks the rest without parsing:

1. entry numbers run 0, 1, 2, ... in storage order;
2. SHA-256(0x00 || entry) is the stored leaf hash, hex digit for hex digit;
3. the entry starts with ``{"action":A,"actor":B,"payload":{`` and ends with
   ``},"seq":N,"subject":S,"time":T}``, where A, B, S, T are the query columns written as
   canonical JSON strings and N the row's seq: the columns are the entry's own fields;
4. at every tree head, the stored frontier is the frontier of the leaves so far, the stored
   root is the root of that frontier, and the tree head's time is that of its last entry;
   where the entry time changes (a new transaction), a tree head closes the entries before;
5. no tree head is beyond the last entry (truncation) and no entry is beyond the last tree
   head (every write transaction stores one, so a later entry was not written by govml).

What this pass does not do is re-encode each payload to check that it is in canonical form:
the writer canonicalises every entry before hashing it, and the leaf hash and the tree heads
commit to those bytes, so a payload can only differ from what was written if its leaf hash
and the tree heads were rewritten with it, which no per-entry check can see (a signed
checkpoint held elsewhere can). ``verify_ledger`` still does, and the store runs it whenever
this pass finds a problem, to name the first bad entry with its diagnostics.
"""

from __future__ import annotations

import hashlib
import json
import json.encoder
from collections.abc import Iterable, Iterator, Sequence
from typing import Final

from govml.errors import LedgerVerificationError
from govml.ledger.merkle import EMPTY_ROOT, LEAF_PREFIX, NODE_PREFIX
from govml.ledger.verify import VerifyReport

EntryRow = tuple[int, str, str, str, str, str, str]
"""seq, time, actor, action, subject, entry (the leaf data as text), leaf_hash (hex)."""

HeadRow = tuple[int, str, "str | Sequence[str]", str]
"""tree_size, root_hash (hex), frontier (its JSON text or the decoded list), created_at."""

ERR_POSITION: Final = (
    "ledger entry {position} is missing or out of place (position {position} holds entry {seq})"
)
ERR_STORED_BYTES: Final = "ledger entry {seq}'s stored bytes do not match its leaf hash {stored}"
ERR_COLUMNS: Final = (
    "ledger entry {seq}: its query columns (seq, time, actor, action, subject) are not the "
    "entry's own fields"
)
ERR_HEAD_ORDER: Final = "tree head sizes are not increasing at size {size!r}"
ERR_HEAD_FRONTIER: Final = (
    "the tree head at size {size} does not match ledger entries 0 to {last}: an entry was "
    "rewritten along with its leaf hash, or the tree head was changed"
)
ERR_HEAD_ROOT: Final = "the tree head at size {size} has a root that is not the root of its tree"
ERR_HEAD_TIME: Final = (
    "the tree head at size {size} has time {created!r}, but its last entry {last} has {time!r}"
)
ERR_HEAD_MISSING: Final = (
    "the tree head at size {size} is missing: entries {before} and {size} were written by "
    "different transactions, and each transaction ends with a tree head"
)
ERR_TRUNCATED: Final = "the ledger has {entries} entries but a tree head covers {size}: {missing}"
ERR_PAST_HEAD: Final = (
    "ledger entries {first} to {last} come after the last tree head (size {first}): they were "
    "not written by govml"
)

_encode_string: Final = json.encoder.encode_basestring
MAX_CACHED_PREFIXES: Final = 4096


def verify_stored(
    entry_batches: Iterable[Sequence[EntryRow]], heads: Iterable[HeadRow]
) -> VerifyReport:
    """Check the stored ledger rows in one pass (see the module docstring for the checks).

    Parameters
    ----------
    entry_batches
        Entry rows in order of ``seq``, in batches (as a database cursor hands them out).
    heads
        Tree head rows in order of ``tree_size``.

    Returns
    -------
    VerifyReport
        Entries and tree heads checked, the tree size and its root hash.

    Raises
    ------
    LedgerVerificationError
        At the first row that does not pass. Its message is plain; ``verify_ledger`` gives the
        full diagnosis of a bad entry (which one was rewritten first, under which tree head).
    """
    sha256, leaf_prefix, node_prefix = hashlib.sha256, LEAF_PREFIX, NODE_PREFIX
    encode = _encode_string
    # Few (action, actor) pairs recur: their encoded start of entry is kept.
    prefixes: dict[tuple[str, str], str] = {}
    hashes: list[bytes] = []
    hexes: list[str] = []
    head_rows: Iterator[HeadRow] = iter(heads)
    head = next(head_rows, None)
    next_size = _head_size(head, 0)
    position = 0
    checked_heads = 0
    covered = 0
    time = ""
    last_time: str | None = None
    for batch in entry_batches:
        for seq, time, actor, action, subject, text, stored in batch:
            # 1. Entry numbers are contiguous.
            if seq != position:
                raise LedgerVerificationError(
                    ERR_POSITION.format(position=position, seq=seq), seq=position
                )
            # 2. The stored bytes hash to the stored leaf hash.
            try:
                digest = sha256(leaf_prefix + text.encode()).digest()
            except UnicodeEncodeError:
                digest = b""
            digest_hex = digest.hex()
            if digest_hex != stored:
                raise LedgerVerificationError(
                    ERR_STORED_BYTES.format(seq=seq, stored=str(stored)[:16] + "…"), seq=seq
                )
            # 3. The query columns are the entry's fields (canonical key order: action, actor,
            #    payload, seq, subject, time), and the payload is delimited as an object.
            prefix = prefixes.get((action, actor))
            if prefix is None:
                prefix = f'{{"action":{encode(action)},"actor":{encode(actor)},"payload":{{'
                if len(prefixes) < MAX_CACHED_PREFIXES:
                    prefixes[action, actor] = prefix
            suffix = f'}},"seq":{seq},"subject":{encode(subject)},"time":{encode(time)}}}'
            # The suffix must start after the prefix ends: ``endswith`` from that position.
            if not text.startswith(prefix) or not text.endswith(suffix, len(prefix)):
                raise LedgerVerificationError(ERR_COLUMNS.format(seq=seq), seq=seq)
            # A transaction's entries share its time (now known to be the entry's own) and
            # each transaction ends with a tree head: where the time changes, a tree head
            # must close the entries before.
            if time != last_time:
                if position != covered:
                    raise LedgerVerificationError(
                        ERR_HEAD_MISSING.format(size=position, before=position - 1)
                    )
                last_time = time
            # Append the leaf to the frontier, merging completed subtrees (binary carry).
            hashes.append(digest)
            hexes.append(digest_hex)
            carry = position
            while carry & 1:
                right = hashes.pop()
                hexes.pop()
                merged = sha256(node_prefix + hashes[-1] + right).digest()
                hashes[-1] = merged
                hexes[-1] = merged.hex()
                carry >>= 1
            position += 1
            # 4. The tree heads of this size.
            if position == next_size:
                assert head is not None
                _check_head(head, hashes, hexes, time)
                checked_heads += 1
                covered = position
                head = next(head_rows, None)
                next_size = _head_size(head, position)
    # 5. Nothing beyond: no tree head past the last entry, no entry past the last tree head.
    if head is not None:
        raise LedgerVerificationError(
            ERR_TRUNCATED.format(
                entries=position,
                size=head[0],
                missing=f"entry {position} is missing"
                if head[0] - 1 == position
                else f"entries {position} to {head[0] - 1} are missing",
            ),
            seq=position,
        )
    if position != covered:
        raise LedgerVerificationError(
            ERR_PAST_HEAD.format(first=covered, last=position - 1), seq=covered
        )
    return VerifyReport(
        entries=position,
        checkpoints=checked_heads,
        tree_size=position,
        root_hex=_fold(hashes).hex(),
    )


def _head_size(head: HeadRow | None, after: int) -> int:
    """Return the size of the next tree head, which must be larger than ``after``."""
    if head is None:
        return -1
    size = head[0]
    if type(size) is not int or size <= after:
        raise LedgerVerificationError(ERR_HEAD_ORDER.format(size=size))
    return size


def _check_head(head: HeadRow, hashes: list[bytes], hexes: list[str], time: str) -> None:
    """Compare one tree head with the frontier rebuilt from the entries before it."""
    size, root, frontier, created = head
    # Stored as SQLAlchemy's JSON writes it; any other spelling is decoded and compared.
    if frontier != '["' + '", "'.join(hexes) + '"]':
        try:
            same = (json.loads(frontier) if isinstance(frontier, str) else frontier) == hexes
        except ValueError:
            same = False
        if not same:
            raise LedgerVerificationError(ERR_HEAD_FRONTIER.format(size=size, last=size - 1))
    if _fold(hashes).hex() != root:
        raise LedgerVerificationError(ERR_HEAD_ROOT.format(size=size))
    if created != time:
        raise LedgerVerificationError(
            ERR_HEAD_TIME.format(size=size, created=created, last=size - 1, time=time)
        )


def _fold(hashes: list[bytes]) -> bytes:
    """Return the root of a tree from the roots of its perfect subtrees, largest first."""
    if not hashes:
        return EMPTY_ROOT
    sha256, prefix = hashlib.sha256, NODE_PREFIX
    root = hashes[-1]
    for index in range(len(hashes) - 2, -1, -1):
        root = sha256(prefix + hashes[index] + root).digest()
    return root
