"""Published RFC 6962 test vectors (tests/vectors/rfc6962.json) and the RFC's 7-leaf example."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from govml.errors import LedgerVerificationError
from govml.ledger import (
    EMPTY_ROOT,
    Frontier,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    node_hash,
    root_hash,
    verify_consistency,
    verify_inclusion,
)

VECTORS: dict[str, Any] = json.loads(
    (Path(__file__).parents[2] / "vectors" / "rfc6962.json").read_text(encoding="utf-8")
)
LEAVES = [leaf_hash(bytes.fromhex(data)) for data in VECTORS["leaves_hex"]]
ROOTS = {int(size): bytes.fromhex(root) for size, root in VECTORS["roots"].items()}
SOME_HASH = bytes.fromhex("abacaba000000000000000000000000000000000000000000060061e00123456")


def _hashes(hexes: list[str]) -> list[bytes]:
    return [bytes.fromhex(h) for h in hexes]


def test_hasher_vectors() -> None:
    hasher = VECTORS["hasher"]
    assert EMPTY_ROOT.hex() == hasher["empty_root"]
    for case in hasher["leaf"]:
        assert leaf_hash(bytes.fromhex(case["data_hex"])).hex() == case["hash"]
    for case in hasher["node"]:
        left, right = bytes.fromhex(case["left_hex"]), bytes.fromhex(case["right_hex"])
        assert node_hash(left, right).hex() == case["hash"]


def test_empty_tree_root() -> None:
    assert root_hash([]) == EMPTY_ROOT
    assert Frontier().root() == EMPTY_ROOT


@pytest.mark.parametrize("size", range(1, 9))
def test_roots(size: int) -> None:
    assert root_hash(LEAVES[:size]) == ROOTS[size]
    frontier = Frontier()
    frontier.extend(LEAVES[:size])
    assert frontier.root() == ROOTS[size]


@pytest.mark.parametrize("case", VECTORS["inclusion"], ids=lambda c: f"{c['index']}-of-{c['size']}")
def test_inclusion_vectors(case: dict[str, Any]) -> None:
    index, size, path = case["index"], case["size"], _hashes(case["path"])
    assert inclusion_proof(index, LEAVES[:size]) == path
    verify_inclusion(index=index, size=size, leaf_hash=LEAVES[index], proof=path, root=ROOTS[size])


@pytest.mark.parametrize(
    "case", VECTORS["consistency"], ids=lambda c: f"{c['old_size']}-to-{c['new_size']}"
)
def test_consistency_vectors(case: dict[str, Any]) -> None:
    old, new, path = case["old_size"], case["new_size"], _hashes(case["path"])
    assert consistency_proof(old, LEAVES[:new]) == path
    verify_consistency(
        old_size=old, new_size=new, old_root=ROOTS[old], new_root=ROOTS[new], proof=path
    )


def _inclusion_probes(
    index: int, size: int, leaf: bytes, path: list[bytes], root: bytes
) -> list[tuple[str, dict[str, Any]]]:
    """Corruptions of a valid inclusion proof, as transparency-dev/merkle tests them."""
    good = {"index": index, "size": size, "leaf_hash": leaf, "proof": path, "root": root}
    probes = [
        ("index - 1", {**good, "index": index - 1}),
        ("index + 1", {**good, "index": index + 1}),
        ("index ^ 2", {**good, "index": index ^ 2}),
        ("size * 2", {**good, "size": size * 2}),
        ("size // 2", {**good, "size": size // 2}),
        ("wrong leaf", {**good, "leaf_hash": leaf_hash(b"WrongLeaf")}),
        ("empty root", {**good, "root": EMPTY_ROOT}),
        ("random root", {**good, "root": SOME_HASH}),
        ("trailing garbage", {**good, "proof": [*path, b""]}),
        ("trailing root", {**good, "proof": [*path, root]}),
        ("preceding garbage", {**good, "proof": [b"", *path]}),
        ("preceding root", {**good, "proof": [root, *path]}),
    ]
    for i in range(len(path)):
        flipped = list(path)
        flipped[i] = bytes([path[i][0] ^ 8]) + path[i][1:]
        probes.append((f"modified proof[{i}]", {**good, "proof": flipped}))
    if path:
        probes.append(("removed component", {**good, "proof": path[:-1]}))
    if len(path) > 1:
        probes.append(("inserted component", {**good, "proof": [path[0], SOME_HASH, *path[1:]]}))
    return probes


@pytest.mark.parametrize("case", VECTORS["inclusion"], ids=lambda c: f"{c['index']}-of-{c['size']}")
def test_corrupted_inclusion_vectors_fail(case: dict[str, Any]) -> None:
    index, size = case["index"], case["size"]
    probes = _inclusion_probes(index, size, LEAVES[index], _hashes(case["path"]), ROOTS[size])
    for description, probe in probes:
        with pytest.raises(LedgerVerificationError):
            verify_inclusion(**probe)
            pytest.fail(f"accepted: {description}")


@pytest.mark.parametrize(
    "case",
    [c for c in VECTORS["consistency"] if c["path"]],
    ids=lambda c: f"{c['old_size']}-to-{c['new_size']}",
)
def test_corrupted_consistency_vectors_fail(case: dict[str, Any]) -> None:
    old, new, path = case["old_size"], case["new_size"], _hashes(case["path"])
    root1, root2 = ROOTS[old], ROOTS[new]
    good = {"old_size": old, "new_size": new, "old_root": root1, "new_root": root2, "proof": path}
    probes = [
        {**good, "old_size": old - 1},
        {**good, "old_size": old + 1},
        {**good, "old_size": old ^ 2},
        {**good, "new_size": new * 2},
        {**good, "new_size": new // 2},
        {**good, "old_root": SOME_HASH},
        {**good, "new_root": SOME_HASH},
        {**good, "old_root": root2, "new_root": root1},
        {**good, "proof": []},
        {**good, "proof": [*path, b""]},
        {**good, "proof": [*path, root1]},
        {**good, "proof": [*path, root2]},
        {**good, "proof": [b"", *path]},
        {**good, "proof": [root1, *path]},
        {**good, "proof": [root2, *path]},
        {**good, "proof": [path[0], *path]},
        {**good, "proof": path[:-1]},
    ]
    for i in range(len(path)):
        flipped = list(path)
        flipped[i] = bytes([path[i][0] ^ 16]) + path[i][1:]
        probes.append({**good, "proof": flipped})
    for probe in probes:
        with pytest.raises(LedgerVerificationError):
            verify_consistency(**probe)
            pytest.fail(f"accepted: {probe}")


# RFC 6962 §2.1.3 example: seven leaves d0..d6 and the labelled nodes of their tree.
#
#             root
#            /    \
#           k      l
#          / \    / \
#         g   h  i   j
#        / \ / \ / \ |
#        a b c d e f d6
class SevenLeafTree:
    def __init__(self) -> None:
        self.leaves = [leaf_hash(f"d{n}".encode()) for n in range(7)]
        self.a, self.b, self.c, self.d, self.e, self.f, self.j = self.leaves
        self.g = node_hash(self.a, self.b)
        self.h = node_hash(self.c, self.d)
        self.i = node_hash(self.e, self.f)
        self.k = node_hash(self.g, self.h)
        self.l = node_hash(self.i, self.j)
        self.root = node_hash(self.k, self.l)


TREE = SevenLeafTree()


def test_seven_leaf_root() -> None:
    assert root_hash(TREE.leaves) == TREE.root


@pytest.mark.parametrize(("index", "labels"), [(0, "bhl"), (3, "cgl"), (4, "fjk"), (6, "ik")])
def test_seven_leaf_audit_paths(index: int, labels: str) -> None:
    expected = [getattr(TREE, label) for label in labels]
    assert inclusion_proof(index, TREE.leaves) == expected
    verify_inclusion(
        index=index, size=7, leaf_hash=TREE.leaves[index], proof=expected, root=TREE.root
    )


@pytest.mark.parametrize(("old_size", "labels"), [(3, "cdgl"), (4, "l"), (6, "ijk")])
def test_seven_leaf_consistency_proofs(old_size: int, labels: str) -> None:
    expected = [getattr(TREE, label) for label in labels]
    assert consistency_proof(old_size, TREE.leaves) == expected
    verify_consistency(
        old_size=old_size,
        new_size=7,
        old_root=root_hash(TREE.leaves[:old_size]),
        new_root=TREE.root,
        proof=expected,
    )
