"""The tamper-evident audit log beside the event log.

Each stored event is hashed from its stored bytes (RFC 6962 leaf: SHA-256(0x00 ||
entry), entry = originator id (16 bytes) || version (8 bytes, big-endian) || topic
length (2 bytes) || topic || the stored state bytes), chained in log order
(chain_i = SHA-256(chain_{i-1} || leaf_i)), and added to a Merkle tree whose signed
checkpoints (docs/audit.md) let auditors prove that a later log extends the one they
saw. Positions in the log have gaps, so the tree counts entries.

The same pass writes the audit trail: one row per issue event with the actor, the
time, the state before and after, and the data.
"""

from __future__ import annotations

import hashlib
import json
import struct
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import orjson

from projections import merkle, quarantine
from projections.engine import Engine
from projections.records import _time, action_of
from stores.db import Cursor, Database
from stores.signing import Signer, body, promised

ZERO = bytes(32)


def entry(originator_id: UUID, version: int, topic: str, state: bytes) -> bytes:
    t = topic.encode()
    return originator_id.bytes + struct.pack(">QH", version, len(t)) + t + state


@dataclass(frozen=True)
class StoredRow:
    position: int
    originator_id: UUID
    version: int
    topic: str
    state: bytes

    def leaf(self) -> bytes:
        return merkle.leaf_hash(entry(self.originator_id, self.version, self.topic, self.state))


