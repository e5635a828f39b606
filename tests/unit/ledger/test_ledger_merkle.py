"""Merkle tree hashing, proofs and the Frontier, against the RFC 6962 definitions."""

from __future__ import annotations

import hashlib
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from govml.errors import InputError, LedgerVerificationError
from govml.ledger import (
    EMPTY_ROOT,
    Frontier,
    consistency_proof,
    fold_frontier,
    inclusion_proof,
    leaf_hash,
    node_hash,
    root_hash,
    subtree_ranges,
    verify_consistency,
    verify_inclusion,
)


def _leaves(size: int) -> list[bytes]:
    return [leaf_hash(n.to_bytes(4, "big")) for n in range(size)]


def _split(n: int) -> int:
    k = 1
    while k * 2 < n:
        k *= 2
    return k


# The definitions of RFC 6962 §2.1, written recursively and independently of the code.
def mth(d: list[bytes]) -> bytes:
    if not d:
        return hashlib.sha256(b"").digest()
    if len(d) == 1:
        return d[0]
    k = _split(len(d))
    return hashlib.sha256(b"\x01" + mth(d[:k]) + mth(d[k:])).digest()


def path(m: int, d: list[bytes]) -> list[bytes]:
    if len(d) == 1:
        return []
    k = _split(len(d))
    if m < k:
        return [*path(m, d[:k]), mth(d[k:])]
    return [*path(m - k, d[k:]), mth(d[:k])]


def subproof(m: int, d: list[bytes], complete: bool) -> list[bytes]:
    if m == len(d):
        return [] if complete else [mth(d)]
    k = _split(len(d))
    if m <= k:
        return [*subproof(m, d[:k], complete), mth(d[k:])]
    return [*subproof(m - k, d[k:], False), mth(d[:k])]


def _flip(data: bytes, position: int, bit: int) -> bytes:
    return data[:position] + bytes([data[position] ^ (1 << bit)]) + data[position + 1 :]


sizes = st.integers(min_value=1, max_value=300)


def test_leaf_and_node_use_distinct_prefixes() -> None:
    left, right = leaf_hash(b"l"), leaf_hash(b"r")
    assert leaf_hash(b"") == hashlib.sha256(b"\x00").digest()
    assert node_hash(left, right) == hashlib.sha256(b"\x01" + left + right).digest()
    assert node_hash(left, right) != leaf_hash(left + right)


@given(sizes)
def test_root_hash_matches_the_recursive_definition(size: int) -> None:
    leaves = _leaves(size)
    assert root_hash(leaves) == mth(leaves)


@given(sizes, st.data())
def test_inclusion_proof_matches_path_definition(size: int, data: st.DataObject) -> None:
    leaves = _leaves(size)
    index = data.draw(st.integers(0, size - 1))
    assert inclusion_proof(index, leaves) == path(index, leaves)


@given(sizes, st.data())
def test_consistency_proof_matches_proof_definition(size: int, data: st.DataObject) -> None:
    leaves = _leaves(size)
    old = data.draw(st.integers(1, size - 1)) if size > 1 else 1
    expected = subproof(old, leaves, True) if old < size else []
    assert consistency_proof(old, leaves) == expected


def test_every_inclusion_proof_verifies_up_to_64() -> None:
    for size in range(1, 65):
        leaves = _leaves(size)
        root = root_hash(leaves)
        for index in range(size):
            proof = inclusion_proof(index, leaves)
            verify_inclusion(
                index=index, size=size, leaf_hash=leaves[index], proof=proof, root=root
            )


def test_every_consistency_proof_verifies_up_to_64() -> None:
    leaves = _leaves(64)
    roots = [root_hash(leaves[:n]) for n in range(65)]
    for new in range(65):
        for old in range(new + 1):
            proof = consistency_proof(old, leaves[:new])
            verify_consistency(
                old_size=old, new_size=new, old_root=roots[old], new_root=roots[new], proof=proof
            )


def _tamper(data: st.DataObject, hashes: dict[str, bytes], proof: list[bytes]) -> list[bytes]:
    """Flip one bit of one of the named hashes or of one proof element, chosen by hypothesis."""
    targets = sorted(hashes) + (["proof"] if proof else [])
    target = data.draw(st.sampled_from(targets), label="target")
    position = data.draw(st.integers(0, 31), label="byte")
    bit = data.draw(st.integers(0, 7), label="bit")
    if target != "proof":
        hashes[target] = _flip(hashes[target], position, bit)
        return proof
    element = data.draw(st.integers(0, len(proof) - 1), label="element")
    return [*proof[:element], _flip(proof[element], position, bit), *proof[element + 1 :]]


@settings(max_examples=300)
@given(sizes, st.data())
def test_tampered_inclusion_proof_fails(size: int, data: st.DataObject) -> None:
    leaves = _leaves(size)
    index = data.draw(st.integers(0, size - 1), label="index")
    hashes = {"leaf_hash": leaves[index], "root": root_hash(leaves)}
    proof = inclusion_proof(index, leaves)
    verify_inclusion(index=index, size=size, proof=proof, **hashes)
    proof = _tamper(data, hashes, proof)
    with pytest.raises(LedgerVerificationError):
        verify_inclusion(index=index, size=size, proof=proof, **hashes)


