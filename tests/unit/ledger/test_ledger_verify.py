"""verify_ledger: a clean ledger passes, and every kind of tampering names the right entry."""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from govml.errors import LedgerVerificationError
from govml.ledger import (
    EMPTY_ROOT,
    CheckpointRecord,
    EntryRecord,
    Frontier,
    entry_bytes,
    leaf_hash,
    root_hash,
    verify_ledger,
)


def _payload(seq: int) -> dict[str, object]:
    # Varied on purpose: floats and keys above U+FFFF take the exact canonicalisation path.
    payloads: list[dict[str, object]] = [
        {"version": seq, "digest": f"sha256:{seq:064x}", "tags": ["prod", "eu"]},
        {"metrics": {"auc": 0.93, "n": 1.0, "tiny": 1e-7}, "approved": True},
        {"note": "é\u2028😀", "\U0001f600": 1, "\ufb33": 2, "big": 10**16},
        {},
    ]
    return payloads[seq % len(payloads)]


def _fields(seq: int) -> dict[str, object]:
    return {
        "seq": seq,
        "time": f"2024-05-01T12:00:{seq % 60:02d}.{seq:06d}Z",
        "actor": f"user{seq % 3}@example.com",
        "action": "model.register",
        "subject": f"model:m{seq % 5}@1",
        "payload": _payload(seq),
    }


def _entry(seq: int, **changes: object) -> EntryRecord:
    fields = {**_fields(seq), **changes}
    return EntryRecord(leaf_hash=leaf_hash(entry_bytes(**fields)), **fields)  # type: ignore[arg-type]


def _checkpoints(rows: Sequence[EntryRecord], sizes: Sequence[int]) -> list[CheckpointRecord]:
    checkpoints = []
    for size in sizes:
        frontier = Frontier()
        frontier.extend(row.leaf_hash for row in rows[:size])
        checkpoints.append(
            CheckpointRecord(tree_size=size, root_hash=frontier.root(), frontier=frontier.to_json())
        )
    return checkpoints


def _ledger(size: int, sizes: Sequence[int]) -> tuple[list[EntryRecord], list[CheckpointRecord]]:
    rows = [_entry(seq) for seq in range(size)]
    return rows, _checkpoints(rows, sizes)


def _named(rows: Iterable[EntryRecord], checkpoints: Sequence[CheckpointRecord]) -> int | None:
    with pytest.raises(LedgerVerificationError) as caught:
        verify_ledger(rows, checkpoints)
    return caught.value.seq


def _subtree_containing(index: int, size: int) -> tuple[int, int]:
    """The perfect subtree of a tree of ``size`` leaves that holds leaf ``index``."""
    start = 0
    width = 1 << size.bit_length()
    while width:
        if start + width <= size:
            if index < start + width:
                return start, start + width
            start += width
        width >>= 1
    raise AssertionError("index outside the tree")


def _rewritten(row: EntryRecord) -> EntryRecord:
    """The entry with a changed payload and a leaf hash recomputed to match."""
    return _entry(row.seq, payload={"rewritten": True})


ledger_sizes = st.integers(min_value=1, max_value=40)


def test_clean_ledger_verifies() -> None:
    rows, checkpoints = _ledger(50, [50, 0, 1, 7, 8, 8, 32])
    report = verify_ledger((row for row in rows), checkpoints)
    assert report.entries == report.tree_size == 50
    assert report.checkpoints == 7
    assert report.root_hex == root_hash([row.leaf_hash for row in rows]).hex()


def test_empty_ledger() -> None:
    report = verify_ledger([], _checkpoints([], [0]))
    assert (report.entries, report.tree_size, report.root_hex) == (0, 0, EMPTY_ROOT.hex())


def test_entries_are_read_once_as_a_stream() -> None:
    rows, checkpoints = _ledger(20, [5, 20])
    consumed = []

    def stream() -> Iterator[EntryRecord]:
        for row in rows:
            consumed.append(row.seq)
            yield row

    assert verify_ledger(stream(), checkpoints).entries == 20
    assert consumed == list(range(20))


@settings(max_examples=60)
@given(ledger_sizes, st.data())
def test_tampered_payload_is_named(size: int, data: st.DataObject) -> None:
    checkpoint_sizes = data.draw(st.sets(st.integers(0, size)), label="checkpoints")
    rows, checkpoints = _ledger(size, sorted(checkpoint_sizes))
    index = data.draw(st.integers(0, size - 1), label="index")
    field = data.draw(st.sampled_from(["payload", "actor", "time", "subject"]), label="field")
    changed = {
        "payload": {**_payload(index), "extra": 1},
        "actor": "mallory",
        "time": "2000-01-01T00:00:00Z",
        "subject": "model:other@1",
    }[field]
    rows[index] = replace(rows[index], **{field: changed})  # type: ignore[arg-type]
    with pytest.raises(LedgerVerificationError, match="does not match its leaf hash") as caught:
        verify_ledger(rows, checkpoints)
    assert caught.value.seq == index
    assert f"ledger entry {index} " in caught.value.message