class AuditLog:
    """The chain and the trail, folded by the projection engine as the tracked
    projection "audit". The chain takes every event, so none is ever set aside as a
    whole (a failing batch is retried); an event the trail cannot read is set aside
    from the trail alone ("audit_trail")."""

    name = "audit"
    generation = 0
    quarantine = None

    def __init__(
        self,
        db: Database,
        engine: Engine,
        signer: Signer,
        origin: str,
        batch: int = 5000,
        checkpoint_every: int = 1000,
    ) -> None:
        self.db, self.engine, self.signer, self.origin = db, engine, signer, origin
        self.batch, self.checkpoint_every = batch, checkpoint_every
        self.events_table = "gridflow_events" if db.dialect == "postgres" else "stored_events"
        self.position_col = "notification_id" if db.dialect == "postgres" else "rowid"

    def position(self) -> int:
        """The log position of the last event hashed into the chain (gridflow_tracking)."""
        return self.engine.position(self)

    def recorded_origin(self) -> str | None:
        """The origin the log's checkpoints name (None before the first checkpoint)."""
        with self.db.transaction(write=False) as cur:
            cur.execute(
                "SELECT note FROM gridflow_audit_checkpoints ORDER BY tree_size DESC LIMIT 1"
            )
            row = cur.fetchone()
        return str(row[0]).split("\n", 1)[0] if row else None

    # -- reading the stored events, bytes as stored ------------------------------------

    def rows(self, cur: Cursor, after: int, limit: int | None = None) -> list[StoredRow]:
        sql = (
            f"SELECT {self.position_col}, originator_id, originator_version, topic, state "
            f"FROM {self.events_table} WHERE {self.position_col} > %s "
            f"ORDER BY {self.position_col}"
        )
        cur.execute(sql + (" LIMIT %s" if limit else ""), (after, limit) if limit else (after,))
        return [
            StoredRow(int(p), o if isinstance(o, UUID) else UUID(str(o)), int(v), t, bytes(s))
            for p, o, v, t, s in cur.fetchall()
        ]

    def stream(self, batch: int = 20_000) -> Iterator[StoredRow]:
        after = 0
        while True:
            with self.db.transaction(write=False) as cur:
                rows = self.rows(cur, after, batch)
            yield from rows
            if len(rows) < batch:
                return
            after = rows[-1].position

    # -- keeping the chain ---------------------------------------------------------------

    def head(self, cur: Cursor) -> tuple[int, int, bytes, merkle.Frontier]:
        cur.execute("SELECT size, position, chain, frontier FROM gridflow_audit_head WHERE id = 1")
        size, position, chain, frontier = cur.fetchone()
        nodes = [(h, bytes.fromhex(x)) for h, x in json.loads(frontier)]
        return int(size), int(position), bytes.fromhex(chain), merkle.Frontier(nodes, int(size))

    def step(self) -> int:
        """Hash the next batch of stored events into the chain; how many."""
        self.fill_nodes()
        return self.engine.step(self)

    def fold(self, cur: Cursor, batch: Sequence[Any]) -> None:
        rows = [
            StoredRow(n.id, n.originator_id, n.originator_version, n.topic, bytes(n.state))
            for n in batch
        ]
        size, _, chain, frontier = self.head(cur)
        self._fill_nodes(cur, size)
        leaves, trail, nodes = [], [], []
        states = self._last_states(cur, {str(r.originator_id) for r in rows})
        due = self._next_due(cur)
        for i, row in enumerate(rows, start=size):
            leaf = row.leaf()
            chain = hashlib.sha256(chain + leaf).digest()
            nodes += [(lv, ix, h.hex()) for lv, ix, h in frontier.append(leaf)]
            if frontier.size >= due:  # signed at exactly the size promised
                due = self._checkpoint(cur, frontier)["next_checkpoint"]
            leaves.append((i, row.position, leaf.hex(), chain.hex()))
            if (t := self._trail_or_aside(cur, i, row, states)) is not None:
                trail.append(t)
        cur.executemany("INSERT INTO gridflow_audit_leaves VALUES (%s, %s, %s, %s)", leaves)
        cur.executemany("INSERT INTO gridflow_audit_nodes VALUES (%s, %s, %s)", nodes)
        cur.executemany(
            "INSERT INTO gridflow_audit_trail VALUES "
            "(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
            trail,
        )
        cur.execute(
            "UPDATE gridflow_audit_head SET size = %s, position = %s, chain = %s, "
            "frontier = %s WHERE id = 1",
            (
                frontier.size,
                rows[-1].position,
                chain.hex(),
                json.dumps([[h, x.hex()] for h, x in frontier.nodes]),
            ),
        )

    def _trail_or_aside(
        self, cur: Cursor, idx: int, row: StoredRow, states: dict[str, tuple[str, str]]
    ) -> tuple[Any, ...] | None:
        """The trail row of `row`; an event whose stored form the trail cannot read
        (a missing or mistyped field: what a client or older code may have put in the
        log) is set aside from the trail, and the chain still takes it."""
        try:
            return self._trail_row(idx, row, states)
        except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
            quarantine.add_event(
                cur,
                "audit_trail",
                0,
                row.position,
                row.originator_id,
                row.version,
                row.topic,
                exc,
            )
            return None

    def _fill_nodes(self, cur: Cursor, size: int) -> None:
        """A tree hashed by earlier code has leaves but no stored subtrees: compute them
        once from the recorded leaves (the last one present means all are: they are
        written with their leaves)."""
        if size < 2:
            return
        cur.execute(
            "SELECT 1 FROM gridflow_audit_nodes WHERE level = 1 AND idx = %s", (size // 2 - 1,)
        )
        if cur.fetchone() is not None:
            return
        cur.execute("DELETE FROM gridflow_audit_nodes")
        frontier, done = merkle.Frontier(), 0
        while done < size:
            cur.execute(
                "SELECT leaf FROM gridflow_audit_leaves WHERE idx >= %s AND idx < %s ORDER BY idx",
                (done, min(size, done + 50_000)),
            )
            batch = [bytes.fromhex(r[0]) for r in cur.fetchall()]
            if not batch:
                return
            nodes = [(lv, ix, h.hex()) for leaf in batch for lv, ix, h in frontier.append(leaf)]
            cur.executemany("INSERT INTO gridflow_audit_nodes VALUES (%s, %s, %s)", nodes)
            done += len(batch)

    def catch_up(self) -> int:
        self.fill_nodes()
        return self.engine.catch_up(self)

    def fill_nodes(self) -> None:
        """Fill in the stored subtrees of a tree hashed by earlier code (once; a store
        whose nodes are complete answers in one query). The head row is locked so that
        two processes do not fill at once."""
        lock = " FOR UPDATE" if self.db.dialect == "postgres" else ""
        with self.db.transaction() as cur:
            cur.execute(f"SELECT size FROM gridflow_audit_head WHERE id = 1{lock}")
            row = cur.fetchone()
            if row is not None:
                self._fill_nodes(cur, int(row[0]))

    def checkpoint(self) -> dict[str, Any] | None:
        """Sign a checkpoint of the tree as it is now (if it grew since the last)."""
        with self.db.transaction() as cur:
            frontier = self.head(cur)[3]
            if frontier.size == 0 or frontier.size == self._last_checkpoint(cur):
                return None
            return self._checkpoint(cur, frontier)

    def _last_checkpoint(self, cur: Cursor) -> int:
        cur.execute("SELECT MAX(tree_size) FROM gridflow_audit_checkpoints")
        return int(cur.fetchone()[0] or 0)

    def _next_due(self, cur: Cursor) -> int:
        """The tree size at which the next checkpoint is due: what the last one promised
        (or, before checkpoints made promises, `checkpoint_every` after it)."""
        cur.execute(
            "SELECT tree_size, note FROM gridflow_audit_checkpoints ORDER BY tree_size DESC LIMIT 1"
        )
        last = cur.fetchone()
        if last is None:
            return self.checkpoint_every
        return promised(last[1]) or int(last[0]) + self.checkpoint_every

    def _checkpoint(self, cur: Cursor, frontier: merkle.Frontier) -> dict[str, Any]:
        at = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        root = frontier.root()
        next_size = frontier.size + self.checkpoint_every
        note = self.signer.sign(body(self.origin, frontier.size, root, at, next_size))
        cur.execute(
            "INSERT INTO gridflow_audit_checkpoints VALUES (%s, %s, %s, %s)",
            (frontier.size, root.hex(), at, note),
        )
        return {
            "tree_size": frontier.size,
            "root": root.hex(),
            "time": at,
            "note": note,
            "next_checkpoint": next_size,
        }

    # -- the audit trail -------------------------------------------------------------------

    def retry_trail(self, position: int) -> None:
        """Write the trail row of an event set aside earlier (the code can read it now);
        raises what reading it raises, and then it stays set aside."""
        with self.db.transaction() as cur:
            rows = self.rows(cur, position - 1, 1)
            cur.execute("SELECT idx FROM gridflow_audit_leaves WHERE position = %s", (position,))
            leaf = cur.fetchone()
            if not rows or rows[0].position != position or leaf is None:
                raise ValueError(f"no event at position {position} in the chain")
            row = rows[0]
            cur.execute(
                "SELECT to_state, grid_id FROM gridflow_audit_trail WHERE issue_id = %s "
                "AND version < %s ORDER BY version DESC LIMIT 1",
                (str(row.originator_id), row.version),
            )
            before = cur.fetchone()
            states = {str(row.originator_id): (before[0], before[1])} if before else {}
            trail = self._trail_row(int(leaf[0]), row, states)
            if trail is not None:
                cur.execute(
                    "INSERT INTO gridflow_audit_trail VALUES "
                    "(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                    trail,
                )
            quarantine.forget(cur, "audit_trail", 0, position)

    def _last_states(self, cur: Cursor, issue_ids: set[str]) -> dict[str, tuple[str, str]]:
        found: dict[str, tuple[str, str]] = {}
        ids = sorted(issue_ids)
        for i in range(0, len(ids), 500):
            chunk = ids[i : i + 500]
            marks = ", ".join(["%s"] * len(chunk))
            cur.execute(
                f"SELECT t.issue_id, t.to_state, t.grid_id FROM gridflow_audit_trail t WHERE "
                f"t.issue_id IN ({marks}) AND t.version = (SELECT MAX(version) FROM "
                "gridflow_audit_trail u WHERE u.issue_id = t.issue_id)",
                chunk,
            )
            for issue, state, grid in cur.fetchall():
                found[issue] = (state, grid)
        return found

    @staticmethod
    def _trail_row(
        idx: int, row: StoredRow, states: dict[str, tuple[str, str]]
    ) -> tuple[Any, ...] | None:
        action = action_of(row.topic)
        if action is None:
            return None
        s = orjson.loads(row.state)
        issue = str(row.originator_id)
        before, grid = states.get(issue, (None, s["facts"].get("grid_id", "")))
        data = s["data"]
        if action == "transfer":
            grid = data["grid_id"]
        depts = {
            *data.get("departments", []),
            data.get("department_id"),
            s["facts"].get("department_id"),
        } - {None}
        states[issue] = (s["to_state"], grid)
        return (
            row.position,
            idx,
            issue,
            row.version,
            action,
            s["actor"]["id"],
            s["actor"]["role"],
            _time(s["timestamp"]),
            before,
            s["to_state"],
            grid,
            "," + ",".join(sorted(depts)) + "," if depts else "",
            json.dumps(data),
        )
