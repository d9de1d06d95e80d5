"""`gridflow projections rebuild --verify`: rebuild beside the live views from the log
and list every row where the two differ."""

from __future__ import annotations

from typing import Any

from projections import quarantine
from projections.generations import ViewGenerations, prefix
from projections.views import TABLES
from stores.db import Database


def differences(db: Database, live: int, new: int, limit: int = 20) -> dict[str, list[Any]]:
    found: dict[str, list[Any]] = {}
    with db.transaction() as cur:
        for table in TABLES:
            rows = {}
            for gen in (live, new):
                cur.execute(f"SELECT * FROM {prefix(gen)}{table}")
                rows[gen] = {tuple(r) for r in cur.fetchall()}
            only_live = sorted(rows[live] - rows[new], key=str)[:limit]
            only_new = sorted(rows[new] - rows[live], key=str)[:limit]
            if only_live or only_new:
                found[table] = [("live only", r) for r in only_live] + [
                    ("rebuilt only", r) for r in only_new
                ]
    aside = {
        gen: {(q.position, q.event_id) for q in quarantine.listed(db, "views", gen)}
        for gen in (live, new)
    }
    if aside[live] != aside[new]:  # a rebuild sets aside the same events
        found["quarantine"] = [("live only", r) for r in sorted(aside[live] - aside[new])] + [
            ("rebuilt only", r) for r in sorted(aside[new] - aside[live])
        ]
    return found


def rebuild_and_verify(
    engine: ViewGenerations, head: int, attempts: int = 5
) -> dict[str, list[Any]]:
    """Build a new generation to `head`, bring the live one to the same position, and
    compare them. The new generation is dropped afterwards; the live one stays."""
    live = engine.active()
    new = engine.rebuild(switch=False)
    try:
        for _ in range(attempts):
            engine.catch_up(live, stop=head)
            engine.catch_up(new, stop=engine.position(live))
            if engine.position(live) == engine.position(new):
                return differences(engine.db, live, new)
            head = engine.position(live)
        raise RuntimeError("the live views kept moving; run verify again")
    finally:
        with engine.db.transaction() as cur:
            engine.drop(cur, new)
