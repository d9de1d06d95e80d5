#!/usr/bin/env python3
"""Verify a gridflow audit export offline: standard library plus `cryptography`.

    python verify_audit_export.py EXPORT.jsonl [--key BASE64_PUBLIC_KEY]
                                  [--previous OLDER_EXPORT.jsonl | --checkpoint NOTE.txt]

Checks that every event's leaf hash is the hash of its stored bytes, that every signed
checkpoint's root is the Merkle root (RFC 6962) of the first tree-size leaves and its
Ed25519 signature verifies, and — given a checkpoint kept from before — that the newer
log extends it (an RFC 6962 consistency proof, computed and verified). Pass the public
key you trust with --key; without it the key in the export is used (and said so).
Exit code 0 when everything holds, 1 otherwise; the first bad entry is printed.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import struct
import sys
import uuid

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey


def leaf_hash(e: dict) -> bytes:
    topic = e["topic"].encode()
    entry = (
        uuid.UUID(hex=e["originator_id"]).bytes
        + struct.pack(">QH", e["originator_version"], len(topic))
        + topic
        + base64.b64decode(e["state"])
    )
    return hashlib.sha256(b"\x00" + entry).digest()


def node(a: bytes, b: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + a + b).digest()


def root(leaves: list[bytes]) -> bytes:
    if not leaves:
        return hashlib.sha256(b"").digest()
    level = list(leaves)
    while len(level) > 1:
        nxt = [node(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            nxt.append(level[-1])
        level = nxt
    return level[0]


def split(n: int) -> int:
    k = 1
    while k << 1 < n:
        k <<= 1
    return k


def consistency_proof(m: int, leaves: list[bytes]) -> list[bytes]:
    def sub(m: int, d: list[bytes], complete: bool) -> list[bytes]:
        if m == len(d):
            return [] if complete else [root(d)]
        k = split(len(d))
        if m <= k:
            return [*sub(m, d[:k], complete), root(d[k:])]
        return [*sub(m - k, d[k:], False), root(d[:k])]

    return sub(m, leaves, True)


def verify_consistency(m: int, n: int, old: bytes, new: bytes, proof: list[bytes]) -> bool:
    """RFC 9162 section 2.1.4.2."""
    if m == n:
        return old == new and not proof
    if not proof:
        return False
    if m & (m - 1) == 0:  # m is a power of two: the old root is the first proof node
        proof = [old, *proof]
    fn, sn = m - 1, n - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = proof[0]
    for c in proof[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr, sr = node(c, fr), node(c, sr)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            sr = node(sr, c)
        fn >>= 1
        sn >>= 1
    return fr == old and sr == new and sn == 0


def key_hash(name: str, key: bytes) -> bytes:
    return hashlib.sha256(name.encode() + b"\n\x01" + key).digest()[:4]


def open_note(note: str, name: str, key: bytes) -> tuple[int, bytes] | None:
    """(tree size, root) of a checkpoint whose signature by `name` verifies."""
    text, _, sigs = note.partition("\n\n")
    text += "\n"
    for line in sigs.splitlines():
        parts = line.split(" ")
        if len(parts) != 3 or parts[1] != name:
            continue
        raw = base64.b64decode(parts[2])
        if raw[:4] != key_hash(name, key):
            continue
        try:
            Ed25519PublicKey.from_public_bytes(key).verify(raw[4:], text.encode())
        except (InvalidSignature, ValueError):  # another key's line, or not a key at all
            continue
        lines = text.splitlines()
        return int(lines[1]), base64.b64decode(lines[2])
    return None


def load(path: str) -> tuple[dict, list[dict], list[dict]]:
    with open(path, encoding="utf-8") as f:
        header = json.loads(f.readline())
        events, checkpoints = [], []
        for line in f:
            item = json.loads(line)
            (checkpoints if "checkpoint" in item else events).append(item)
    return header, events, checkpoints


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("export")
    ap.add_argument("--key", help="the trusted Ed25519 public key, base64")
    ap.add_argument("--previous", help="an older export whose last checkpoint you kept")
    ap.add_argument("--checkpoint", help="a checkpoint note you kept (a text file)")
    args = ap.parse_args()
    header, events, checkpoints = load(args.export)
    name = header["key_name"]
    if args.key:
        key = base64.b64decode(args.key)
    else:
        key = base64.b64decode(header["public_key"])
        print("warning: using the public key found in the export; pass --key to pin it")
    leaves: list[bytes] = []
    for i, e in enumerate(events):
        h = leaf_hash(e)
        if e["index"] != i or h.hex() != e["leaf_hash"]:
            print(f"BAD: entry {i} (log position {e['position']}) does not hash to its leaf")
            return 1
        leaves.append(h)
    sizes = {}
    for cp in checkpoints:
        opened = open_note(cp["checkpoint"], name, key)
        if opened is None:
            print(f"BAD: checkpoint of size {cp['tree_size']}: signature does not verify")
            return 1
        size, r = opened
        if size > len(leaves) or root(leaves[:size]) != r:
            bad = events[min(size, len(events)) - 1]["position"] if events else None
            print(f"BAD: checkpoint of size {size}: root differs (log position {bad} or before)")
            return 1
        sizes[size] = r
    print(f"ok: {len(leaves)} entries, {len(sizes)} signed checkpoint(s) verified")
    old_note = None
    if args.previous:
        _, _, old_cps = load(args.previous)
        old_note = old_cps[-1]["checkpoint"] if old_cps else None
    elif args.checkpoint:
        with open(args.checkpoint, encoding="utf-8") as f:
            old_note = f.read()
    if old_note is not None:
        opened = open_note(old_note, name, key)
        if opened is None or not sizes:
            print("BAD: the kept checkpoint does not verify with this key")
            return 1
        m, old_root = opened
        n = max(sizes)
        proof = consistency_proof(m, leaves[:n]) if m <= n else []
        if m > n or not verify_consistency(m, n, old_root, sizes[n], proof):
            print(f"BAD: the log of size {n} does not extend the kept checkpoint of size {m}")
            return 1
        print(
            f"ok: the checkpoint of size {n} extends the kept one of size {m} "
            f"(consistency proof of {len(proof)} hashes verified)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
