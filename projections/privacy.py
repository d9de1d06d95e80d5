"""The personal-data vault: one AES-256-GCM key per person (subject), kept in its own
table; erasure deletes the key, so every sealed copy in the log, the views and any
export becomes unreadable at once, while the events and their hashes stay as they were.

A subject is derived from the phone number (or, without one, the name): the key table
holds only its salted hash, never the number itself."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import time
from datetime import UTC, datetime
from typing import Any

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from domain.privacy import ERASED
from projections.db import Database

_SCHEMA = """CREATE TABLE IF NOT EXISTS gridflow_subject_keys (
    subject TEXT PRIMARY KEY, subject_key TEXT, created_at TEXT NOT NULL, erased_at TEXT)"""


def subject_of(phone: str | None = None, name: str | None = None, email: str | None = None) -> str:
    if phone:
        ident = "phone:" + re.sub(r"\D", "", phone)
    elif email:
        ident = "email:" + email.strip().lower()
    else:
        ident = "name:" + (name or "").strip()
    return hashlib.sha256(("gridflow-subject\n" + ident).encode()).hexdigest()


class KeyVault:
    SEAL_CACHE_SECONDS = 60.0

    def __init__(self, db: Database) -> None:
        self.db = db
        # Keys used to seal, kept briefly so that a bulk import does not read the key
        # table once a row. Reading (`open`) always asks the table, so an erasure hides
        # a person's data at once; a key sealed with after its erasure (within the
        # minute) is itself destroyed, so that data was never readable either.
        self._sealing: dict[str, tuple[float, bytes | None]] = {}
        with db.transaction() as cur:
            cur.execute(_SCHEMA)

    def _key(self, subject: str, create: bool) -> bytes | None:
        with self.db.transaction(write=create) as cur:
            cur.execute(
                "SELECT subject_key, erased_at FROM gridflow_subject_keys WHERE subject = %s",
                (subject,),
            )
            row = cur.fetchone()
            if row is not None:
                return base64.b64decode(row[0]) if row[0] and not row[1] else None
            if not create:
                return None
            key = AESGCM.generate_key(bit_length=256)
            cur.execute(
                "INSERT INTO gridflow_subject_keys (subject, subject_key, created_at) "
                "VALUES (%s, %s, %s) ON CONFLICT (subject) DO NOTHING",
                (subject, base64.b64encode(key).decode(), datetime.now(UTC).isoformat()),
            )
            cur.execute(
                "SELECT subject_key FROM gridflow_subject_keys WHERE subject = %s", (subject,)
            )
            stored = cur.fetchone()[0]
        return base64.b64decode(stored) if stored else None

    def seal(self, data: dict[str, Any]) -> dict[str, Any]:
        subject = subject_of(data.get("phone"), data.get("name"), data.get("email"))
        cached = self._sealing.get(subject)
        if cached is not None and time.monotonic() - cached[0] < self.SEAL_CACHE_SECONDS:
            key = cached[1]
        else:
            key = self._key(subject, create=True)
            if len(self._sealing) > 10_000:  # bounded, whatever the size of the log
                self._sealing.clear()
            self._sealing[subject] = (time.monotonic(), key)
        if key is None:  # this person asked to be forgotten: keep nothing new either
            return {**ERASED, "subject": subject}
        nonce = os.urandom(12)
        sealed = AESGCM(key).encrypt(nonce, json.dumps(data).encode(), subject.encode())
        return {"sealed": base64.b64encode(nonce + sealed).decode(), "subject": subject}

    def open(self, sealed: dict[str, Any] | None) -> dict[str, Any] | None:
        if sealed is None or "sealed" not in sealed:
            return sealed if sealed is None or "erased" not in sealed else dict(ERASED)
        key = self._key(sealed["subject"], create=False)
        if key is None:
            return dict(ERASED)
        raw = base64.b64decode(sealed["sealed"])
        data: dict[str, Any] = json.loads(
            AESGCM(key).decrypt(raw[:12], raw[12:], sealed["subject"].encode())
        )
        return data

    def erase(
        self, phone: str | None = None, name: str | None = None, email: str | None = None
    ) -> bool:
        """Forget a person: their key is destroyed. True when there was one."""
        subject = subject_of(phone, name, email)
        self._sealing.pop(subject, None)
        now = datetime.now(UTC).isoformat()
        with self.db.transaction() as cur:
            cur.execute(
                "UPDATE gridflow_subject_keys SET subject_key = NULL, erased_at = %s "
                "WHERE subject = %s AND erased_at IS NULL",
                (now, subject),
            )
            changed = int(cur.rowcount) > 0
            if not changed:  # remember the request, so later reports are not kept either
                cur.execute(
                    "INSERT INTO gridflow_subject_keys (subject, subject_key, created_at, "
                    "erased_at) VALUES (%s, NULL, %s, %s) ON CONFLICT (subject) DO NOTHING",
                    (subject, now, now),
                )
        return changed
