"""RFC 9162 hashing and proofs: the published Certificate Transparency vectors,
the RFC's recursive definitions as a reference, and tampered proofs refused."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from compliance.transparency import merkle

# The reference leaves and roots published with the Certificate Transparency
# implementations (RFC 6962 / RFC 9162 hashing; transparency-dev/merkle testonly).
LEAVES = [bytes.fromhex(h) for h in (
    "", "00", "10", "2021", "3031", "40414243", "5051525354555657",
    "606162636465666768696a6b6c6d6e6f",
)]  # fmt: skip
ROOTS = [
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
INCLUSION = {
    (0, 8): ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
             "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
             "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"],
    (5, 8): ["bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
             "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
             "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"],
}  # fmt: skip
CONSISTENCY = {
    (2, 8): ["5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
             "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"],
    (6, 8): ["0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
             "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
             "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"],
    (2, 5): ["5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
             "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"],
}  # fmt: skip


def reference_mth(leaves: list[bytes]) -> bytes:
    """MTH exactly as RFC 9162 2.1.1 writes it (recursive, over leaf hashes)."""
    n = len(leaves)
    if n == 0:
        return hashlib.sha256(b"").digest()
    if n == 1:
        return leaves[0]
    k = 1
    while k * 2 < n:
        k *= 2
    return merkle.node_hash(reference_mth(leaves[:k]), reference_mth(leaves[k:]))


def hashes(n: int) -> list[bytes]:
    return [merkle.leaf_hash(i.to_bytes(4, "big")) for i in range(n)]


def test_given_the_ct_reference_leaves_then_every_root_matches_the_published_one() -> None:
    leaf_hashes = [merkle.leaf_hash(d) for d in LEAVES]
    for size, expected in enumerate(ROOTS):
        assert merkle.root_of(leaf_hashes[:size]).hex() == expected


def test_given_the_ct_reference_tree_then_proofs_match_the_published_ones() -> None:
    leaf_hashes = [merkle.leaf_hash(d) for d in LEAVES]
    subtree = merkle.in_memory(leaf_hashes)
    root = bytes.fromhex(ROOTS[8])
    for (index, size), expected in INCLUSION.items():
        path = merkle.inclusion_path(index, size, subtree)
        assert [p.hex() for p in path] == expected
        assert merkle.verify_inclusion(leaf_hashes[index], index, size, path, root)
    for (old, new), expected in CONSISTENCY.items():
        proof = merkle.consistency_path(old, new, subtree)
        assert [p.hex() for p in proof] == expected
        assert merkle.verify_consistency(
            old, new, bytes.fromhex(ROOTS[old]), bytes.fromhex(ROOTS[new]), proof
        )


def test_the_prefixes_separate_leaves_from_nodes() -> None:
    a, b = b"\x11" * 32, b"\x22" * 32
    assert merkle.leaf_hash(a + b) != merkle.node_hash(a, b)
    assert merkle.node_hash(a, b) == hashlib.sha256(b"\x01" + a + b).digest()
    assert merkle.leaf_hash(b"x") == hashlib.sha256(b"\x00x").digest()


def test_the_split_is_the_largest_power_of_two_below_n() -> None:
    assert [merkle.split_point(n) for n in (2, 3, 4, 5, 8, 9, 1000)] == [1, 2, 2, 4, 4, 8, 512]
    with pytest.raises(ValueError):
        merkle.split_point(1)


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=0, max_value=300))
def test_the_frontier_root_is_the_rfc_root_for_every_size(n: int) -> None:
    leaves = hashes(n)
    frontier = merkle.Frontier()
    nodes: dict[tuple[int, int], bytes] = {}
    for h in leaves:
        for level, index, value in frontier.append(h):
            nodes[(level, index)] = value
    assert frontier.root() == reference_mth(leaves)
    # every perfect node it reports is the MTH of the leaves under it
    for (level, index), value in nodes.items():
        width = 1 << level
        assert value == reference_mth(leaves[index * width : (index + 1) * width])
    restored = merkle.Frontier.restore(n, frontier.nodes)
    assert restored.root() == frontier.root()


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=1, max_value=200), st.data())
def test_every_inclusion_proof_verifies_and_a_changed_one_does_not(n: int, data) -> None:
    leaves = hashes(n)
    root = reference_mth(leaves)
    index = data.draw(st.integers(min_value=0, max_value=n - 1))
    path = merkle.inclusion_path(index, n, merkle.in_memory(leaves))
    assert merkle.verify_inclusion(leaves[index], index, n, path, root)
    assert not merkle.verify_inclusion(merkle.leaf_hash(b"other"), index, n, path, root)
    if n > 1:
        assert not merkle.verify_inclusion(leaves[index], (index + 1) % n, n, path, root)
        flipped = list(path)
        flipped[0] = bytes([flipped[0][0] ^ 1]) + flipped[0][1:]
        assert not merkle.verify_inclusion(leaves[index], index, n, flipped, root)
        assert not merkle.verify_inclusion(leaves[index], index, n, path[:-1], root)
        assert not merkle.verify_inclusion(leaves[index], index, n, [*path, path[0]], root)
    # (the size itself is not bound by the path: a signed checkpoint binds it)


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=1, max_value=200), st.data())
def test_every_consistency_proof_verifies_and_a_rewritten_history_does_not(n: int, data) -> None:
    leaves = hashes(n)
    m = data.draw(st.integers(min_value=0, max_value=n))
    subtree = merkle.in_memory(leaves)
    proof = merkle.consistency_path(m, n, subtree)
    old_root, new_root = reference_mth(leaves[:m]), reference_mth(leaves)
    assert merkle.verify_consistency(m, n, old_root, new_root, proof)
    if m > 0:
        # the same new tree with one old leaf changed is not an extension of the old one
        changed = list(leaves)
        changed[data.draw(st.integers(min_value=0, max_value=m - 1))] = merkle.leaf_hash(b"x")
        forged_root = reference_mth(changed)
        forged_proof = merkle.consistency_path(m, n, merkle.in_memory(changed))
        assert not merkle.verify_consistency(m, n, old_root, forged_root, forged_proof)
    if 0 < m < n:
        assert not merkle.verify_consistency(m, n, old_root, new_root, proof[:-1])
        assert not merkle.verify_consistency(m, n, new_root, new_root, proof)


def test_given_impossible_indexes_then_no_proof_is_made() -> None:
    subtree = merkle.in_memory(hashes(4))
    with pytest.raises(merkle.ProofError):
        merkle.inclusion_path(4, 4, subtree)
    with pytest.raises(merkle.ProofError):
        merkle.inclusion_path(-1, 4, subtree)
    with pytest.raises(merkle.ProofError):
        merkle.consistency_path(5, 4, subtree)
    assert not merkle.verify_inclusion(b"\0" * 32, 0, 0, [], merkle.EMPTY_ROOT)
    assert not merkle.verify_consistency(3, 2, merkle.EMPTY_ROOT, merkle.EMPTY_ROOT, [])
    assert merkle.verify_consistency(0, 3, merkle.EMPTY_ROOT, b"\1" * 32, [])
    assert not merkle.verify_consistency(0, 3, b"\2" * 32, b"\1" * 32, [])


def test_perfect_ranges_cover_a_range_with_aligned_subtrees() -> None:
    assert merkle.perfect_ranges(0, 7) == [(2, 0), (1, 2), (0, 6)]
    assert merkle.perfect_ranges(8, 13) == [(2, 2), (0, 12)]
    assert merkle.frontier_positions(0) == []
