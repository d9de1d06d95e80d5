"""Signed checkpoints in the transparency-log checkpoint format (C2SP tlog-checkpoint,
a signed note): the origin, the tree size, the base64 root hash, a time extension
line, then a blank line and an Ed25519 signature line:

    gridflow/weihai
    1024
    pBt1cD2S+K9Y0l6PoFv0Wv0cM2OQ8jS0t5lNfV5OvZQ=
    time 2026-11-22T01:00:00Z

    — gridflow/weihai <base64(4-byte key hash || 64-byte signature)>
"""

from __future__ import annotations

import base64
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

DASH = "\u2014"


def key_hash(name: str, public: bytes) -> bytes:
    """The signed-note key id: SHA-256(name || '\\n' || 0x01 || key)[:4] (0x01: Ed25519)."""
    return hashlib.sha256(name.encode() + b"\n" + b"\x01" + public).digest()[:4]


#: The extension line by which a checkpoint promises the tree size at which the next
#: one will be signed at the latest: deleting the later checkpoints then shows.
NEXT = "next-checkpoint"


def body(origin: str, size: int, root: bytes, time: str, next_size: int | None = None) -> str:
    text = f"{origin}\n{size}\n{base64.b64encode(root).decode()}\ntime {time}\n"
    return text if next_size is None else f"{text}{NEXT} {next_size}\n"


def promised(text: str) -> int | None:
    """The size by which a checkpoint's text promises the next checkpoint (None for the
    notes signed before checkpoints made promises)."""
    for line in text.partition("\n\n")[0].splitlines()[3:]:
        name, _, value = line.partition(" ")
        if name == NEXT and value.isdigit():
            return int(value)
    return None


@dataclass
class Signer:
    name: str
    private: Ed25519PrivateKey

    @property
    def public(self) -> bytes:
        return self.private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)

    @property
    def verifier_key(self) -> str:
        """The key as a signed-note verifier key: `<name>+<hex key hash>+<base64(0x01||key)>`."""
        kh = key_hash(self.name, self.public).hex()
        key = base64.b64encode(b"\x01" + self.public).decode()
        return f"{self.name}+{kh}+{key}"

    def sign(self, text: str) -> str:
        sig = self.private.sign(text.encode())
        stamp = base64.b64encode(key_hash(self.name, self.public) + sig).decode()
        return f"{text}\n{DASH} {self.name} {stamp}\n"


def verify_note(note: str, name: str, public: bytes) -> str | None:
    """The note's text when a signature line by `name` verifies; None otherwise."""
    text, sep, sigs = note.partition("\n\n")
    if not sep:
        return None
    text += "\n"
    key = Ed25519PublicKey.from_public_bytes(public)
    for line in sigs.splitlines():
        parts = line.split(" ")
        if len(parts) != 3 or parts[0] != DASH or parts[1] != name:
            continue
        raw = base64.b64decode(parts[2])
        if raw[:4] != key_hash(name, public):
            continue
        try:
            key.verify(raw[4:], text.encode())
            return text
        except InvalidSignature:  # another key's line: try the next
            continue
    return None


def load_signer(name: str, seed_b64: str | None, key_file: str | None) -> Signer:
    """The Ed25519 key from configuration: a base64 seed, or a key file, created (0600)
    when missing so that the embedded default runs with no set-up."""
    if seed_b64:
        return Signer(name, Ed25519PrivateKey.from_private_bytes(base64.b64decode(seed_b64)))
    path = Path(key_file or "gridflow-audit.key")
    if not path.exists():
        seed = os.urandom(32)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(base64.b64encode(seed).decode() + "\n")
    seed = base64.b64decode(path.read_text().strip())
    return Signer(name, Ed25519PrivateKey.from_private_bytes(seed))
