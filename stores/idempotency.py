"""Answers to requests sent with an `Idempotency-Key`, per principal, kept 24 hours+.

A key is reserved before the request acts, in one statement that only one request can
win (the table's primary key): the winner acts and keeps its answer; requests with the
key meanwhile hear that it is in flight (or, with another body, that the key is taken);
afterwards they get the kept answer. A reservation is a lease: one left by a process
that died is taken over after `LEASE`.

What makes a retry safe even when the process died between saving the events and
writing here is in the log itself: a report's id is derived from the key, and an
action's event carries the key (see api/issues.py and `IssueService.act`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from stores.db import Database

KEEP = timedelta(hours=48)
#: how long a reservation holds a key without an answer before another request may act
LEASE = timedelta(seconds=30)
IN_FLIGHT = 0  # the `status` of a reserved key whose request has not answered yet


@dataclass(frozen=True)
class StoredAnswer:
    request_hash: str
    status: int
    body: Any
    headers: dict[str, str]


@dataclass(frozen=True)
class Reservation:
    """The right to act for a key: keep the answer with `complete` or give it up with
    `release`."""

    principal_id: str
    key: str
    request_hash: str
    reserved_at: str


@dataclass(frozen=True)
class InFlight:
    """Another request holds the key and has not answered yet."""

    request_hash: str
    until: datetime


def _stamp(t: datetime) -> str:
    return t.astimezone(UTC).isoformat(timespec="microseconds")


class IdempotencyStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    def reserve(
        self, principal_id: str, key: str, request_hash: str, now: datetime | None = None
    ) -> Reservation | InFlight | StoredAnswer:
        """Reserve the key for this request; or say who holds it, or what it answered."""
        now = now or datetime.now(UTC)
        mine = Reservation(principal_id, key, request_hash, _stamp(now))
        with self.db.transaction() as cur:
            cur.execute(
                "INSERT INTO gridflow_idempotency (principal_id, idem_key, request_hash, status, "
                "body, headers, created_at) VALUES (%s, %s, %s, %s, 'null', '{}', %s) "
                "ON CONFLICT (principal_id, idem_key) DO NOTHING",
                (principal_id, key, request_hash, IN_FLIGHT, mine.reserved_at),
            )
            if cur.rowcount == 1:
                return mine
            cur.execute(
                "SELECT request_hash, status, body, headers, created_at FROM "
                "gridflow_idempotency WHERE principal_id = %s AND idem_key = %s",
                (principal_id, key),
            )
            held, status, body, headers, since = cur.fetchone()
            if int(status) != IN_FLIGHT:
                return StoredAnswer(held, int(status), json.loads(body), json.loads(headers))
            until = datetime.fromisoformat(since) + LEASE
            if until > now or held != request_hash:
                return InFlight(held, until)
            # the holder died (or is very slow): take the lease over; the log check of
            # the request then finds whatever it recorded
            cur.execute(
                "UPDATE gridflow_idempotency SET created_at = %s WHERE principal_id = %s AND "
                "idem_key = %s AND status = %s AND created_at = %s",
                (mine.reserved_at, principal_id, key, IN_FLIGHT, since),
            )
            return mine if cur.rowcount == 1 else InFlight(held, now + LEASE)

    def complete(self, r: Reservation, answer: StoredAnswer) -> None:
        """Keep the answer of a reserved request (unless its lease was taken over)."""
        now = datetime.now(UTC)
        with self.db.transaction() as cur:
            cur.execute(
                "UPDATE gridflow_idempotency SET status = %s, body = %s, headers = %s "
                "WHERE principal_id = %s AND idem_key = %s AND status = %s AND created_at = %s",
                (
                    answer.status,
                    json.dumps(answer.body),
                    json.dumps(answer.headers),
                    r.principal_id,
                    r.key,
                    IN_FLIGHT,
                    r.reserved_at,
                ),
            )
            cur.execute(
                "DELETE FROM gridflow_idempotency WHERE created_at < %s", (_stamp(now - KEEP),)
            )

    def release(self, r: Reservation) -> None:
        """Give the key up: the request failed, and a retry may act."""
        with self.db.transaction() as cur:
            cur.execute(
                "DELETE FROM gridflow_idempotency WHERE principal_id = %s AND idem_key = %s "
                "AND status = %s AND created_at = %s",
                (r.principal_id, r.key, IN_FLIGHT, r.reserved_at),
            )