@settings(max_examples=60)
@given(ledger_sizes, st.data())
def test_corrupted_stored_leaf_hash_is_named(size: int, data: st.DataObject) -> None:
    rows, checkpoints = _ledger(size, sorted(data.draw(st.sets(st.integers(0, size)))))
    index = data.draw(st.integers(0, size - 1), label="index")
    position = data.draw(st.integers(0, 31), label="byte")
    stored = bytearray(rows[index].leaf_hash)
    stored[position] ^= 0x40
    rows[index] = replace(rows[index], leaf_hash=bytes(stored))
    assert _named(rows, checkpoints) == index


@settings(max_examples=100)
@given(ledger_sizes, st.data())
def test_rewritten_entry_and_leaf_hash_are_caught_by_the_next_checkpoint(
    size: int, data: st.DataObject
) -> None:
    checkpoint_sizes = sorted(data.draw(st.sets(st.integers(0, size)), label="checkpoints"))
    rows, checkpoints = _ledger(size, checkpoint_sizes)
    index = data.draw(st.integers(0, size - 1), label="index")
    rows[index] = _rewritten(rows[index])
    later = [s for s in checkpoint_sizes if s > index]
    if not later:
        # Nothing signed covers the entry yet: a consistent rewrite cannot be seen.
        verify_ledger(rows, checkpoints)
        return
    # The first checkpoint past the entry fails in the subtree holding it; entries under
    # an earlier checkpoint are known good.
    start, end = _subtree_containing(index, later[0])
    certified = max([s for s in checkpoint_sizes if s <= index], default=0)
    with pytest.raises(LedgerVerificationError, match="rewritten") as caught:
        verify_ledger(rows, checkpoints)
    assert caught.value.seq == max(start, certified)
    assert caught.value.seq <= index < end


@given(ledger_sizes, st.data())
def test_with_a_checkpoint_per_entry_the_rewritten_entry_is_named_exactly(
    size: int, data: st.DataObject
) -> None:
    rows, checkpoints = _ledger(size, range(size + 1))
    index = data.draw(st.integers(0, size - 1), label="index")
    rows[index] = _rewritten(rows[index])
    with pytest.raises(LedgerVerificationError, match=f"ledger entry {index}: it was rewritten"):
        verify_ledger(rows, checkpoints)


@given(st.integers(2, 40), st.data())
def test_deleted_row_is_named(size: int, data: st.DataObject) -> None:
    rows, checkpoints = _ledger(size, [size])
    index = data.draw(st.integers(0, size - 1), label="index")
    del rows[index]
    with pytest.raises(LedgerVerificationError, match="missing") as caught:
        verify_ledger(rows, checkpoints)
    assert caught.value.seq == index


@given(st.integers(2, 40), st.data())
def test_swapped_rows_are_named(size: int, data: st.DataObject) -> None:
    rows, checkpoints = _ledger(size, [])
    index = data.draw(st.integers(0, size - 2), label="index")
    rows[index], rows[index + 1] = rows[index + 1], rows[index]
    with pytest.raises(LedgerVerificationError, match="out of order") as caught:
        verify_ledger(rows, checkpoints)
    assert caught.value.seq == index


@given(st.integers(2, 40), st.data())
def test_swapped_seq_numbers_are_named(size: int, data: st.DataObject) -> None:
    # Rows read back in seq order after two rows exchanged their seq numbers.
    rows, checkpoints = _ledger(size, [])
    index = data.draw(st.integers(0, size - 2), label="index")
    first, second = rows[index], rows[index + 1]
    rows[index], rows[index + 1] = replace(second, seq=index), replace(first, seq=index + 1)
    assert _named(rows, checkpoints) == index


@given(ledger_sizes, st.data())
def test_truncated_ledger_names_the_first_missing_entry(size: int, data: st.DataObject) -> None:
    rows, checkpoints = _ledger(size, [size])
    kept = data.draw(st.integers(0, size - 1), label="kept")
    with pytest.raises(LedgerVerificationError, match=f"the ledger has {kept} entries") as caught:
        verify_ledger(rows[:kept], checkpoints)
    assert caught.value.seq == kept


def test_truncation_message_lists_the_missing_entries() -> None:
    rows, checkpoints = _ledger(8, [8])
    with pytest.raises(LedgerVerificationError, match="entries 5 to 7 are missing"):
        verify_ledger(rows[:5], checkpoints)
    with pytest.raises(LedgerVerificationError, match="entry 7 is missing"):
        verify_ledger(rows[:7], checkpoints)


def test_rewrite_before_a_truncation_is_named_first() -> None:
    rows, checkpoints = _ledger(12, [12])
    rows[2] = _rewritten(rows[2])
    # Entries 0-7 are a complete subtree of the checkpoint: the rewrite shows in them.
    assert _named(rows[:10], checkpoints) == 0
    # With only five entries left no complete subtree remains to compare.
    assert _named(rows[:5], checkpoints) == 5


