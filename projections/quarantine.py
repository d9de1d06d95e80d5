"""Events a projection could not fold, set aside so that the projection goes on.

A projection folds a batch of events in one transaction with its new position. When the
batch fails for a reason that is not the store's (a value a view cannot hold, a bug in a
fold), the batch is folded again one event at a time: each event that fails on its own
is recorded here (position, event id, error) in the transaction that moves the position
past it. Folding is deterministic, so a rebuild sets aside the same events and the
views still equal a rebuild. Quarantined events are listed in `/readyz` and `/metrics`
and by `gridflow projections quarantine list`; `retry` folds them again once the code can.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from domain.inputs import escape_controls
from stores.db import Cursor, Database

log = logging.getLogger("gridflow.projections")


def transient(exc: BaseException) -> bool:
    """Whether `exc` says the store is unreachable or busy (retry the batch later), as
    opposed to something wrong with what is being folded."""
    import psycopg
    from eventsourcing.persistence import OperationalError as StoreOperationalError
    from psycopg_pool import PoolTimeout

    return isinstance(
        exc,
        psycopg.OperationalError
        | psycopg.InterfaceError
        | PoolTimeout
        | sqlite3.OperationalError
        | StoreOperationalError,
    )


@dataclass(frozen=True)
class Quarantined:
    projection: str
    generation: int
    position: int
    event_id: str
    version: int
    topic: str
    error: str
    at: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "projection": self.projection,
            "generation": self.generation,
            "position": self.position,
            "event_id": self.event_id,
            "version": self.version,
            "topic": self.topic,
            "error": self.error,
            "at": self.at,
        }


def add(cur: Cursor, projection: str, generation: int, n: Any, exc: BaseException) -> None:
    """Record the stored event `n` (a notification of the log) as set aside."""
    add_event(
        cur, projection, generation, n.id, n.originator_id, n.originator_version, n.topic, exc
    )


def add_event(
    cur: Cursor,
    projection: str,
    generation: int,
    position: int,
    event_id: Any,
    version: int,
    topic: str,
    exc: BaseException,
) -> None:
    error = escape_controls(f"{type(exc).__name__}: {exc}"[:2000])
    log.error(
        "%s: event at position %s (%s v%s) set aside: %s",
        projection,
        position,
        event_id,
        version,
        error,
    )
    cur.execute(
        "INSERT INTO gridflow_quarantine (projection, generation, position, event_id, version, "
        "topic, error, at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s) "
        "ON CONFLICT (projection, generation, position) DO NOTHING",
        (
            projection,
            generation,
            position,
            str(event_id),
            version,
            topic,
            error,
            datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        ),
    )


def listed(
    db: Database, projection: str | None = None, generation: int | None = None, limit: int = 1000
) -> list[Quarantined]:
    where: list[str] = ["1 = 1"]
    args: list[Any] = []
    if projection is not None:
        where.append("projection = %s")
        args.append(projection)
    if generation is not None:
        where.append("generation = %s")
        args.append(generation)
    with db.transaction(write=False) as cur:
        cur.execute(
            "SELECT projection, generation, position, event_id, version, topic, error, at "
            f"FROM gridflow_quarantine WHERE {' AND '.join(where)} "
            "ORDER BY projection, generation, position LIMIT %s",
            [*args, limit],
        )
        return [Quarantined(*row) for row in cur.fetchall()]


PROJECTIONS = ("views", "outbox", "audit_trail")


def counts(db: Database, views_generation: int) -> dict[str, int]:
    """How many events each projection has set aside (the views: their live generation)."""
    with db.transaction(write=False) as cur:
        cur.execute(
            "SELECT projection, COUNT(*) FROM gridflow_quarantine "
            "WHERE generation = %s OR projection <> 'views' GROUP BY projection",
            (views_generation,),
        )
        found = {str(name): int(n) for name, n in cur.fetchall()}
    return {name: found.get(name, 0) for name in PROJECTIONS}


def current(db: Database, views_generation: int, limit: int = 1000) -> list[Quarantined]:
    """The events set aside now: by the live views, the outbox and the audit trail."""
    return [
        q
        for q in listed(db, limit=limit)
        if q.projection != "views" or q.generation == views_generation
    ]


def summary(db: Database, views_generation: int, shown: int = 10) -> dict[str, Any]:
    """For `/readyz`: the counts and the first events set aside (never a reason on its
    own to answer not ready: one old event must not take every replica out)."""
    events = current(db, views_generation, limit=shown * len(PROJECTIONS))
    return {"counts": counts(db, views_generation), "events": [q.as_dict() for q in events[:shown]]}


def forget(cur: Cursor, projection: str, generation: int, position: int | None = None) -> None:
    """Drop the record of set-aside events (of a dropped generation, or one retried)."""
    sql = "DELETE FROM gridflow_quarantine WHERE projection = %s AND generation = %s"
    args: list[Any] = [projection, generation]
    if position is not None:
        sql += " AND position = %s"
        args.append(position)
    cur.execute(sql, args)


class Overtaken(Exception):
    """Another copy of the projection folded these events first."""

    def __init__(self, moved: int) -> None:
        super().__init__(f"another copy moved the position {moved} on")
        self.moved = moved


#: Folds events after a position in one transaction that checks and moves the position;
#: answers how many it folded, or raises Overtaken.
Fold = Callable[[Sequence[Any], int], int]
#: Records one event as set aside and moves the position past it, likewise.
SetAside = Callable[[Any, int, BaseException], int]


def fold_isolating(batch: Sequence[Any], after: int, fold: Fold, set_aside: SetAside) -> int:
    """Fold `batch` (the events after position `after`) in one go; when that fails for a
    reason of its own, fold it one event at a time and set aside each event that fails
    alone. How many positions' worth of events were folded or set aside (by this copy or,
    when overtaken, by another).

    The store failing is not the batch's fault: it propagates (the caller retries)."""
    try:
        return fold(batch, after)
    except Overtaken as exc:
        return exc.moved
    except Exception as exc:  # a fold may fail in any way; sorted out below
        if transient(exc):
            raise
        if len(batch) > 1:
            log.warning("a batch of %d events failed (%s); folding one at a time", len(batch), exc)
    total = 0
    for n in batch:
        try:
            try:
                total += fold([n], after)
            except Overtaken:
                raise
            except Exception as exc:  # this event alone cannot be folded: set it aside
                if transient(exc):
                    raise
                total += set_aside(n, after, exc)
        except Overtaken as exc:
            return total + exc.moved
        after = n.id
    return total
