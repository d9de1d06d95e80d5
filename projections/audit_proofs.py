"""Merkle proofs and leaves of the audit log at any tree size (RFC 9162 §2.1).

A proof names the subtrees it needs before reading any: the algorithm runs once with a
recorder, the perfect subtrees covering those ranges are read in one query (the leaves
and `gridflow_audit_nodes`), then it runs again on them. So a proof, and the root at the
size asked, cost O(log n) stored hashes, whatever the log's length."""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any, TypeVar
from uuid import UUID

from projections import merkle
from projections.audit import AuditLog, entry
from stores.db import Cursor

T = TypeVar("T")
Key = tuple[int, int]  # (level, index) of a perfect subtree
_CHUNK = 200


def _b64(h: bytes) -> str:
    return base64.b64encode(h).decode()


def _size(cur: Cursor) -> int:
    cur.execute("SELECT size FROM gridflow_audit_head WHERE id = 1")
    return int(cur.fetchone()[0])


def _read(cur: Cursor, keys: set[Key]) -> dict[Key, bytes]:
    found: dict[Key, bytes] = {}
    leaves = sorted(i for level, i in keys if level == 0)
    for n in range(0, len(leaves), _CHUNK):
        some = leaves[n : n + _CHUNK]
        cur.execute(
            "SELECT idx, leaf FROM gridflow_audit_leaves "
            f"WHERE idx IN ({', '.join(['%s'] * len(some))})",
            some,
        )
        found.update({(0, int(i)): bytes.fromhex(h) for i, h in cur.fetchall()})
    nodes = sorted(k for k in keys if k[0] > 0)
    for n in range(0, len(nodes), _CHUNK):
        chunk = nodes[n : n + _CHUNK]
        cur.execute(
            "SELECT level, idx, hash FROM gridflow_audit_nodes WHERE "
            + " OR ".join(["(level = %s AND idx = %s)"] * len(chunk)),
            [v for k in chunk for v in k],
        )
        found.update({(int(lv), int(i)): bytes.fromhex(h) for lv, i, h in cur.fetchall()})
    for level, i in keys - found.keys():  # not filled in yet (a store of earlier code)
        cur.execute(
            "SELECT leaf FROM gridflow_audit_leaves WHERE idx >= %s AND idx < %s ORDER BY idx",
            (i << level, (i + 1) << level),
        )
        found[(level, i)] = merkle.root([bytes.fromhex(r[0]) for r in cur.fetchall()])
    return found


def _with_tree(
    cur: Cursor, sizes: list[int], build: Callable[[merkle.SubtreeRoot], T]
) -> tuple[T, list[bytes]]:
    """`build`'s answer over the stored tree, and the roots at `sizes`."""
    wanted: set[Key] = set()

    def record(lo: int, hi: int) -> bytes:
        wanted.update(merkle.cover(lo, hi))
        return b""

    build(record)
    for n in sizes:
        wanted.update(merkle.cover(0, n))
    known = _read(cur, wanted)

    def mth(lo: int, hi: int) -> bytes:
        return merkle.fold([known[k] for k in merkle.cover(lo, hi)])

    return build(mth), [mth(0, n) for n in sizes]


def inclusion(log: AuditLog, position: int, tree_size: int) -> dict[str, Any]:
    """The audit path of the event at `position` in the tree of `tree_size` entries, and
    that tree's root (the one its checkpoint signs)."""
    with log.db.transaction(write=False) as cur:
        cur.execute("SELECT idx, leaf FROM gridflow_audit_leaves WHERE position = %s", (position,))
        row = cur.fetchone()
        if row is None or int(row[0]) >= tree_size:
            raise LookupError(f"position {position} is not in a tree of size {tree_size}")
        if _size(cur) < tree_size:
            raise LookupError(f"the tree has not reached size {tree_size}")
        index = int(row[0])
        path, (root,) = _with_tree(
            cur, [tree_size], lambda mth: merkle.inclusion_path(index, tree_size, mth)
        )
    leaf = bytes.fromhex(row[1])
    return {
        "position": position,
        "leaf_index": index,
        "tree_size": tree_size,
        "leaf_hash": row[1],
        "root_hash": root.hex(),
        "audit_path": [h.hex() for h in path],
        "leaf_hash_base64": _b64(leaf),
        "root_hash_base64": _b64(root),
        "audit_path_base64": [_b64(h) for h in path],
    }


def consistency(log: AuditLog, old: int, new: int) -> dict[str, Any]:
    """PROOF(old, D[new]) and the roots of both trees."""
    with log.db.transaction(write=False) as cur:
        if not 0 < old <= new or _size(cur) < new:
            raise LookupError(f"no consistency proof from {old} to {new}")
        proof, (old_root, new_root) = _with_tree(
            cur, [old, new], lambda mth: merkle.consistency_proof(old, new, mth)
        )
    return {
        "from": old,
        "to": new,
        "old_root": old_root.hex(),
        "new_root": new_root.hex(),
        "proof": [h.hex() for h in proof],
        "old_root_base64": _b64(old_root),
        "new_root_base64": _b64(new_root),
        "proof_base64": [_b64(h) for h in proof],
    }


def leaves(log: AuditLog, start: int, limit: int) -> dict[str, Any]:
    """Leaves `start` … `start + limit - 1` as hashed: each with its position, its leaf
    input (the bytes under SHA-256(0x00 || …), base64) and leaf hash; `next_start` while
    the tree has more."""
    with log.db.transaction(write=False) as cur:
        size = _size(cur)
        cur.execute(
            "SELECT l.idx, l.position, l.leaf, e.originator_id, e.originator_version, e.topic, "
            f"e.state FROM gridflow_audit_leaves l JOIN {log.events_table} e "
            f"ON e.{log.position_col} = l.position WHERE l.idx >= %s AND l.idx < %s "
            "ORDER BY l.idx",
            (start, min(size, start + limit)),
        )
        rows = cur.fetchall()
    items = []
    for idx, position, leaf, originator, version, topic, state in rows:
        oid = originator if isinstance(originator, UUID) else UUID(str(originator))
        items.append(
            {
                "index": int(idx),
                "position": int(position),
                "leaf_input": _b64(entry(oid, int(version), topic, bytes(state))),
                "leaf_hash": leaf,
            }
        )
    end = start + limit
    return {"tree_size": size, "items": items, "next_start": end if end < size else None}
