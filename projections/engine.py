"""The one engine every projection of the log runs on: the views, the webhook outbox and
the audit chain.

A projection (`Tracked`) declares its tracking name and generation, how many events it
takes at a time, and how it folds a batch of stored events inside a transaction the
engine gives it. The engine reads the log in order, in batches, hands each batch to the
projection and records the new position in that same transaction, so every event
counts once through crashes, restarts and a second copy running at once (the copy that
finds the position moved gives way). When a batch fails for a reason that is not the
store's, the engine folds it one event at a time and sets aside (projections.quarantine)
each event that fails alone, under the projection's quarantine name; a projection
without one (the audit chain, which must take every event) is retried instead.

Order: the recorder the service ships takes the events table's lock for every save,
so positions commit in order and a reader that has seen position N has seen every
position below it; gaps (failed inserts) are never waited for. Every projection's
position moves past every event it reads, including those it ignores.

Positions live in one table, `gridflow_tracking (projection, generation, position)`
(stores/migrations/0002.tracking.sql took over those of earlier stores); a
projection not tracked yet starts from the beginning of the log.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Protocol

from projections import quarantine
from stores.db import Cursor, Database

log = logging.getLogger("gridflow.projections")


class Tracked(Protocol):
    """A projection of the log, as the engine runs it."""

    @property
    def name(self) -> str:
        """Its row in the tracking table (with `generation`)."""

    @property
    def generation(self) -> int: ...

    @property
    def batch(self) -> int:
        """How many events one transaction folds."""

    @property
    def quarantine(self) -> str | None:
        """The name its set-aside events are recorded under; None: never set one aside
        (a failing batch is retried, as when the store is away)."""

    def fold(self, cur: Cursor, batch: Sequence[Any]) -> None:
        """Fold `batch` (stored events of the log, in order) inside `cur`'s transaction."""


class Engine:
    def __init__(self, db: Database, recorder: Any) -> None:
        self.db, self.recorder = db, recorder

    # -- positions ------------------------------------------------------------------

    def track(self, cur: Cursor, p: Tracked, position: int = 0) -> None:
        """Start tracking `p` at `position` (unless it is tracked already)."""
        cur.execute(
            "INSERT INTO gridflow_tracking (projection, generation, position) "
            "VALUES (%s, %s, %s) ON CONFLICT (projection, generation) DO NOTHING",
            (p.name, p.generation, position),
        )

    def tracked(self, p: Tracked) -> bool:
        return self._read(p) is not None

    def position(self, p: Tracked) -> int:
        return self._read(p) or 0

    def _read(self, p: Tracked) -> int | None:
        with self.db.transaction(write=False) as cur:
            cur.execute(
                "SELECT position FROM gridflow_tracking WHERE projection = %s AND generation = %s",
                (p.name, p.generation),
            )
            row = cur.fetchone()
        return None if row is None else int(row[0])

    def forget(self, cur: Cursor, p: Tracked) -> None:
        """Stop tracking `p` (a dropped generation): its position and set-aside events."""
        cur.execute(
            "DELETE FROM gridflow_tracking WHERE projection = %s AND generation = %s",
            (p.name, p.generation),
        )
        if p.quarantine is not None:
            quarantine.forget(cur, p.quarantine, p.generation)

    # -- running --------------------------------------------------------------------

    def step(self, p: Tracked, stop: int | None = None) -> int:
        """Fold the next batch of the log into `p`; how many positions it moved."""
        start = self.position(p)
        limit = p.batch if stop is None else max(0, min(p.batch, stop - start))
        if limit == 0:
            return 0
        batch = self.recorder.select_notifications(start + 1, limit, stop=stop)
        if not batch:
            return 0
        if p.quarantine is None:
            try:
                return self._fold(p, batch, start)
            except quarantine.Overtaken as exc:
                return exc.moved
        return quarantine.fold_isolating(
            batch,
            start,
            lambda part, after: self._fold(p, part, after),
            lambda n, after, exc: self._set_aside(p, n, after, exc),
        )

    def catch_up(
        self, p: Tracked, stop: int | None = None, progress: Callable[[int], None] | None = None
    ) -> int:
        total = 0
        while n := self.step(p, stop):
            total += n
            if progress:
                progress(self.position(p))
        return total

    @contextmanager
    def _moving(self, p: Tracked, after: int, to: int) -> Iterator[Cursor]:
        """A transaction that finds `p` at position `after` and leaves it at `to`;
        Overtaken when another copy moved it first."""
        lock = " FOR UPDATE" if self.db.dialect == "postgres" else ""
        with self.db.transaction() as cur:
            cur.execute(
                "SELECT position FROM gridflow_tracking WHERE projection = %s AND "
                f"generation = %s{lock}",
                (p.name, p.generation),
            )
            row = cur.fetchone()
            if row is None:  # tracked from now on (from the start of the log)
                self.track(cur, p)
                row = (0,)
            if int(row[0]) != after:
                raise quarantine.Overtaken(max(0, int(row[0]) - after))
            yield cur
            cur.execute(
                "UPDATE gridflow_tracking SET position = %s WHERE projection = %s AND "
                "generation = %s",
                (to, p.name, p.generation),
            )

    def _fold(self, p: Tracked, part: Sequence[Any], after: int) -> int:
        with self._moving(p, after, part[-1].id) as cur:
            p.fold(cur, part)
        return len(part)

    def _set_aside(self, p: Tracked, n: Any, after: int, exc: BaseException) -> int:
        assert p.quarantine is not None
        with self._moving(p, after, n.id) as cur:
            quarantine.add(cur, p.quarantine, p.generation, n, exc)
        return 1
