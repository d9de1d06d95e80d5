"""RFC 6962 / RFC 9162 Merkle tree hashing: leaves, roots, inclusion and consistency
proofs. Pure functions over lists of leaf hashes (bytes)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence

Hashes = Sequence[bytes]


def leaf_hash(entry: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + entry).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two smaller than n (n > 1)."""
    k = 1
    while k << 1 < n:
        k <<= 1
    return k


def root(leaves: Hashes) -> bytes:
    """MTH(D[n]) over leaf hashes."""
    if not leaves:
        return hashlib.sha256(b"").digest()
    level = list(leaves)
    # Bottom-up pairing gives the RFC 6962 tree: a lone last node is promoted as is.
    while len(level) > 1:
        paired = [node_hash(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            paired.append(level[-1])
        level = paired
    return level[0]


SubtreeRoot = Callable[[int, int], bytes]


def cover(lo: int, hi: int) -> list[tuple[int, int]]:
    """The perfect subtrees, as (level, index), that make up leaves [lo, hi), largest
    first: for every range a proof asks about (`lo` a multiple of a power of two at
    least `hi - lo`'s largest), the tree over them is their right fold."""
    out: list[tuple[int, int]] = []
    while lo < hi:
        size = 1 << ((hi - lo).bit_length() - 1)
        while lo % size:
            size >>= 1
        level = size.bit_length() - 1
        out.append((level, lo >> level))
        lo += size
    return out


def fold(perfect: Hashes) -> bytes:
    """The root of a tree whose perfect subtrees, left to right, are `perfect`."""
    if not perfect:
        return hashlib.sha256(b"").digest()
    acc = perfect[-1]
    for left in reversed(perfect[:-1]):
        acc = node_hash(left, acc)
    return acc


def inclusion_path(index: int, size: int, mth: SubtreeRoot) -> list[bytes]:
    """PATH(m, D[n]) with `mth(start, end)` the root of leaves [start, end)."""
    path: list[bytes] = []
    lo, n, m = 0, size, index
    stack = []
    while n > 1:
        k = _split(n)
        if m < k:
            stack.append(mth(lo + k, lo + n))
            n = k
        else:
            stack.append(mth(lo, lo + k))
            lo, n, m = lo + k, n - k, m - k
    path.extend(reversed(stack))
    return path


def consistency_proof(old: int, new: int, mth: SubtreeRoot) -> list[bytes]:
    """PROOF(m, D[n]) of RFC 6962 section 2.1.2."""

    def sub(m: int, lo: int, n: int, complete: bool) -> list[bytes]:
        if m == n:
            return [] if complete else [mth(lo, lo + n)]
        k = _split(n)
        if m <= k:
            return [*sub(m, lo, k, complete), mth(lo + k, lo + n)]
        return [*sub(m - k, lo + k, n - k, False), mth(lo, lo + k)]

    if old <= 0 or old > new:
        raise ValueError("a consistency proof needs 0 < old <= new")
    return sub(old, 0, new, True)


class Frontier:
    """The perfect subtrees on the right edge of the tree: appending is O(log n), and
    the root of the whole tree folds them (RFC 6962's shape)."""

    def __init__(self, nodes: list[tuple[int, bytes]] | None = None, size: int = 0) -> None:
        self.nodes = nodes or []  # (height, hash), left to right, heights decreasing
        self.size = size

    def append(self, leaf: bytes) -> list[tuple[int, int, bytes]]:
        """Add a leaf; the perfect subtrees it completes, as (level, index, hash) with
        level >= 1 (the node at level L, index i covers leaves [i * 2^L, (i + 1) * 2^L))."""
        node, height = leaf, 0
        completed: list[tuple[int, int, bytes]] = []
        while self.nodes and self.nodes[-1][0] == height:
            _, left = self.nodes.pop()
            node, height = node_hash(left, node), height + 1
            completed.append((height, (self.size + 1 >> height) - 1, node))
        self.nodes.append((height, node))
        self.size += 1
        return completed

    def root(self) -> bytes:
        if not self.nodes:
            return hashlib.sha256(b"").digest()
        acc = self.nodes[-1][1]
        for _, left in reversed(self.nodes[:-1]):
            acc = node_hash(left, acc)
        return acc
