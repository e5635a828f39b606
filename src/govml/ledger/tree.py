"""A Merkle tree held in memory for proofs: every perfect subtree hash, level by level.

``merkle.inclusion_proof`` and ``merkle.consistency_proof`` hash the leaves again for every
proof. Exporting proofs for many entries of a large log needs the tree once: level ``h``
holds the hashes of the perfect subtrees ``[k * 2**h, (k + 1) * 2**h)``, each level one
``bytes`` of concatenated 32-byte hashes (1M leaves take 64 MB). Any RFC 6962 subtree that a
proof names is then a few node lookups, so a proof costs O(log² n) after an O(n) build.

The proofs equal those of RFC 6962 §2.1.1 and §2.1.2 (the tests compare both
implementations), for the whole tree or for any earlier size of it. The proof functions take
any source of perfect-subtree hashes: the store also answers them from its tree heads, whose
frontiers are exactly such hashes, so one proof in a large ledger needs no full tree.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from typing import Final

from govml.errors import InputError
from govml.ledger.merkle import EMPTY_ROOT, HASH_SIZE, NODE_PREFIX

_sha256: Final = hashlib.sha256


class MerkleTree:
    """The perfect subtree hashes of a list of leaves.

    Parameters
    ----------
    leaves
        The leaf hashes concatenated (``32 * n`` bytes), in order.

    Raises
    ------
    InputError
        If the length is not a multiple of 32.
    """

    __slots__ = ("_levels", "_size")

    def __init__(self, leaves: bytes) -> None:
        if len(leaves) % HASH_SIZE:
            raise InputError(f"leaf hashes come in {HASH_SIZE}-byte units")
        self._size = len(leaves) // HASH_SIZE
        levels = [bytes(leaves)]
        prefix, sha256 = NODE_PREFIX, _sha256
        while len(levels[-1]) >= 2 * HASH_SIZE:
            below = levels[-1]
            pairs = len(below) // (2 * HASH_SIZE)
            # Two adjacent nodes are 64 consecutive bytes: hash them without splitting.
            levels.append(
                b"".join(
                    sha256(prefix + below[i : i + 2 * HASH_SIZE]).digest()
                    for i in range(0, pairs * 2 * HASH_SIZE, 2 * HASH_SIZE)
                )
            )
        self._levels = levels

    @classmethod
    def from_hex(cls, hex_hashes: Iterable[str]) -> MerkleTree:
        """Build the tree from leaf hashes written as hex.

        Raises
        ------
        InputError
            If a hash is not 64 hex digits.
        """
        texts = list(hex_hashes)
        try:
            leaves = bytes.fromhex("".join(texts))
        except ValueError:
            raise InputError("a leaf hash is not hex") from None
        if len(leaves) != HASH_SIZE * len(texts):
            raise InputError("a leaf hash is not 64 hex digits")
        return cls(leaves)

    @property
    def size(self) -> int:
        """Number of leaves."""
        return self._size

    def leaf(self, index: int) -> bytes:
        """Return the hash of leaf ``index``."""
        self._check_range(index, index + 1)
        return self._block(0, index)

    def root(self, size: int | None = None) -> bytes:
        """Return MTH(D[0:size]), the root of the tree of the first ``size`` leaves.

        Raises
        ------
        InputError
            If ``size`` is larger than the tree.
        """
        size = self._size if size is None else size
        if size == 0:
            return EMPTY_ROOT
        return self.subtree(0, size)

    def subtree(self, start: int, end: int) -> bytes:
        """Return MTH(D[start:end]) for a non-empty range that is a subtree of some RFC tree.

        The range must start at a multiple of the largest power of two not larger than its
        length, which every range an RFC 6962 proof names does.

        Raises
        ------
        InputError
            If the range is empty, out of the tree, or not aligned that way.
        """
        self._check_range(start, end)
        width = end - start
        height = width.bit_length() - 1
        if start % (1 << height):
            raise InputError(f"[{start}, {end}) is not a subtree of an RFC 6962 tree")
        return self._mth(start, end)

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        """Return PATH(index, D[0:size]) of RFC 6962 §2.1.1, leaf to root.

        Raises
        ------
        InputError
            If ``index`` is not a leaf of the tree of ``size`` leaves.
        """
        size = self._size if size is None else size
        if not 0 <= index < size <= self._size:
            raise InputError(f"leaf index {index} is not in a tree of size {size}")
        return inclusion_path(index, size, self._block)

    def consistency_proof(self, old_size: int, size: int | None = None) -> list[bytes]:
        """Return PROOF(old_size, D[0:size]) of RFC 6962 §2.1.2.

        Raises
        ------
        InputError
            If not ``0 <= old_size <= size <= self.size``.
        """
        size = self._size if size is None else size
        if not 0 <= old_size <= size <= self._size:
            raise InputError(f"old size {old_size} is not between 0 and the tree size {size}")
        return consistency_path(old_size, size, self._block)

    def _mth(self, start: int, end: int) -> bytes:
        """MTH(D[start:end]) for an aligned range (see ``subtree``), from stored nodes."""
        return aligned_mth(start, end, self._block)

    def _block(self, height: int, index: int) -> bytes:
        """Return the hash of the perfect subtree of 2**height leaves numbered ``index``."""
        level = self._levels[height]
        return level[index * HASH_SIZE : (index + 1) * HASH_SIZE]

    def _check_range(self, start: int, end: int) -> None:
        if not 0 <= start < end <= self._size:
            raise InputError(f"[{start}, {end}) is not a range of a tree of size {self._size}")


Block = Callable[[int, int], bytes]
"""``block(height, index)``: hash of the perfect subtree ``[index * 2**h, (index + 1) * 2**h)``."""


def aligned_mth(start: int, end: int, block: Block) -> bytes:
    """Return MTH(D[start:end]) of an RFC 6962 subtree from perfect-subtree hashes.

    The range must start at a multiple of the largest power of two smaller than its length
    (every range an RFC 6962 proof names does): it is that perfect subtree and the aligned
    rest, hashed together as RFC 6962 splits it.
    """
    width = end - start
    if width & (width - 1) == 0:
        height = width.bit_length() - 1
        return block(height, start >> height)
    split = _largest_power_of_two_below(width)
    left = block(split.bit_length() - 1, start // split)
    return _sha256(NODE_PREFIX + left + aligned_mth(start + split, end, block)).digest()


def inclusion_path(index: int, size: int, block: Block) -> list[bytes]:
    """Return PATH(index, D[0:size]) of RFC 6962 §2.1.1, leaf to root, from subtree hashes."""
    path: list[bytes] = []
    start, end = 0, size
    # Walk down from the root; each step records the subtree on the other side.
    while end - start > 1:
        middle = start + _largest_power_of_two_below(end - start)
        if index < middle:
            path.append(aligned_mth(middle, end, block))
            end = middle
        else:
            path.append(aligned_mth(start, middle, block))
            start = middle
    path.reverse()
    return path


def consistency_path(old_size: int, size: int, block: Block) -> list[bytes]:
    """Return PROOF(old_size, D[0:size]) of RFC 6962 §2.1.2 from subtree hashes."""
    if old_size in (0, size):
        return []
    proof: list[bytes] = []
    start, end = 0, size
    # SUBPROOF's flag b: the old tree is still a complete subtree of what is left.
    whole_old_tree = True
    while old_size != end:
        middle = start + _largest_power_of_two_below(end - start)
        if old_size <= middle:
            proof.append(aligned_mth(middle, end, block))
            end = middle
        else:
            proof.append(aligned_mth(start, middle, block))
            start = middle
            whole_old_tree = False
    if not whole_old_tree:
        proof.append(aligned_mth(start, end, block))
    proof.reverse()
    return proof


def _largest_power_of_two_below(n: int) -> int:
    """Return k, the largest power of two smaller than n (n >= 2), where RFC 6962 splits."""
    return 1 << ((n - 1).bit_length() - 1)
