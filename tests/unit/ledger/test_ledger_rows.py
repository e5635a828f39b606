"""The one-pass verifier of stored rows agrees with the reference verifier and catches tampering."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from govml.errors import LedgerVerificationError
from govml.ledger.canonical import entry_bytes
from govml.ledger.merkle import Frontier, leaf_hash
from govml.ledger.rows import verify_stored
from govml.ledger.verify import CheckpointRecord, EntryRecord, verify_ledger

Rows = list[list[Any]]


def _ledger(transactions: list[int]) -> tuple[Rows, Rows]:
    """Entry and tree head rows as the store writes them: one tree head per transaction."""
    entries: Rows = []
    heads: Rows = []
    frontier = Frontier()
    for number, count in enumerate(transactions):
        when = f"2026-01-01T00:00:{number:02d}.000000Z"
        for _ in range(count):
            seq = frontier.size
            payload = {"n": seq, "score": 0.5, "tags": {"k": "v"}}
            data = entry_bytes(
                seq=seq,
                time=when,
                actor="alice",
                action="x.done",
                subject=f"s/{seq}",
                payload=payload,
            )
            frontier.append(leaf_hash(data))
            entries.append(
                [seq, when, "alice", "x.done", f"s/{seq}", data.decode(), leaf_hash(data).hex()]
            )
        heads.append([frontier.size, frontier.root().hex(), json.dumps(frontier.to_json()), when])
    return entries, heads


def _verify(entries: Rows, heads: Rows) -> Any:
    batches = [[tuple(row) for row in entries[i : i + 3]] for i in range(0, len(entries), 3)]
    return verify_stored(batches, [tuple(row) for row in heads])


def _reference(entries: Rows, heads: Rows) -> Any:
    records = [
        EntryRecord(
            seq=row[0],
            time=row[1],
            actor=row[2],
            action=row[3],
            subject=row[4],
            payload=json.loads(row[5])["payload"],
            leaf_hash=bytes.fromhex(row[6]),
        )
        for row in entries
    ]
    checkpoints = [
        CheckpointRecord(tree_size=h[0], root_hash=bytes.fromhex(h[1]), frontier=json.loads(h[2]))
        for h in heads
    ]
    return verify_ledger(records, checkpoints)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(1, 4), min_size=0, max_size=12))
def test_agrees_with_the_reference_verifier(transactions: list[int]) -> None:
    entries, heads = _ledger(transactions)
    fast, reference = _verify(entries, heads), _reference(entries, heads)
    assert (fast.entries, fast.checkpoints, fast.root_hex) == (
        reference.entries,
        reference.checkpoints,
        reference.root_hex,
    )


@settings(max_examples=200, deadline=None)
@given(
    transactions=st.lists(st.integers(1, 3), min_size=1, max_size=8),
    data=st.data(),
)
def test_any_character_of_any_entry_column_changed_names_the_entry(
    transactions: list[int], data: st.DataObject
) -> None:
    entries, heads = _ledger(transactions)
    row = data.draw(st.integers(0, len(entries) - 1))
    column = data.draw(st.integers(1, 6))
    text = entries[row][column]
    index = data.draw(st.integers(0, len(text) - 1))
    char = data.draw(st.characters(codec="utf-8").filter(lambda c: c != text[index]))
    entries[row][column] = text[:index] + char + text[index + 1 :]
    with pytest.raises(LedgerVerificationError) as info:
        _verify(entries, heads)
    assert info.value.seq == row


@settings(max_examples=100, deadline=None)
@given(transactions=st.lists(st.integers(1, 3), min_size=1, max_size=8), data=st.data())
def test_any_character_of_any_tree_head_changed_names_the_tree_head(
    transactions: list[int], data: st.DataObject
) -> None:
    entries, heads = _ledger(transactions)
    row = data.draw(st.integers(0, len(heads) - 1))
    column = data.draw(st.integers(1, 3))
    text = heads[row][column]
    index = data.draw(st.integers(0, len(text) - 1))
    char = data.draw(st.characters(codec="utf-8").filter(lambda c: c != text[index]))
    heads[row][column] = text[:index] + char + text[index + 1 :]
    with pytest.raises(LedgerVerificationError, match=f"tree head at size {heads[row][0]}"):
        _verify(entries, heads)


def test_frontier_decoded_by_the_driver_is_accepted_but_not_another_spelling() -> None:
    entries, heads = _ledger([2, 3])
    heads[0][2] = json.loads(heads[0][2])  # a driver that decodes JSON columns itself
    assert _verify(entries, heads).entries == 5
    # The same list spelled otherwise is a changed row: every byte of a tree head counts.
    for spelling in ({"separators": (",", ":")}, {"indent": 1}):
        respelled = [list(head) for head in heads]
        respelled[1][2] = json.dumps(json.loads(heads[1][2]), **spelling)
        with pytest.raises(LedgerVerificationError, match="tree head at size 5"):
            _verify(entries, respelled)


def test_deleted_swapped_and_truncated_rows_are_named() -> None:
    entries, heads = _ledger([2, 2, 2])
    with pytest.raises(LedgerVerificationError, match="entry 3 is missing") as info:
        _verify(entries[:3] + entries[4:], heads)
    assert info.value.seq == 3
    with pytest.raises(LedgerVerificationError) as info:
        _verify([*entries[:1], entries[2], entries[1], *entries[3:]], heads)
    assert info.value.seq == 1
    with pytest.raises(LedgerVerificationError, match="entries 4 to 5 are missing") as info:
        _verify(entries[:4], heads)
    assert info.value.seq == 4


def test_entries_past_the_last_tree_head_are_refused() -> None:
    entries, heads = _ledger([2, 2])
    with pytest.raises(LedgerVerificationError, match="entries 2 to 3 come after") as info:
        _verify(entries, heads[:1])
    assert info.value.seq == 2


def test_a_deleted_tree_head_between_transactions_is_found() -> None:
    entries, heads = _ledger([2, 2, 2])
    with pytest.raises(LedgerVerificationError, match="tree head at size 2 is missing"):
        _verify(entries, [heads[1], heads[2]])


def test_uppercase_hex_is_a_change() -> None:
    entries, heads = _ledger([1, 1])
    entries[1][6] = entries[1][6].upper()
    with pytest.raises(LedgerVerificationError, match="entry 1's stored bytes") as info:
        _verify(entries, heads)
    assert info.value.seq == 1
    entries, heads = _ledger([1, 1])
    heads[1][1] = heads[1][1].upper()
    with pytest.raises(LedgerVerificationError, match="tree head at size 2"):
        _verify(entries, heads)


def test_empty_ledger() -> None:
    report = _verify([], [])
    assert (report.entries, report.checkpoints) == (0, 0)
