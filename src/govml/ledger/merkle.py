"""Merkle tree hashing and proofs exactly as RFC 6962 / RFC 9162 define them.

The tree over leaves D[0:n] is MTH(D[n]): SHA-256("") when empty, the leaf hash when n = 1,
and otherwise the node hash of MTH(D[0:k]) and MTH(D[k:n]) where k is the largest power of
two smaller than n. The shape depends only on n; an odd node is promoted, never duplicated.
Leaves and nodes are hashed with different one-byte prefixes so that no leaf can pass for
an inner node (second-preimage resistance).

Functions that build proofs take the leaf hashes; functions that check proofs take only
hashes and sizes and raise ``LedgerVerificationError`` when a proof does not hold.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Sequence
from typing import Final

from govml.errors import InputError, LedgerVerificationError

LEAF_PREFIX: Final = b"\x00"
"""Prefix of the hashed data of a leaf (RFC 6962 §2.1)."""

NODE_PREFIX: Final = b"\x01"
"""Prefix of the hashed data of an inner node (RFC 6962 §2.1)."""

HASH_SIZE: Final = 32
"""Length of every hash in the tree (SHA-256)."""

EMPTY_ROOT: Final = hashlib.sha256(b"").digest()
"""Root hash of the empty tree: SHA-256 of the empty string."""

_sha256 = hashlib.sha256
_HEX_HASH: Final = re.compile(r"[0-9a-f]{64}")


def leaf_hash(data: bytes) -> bytes:
    """Return the leaf hash SHA-256(0x00 || data).

    Parameters
    ----------
    data
        The leaf data, for a ledger entry its canonical JSON.

    Returns
    -------
    bytes
        The 32-byte leaf hash.
    """
    return _sha256(LEAF_PREFIX + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """Return the inner node hash SHA-256(0x01 || left || right).

    Parameters
    ----------
    left, right
        Hashes of the left and right subtrees.

    Returns
    -------
    bytes
        The 32-byte node hash.
    """
    return _sha256(NODE_PREFIX + left + right).digest()


def root_hash(leaf_hashes: Sequence[bytes]) -> bytes:
    """Return the Merkle tree hash of a list of leaf hashes.

    Hashes level by level, promoting the last node of an odd level unchanged, which gives
    the RFC 6962 shape without recursion.

    Parameters
    ----------
    leaf_hashes
        The leaf hashes in order.

    Returns
    -------
    bytes
        The root hash; ``EMPTY_ROOT`` for no leaves.
    """
    if not leaf_hashes:
        return EMPTY_ROOT
    level = list(leaf_hashes)
    sha256, prefix = _sha256, NODE_PREFIX
    while len(level) > 1:
        promoted = level[-1] if len(level) % 2 else None
        # zip stops before an odd last node, which is promoted below.
        pairs = zip(level[0::2], level[1::2], strict=False)
        level = [sha256(prefix + left + right).digest() for left, right in pairs]
        if promoted is not None:
            level.append(promoted)
    return level[0]


def inclusion_proof(index: int, leaf_hashes: Sequence[bytes]) -> list[bytes]:
    """Return the audit path PATH(index, D[n]) of RFC 6962 §2.1.1.

    Parameters
    ----------
    index
        Position of the leaf, ``0 <= index < len(leaf_hashes)``.
    leaf_hashes
        All leaf hashes of the tree.

    Returns
    -------
    list of bytes
        The sibling hashes from the leaf up to the root.

    Raises
    ------
    InputError
        If the index is not a leaf of the tree.
    """
    size = len(leaf_hashes)
    if not 0 <= index < size:
        raise InputError(f"leaf index {index} is not in a tree of size {size}")
    path: list[bytes] = []
    start, end = 0, size
    # Walk down from the root; each step records the subtree on the other side.
    while end - start > 1:
        middle = start + _largest_power_of_two_below(end - start)
        if index < middle:
            path.append(root_hash(leaf_hashes[middle:end]))
            end = middle
        else:
            path.append(root_hash(leaf_hashes[start:middle]))
            start = middle
    path.reverse()
    return path


def consistency_proof(old_size: int, leaf_hashes: Sequence[bytes]) -> list[bytes]:
    """Return the consistency proof PROOF(old_size, D[n]) of RFC 6962 §2.1.2.

    Parameters
    ----------
    old_size
        Size of the earlier tree, ``0 <= old_size <= len(leaf_hashes)``.
    leaf_hashes
        All leaf hashes of the current tree.

    Returns
    -------
    list of bytes
        The proof; empty when ``old_size`` is 0 or the current size.

    Raises
    ------
    InputError
        If ``old_size`` is negative or larger than the tree.
    """
    size = len(leaf_hashes)
    if not 0 <= old_size <= size:
        raise InputError(f"old size {old_size} is not between 0 and the tree size {size}")
    if old_size in (0, size):
        return []
    proof: list[bytes] = []
    start, end, old_end = 0, size, old_size
    # SUBPROOF's flag b: the old tree is still a complete subtree of what is left.
    whole_old_tree = True
    while old_end != end:
        middle = start + _largest_power_of_two_below(end - start)
        if old_end <= middle:
            proof.append(root_hash(leaf_hashes[middle:end]))
            end = middle
        else:
            proof.append(root_hash(leaf_hashes[start:middle]))
            start = middle
            whole_old_tree = False
    if not whole_old_tree:
        proof.append(root_hash(leaf_hashes[start:end]))
    proof.reverse()
    return proof


def verify_inclusion(
    *, index: int, size: int, leaf_hash: bytes, proof: Sequence[bytes], root: bytes
) -> None:
    """Check that a leaf is in a tree, following RFC 9162 §2.1.3.2.

    Parameters
    ----------
    index
        Position of the leaf.
    size
        Number of leaves in the tree whose root is ``root``.
    leaf_hash
        Hash of the leaf.
    proof
        The inclusion path, from the leaf up.
    root
        Root hash of the tree of ``size`` leaves.

    Raises
    ------
    LedgerVerificationError
        If the proof does not show the leaf at ``index`` in that tree.
    """
    _check_hashes("inclusion proof", leaf_hash, root, *proof)
    # 1. Fail if leaf_index >= tree_size.
    if not 0 <= index < size:
        raise LedgerVerificationError(
            f"inclusion proof: leaf index {index} is not in a tree of size {size}"
        )
    # 2. Set fn to leaf_index and sn to tree_size - 1.
    fn, sn = index, size - 1
    # 3. Set r to hash.
    r = leaf_hash
    # 4. For each value p in the inclusion_path array:
    for p in proof:
        # a. If sn is 0, stop the iteration and fail the proof verification.
        if sn == 0:
            raise LedgerVerificationError("inclusion proof: the path is longer than the tree")
        # b. If LSB(fn) is set, or if fn is equal to sn, then:
        if fn & 1 or fn == sn:
            # i. Set r to HASH(0x01 || p || r).
            r = node_hash(p, r)
            # ii. If LSB(fn) is not set, right-shift fn and sn equally until either LSB(fn)
            #     is set or fn is 0.
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        # Otherwise: set r to HASH(0x01 || r || p).
        else:
            r = node_hash(r, p)
        # c. Finally, right-shift both fn and sn one time.
        fn >>= 1
        sn >>= 1
    # 5. Accept iff sn is 0 and r equals the root hash.
    if sn != 0:
        raise LedgerVerificationError("inclusion proof: the path is shorter than the tree")
    if r != root:
        raise LedgerVerificationError(
            f"inclusion proof: leaf {index} does not lead to root {root.hex()[:12]}…"
        )


def verify_consistency(
    *, old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> None:
    """Check that one tree extends another, following RFC 9162 §2.1.4.2.

    The trivial cases come first: equal sizes need equal roots and an empty proof, and the
    empty tree (whose root can only be ``EMPTY_ROOT``) is extended by every tree.

    Parameters
    ----------
    old_size, new_size
        Sizes of the earlier and the later tree.
    old_root, new_root
        Their root hashes.
    proof
        The consistency path.

    Raises
    ------
    LedgerVerificationError
        If the later tree does not contain the earlier one as its prefix.
    """
    _check_hashes("consistency proof", old_root, new_root, *proof)
    if not 0 <= old_size <= new_size:
        raise LedgerVerificationError(
            f"consistency proof: old size {old_size} is not between 0 and new size {new_size}"
        )
    if old_size == 0:
        if old_root != EMPTY_ROOT:
            raise LedgerVerificationError("consistency proof: wrong root for the empty tree")
        if proof:
            raise LedgerVerificationError("consistency proof: must be empty for an empty tree")
        if new_size == 0 and new_root != EMPTY_ROOT:
            raise LedgerVerificationError("consistency proof: wrong root for the empty tree")
        return
    if old_size == new_size:
        if proof:
            raise LedgerVerificationError("consistency proof: must be empty for equal sizes")
        if old_root != new_root:
            raise LedgerVerificationError(
                f"consistency proof: two different roots for tree size {old_size}"
            )
        return
    # 1. If consistency_path is an empty array, stop and fail the proof verification.
    if not proof:
        raise LedgerVerificationError("consistency proof: empty proof for different sizes")
    path = list(proof)
    # 2. If first is an exact power of 2, then prepend first_hash to the consistency_path.
    if old_size & (old_size - 1) == 0:
        path.insert(0, old_root)
    # 3. Set fn to first - 1 and sn to second - 1.
    fn, sn = old_size - 1, new_size - 1
    # 4. If LSB(fn) is set, then right-shift both fn and sn equally until LSB(fn) is not set.
    while fn & 1:
        fn >>= 1
        sn >>= 1
    # 5. Set both fr and sr to the first value in the consistency_path array.
    fr = sr = path[0]
    # 6. For each subsequent value c in the consistency_path array:
    for c in path[1:]:
        # a. If sn is 0, then stop the iteration and fail the proof verification.
        if sn == 0:
            raise LedgerVerificationError("consistency proof: the path is longer than the tree")
        # b. If LSB(fn) is set, or if fn is equal to sn, then:
        if fn & 1 or fn == sn:
            # i. Set fr to HASH(0x01 || c || fr). Set sr to HASH(0x01 || c || sr).
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            # ii. If LSB(fn) is not set, then right-shift both fn and sn equally until
            #     either LSB(fn) is set or fn is 0.
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        # Otherwise: set sr to HASH(0x01 || sr || c).
        else:
            sr = node_hash(sr, c)
        # c. Finally, right-shift both fn and sn one time.
        fn >>= 1
        sn >>= 1
    # 7. Accept iff fr equals first_hash, sr equals second_hash and sn is 0.
    if sn != 0:
        raise LedgerVerificationError("consistency proof: the path is shorter than the tree")
    if fr != old_root:
        raise LedgerVerificationError(
            f"consistency proof: does not lead to the old root of size {old_size}"
        )
    if sr != new_root:
        raise LedgerVerificationError(
            f"consistency proof: does not lead to the new root of size {new_size}"
        )


class Frontier:
    """The right edge of a Merkle tree: the roots of its perfect subtrees, largest first.

    A tree of n leaves splits into one perfect subtree per set bit of n (for n = 7: leaves
    0-3, 4-5 and 6). Those roots are all that is needed to append more leaves and to compute
    the root, so appending k leaves to a tree of size n costs O(k + log n) hashes. The store
    keeps a frontier with every checkpoint; ``to_json`` and ``from_json`` round-trip it.
    """

    __slots__ = ("_hashes", "_size")

    def __init__(self) -> None:
        self._size = 0
        self._hashes: list[bytes] = []

    @classmethod
    def from_json(cls, size: int, hashes: Sequence[str]) -> Frontier:
        """Rebuild a frontier from its size and the hex hashes ``to_json`` wrote.

        Parameters
        ----------
        size
            Number of leaves in the tree.
        hashes
            One lowercase hex SHA-256 per perfect subtree, largest subtree first.

        Returns
        -------
        Frontier
            The frontier, ready to take more leaves.

        Raises
        ------
        InputError
            If the size is negative, the number of hashes is not the number of set bits of
            ``size``, or a hash is not 64 lowercase hex digits.
        """
        if type(size) is not int or size < 0:
            raise InputError(f"frontier size must be an int >= 0, not {size!r}")
        if isinstance(hashes, str | bytes) or not isinstance(hashes, Sequence):
            raise InputError(f"a frontier is a list of hex strings, not {type(hashes).__name__}")
        if len(hashes) != size.bit_count():
            raise InputError(
                f"a frontier of size {size} has {size.bit_count()} hashes, not {len(hashes)}"
            )
        frontier = cls()
        for text in hashes:
            # Only the exact form to_json writes, so that a frontier round-trips byte for byte.
            if not isinstance(text, str) or _HEX_HASH.fullmatch(text) is None:
                raise InputError(f"frontier hash {text!r} is not 64 lowercase hex digits")
            frontier._hashes.append(bytes.fromhex(text))
        frontier._size = size
        return frontier

    @property
    def size(self) -> int:
        """Number of leaves appended so far."""
        return self._size

    @property
    def hashes(self) -> tuple[bytes, ...]:
        """Roots of the perfect subtrees, largest (leftmost) first."""
        return tuple(self._hashes)

    def append(self, leaf_hash: bytes) -> None:
        """Add one leaf hash at the right edge of the tree.

        Parameters
        ----------
        leaf_hash
            Hash of the new leaf.

        Raises
        ------
        InputError
            If the hash is not 32 bytes long.
        """
        if len(leaf_hash) != HASH_SIZE:
            raise InputError(f"a leaf hash has {HASH_SIZE} bytes, not {len(leaf_hash)}")
        hashes = self._hashes
        hashes.append(leaf_hash)
        # Each trailing 1 bit of the old size is a subtree of the same height as the one
        # just completed: merge them, like carrying in binary addition.
        carry = self._size
        while carry & 1:
            right = hashes.pop()
            hashes[-1] = _sha256(NODE_PREFIX + hashes[-1] + right).digest()
            carry >>= 1
        self._size += 1

    def extend(self, leaf_hashes: Iterable[bytes]) -> None:
        """Append leaf hashes in order.

        Parameters
        ----------
        leaf_hashes
            Hashes of the new leaves.
        """
        for leaf in leaf_hashes:
            self.append(leaf)

    def root(self) -> bytes:
        """Return the root hash of the tree: the subtree roots folded from the right.

        Returns
        -------
        bytes
            Equal to ``root_hash`` of every leaf appended; ``EMPTY_ROOT`` when empty.
        """
        return fold_frontier(self._hashes)

    def to_json(self) -> list[str]:
        """Return the subtree roots as lowercase hex, the form the store persists.

        Returns
        -------
        list of str
            One hex hash per set bit of ``size``, largest subtree first.
        """
        return [digest.hex() for digest in self._hashes]

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Frontier):
            return NotImplemented
        return self._size == other._size and self._hashes == other._hashes

    __hash__ = None  # type: ignore[assignment]  # mutable, so not hashable

    def __repr__(self) -> str:
        return f"Frontier(size={self._size}, root={self.root().hex()[:12]}…)"


def fold_frontier(hashes: Sequence[bytes]) -> bytes:
    """Return the root hash of a tree given the roots of its perfect subtrees.

    Parameters
    ----------
    hashes
        Subtree roots, largest (leftmost) first, as ``Frontier.hashes`` gives them.

    Returns
    -------
    bytes
        The root hash; ``EMPTY_ROOT`` when there are none.
    """
    if not hashes:
        return EMPTY_ROOT
    root = hashes[-1]
    for left in reversed(hashes[:-1]):
        root = node_hash(left, root)
    return root


def subtree_ranges(size: int) -> list[tuple[int, int]]:
    """Return the leaf ranges ``[start, end)`` of the perfect subtrees of a tree.

    These are the ranges the hashes of ``Frontier`` cover, largest first; for ``size`` 7
    they are ``[(0, 4), (4, 6), (6, 7)]``.

    Parameters
    ----------
    size
        Number of leaves.

    Returns
    -------
    list of tuple of int
        One range per set bit of ``size``.
    """
    ranges = []
    start = 0
    for bit in reversed(range(size.bit_length())):
        if size >> bit & 1:
            ranges.append((start, start + (1 << bit)))
            start += 1 << bit
    return ranges


def _largest_power_of_two_below(n: int) -> int:
    """Return k, the largest power of two smaller than n (n >= 2), where RFC 6962 splits."""
    return 1 << ((n - 1).bit_length() - 1)


def _check_hashes(what: str, *hashes: bytes) -> None:
    for digest in hashes:
        if len(digest) != HASH_SIZE:
            raise LedgerVerificationError(
                f"{what}: a hash has {len(digest)} bytes instead of {HASH_SIZE}"
            )
