"""Answers to requests sent with an `Idempotency-Key`, per principal, kept 24 hours+.

The table is a cache of first answers. What makes a retry safe even when the process
died between saving the events and writing here is in the log itself: a report's id
is derived from the key, and an action's event carries the key (see api/issues.py).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from projections.db import Database

_SCHEMA = """
CREATE TABLE IF NOT EXISTS gridflow_idempotency (
    principal_id TEXT NOT NULL,
    idem_key TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    status INTEGER NOT NULL,
    body TEXT NOT NULL,
    headers TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (principal_id, idem_key)
)
"""
KEEP = timedelta(hours=48)


@dataclass(frozen=True)
class StoredAnswer:
    request_hash: str
    status: int
    body: Any
    headers: dict[str, str]


class IdempotencyStore:
    def __init__(self, db: Database) -> None:
        self.db = db
        with db.transaction() as cur:
            cur.execute(_SCHEMA)

    def get(self, principal_id: str, key: str) -> StoredAnswer | None:
        with self.db.transaction() as cur:
            cur.execute(
                "SELECT request_hash, status, body, headers FROM gridflow_idempotency "
                "WHERE principal_id = %s AND idem_key = %s",
                (principal_id, key),
            )
            row = cur.fetchone()
        if row is None:
            return None
        return StoredAnswer(row[0], int(row[1]), json.loads(row[2]), json.loads(row[3]))

    def put(self, principal_id: str, key: str, answer: StoredAnswer) -> None:
        now = datetime.now(UTC)
        conflict = "ON CONFLICT (principal_id, idem_key) DO NOTHING"
        with self.db.transaction() as cur:
            cur.execute(
                "INSERT INTO gridflow_idempotency (principal_id, idem_key, request_hash, status, "
                f"body, headers, created_at) VALUES (%s, %s, %s, %s, %s, %s, %s) {conflict}",
                (
                    principal_id,
                    key,
                    answer.request_hash,
                    answer.status,
                    json.dumps(answer.body),
                    json.dumps(answer.headers),
                    now.isoformat(),
                ),
            )
            cur.execute(
                "DELETE FROM gridflow_idempotency WHERE created_at < %s",
                ((now - KEEP).isoformat(),),
            )