def test_repeated_row_is_named() -> None:
    rows, checkpoints = _ledger(10, [])
    rows.insert(5, rows[4])
    with pytest.raises(
        LedgerVerificationError, match="entry 4 appears again at position 5"
    ) as caught:
        verify_ledger(rows, checkpoints)
    assert caught.value.seq == 5


def test_deleted_range_is_named() -> None:
    rows, checkpoints = _ledger(10, [])
    with pytest.raises(LedgerVerificationError, match="missing or out of place") as caught:
        verify_ledger(rows[:3] + rows[6:], checkpoints)
    assert caught.value.seq == 3


def test_seq_of_the_wrong_type_is_named() -> None:
    rows, checkpoints = _ledger(10, [])
    rows[3] = replace(rows[3], seq="3")  # type: ignore[arg-type]
    with pytest.raises(LedgerVerificationError, match="seq is '3'") as caught:
        verify_ledger(rows, checkpoints)
    assert caught.value.seq == 3


def test_entry_that_cannot_be_canonicalised_is_named() -> None:
    rows, checkpoints = _ledger(10, [10])
    rows[6] = replace(rows[6], payload={"auc": math.nan})
    with pytest.raises(LedgerVerificationError, match="entry 6 cannot be canonicalised") as caught:
        verify_ledger(rows, checkpoints)
    assert caught.value.seq == 6


def test_first_of_two_tamperings_is_named() -> None:
    rows, checkpoints = _ledger(12, range(13))
    rows[2] = _rewritten(rows[2])
    rows[5] = replace(rows[5], actor="mallory")
    assert _named(rows, checkpoints) == 2
    rows, checkpoints = _ledger(12, range(13))
    rows[2] = replace(rows[2], actor="mallory")
    rows[5] = _rewritten(rows[5])
    assert _named(rows, checkpoints) == 2


def test_known_bad_entry_is_preferred_within_the_failing_subtree() -> None:
    rows, checkpoints = _ledger(16, [16])
    rows[2] = _rewritten(rows[2])
    rows[10] = replace(rows[10], actor="mallory")
    # One checkpoint covers both: entry 10 is known bad, entry 2 only possibly.
    assert _named(rows, checkpoints) == 10
    # With a checkpoint at 8 the rewrite is caught before entry 10 is read.
    assert _named(rows, _checkpoints(_ledger(16, [])[0], [8, 16])) == 0


def test_subtree_that_ends_before_a_known_bad_entry_is_named() -> None:
    rows, checkpoints = _ledger(12, [12])
    rows[2] = _rewritten(rows[2])
    rows[9] = replace(rows[9], actor="mallory")
    # Entries 0-7 are a subtree of the checkpoint that fails on its own: it comes first.
    assert _named(rows, checkpoints) == 0


def test_verification_stops_at_the_checkpoint_after_a_bad_entry() -> None:
    rows, checkpoints = _ledger(20, [4, 20])
    rows[2] = replace(rows[2], leaf_hash=bytes(32))
    consumed = []

    def stream() -> Iterator[EntryRecord]:
        for row in rows:
            consumed.append(row.seq)
            yield row

    assert _named(stream(), checkpoints) == 2
    assert consumed == [0, 1, 2, 3]


def test_corrupt_checkpoint_names_no_entry() -> None:
    rows, checkpoints = _ledger(6, [4, 6])
    genuine = checkpoints[1]
    forged_node = leaf_hash(b"forged")
    cases = [
        (replace(genuine, frontier=[forged_node.hex(), genuine.frontier[1]]), "corrupt"),
        (replace(genuine, frontier=genuine.frontier[:1]), "malformed frontier"),
        (replace(genuine, frontier=[h.upper() for h in genuine.frontier]), "malformed frontier"),
        (replace(genuine, root_hash=genuine.root_hash[:31]), "malformed root"),
        (replace(genuine, root_hash=EMPTY_ROOT), "corrupt"),
    ]
    for checkpoint, message in cases:
        with pytest.raises(LedgerVerificationError, match=message) as caught:
            verify_ledger(rows, [checkpoints[0], checkpoint])
        assert caught.value.seq is None


def test_checkpoints_that_disagree_name_no_entry() -> None:
    rows, checkpoints = _ledger(6, [4, 6])
    # Self-consistent, but claims other entries 0-3 than the checkpoint at size 4 did.
    forged = Frontier.from_json(6, [leaf_hash(b"forged").hex(), checkpoints[1].frontier[1]])
    checkpoint = CheckpointRecord(tree_size=6, root_hash=forged.root(), frontier=forged.to_json())
    with pytest.raises(LedgerVerificationError, match="sizes 4 and 6 disagree") as caught:
        verify_ledger(rows, [checkpoints[0], checkpoint])
    assert caught.value.seq is None


@pytest.mark.parametrize("size", [-1, "3", True, None])
def test_checkpoint_with_invalid_size_is_rejected(size: object) -> None:
    checkpoint = CheckpointRecord(tree_size=size, root_hash=EMPTY_ROOT, frontier=[])  # type: ignore[arg-type]
    with pytest.raises(LedgerVerificationError, match="invalid tree size"):
        verify_ledger([], [checkpoint])