@settings(max_examples=300)
@given(sizes, st.data())
def test_tampered_consistency_proof_fails(new: int, data: st.DataObject) -> None:
    leaves = _leaves(new)
    old = data.draw(st.integers(0, new), label="old")
    hashes = {"old_root": root_hash(leaves[:old]), "new_root": root_hash(leaves)}
    proof = consistency_proof(old, leaves)
    verify_consistency(old_size=old, new_size=new, proof=proof, **hashes)
    if old == 0:
        # Every tree extends the empty tree: there the new root proves nothing.
        del hashes["new_root"]
        proof = _tamper(data, hashes, proof)
        hashes["new_root"] = root_hash(leaves)
    else:
        proof = _tamper(data, hashes, proof)
    with pytest.raises(LedgerVerificationError):
        verify_consistency(old_size=old, new_size=new, proof=proof, **hashes)


def test_consistency_trivial_cases() -> None:
    root = root_hash(_leaves(3))
    verify_consistency(old_size=0, new_size=0, old_root=EMPTY_ROOT, new_root=EMPTY_ROOT, proof=[])
    verify_consistency(old_size=0, new_size=3, old_root=EMPTY_ROOT, new_root=root, proof=[])
    verify_consistency(old_size=3, new_size=3, old_root=root, new_root=root, proof=[])
    bad: list[tuple[int, int, bytes, bytes, list[bytes]]] = [
        (0, 3, root, root, []),  # the empty tree has one root
        (0, 3, EMPTY_ROOT, root, [root]),  # nothing to prove from the empty tree
        (3, 3, root, EMPTY_ROOT, []),  # one size, two roots
        (3, 3, root, root, [root]),  # nothing to prove between equal trees
        (4, 3, root, root, []),  # trees do not shrink
        (1, 3, root, root, []),  # different sizes need a proof
    ]
    for old_size, new_size, old_root, new_root, proof in bad:
        with pytest.raises(LedgerVerificationError):
            verify_consistency(
                old_size=old_size,
                new_size=new_size,
                old_root=old_root,
                new_root=new_root,
                proof=proof,
            )


def test_inclusion_rejects_bad_indexes_and_hash_sizes() -> None:
    leaves = _leaves(4)
    root = root_hash(leaves)
    proof = inclusion_proof(1, leaves)
    for index, size in [(4, 4), (-1, 4), (0, 0)]:
        with pytest.raises(LedgerVerificationError, match="not in a tree"):
            verify_inclusion(index=index, size=size, leaf_hash=leaves[1], proof=proof, root=root)
    with pytest.raises(LedgerVerificationError, match="31 bytes"):
        verify_inclusion(index=1, size=4, leaf_hash=leaves[1][:31], proof=proof, root=root)


def test_proof_builders_reject_out_of_range_arguments() -> None:
    leaves = _leaves(5)
    for index in (-1, 5):
        with pytest.raises(InputError):
            inclusion_proof(index, leaves)
    for old in (-1, 6):
        with pytest.raises(InputError):
            consistency_proof(old, leaves)
    assert consistency_proof(0, leaves) == []
    assert consistency_proof(5, leaves) == []


@given(st.lists(st.binary(max_size=8), max_size=300))
def test_frontier_root_equals_root_hash_for_every_prefix(data: list[bytes]) -> None:
    leaves = [leaf_hash(d) for d in data]
    frontier = Frontier()
    assert frontier.root() == EMPTY_ROOT
    for n, leaf in enumerate(leaves, start=1):
        frontier.append(leaf)
        assert frontier.size == n
        assert frontier.root() == root_hash(leaves[:n])
    ranges = subtree_ranges(len(leaves))
    assert frontier.hashes == tuple(root_hash(leaves[a:b]) for a, b in ranges)
    assert fold_frontier(frontier.hashes) == frontier.root()


@given(st.integers(0, 300), st.integers(0, 40))
def test_frontier_json_round_trip(size: int, more: int) -> None:
    leaves = _leaves(size + more)
    frontier = Frontier()
    frontier.extend(leaves[:size])
    stored = json.loads(json.dumps({"size": frontier.size, "frontier": frontier.to_json()}))
    restored = Frontier.from_json(stored["size"], stored["frontier"])
    assert restored == frontier
    assert restored.to_json() == frontier.to_json()
    # A restored frontier keeps growing exactly like the original.
    restored.extend(leaves[size:])
    frontier.extend(leaves[size:])
    assert restored == frontier
    assert restored.root() == root_hash(leaves)


def test_frontier_rejects_hashes_of_the_wrong_size() -> None:
    with pytest.raises(InputError, match="32 bytes"):
        Frontier().append(b"short")


def test_subtree_ranges() -> None:
    assert subtree_ranges(0) == []
    assert subtree_ranges(7) == [(0, 4), (4, 6), (6, 7)]
    assert subtree_ranges(8) == [(0, 8)]
    assert subtree_ranges(24) == [(0, 16), (16, 24)]


@pytest.mark.parametrize(
    ("size", "hashes", "match"),
    [
        (-1, [], "size"),
        (3, ["00" * 32], "2 hashes"),
        (1, ["00" * 31], "64 lowercase hex"),
        (1, ["AB" * 32], "64 lowercase hex"),
        (1, ["zz" * 32], "64 lowercase hex"),
        (1, [" " + "0" * 63], "64 lowercase hex"),
        (1, "00" * 32, "list of hex strings"),
        (0, None, "list of hex strings"),
    ],
)
def test_frontier_from_json_rejects_malformed_input(size: int, hashes: object, match: str) -> None:
    with pytest.raises(InputError, match=match):
        Frontier.from_json(size, hashes)  # type: ignore[arg-type]
