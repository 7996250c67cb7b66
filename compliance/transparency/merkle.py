"""RFC 9162 (Certificate Transparency v2) Merkle tree hashing, proofs and their checks.

Pure functions over 32-byte SHA-256 hashes. Proof generation reads subtree
hashes through a `SubtreeHash` callable (MTH of leaves [start, end)), so the
same code serves an in-memory list of leaves and the tree kept in SQL.

References (RFC 9162): 2.1.1 MTH and the 0x00 / 0x01 prefixes, 2.1.3.1 PATH,
2.1.3.2 verifying an inclusion proof, 2.1.4.1 SUBPROOF, 2.1.4.2 verifying a
consistency proof.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()

# MTH(D[start:end]) for 0 <= start < end <= tree size.
SubtreeHash = Callable[[int, int], bytes]


class ProofError(ValueError):
    """A proof was asked for sizes or indexes the tree does not have."""


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def split_point(n: int) -> int:
    """The largest power of two smaller than n (RFC 9162: k < n <= 2k), for n > 1."""
    if n < 2:
        raise ValueError(f"no split for a tree of {n} leaves")
    return 1 << ((n - 1).bit_length() - 1)


def perfect_ranges(start: int, end: int) -> list[tuple[int, int]]:
    """[start, end) as perfect subtrees (level, index), largest first.

    Valid for the ranges RFC 9162's recursion produces: start is a multiple of
    a power of two at least as large as the range, so every piece is aligned.
    """
    pieces = []
    while start < end:
        level = (end - start).bit_length() - 1
        while start % (1 << level):
            level -= 1
        pieces.append((level, start >> level))
        start += 1 << level
    return pieces


def fold_right(hashes: Sequence[bytes]) -> bytes:
    """MTH of a range from its perfect subtrees (largest first): right to left."""
    if not hashes:
        return EMPTY_ROOT
    acc = hashes[-1]
    for h in reversed(hashes[:-1]):
        acc = node_hash(h, acc)
    return acc


def root_of(leaf_hashes: Sequence[bytes]) -> bytes:
    """MTH of a list of leaf hashes (RFC 9162 2.1.1), in linear time."""
    frontier = Frontier()
    for h in leaf_hashes:
        frontier.append(h)
    return frontier.root()


def in_memory(leaf_hashes: Sequence[bytes]) -> SubtreeHash:
    """A SubtreeHash over a list of leaf hashes (tests, offline tools, small trees)."""

    def subtree(start: int, end: int) -> bytes:
        return root_of(leaf_hashes[start:end])

    return subtree


@dataclass
class Frontier:
    """The right edge of a growing tree: the roots of its perfect subtrees, largest first.

    `append` returns every perfect subtree the new leaf completes (level >= 1)
    as (level, index, hash), which is what the SQL store keeps for proofs.
    """

    size: int = 0
    nodes: list[bytes] = field(default_factory=list)

    def append(self, h: bytes) -> list[tuple[int, int, bytes]]:
        index = self.size
        self.size += 1
        self.nodes.append(h)
        completed = []
        level = 0
        while index & 1:
            right = self.nodes.pop()
            left = self.nodes.pop()
            h = node_hash(left, right)
            self.nodes.append(h)
            level += 1
            index >>= 1
            completed.append((level, index, h))
        return completed

    def extend(self, hashes: Iterable[bytes]) -> list[tuple[int, int, bytes]]:
        out = []
        for h in hashes:
            out.extend(self.append(h))
        return out

    def root(self) -> bytes:
        return fold_right(self.nodes)

    @classmethod
    def restore(cls, size: int, nodes: Sequence[bytes]) -> Frontier:
        if len(nodes) != size.bit_count():
            raise ValueError(f"a tree of {size} leaves has {size.bit_count()} frontier nodes")
        return cls(size, list(nodes))


def frontier_positions(size: int) -> list[tuple[int, int]]:
    """(level, index) of the perfect subtrees on the right edge of a tree of `size`."""
    return perfect_ranges(0, size)


def inclusion_path(index: int, size: int, subtree: SubtreeHash) -> list[bytes]:
    """PATH(index, D[0:size]) (RFC 9162 2.1.3.1), leaf's sibling first."""
    if not 0 <= index < size:
        raise ProofError(f"leaf {index} is not in a tree of {size} leaves")
    path: list[bytes] = []
    start, end, m = 0, size, index
    while end - start > 1:
        k = split_point(end - start)
        if m < k:
            path.append(subtree(start + k, end))
            end = start + k
        else:
            path.append(subtree(start, start + k))
            start, m = start + k, m - k
    path.reverse()
    return path


def verify_inclusion(
    leaf: bytes, index: int, size: int, path: Sequence[bytes], root: bytes
) -> bool:
    """RFC 9162 2.1.3.2."""
    if not 0 <= index < size:
        return False
    fn, sn, r = index, size - 1, leaf
    for p in path:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def consistency_path(old_size: int, new_size: int, subtree: SubtreeHash) -> list[bytes]:
    """PROOF(old_size, D[0:new_size]) (RFC 9162 2.1.4.1); empty when the sizes are equal."""
    if not 0 <= old_size <= new_size:
        raise ProofError(f"no consistency proof from size {old_size} to size {new_size}")
    if old_size in (0, new_size):
        return []
    proof: list[bytes] = []
    start, end, m, whole = 0, new_size, old_size, True
    while m != end - start:
        k = split_point(end - start)
        if m <= k:
            proof.append(subtree(start + k, end))
            end = start + k
        else:
            proof.append(subtree(start, start + k))
            start, m, whole = start + k, m - k, False
    if not whole:
        proof.append(subtree(start, end))
    proof.reverse()
    return proof


def verify_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> bool:
    """RFC 9162 2.1.4.2 (with the empty old tree and equal sizes handled first)."""
    if not 0 <= old_size <= new_size:
        return False
    if old_size == new_size:
        return not proof and old_root == new_root
    if old_size == 0:
        return not proof and old_root == EMPTY_ROOT
    if not proof:
        return False
    path = list(proof)
    if old_size & (old_size - 1) == 0:  # an exact power of two
        path.insert(0, old_root)
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return fr == old_root and sr == new_root and sn == 0
