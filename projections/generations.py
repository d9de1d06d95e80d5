"""The views' generations: the views of generation N live in tables prefixed `gvN_`, and
are folded by the projection engine (projections.engine) as the tracked projection
("views", N). A rebuild builds generation N+1 beside the live one, catches it up, then
switches; views built by other code (another schema or fold) are rebuilt on start.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from projections.engine import Engine
from projections.records import decode
from projections.views import FOLD_VERSION, TABLES, IssueViews, schema
from stores.db import Cursor, Database

log = logging.getLogger("gridflow.projections")

#: The views' schema, as the code defines it: a generation built by other code is rebuilt.
SCHEMA_VERSION = hashlib.sha256(
    "\n".join([*schema("gv_"), f"fold {FOLD_VERSION}"]).encode()
).hexdigest()[:16]


_UPGRADE_LOCK = 0x6766_7669  # "gfvi": one process rebuilds views for a new schema


def prefix(generation: int) -> str:
    return f"gv{generation}_"


class ViewsProjection:
    """The views of one generation, as the engine folds them."""

    name = "views"
    quarantine = "views"

    def __init__(self, generation: int, timezone: str, batch: int) -> None:
        self.generation, self.batch = generation, batch
        self.views = IssueViews(prefix(generation), timezone)

    def fold(self, cur: Cursor, batch: Sequence[Any]) -> None:
        self.views.apply(cur, [r for r in (decode(n) for n in batch) if r is not None])


class ViewGenerations:
    def __init__(
        self, db: Database, engine: Engine, timezone: str = "Asia/Shanghai", batch: int = 2000
    ) -> None:
        self.db = db
        self.engine = engine
        self.timezone = timezone
        self.batch = batch
        self.switched_at = float("-inf")  # when this process last switched generations

    def upgrade(self) -> None:
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
            if row is not None and row[0] == SCHEMA_VERSION:
                return
            if row is None and not self.engine.tracked(self.projection(live)):
                # a new store: nothing built yet
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

    def projection(self, generation: int | None = None) -> ViewsProjection:
        g = self.active() if generation is None else generation
        return ViewsProjection(g, self.timezone, self.batch)

    def prepare(self, generation: int) -> None:
        with self.db.transaction() as cur:
            p = self.projection(generation)
            p.views.create(cur)
            self.engine.track(cur, p)
            cur.execute(
                "INSERT INTO gridflow_view_schema (generation, version) VALUES (%s, %s) "
                "ON CONFLICT (generation) DO UPDATE SET version = excluded.version",
                (generation, SCHEMA_VERSION),
            )

    def drop(self, cur: Cursor, generation: int) -> None:
        for table in TABLES:
            cur.execute(f"DROP TABLE IF EXISTS {prefix(generation)}{table}")
        cur.execute("DELETE FROM gridflow_view_schema WHERE generation = %s", (generation,))
        self.engine.forget(cur, self.projection(generation))

    def position(self, generation: int | None = None) -> int:
        return self.engine.position(self.projection(generation))

    # -- running --------------------------------------------------------------------

    def step(self, generation: int | None = None, stop: int | None = None) -> int:
        """Fold the next batch of the log; how many positions the views moved."""
        return self.engine.step(self.projection(generation), stop)

    def catch_up(
        self,
        generation: int | None = None,
        stop: int | None = None,
        progress: Callable[[int], None] | None = None,
    ) -> int:
        return self.engine.catch_up(self.projection(generation), stop, progress)

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
