"""A ledger checked in ranges (as parallel workers do) passes and fails exactly as in one pass."""

from __future__ import annotations

import ast
import json
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from govml.ledger import scan
from govml.ledger.canonical import entry_bytes
from govml.ledger.merkle import Frontier, leaf_hash
from govml.ledger.scan import RangeResult, RowProblem, parse_frontier, scan_range

Rows = list[list[Any]]


def _ledger(transactions: list[int]) -> tuple[Rows, Rows]:
    """Entry and tree head rows as the store writes them: one tree head per transaction."""
    entries: Rows = []
    heads: Rows = []
    frontier = Frontier()
    for number, count in enumerate(transactions):
        when = f"2026-01-01T00:{number // 60:02d}:{number % 60:02d}.000000Z"
        for _ in range(count):
            seq = frontier.size
            data = entry_bytes(
                seq=seq,
                time=when,
                actor="alice",
                action="x.done",
                subject=f"s/{seq % 3}",
                payload={"n": seq, "score": 0.5},
            )
            frontier.append(leaf_hash(data))
            entries.append(
                [seq, when, "alice", "x.done", f"s/{seq % 3}", data.decode(), leaf_hash(data).hex()]
            )
        heads.append([frontier.size, frontier.root().hex(), json.dumps(frontier.to_json()), when])
    return entries, heads


def _one_pass(entries: Rows, heads: Rows) -> RangeResult:
    """Check in one pass, rows in order of seq as the store reads them."""
    return scan_range(_batches(sorted(entries, key=lambda row: row[0])), [tuple(r) for r in heads])


def _in_ranges(entries: Rows, heads: Rows, cuts: list[int]) -> RangeResult:
    """Check range by range as the store's workers do: the same queries, in order."""
    ordered = sorted(entries, key=lambda row: row[0])
    bounds = [0, *cuts]
    found: list[RangeResult] = []
    for start, end in zip(bounds, [*cuts, None], strict=True):
        rows = [row for row in ordered if row[0] >= start] if start else ordered
        if end is not None:
            rows = rows[: end - start]
        frontier: list[str] = []
        if start:
            (stored,) = [head[2] for head in heads if head[0] == start]
            frontier = parse_frontier(start, stored)
        in_range = [
            tuple(head)
            for head in heads
            if (not start or head[0] > start) and (end is None or head[0] <= end)
        ]
        found.append(scan_range(_batches(rows), in_range, start=start, frontier=frontier, end=end))
    assert [result.end for result in found[:-1]] == cuts
    return RangeResult(
        found[-1].end,
        sum(result.entries for result in found),
        sum(result.heads for result in found),
        found[-1].root,
    )


def _batches(rows: Rows) -> list[list[Any]]:
    return [[tuple(row) for row in rows[i : i + 3]] for i in range(0, len(rows), 3)]


def _outcome(check: Any) -> tuple[str, int | None] | RangeResult:
    try:
        return check()  # type: ignore[no-any-return]
    except RowProblem as problem:
        return problem.message, problem.seq


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(1, 4), min_size=2, max_size=14), st.data())
def test_ranges_together_equal_the_one_pass(transactions: list[int], data: st.DataObject) -> None:
    entries, heads = _ledger(transactions)
    sizes = [head[0] for head in heads[:-1]]
    cuts = sorted(data.draw(st.sets(st.sampled_from(sizes), min_size=1)))
    assert _in_ranges(entries, heads, cuts) == _one_pass(entries, heads)


@settings(max_examples=300, deadline=None)
@given(
    transactions=st.lists(st.integers(1, 3), min_size=2, max_size=10),
    data=st.data(),
)
def test_any_changed_character_fails_in_ranges_as_in_one_pass(
    transactions: list[int], data: st.DataObject
) -> None:
    entries, heads = _ledger(transactions)
    table = data.draw(st.sampled_from([entries, heads]))
    row = data.draw(st.integers(0, len(table) - 1))
    column = data.draw(st.integers(1, 6 if table is entries else 3))
    text = table[row][column]
    index = data.draw(st.integers(0, len(text) - 1))
    char = data.draw(st.characters(codec="utf-8").filter(lambda c: c != text[index]))
    # Cut where the clean ledger has tree heads; the workers cut where the stored ones are.
    sizes = [head[0] for head in heads[:-1]]
    cuts = sorted(data.draw(st.sets(st.sampled_from(sizes), min_size=1)))
    table[row][column] = text[:index] + char + text[index + 1 :]
    expected = _outcome(lambda: _one_pass(entries, heads))
    assert _outcome(lambda: _in_ranges(entries, heads, cuts)) == expected


@settings(max_examples=150, deadline=None)
@given(
    transactions=st.lists(st.integers(1, 3), min_size=2, max_size=10),
    data=st.data(),
)
def test_deleted_moved_and_truncated_rows_fail_in_ranges_as_in_one_pass(
    transactions: list[int], data: st.DataObject
) -> None:
    entries, heads = _ledger(transactions)
    sizes = [head[0] for head in heads[:-1]]
    cuts = sorted(data.draw(st.sets(st.sampled_from(sizes), min_size=1)))
    first = data.draw(st.integers(0, len(entries) - 1))
    second = data.draw(st.integers(0, len(entries) - 1))
    change = data.draw(st.sampled_from(["delete", "swap", "truncate", "renumber", "head"]))
    if change == "delete":
        del entries[first]
    elif change == "swap":
        entries[first][0], entries[second][0] = entries[second][0], entries[first][0]
    elif change == "truncate":
        del entries[first:]
    elif change == "renumber":
        entries[first][0] = -1 - second
    else:
        # A tree head gone, but not one where a range starts: those are read from the store.
        heads = [head for head in heads if head[0] != second or head[0] in cuts]
    expected = _outcome(lambda: _one_pass(entries, heads))
    assert _outcome(lambda: _in_ranges(entries, heads, cuts)) == expected


def test_a_range_stops_at_its_end_and_reads_no_further() -> None:
    entries, heads = _ledger([2, 2, 2])
    # Rows after the end are ignored, even broken ones.
    broken = [*entries[:4], [99, "x", "x", "x", "x", "x", "x"]]
    found = scan_range(_batches(broken), [tuple(head) for head in heads], end=4)
    assert (found.end, found.entries, found.heads) == (4, 4, 2)


@pytest.mark.parametrize(
    "stored",
    [
        "not json",
        '"a string"',
        "[]",
        json.dumps(["ab" * 32, "cd" * 32]),
        json.dumps(["AB" * 32]),
        json.dumps(["ab" * 31]),
        json.dumps([5]),
    ],
)
def test_a_malformed_start_frontier_is_refused(stored: str) -> None:
    with pytest.raises(RowProblem, match="tree head at size 4"):
        parse_frontier(4, stored)


def test_the_worker_module_imports_only_the_standard_library() -> None:
    tree = ast.parse(Path(scan.__file__).read_text())
    imported = {
        (node.module or "").split(".")[0]
        if isinstance(node, ast.ImportFrom)
        else alias.name.split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in node.names
    }
    assert imported <= set(sys.stdlib_module_names) | {"__future__"}
