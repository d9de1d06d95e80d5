"""The personal-data vault: one AES-256-GCM key per person (subject), kept in its own
table; erasure deletes the key, so every sealed copy in the log, the views and any
export becomes unreadable at once, while the events and their hashes stay as they were.

A subject names a person without their number: `hmac:` + HMAC-SHA256 of the phone (or,
without one, the email or name) under the subject key, which lives outside the
database (docs/audit.md). Code before it used SHA-256 with a salt fixed in the source
(`legacy_subject`), which anyone can reverse by trying every mobile number; those
subjects stay in the events that carry them (their bytes are chained), and erasure
still finds them, but no new event and no new row of the key table gets one."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import re
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from domain.privacy import ERASED
from stores.db import Cursor, Database

KEYED = "hmac:"
MIN_KEY_BYTES = 32


def _identity(phone: str | None, name: str | None, email: str | None) -> str:
    if phone:
        return "phone:" + re.sub(r"\D", "", phone)
    if email:
        return "email:" + email.strip().lower()
    return "name:" + (name or "").strip()


def legacy_subject(
    phone: str | None = None, name: str | None = None, email: str | None = None
) -> str:
    """The subject older code wrote: reversible, kept only to find its events."""
    ident = _identity(phone, name, email)
    return hashlib.sha256(("gridflow-subject\n" + ident).encode()).hexdigest()


def keyed_subject(
    key: bytes, phone: str | None = None, name: str | None = None, email: str | None = None
) -> str:
    ident = _identity(phone, name, email).encode()
    return KEYED + hmac.new(key, ident, hashlib.sha256).hexdigest()


def load_subject_key(value: str | None, path: str | None) -> bytes:
    """The subject key: base64 from configuration, or a key file, created (0600) with a
    random key when missing."""
    if value:
        key = base64.b64decode(value, validate=True)
    else:
        if path is None:
            raise ValueError(
                "no subject key: set GRIDFLOW_SUBJECT_KEY or GRIDFLOW_SUBJECT_KEY_FILE"
            )
        file = Path(path)
        if not file.exists():
            fd = os.open(file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(base64.b64encode(os.urandom(MIN_KEY_BYTES)).decode() + "\n")
        key = base64.b64decode(file.read_text().strip(), validate=True)
    if len(key) < MIN_KEY_BYTES:
        raise ValueError(f"the subject key must be at least {MIN_KEY_BYTES} bytes (base64)")
    return key


class KeyVault:
    SEAL_CACHE_SECONDS = 60.0

    def __init__(self, db: Database, subject_key: bytes) -> None:
        self.db = db
        self._subject_key = subject_key
        # Keys used to seal, kept briefly so that a bulk import does not read the key
        # table once a row. Reading (`open`) always asks the table, so an erasure hides
        # a person's data at once; a key sealed with after its erasure (within the
        # minute) is itself destroyed, so that data was never readable either.
        self._sealing: dict[str, tuple[float, bytes | None]] = {}

    def check_key(self) -> None:
        """Refuse a subject key other than the one the store's subjects were made with
        (the first process to ask records its own)."""
        with self.db.transaction() as cur:
            self._check_key(cur)

    def _check_key(self, cur: Cursor) -> None:
        mark = hmac.new(self._subject_key, b"gridflow subject key check", hashlib.sha256)
        fingerprint = mark.hexdigest()[:32]
        cur.execute(
            "INSERT INTO gridflow_subject_key_check (id, fingerprint, created_at) "
            "VALUES (1, %s, %s) ON CONFLICT (id) DO NOTHING",
            (fingerprint, datetime.now(UTC).isoformat()),
        )
        cur.execute("SELECT fingerprint FROM gridflow_subject_key_check WHERE id = 1")
        if cur.fetchone()[0] != fingerprint:
            raise ValueError(
                "this store's reporters were sealed under another subject key: give every "
                "process the same GRIDFLOW_SUBJECT_KEY / GRIDFLOW_SUBJECT_KEY_FILE "
                "(docs/audit.md)"
            )

    def subject(self, data: dict[str, Any]) -> str:
        return keyed_subject(
            self._subject_key, data.get("phone"), data.get("name"), data.get("email")
        )

    def _key(self, subject: str, create: bool, legacy: str | None = None) -> bytes | None:
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
            now = datetime.now(UTC).isoformat()
            if legacy is not None and self._erased(cur, legacy):
                # forgotten at their request before subjects were keyed: still forgotten
                cur.execute(
                    "INSERT INTO gridflow_subject_keys (subject, subject_key, created_at, "
                    "erased_at) VALUES (%s, NULL, %s, %s) ON CONFLICT (subject) DO NOTHING",
                    (subject, now, now),
                )
            key = AESGCM.generate_key(bit_length=256)
            cur.execute(
                "INSERT INTO gridflow_subject_keys (subject, subject_key, created_at) "
                "VALUES (%s, %s, %s) ON CONFLICT (subject) DO NOTHING",
                (subject, base64.b64encode(key).decode(), now),
            )
            cur.execute(
                "SELECT subject_key FROM gridflow_subject_keys WHERE subject = %s", (subject,)
            )
            stored = cur.fetchone()[0]
        return base64.b64decode(stored) if stored else None

    @staticmethod
    def _erased(cur: Cursor, subject: str) -> bool:
        cur.execute("SELECT erased_at FROM gridflow_subject_keys WHERE subject = %s", (subject,))
        row = cur.fetchone()
        return row is not None and row[0] is not None

    def seal(self, data: dict[str, Any]) -> dict[str, Any]:
        subject = self.subject(data)
        cached = self._sealing.get(subject)
        if cached is not None and time.monotonic() - cached[0] < self.SEAL_CACHE_SECONDS:
            key = cached[1]
        else:
            legacy = legacy_subject(data.get("phone"), data.get("name"), data.get("email"))
            key = self._key(subject, create=True, legacy=legacy)
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
        """Forget a person: their keys are destroyed, for the subject of today's events
        and for the one older code gave them. True when there was one."""
        subject = keyed_subject(self._subject_key, phone, name, email)
        legacy = legacy_subject(phone, name, email)
        self._sealing.pop(subject, None)
        now = datetime.now(UTC).isoformat()
        with self.db.transaction() as cur:
            cur.execute(
                "UPDATE gridflow_subject_keys SET subject_key = NULL, erased_at = %s "
                "WHERE subject IN (%s, %s) AND erased_at IS NULL",
                (now, subject, legacy),
            )
            changed = int(cur.rowcount) > 0
            # Remember the request, so later reports are not kept either — under the
            # keyed subject only: a new row must never hold a reversible hash.
            cur.execute(
                "INSERT INTO gridflow_subject_keys (subject, subject_key, created_at, "
                "erased_at) VALUES (%s, NULL, %s, %s) ON CONFLICT (subject) DO NOTHING",
                (subject, now, now),
            )
        return changed
