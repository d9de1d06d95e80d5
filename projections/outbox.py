"""Webhook subscriptions and the outbox built from the log.

The outbox is a projection: it reads the log in order and, in the transaction that
moves its position, writes one delivery per matching subscription, so every event is
queued exactly once through crashes. Deadline warnings (75% of a limit used) come from
the views' running deadlines, once per deadline. Deliveries are sent by the notifier
(workers/notifier.py), at least once, in log order per issue, only to addresses the
policy allows (projections/webhooks.py) and only while the subscription's owner holds a
live token: revoking a principal suspends its subscriptions (their deliveries wait).
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from projections import quarantine
from projections.engine import Engine
from projections.hotline_replies import reply_of
from projections.records import Record, decode, utc
from projections.webhooks import WebhookTargets
from stores.db import Cursor, Database

Covers = Callable[[str, str], bool]  # (node, grid) -> whether the node covers the grid

# The subscription `s`'s owner holds a live token (stores/tokens.py); one parameter:
# the time now, as tokens store it.
_OWNER_LIVE = (
    "EXISTS (SELECT 1 FROM gridflow_tokens t WHERE t.principal_id = s.owner AND "
    "t.revoked_at IS NULL AND (t.expires_at IS NULL OR t.expires_at > %s))"
)


def _token_now() -> str:
    return datetime.now(UTC).isoformat()


def _now() -> str:
    return utc(datetime.now(UTC))


def departments_of(r: Record) -> set[str]:
    return {
        *r.data.get("departments", []),
        r.data.get("department_id"),
        r.facts.get("department_id"),
    } - {None}


def matches(f: dict[str, Any], r: Record, grid: str, depts: set[str], covers: Covers) -> bool:
    if f.get("nodes") and not any(covers(n, grid) for n in f["nodes"]):
        return False
    if f.get("departments") and not set(f["departments"]) & depts:
        return False
    actions = f.get("actions")
    if f.get("hotline_replies") and not actions:  # the hotline's subscription: replies only
        return False
    if actions and r.action not in actions:
        return bool(r.action == "miss_deadline" and f.get("deadline_warnings"))
    return True


def _in_nodes(f: dict[str, Any], grid: str, covers: Covers) -> bool:
    return not f.get("nodes") or any(covers(n, grid) for n in f["nodes"])


def payload(r: Record, grid: str) -> dict[str, Any]:
    data = {k: v for k, v in r.data.items() if k != "reporter"}  # never personal data
    return {
        "kind": "event",
        "position": r.position,
        "issue_id": r.issue_id,
        "version": r.version,
        "action": r.action,
        "actor": r.actor,
        "at": r.at,
        "to_state": r.to_state,
        "tier": r.tier,
        "grid_id": grid,
        "data": data,
    }


def warning_payload(w: dict[str, Any]) -> dict[str, Any]:
    return {
        "kind": "deadline_warning",
        "issue_id": w["issue_id"],
        "deadline": w["key"],
        "deadline_kind": w["kind"],
        "department_id": w["department_id"],
        "grid_id": w["grid_id"],
        "started_at": w["started_at"],
        "effective_due_at": w["effective_due_at"],
        "used": "75%",
    }


class Queueing:
    """The outbox as a projection the engine folds: each batch of the log becomes the
    deliveries of every matching subscription, in the transaction that moves the
    position."""

    name = "outbox"
    generation = 0
    quarantine = "outbox"

    def __init__(self, outbox: Outbox, covers: Covers) -> None:
        self.outbox, self.covers, self.batch = outbox, covers, outbox.batch

    def fold(self, cur: Cursor, batch: Sequence[Any]) -> None:
        records = [r for r in (decode(n) for n in batch) if isinstance(r, Record)]
        self.outbox.queue_records(cur, records, self.outbox.subscriptions_in(cur), self.covers)


def _no_node_covers(node: str, grid: str) -> bool:
    return False


class Outbox:
    def __init__(
        self,
        db: Database,
        engine: Engine,
        head: Callable[[], int],
        batch: int = 1000,
        targets: WebhookTargets | None = None,
    ) -> None:
        self.db, self.engine, self.head, self.batch = db, engine, head, batch
        self.targets = targets or WebhookTargets()

    # -- subscriptions ----------------------------------------------------------------

    def subscribe(self, owner: str, url: str, secret: str, filt: dict[str, Any]) -> dict[str, Any]:
        sub = {
            "id": "sub_" + secrets.token_hex(8),
            "owner": owner,
            "url": url,
            "filter": filt,
            "from_position": self.head(),
            "created_at": _now(),
            "suspended": False,
        }
        with self.db.transaction() as cur:
            cur.execute(
                "INSERT INTO gridflow_subscriptions (id, owner, url, secret, filter, "
                "from_position, created_at) VALUES (%s, %s, %s, %s, %s, %s, %s)",
                (
                    sub["id"],
                    owner,
                    url,
                    secret,
                    json.dumps(filt),
                    sub["from_position"],
                    sub["created_at"],
                ),
            )
        return sub

    def subscriptions(
        self, owner: str | None = None, *, with_secret: bool = False
    ) -> list[dict[str, Any]]:
        with self.db.transaction(write=False) as cur:
            return self.subscriptions_in(cur, owner, with_secret=with_secret)

    def subscriptions_in(
        self, cur: Cursor, owner: str | None = None, *, with_secret: bool = False
    ) -> list[dict[str, Any]]:
        sql = (
            f"SELECT id, owner, url, secret, filter, from_position, created_at, {_OWNER_LIVE} "
            "FROM gridflow_subscriptions s WHERE deleted_at IS NULL"
        )
        args: list[Any] = [_token_now()]
        if owner is not None:
            sql += " AND owner = %s"
            args.append(owner)
        cur.execute(sql + " ORDER BY created_at", args)
        out = []
        for i, o, url, secret, f, pos, created, live in cur.fetchall():
            sub = {
                "id": i,
                "owner": o,
                "url": url,
                "filter": json.loads(f),
                "from_position": int(pos),
                "created_at": created,
                "suspended": not live,  # its owner holds no live token
            }
            if with_secret:
                sub["secret"] = secret
            out.append(sub)
        return out

    def unsubscribe(self, sub_id: str, owner: str | None) -> bool:
        with self.db.transaction() as cur:
            cur.execute(
                "UPDATE gridflow_subscriptions SET deleted_at = %s WHERE id = %s AND "
                "deleted_at IS NULL" + (" AND owner = %s" if owner else ""),
                (_now(), sub_id, owner) if owner else (_now(), sub_id),
            )
            return int(cur.rowcount) > 0

    def backlog(self) -> int:
        """Deliveries not yet acknowledged by their receiver."""
        with self.db.transaction(write=False) as cur:
            cur.execute("SELECT COUNT(*) FROM gridflow_outbox WHERE status = 'pending'")
            return int(cur.fetchone()[0])

    def deliveries(self, sub_id: str, limit: int = 200) -> list[dict[str, Any]]:
        with self.db.transaction(write=False) as cur:
            cur.execute(
                "SELECT delivery_key, seq, issue_id, kind, status, attempts, next_at, "
                "delivered_at FROM gridflow_outbox WHERE subscription_id = %s "
                "ORDER BY seq DESC, delivery_key DESC LIMIT %s",
                (sub_id, limit),
            )
            rows = cur.fetchall()
            cur.execute(
                "SELECT delivery_key, attempt, at, status_code, error FROM "
                "gridflow_delivery_attempts WHERE subscription_id = %s "
                "ORDER BY attempt",
                (sub_id,),
            )
            attempts: dict[str, list[dict[str, Any]]] = {}
            for key, n, at, code, err in cur.fetchall():
                attempts.setdefault(key, []).append(
                    {"attempt": int(n), "at": at, "status_code": code, "error": err}
                )
        keys = (
            "delivery_id",
            "position",
            "issue_id",
            "kind",
            "status",
            "attempts",
            "next_at",
            "delivered_at",
        )
        return [{**dict(zip(keys, r, strict=True)), "tries": attempts.get(r[0], [])} for r in rows]

    # -- building the outbox from the log ------------------------------------------------

    def queueing(self, covers: Covers) -> Queueing:
        """The outbox's projection, with the organisation as it is now (`covers`)."""
        return Queueing(self, covers)

    def position(self) -> int:
        return self.engine.position(self.queueing(_no_node_covers))

    def step(self, covers: Covers) -> int:
        """Queue the deliveries of the next batch of the log; an event that cannot be
        queued is set aside (projections.quarantine) and the outbox goes on."""
        return self.engine.step(self.queueing(covers))

    def catch_up(self, covers: Covers) -> int:
        return self.engine.catch_up(self.queueing(covers))

    def retry(self, recorder: Any, covers: Covers, position: int) -> None:
        """Queue the deliveries of an event set aside earlier (the code can fold it now);
        raises what folding it raises, and then it stays set aside."""
        found = recorder.select_notifications(position, 1, stop=position)
        records = [r for r in (decode(n) for n in found) if isinstance(r, Record)]
        with self.db.transaction() as cur:
            self.queue_records(cur, records, self.subscriptions_in(cur), covers)
            quarantine.forget(cur, "outbox", 0, position)

    def queue_records(
        self, cur: Cursor, records: list[Record], subs: list[dict[str, Any]], covers: Covers
    ) -> None:
        known = self._issues(cur, {r.issue_id for r in records})
        rows = []
        for r in records:
            grid, depts = known.get(r.issue_id, ("", set()))
            grid = r.facts.get("grid_id") or (r.data["grid_id"] if r.action == "transfer" else grid)
            depts = depts | departments_of(r)
            known[r.issue_id] = (grid, depts)
            for sub in subs:
                if r.position > sub["from_position"] and matches(
                    sub["filter"], r, grid, depts, covers
                ):
                    rows.append(
                        (
                            sub["id"],
                            f"event:{r.position}",
                            r.position,
                            r.issue_id,
                            "event",
                            json.dumps(payload(r, grid)),
                            "pending",
                            0,
                            _now(),
                        )
                    )
                reply = reply_of(r)
                if (
                    reply is not None
                    and r.position > sub["from_position"]
                    and sub["filter"].get("hotline_replies")
                    and _in_nodes(sub["filter"], grid, covers)
                ):
                    rows.append(
                        (
                            sub["id"],
                            f"hotline_reply:{r.position}",
                            r.position,
                            r.issue_id,
                            "hotline_reply",
                            json.dumps({"kind": "hotline_reply", **reply}),
                            "pending",
                            0,
                            _now(),
                        )
                    )
        self._queue(cur, rows)
        cur.executemany(
            "INSERT INTO gridflow_outbox_issues (issue_id, grid_id, departments) "
            "VALUES (%s, %s, %s) ON CONFLICT (issue_id) DO UPDATE SET "
            "grid_id = excluded.grid_id, departments = excluded.departments",
            [(i, g, ",".join(sorted(d))) for i, (g, d) in known.items()],
        )

    @staticmethod
    def _issues(cur: Cursor, ids: set[str]) -> dict[str, tuple[str, set[str]]]:
        found: dict[str, tuple[str, set[str]]] = {}
        ordered = sorted(ids)
        for k in range(0, len(ordered), 500):
            chunk = ordered[k : k + 500]
            cur.execute(
                "SELECT issue_id, grid_id, departments FROM gridflow_outbox_issues "
                f"WHERE issue_id IN ({', '.join(['%s'] * len(chunk))})",
                chunk,
            )
            for i, g, d in cur.fetchall():
                found[i] = (g, set(filter(None, d.split(","))))
        return found

    @staticmethod
    def _queue(cur: Cursor, rows: list[tuple[Any, ...]]) -> None:
        cur.executemany(
            "INSERT INTO gridflow_outbox (subscription_id, delivery_key, seq, issue_id, kind, "
            "payload, status, attempts, next_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) "
            "ON CONFLICT (subscription_id, delivery_key) DO NOTHING",
            rows,
        )

    def queue_warnings(self, warnings: list[dict[str, Any]], covers: Covers) -> int:
        """Deadline warnings (75% used), once per deadline and subscription."""
        subs = [s for s in self.subscriptions() if s["filter"].get("deadline_warnings")]
        if not subs or not warnings:
            return 0
        seq = self.position()
        rows = []
        for w in warnings:
            for sub in subs:
                f = sub["filter"]
                if f.get("nodes") and not any(covers(n, w["grid_id"]) for n in f["nodes"]):
                    continue
                if f.get("departments") and w.get("department_id") not in f["departments"]:
                    continue
                key = f"warning:{w['issue_id']}:{w['key']}:{w['started_at']}"
                rows.append(
                    (
                        sub["id"],
                        key,
                        seq,
                        w["issue_id"],
                        "deadline_warning",
                        json.dumps(warning_payload(w)),
                        "pending",
                        0,
                        _now(),
                    )
                )
        with self.db.transaction() as cur:
            self._queue(cur, rows)
        return len(rows)

    # -- for the notifier ---------------------------------------------------------------

    def due(self, now: str, limit: int = 100) -> list[dict[str, Any]]:
        """Pending deliveries that are due and first in line for their issue."""
        with self.db.transaction(write=False) as cur:
            cur.execute(
                "SELECT d.subscription_id, d.delivery_key, d.payload, d.attempts, s.url, s.secret "
                "FROM gridflow_outbox d JOIN gridflow_subscriptions s ON s.id = d.subscription_id "
                "WHERE d.status = 'pending' AND d.next_at <= %s AND s.deleted_at IS NULL AND "
                f"{_OWNER_LIVE} AND "
                "NOT EXISTS (SELECT 1 FROM gridflow_outbox e WHERE e.subscription_id = "
                "d.subscription_id AND e.issue_id = d.issue_id AND e.status = 'pending' AND "
                "(e.seq < d.seq OR (e.seq = d.seq AND e.delivery_key < d.delivery_key))) "
                "ORDER BY d.seq, d.delivery_key LIMIT %s",
                (now, _token_now(), limit),
            )
            keys = ("subscription_id", "delivery_key", "payload", "attempts", "url", "secret")
            return [dict(zip(keys, r, strict=True)) for r in cur.fetchall()]

    def record(
        self, d: dict[str, Any], ok: bool, status_code: int | None, error: str | None, next_at: str
    ) -> None:
        now = _now()
        attempt = int(d["attempts"]) + 1
        with self.db.transaction() as cur:
            cur.execute(
                "INSERT INTO gridflow_delivery_attempts VALUES (%s, %s, %s, %s, %s, %s) "
                "ON CONFLICT (subscription_id, delivery_key, attempt) DO NOTHING",
                (
                    d["subscription_id"],
                    d["delivery_key"],
                    attempt,
                    now,
                    status_code,
                    (error or "")[:500] or None,
                ),
            )
            cur.execute(
                "UPDATE gridflow_outbox SET status = %s, attempts = %s, next_at = %s, "
                "delivered_at = %s WHERE subscription_id = %s AND delivery_key = %s",
                (
                    "delivered" if ok else "pending",
                    attempt,
                    next_at,
                    now if ok else None,
                    d["subscription_id"],
                    d["delivery_key"],
                ),
            )
