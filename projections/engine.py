"""The projection engine: reads the log in order, in batches, and writes each batch
of view changes with the new position in one transaction, so every event counts once
through crashes and restarts.

Order: the recorder the service ships takes the events table's lock for every save,
so positions commit in order and a reader that has seen position N has seen every
position below it; gaps (failed inserts) are never waited for. Every view records its
position past every event it reads, including those it ignores.

Generations: the views of generation N live in tables prefixed `gvN_`. A rebuild
builds generation N+1 beside the live one, catches it up, then switches.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from projections import quarantine
from projections.db import Cursor, Database
from projections.records import decode
from projections.views import FOLD_VERSION, TABLES, IssueViews, schema

log = logging.getLogger("gridflow.projections")

_META = [
    """CREATE TABLE IF NOT EXISTS gridflow_view_positions (
        generation BIGINT PRIMARY KEY, position BIGINT NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS gridflow_view_generation (
        id BIGINT PRIMARY KEY, active BIGINT NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS gridflow_view_schema (
        generation BIGINT PRIMARY KEY, version TEXT NOT NULL)""",
    quarantine.SCHEMA,
]
#: The views' schema, as the code defines it: a generation built by other code is rebuilt.
SCHEMA_VERSION = hashlib.sha256(
    "\n".join([*schema("gv_"), f"fold {FOLD_VERSION}"]).encode()
).hexdigest()[:16]


_UPGRADE_LOCK = 0x6766_7669  # "gfvi": one process rebuilds views for a new schema


def prefix(generation: int) -> str:
    return f"gv{generation}_"


class Engine:
    def __init__(
        self, db: Database, recorder: Any, timezone: str = "Asia/Shanghai", batch: int = 2000
    ) -> None:
        self.db = db
        self.recorder = recorder
        self.timezone = timezone
        self.batch = batch
        self.switched_at = float("-inf")  # when this process last switched generations
        with db.transaction() as cur:
            for statement in _META:
                cur.execute(statement)
            cur.execute("SELECT active FROM gridflow_view_generation WHERE id = 1")
            if cur.fetchone() is None:
                cur.execute(
                    "INSERT INTO gridflow_view_generation (id, active) VALUES (1, 1) "
                    "ON CONFLICT (id) DO NOTHING"
                )
        self._upgrade()

    def _upgrade(self) -> None:
        """Views are derived: when the live generation was built with another schema
        (the code changed), build the current one from the log and switch to it, before
        anything reads them. One process does it; the others wait, then see it done."""
        with self._exclusive():
            live = self.active()
            with self.db.transaction(write=False) as cur:
                cur.execute(
                    "SELECT version FROM gridflow_view_schema WHERE generation = %s", (live,)
                )
                row = cur.fetchone()
                cur.execute(
                    "SELECT position FROM gridflow_view_positions WHERE generation = %s", (live,)
                )
                built = cur.fetchone()
            if row is not None and row[0] == SCHEMA_VERSION:
                return
            if row is None and built is None:  # a new store: nothing built yet
                self.prepare(live)
                return
            log.warning("the views were built by other code: rebuilding them from the log")
            self.rebuild(switch=True, grace=0.0)

    @contextmanager
    def _exclusive(self) -> Iterator[None]:
        if self.db.dialect != "postgres":
            yield
            return
        import psycopg

        with psycopg.connect(self.db.conninfo, autocommit=True) as conn:
            conn.execute("SELECT pg_advisory_lock(%s)", (_UPGRADE_LOCK,))
            try:
                yield
            finally:
                conn.execute("SELECT pg_advisory_unlock(%s)", (_UPGRADE_LOCK,))

    # -- generations ----------------------------------------------------------------

    def active(self) -> int:
        with self.db.transaction(write=False) as cur:
            cur.execute("SELECT active FROM gridflow_view_generation WHERE id = 1")
            return int(cur.fetchone()[0])

    def views(self, generation: int) -> IssueViews:
        return IssueViews(prefix(generation), self.timezone)

    def prepare(self, generation: int) -> None:
        with self.db.transaction() as cur:
            self.views(generation).create(cur)
            cur.execute(
                "INSERT INTO gridflow_view_positions (generation, position) "
                "VALUES (%s, 0) ON CONFLICT (generation) DO NOTHING",
                (generation,),
            )
            cur.execute(
                "INSERT INTO gridflow_view_schema (generation, version) VALUES (%s, %s) "
                "ON CONFLICT (generation) DO UPDATE SET version = excluded.version",
                (generation, SCHEMA_VERSION),
            )

    def drop(self, cur: Cursor, generation: int) -> None:
        for table in TABLES:
            cur.execute(f"DROP TABLE IF EXISTS {prefix(generation)}{table}")
        cur.execute("DELETE FROM gridflow_view_positions WHERE generation = %s", (generation,))
        cur.execute("DELETE FROM gridflow_view_schema WHERE generation = %s", (generation,))
        quarantine.forget(cur, "views", generation)

    def position(self, generation: int | None = None) -> int:
        g = self.active() if generation is None else generation
        with self.db.transaction(write=False) as cur:
            cur.execute("SELECT position FROM gridflow_view_positions WHERE generation = %s", (g,))
            row = cur.fetchone()
        return int(row[0]) if row else 0

    # -- running --------------------------------------------------------------------

    def step(self, generation: int | None = None, stop: int | None = None) -> int:
        """Fold the next batch of the log; how many positions the views moved. An event
        the views cannot fold is set aside (projections.quarantine) and the views go on."""
        g = self.active() if generation is None else generation
        start = self.position(g)
        limit = self.batch if stop is None else max(0, min(self.batch, stop - start))
        if limit == 0:
            return 0
        batch = self.recorder.select_notifications(start + 1, limit, stop=stop)
        if not batch:
            return 0
        return quarantine.fold_isolating(
            batch,
            start,
            lambda part, after: self._fold(g, part, after),
            lambda n, after, exc: self._set_aside(g, n, after, exc),
        )

    @contextmanager
    def _moving(self, g: int, after: int, to: int) -> Iterator[Cursor]:
        """A transaction that finds the views of generation `g` at position `after` and
        leaves them at `to`; Overtaken when another copy moved them first."""
        lock = " FOR UPDATE" if self.db.dialect == "postgres" else ""
        with self.db.transaction() as cur:
            cur.execute(
                f"SELECT position FROM gridflow_view_positions WHERE generation = %s{lock}", (g,)
            )
            row = cur.fetchone()
            if row is None or int(row[0]) != after:
                raise quarantine.Overtaken(max(0, int(row[0]) - after) if row else 0)
            yield cur
            cur.execute(
                "UPDATE gridflow_view_positions SET position = %s WHERE generation = %s", (to, g)
            )

    def _fold(self, g: int, part: Sequence[Any], after: int) -> int:
        items = [r for r in (decode(n) for n in part) if r is not None]
        with self._moving(g, after, part[-1].id) as cur:
            self.views(g).apply(cur, items)
        return len(part)

    def _set_aside(self, g: int, n: Any, after: int, exc: BaseException) -> int:
        with self._moving(g, after, n.id) as cur:
            quarantine.add(cur, "views", g, n, exc)
        return 1

    def catch_up(
        self,
        generation: int | None = None,
        stop: int | None = None,
        progress: Callable[[int], None] | None = None,
    ) -> int:
        total = 0
        while n := self.step(generation, stop):
            total += n
            if progress:
                progress(self.position(generation))
        return total

    def follow(
        self, stop: threading.Event, wake: threading.Event | None = None, poll: float = 1.0
    ) -> None:
        """Keep the views current until `stop` is set: fold what is new, then wait for a
        wake-up (PostgreSQL NOTIFY, or the in-process service) or the poll interval."""
        listener = _Listener(self.db) if self.db.dialect == "postgres" else None
        try:
            while not stop.is_set():
                try:
                    moved = self.catch_up()
                except Exception:  # the store went away: log, wait, try again
                    log.exception("projection step failed; retrying")
                    moved = 0
                if moved:
                    continue
                if listener is not None:
                    listener.wait(poll)
                elif wake is not None:
                    wake.wait(poll)
                    wake.clear()
                else:
                    stop.wait(poll)
        finally:
            if listener is not None:
                listener.close()

    # -- rebuild --------------------------------------------------------------------

    def rebuild(
        self, switch: bool = True, progress: Callable[[int], None] | None = None, grace: float = 2.0
    ) -> int:
        """Build the next generation beside the live one from the log, then switch to
        it (or leave it unswitched, for `verify`). Returns the new generation."""
        live = self.active()
        new = live + 1
        with self.db.transaction() as cur:
            self.drop(cur, new)
        self.prepare(new)
        self.catch_up(new, progress=progress)
        # Fresh tables have no planner statistics until autovacuum comes by: without
        # them the first supervision queries after a switch can take seconds.
        with self.db.transaction() as cur:
            for table in TABLES:
                cur.execute(f"ANALYZE {prefix(new)}{table}")
        if switch:
            self.catch_up(new)
            with self.db.transaction() as cur:
                cur.execute("UPDATE gridflow_view_generation SET active = %s WHERE id = 1", (new,))
            self.switched_at = time.monotonic()
            self.catch_up(new)
            # Readers elsewhere look up the live generation at most once a second: let
            # them move over before the old tables go.
            time.sleep(grace)
            with self.db.transaction() as cur:
                self.drop(cur, live)
        return new


class _Listener:
    """LISTEN on the log's channel; a dropped connection falls back to polling."""

    def __init__(self, db: Database) -> None:
        import psycopg

        self._conninfo = db.conninfo
        self._psycopg = psycopg
        self.conn: Any = None

    def _connect(self) -> None:
        self.conn = self._psycopg.connect(self._conninfo, autocommit=True, connect_timeout=5)
        self.conn.execute("LISTEN gridflow_events")

    def wait(self, timeout: float) -> None:
        try:
            if self.conn is None:
                self._connect()
            for _ in self.conn.notifies(timeout=timeout, stop_after=1):
                pass
        except Exception:  # lost connection: poll this time, reconnect next time
            self.close()
            threading.Event().wait(timeout)

    def close(self) -> None:
        if self.conn is not None:
            try:
                self.conn.close()
            finally:
                self.conn = None
