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

from collections.abc import Iterable, Sequence

from govml.errors import LedgerVerificationError
from govml.ledger.scan import EntryRow, HeadRow, RowProblem, scan_range
from govml.ledger.verify import VerifyReport

__all__ = ["EntryRow", "HeadRow", "verify_stored"]


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
    try:
        found = scan_range(entry_batches, heads)
    except RowProblem as problem:
        raise LedgerVerificationError(problem.message, seq=problem.seq) from None
    return VerifyReport(
        entries=found.entries,
        checkpoints=found.heads,
        tree_size=found.end,
        root_hex=found.root.hex(),
    )
