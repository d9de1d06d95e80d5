"""An independent checker of a transparency log served over HTTP, written from the
published texts alone — C2SP `signed-note` and `tlog-checkpoint`, and RFC 9162 §2.1
(Merkle tree hashes, inclusion and consistency proof verification) — and importing
nothing from the project: what an outside auditor would write.

`get(path)` returns the parsed JSON of an HTTP GET; everything is read through it."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

Get = Callable[[str], Any]


class Rejected(Exception):
    """The log served something that does not check."""


def _sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


# -- C2SP signed-note -------------------------------------------------------------------


@dataclass(frozen=True)
class Verifier:
    name: str
    key_id: bytes
    key: Ed25519PublicKey

    @classmethod
    def parse(cls, vkey: str) -> Verifier:
        """`<name>+<hex key hash>+<base64(type || key)>`, type 0x01 for Ed25519."""
        name, hexid, b64 = vkey.split("+", 2)  # a name holds no "+"; base64 may
        raw = base64.b64decode(b64, validate=True)
        if raw[:1] != b"\x01" or len(raw) != 33:
            raise Rejected("not an Ed25519 verifier key")
        key_id = bytes.fromhex(hexid)
        if _sha256(name.encode() + b"\n" + raw)[:4] != key_id:
            raise Rejected("the verifier key's hash does not match its name and key")
        return cls(name, key_id, Ed25519PublicKey.from_public_bytes(raw[1:]))

    def open(self, note: str) -> str:
        """The note's text, once a signature line of this key verifies it."""
        text, sep, sigs = note.rpartition("\n\n")
        if not sep or not text or not sigs.endswith("\n"):
            raise Rejected("not a signed note")
        text += "\n"
        for line in sigs[:-1].split("\n"):
            dash, _, rest = line.partition(" ")
            name, _, b64 = rest.partition(" ")
            if dash != "\u2014" or name != self.name:
                continue
            sig = base64.b64decode(b64, validate=True)
            if sig[:4] != self.key_id:
                continue
            try:
                self.key.verify(sig[4:], text.encode())
            except InvalidSignature:
                raise Rejected("a signature line of the log's key does not verify") from None
            return text
        raise Rejected("no signature by the log's key")


# -- C2SP tlog-checkpoint ---------------------------------------------------------------


@dataclass(frozen=True)
class Checkpoint:
    origin: str
    size: int
    root: bytes

    @classmethod
    def parse(cls, text: str) -> Checkpoint:
        lines = text.split("\n")
        if len(lines) < 4 or lines[-1] != "":
            raise Rejected("a checkpoint has an origin, a size and a root hash")
        origin, size, root = lines[:3]
        if not size.isdigit() or (size != "0" and size.startswith("0")):
            raise Rejected(f"tree size {size!r} is not a decimal number")
        raw = base64.b64decode(root, validate=True)
        if len(raw) != 32:
            raise Rejected("the root hash is not 32 bytes")
        return cls(origin, int(size), raw)


# -- RFC 9162 §2.1 ----------------------------------------------------------------------


def leaf_hash(leaf_input: bytes) -> bytes:
    return _sha256(b"\x00" + leaf_input)


def _node(left: bytes, right: bytes) -> bytes:
    return _sha256(b"\x01" + left + right)


def mth(leaves: list[bytes]) -> bytes:
    """MTH(D[n]) over leaf hashes, by the definition's recursion."""
    n = len(leaves)
    if n == 0:
        return _sha256(b"")
    if n == 1:
        return leaves[0]
    k = 1
    while k * 2 < n:
        k *= 2
    return _node(mth(leaves[:k]), mth(leaves[k:]))


def verify_inclusion(index: int, size: int, leaf: bytes, path: list[bytes], root: bytes) -> None:
    """RFC 9162 §2.1.3.2."""
    if index >= size:
        raise Rejected("leaf index beyond the tree")
    fn, sn, r = index, size - 1, leaf
    for p in path:
        if sn == 0:
            raise Rejected("inclusion proof too long")
        if fn & 1 or fn == sn:
            r = _node(p, r)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = _node(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0 or r != root:
        raise Rejected(f"inclusion proof of leaf {index} in size {size} fails")


def verify_consistency(
    first: int, second: int, first_root: bytes, second_root: bytes, proof: list[bytes]
) -> None:
    """RFC 9162 §2.1.4.2."""
    if first == second:
        if proof or first_root != second_root:
            raise Rejected("equal sizes need an empty proof and equal roots")
        return
    if not 0 < first < second or not proof:
        raise Rejected(f"no consistency from {first} to {second}")
    if first & (first - 1) == 0:  # a power of two: the first root starts the path
        proof = [first_root, *proof]
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = proof[0]
    for c in proof[1:]:
        if sn == 0:
            raise Rejected("consistency proof too long")
        if fn & 1 or fn == sn:
            fr = _node(c, fr)
            sr = _node(c, sr)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = _node(sr, c)
        fn >>= 1
        sn >>= 1
    if sn != 0 or fr != first_root or sr != second_root:
        raise Rejected(f"consistency proof from {first} to {second} fails")


# -- the walk over HTTP -----------------------------------------------------------------


def _b64s(values: list[str]) -> list[bytes]:
    return [base64.b64decode(v, validate=True) for v in values]


def fetch_leaves(get: Get, size: int) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    while len(out) < size:
        page = get(f"/audit/leaves?start={len(out)}&limit=1000")["items"]
        if not page:
            raise Rejected(f"the log serves {len(out)} leaves of {size}")
        out.extend(page)
    return out[:size]


def check_log(get: Get, origin: str) -> dict[str, int]:
    """Every checkpoint's signature and root (recomputed from leaves fetched over HTTP),
    the inclusion proof of every leaf in every checkpointed tree, and a consistency
    proof between every two checkpoints. Raises Rejected; answers what it checked."""
    served = get("/audit/checkpoints")
    verifier = Verifier.parse(served["verifier_key"])
    cps = [Checkpoint.parse(verifier.open(c["note"])) for c in served["checkpoints"]]
    if not cps:
        raise Rejected("no checkpoint")
    for cp in cps:
        if cp.origin != origin:
            raise Rejected(f"checkpoint of origin {cp.origin!r}, {origin!r} expected")
    leaves = fetch_leaves(get, max(cp.size for cp in cps))
    hashes = [leaf_hash(base64.b64decode(x["leaf_input"], validate=True)) for x in leaves]
    inclusions = consistencies = 0
    for cp in cps:
        if mth(hashes[: cp.size]) != cp.root:
            raise Rejected(f"the leaves do not reproduce the root at size {cp.size}")
        for i in range(cp.size):
            p = get(f"/audit/proofs/inclusion?position={leaves[i]['position']}&tree_size={cp.size}")
            if p["leaf_index"] != i or base64.b64decode(p["root_hash_base64"]) != cp.root:
                raise Rejected(f"inclusion of leaf {i} at size {cp.size} names another root")
            verify_inclusion(i, cp.size, hashes[i], _b64s(p["audit_path_base64"]), cp.root)
            inclusions += 1
    for old in cps:
        for new in cps:
            if old.size > new.size:
                continue
            p = get(f"/audit/proofs/consistency?from={old.size}&to={new.size}")
            roots = _b64s([p["old_root_base64"], p["new_root_base64"]])
            if roots != [old.root, new.root]:
                raise Rejected(f"consistency {old.size}->{new.size} names other roots")
            verify_consistency(old.size, new.size, old.root, new.root, _b64s(p["proof_base64"]))
            consistencies += 1
    return {"checkpoints": len(cps), "inclusions": inclusions, "consistencies": consistencies}
