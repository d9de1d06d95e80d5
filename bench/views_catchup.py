"""Views catch-up from zero on PostgreSQL, beside the library's stock projection runner
running the same view code over the same log, plus list and summary query latency.

    python -m bench.views_catchup --events 1000000 [--stock-events 20000]

Writes a fresh database (gridflow_bench_views), fills it with a generated log of
realistic issue histories, then measures. Prints one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from datetime import UTC, date, datetime, timedelta
from functools import singledispatchmethod
from typing import Any
from uuid import uuid4

import psycopg
from eventsourcing.persistence import Tracking
from eventsourcing.postgres import PostgresTrackingRecorder
from eventsourcing.projection import Projection, ProjectionRunner
from psycopg.rows import tuple_row

from bench.floors import bench_shared, fresh_database, percentiles
from domain import commands
from domain.issue import Issue
from domain.organisation import Organisation
from domain.principals import Principal, Role
from gridflow import demo
from gridflow.container import Container
from gridflow.settings import Settings
from projections.queries import ListQuery
from projections.records import OrgChange, Record, utc
from projections.views import TABLES, IssueViews, schema
from stores.eventstore import GridflowApplication

#: Its own database; GRIDFLOW_BENCH_DB names another, so that two runs at once do not
#: drop each other's.
DB = os.environ.get("GRIDFLOW_BENCH_DB", "gridflow_bench_views")


def fill(c: Container, events: int) -> int:
    """Issues of about five events each (report, triage, resolve, verify, callback; one
    in ten a whistle with a department), saved 200 issues to a transaction."""
    grids = [g for g in c.service.org().grids()][:40]
    worker = {g: Principal(f"w-{g}", Role.GRID_WORKER, g) for g in grids}
    leader = {g: Principal(f"l-{g}", Role.GRID_LEADER, g) for g in grids}
    staff = Principal("staff", Role.COMMUNITY_STAFF, "weihai")
    housing = Principal("housing-1", Role.DEPARTMENT_OFFICER, "housing")
    caller = Principal("caller", Role.COMMUNITY_STAFF, "weihai")  # handled none of them
    t = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
    written, n = 0, 0
    while written < events:
        batch = []
        for _ in range(200):
            n += 1
            g = grids[n % len(grids)]
            t += timedelta(seconds=37)
            ctx = c.service.context()
            ctx.now = t
            issue = commands.report(
                uuid4(),
                worker[g],
                {
                    "grid_id": g,
                    "category": "road",
                    "description": f"pothole {n}",
                    "reporter": {"name": "Wang", "phone": "13800000000"},  # someone to call
                },
                ctx,
            )
            if n % 10 == 0:
                issue.take("blow_whistle", staff, {"departments": ["housing"]}, ctx)
                issue.take("report_in", housing, {}, ctx)
                issue.take("resolve", staff, {"resolution": "fixed"}, ctx)
                issue.take("verify", Principal("sup", Role.CITY_SUPERVISOR, "weihai"), {}, ctx)
            else:
                issue.take("handle_on_spot", worker[g], {}, ctx)
                issue.take("resolve", worker[g], {"resolution": "fixed"}, ctx)
                issue.take("verify", leader[g], {}, ctx)
            issue.take(
                "record_callback",
                caller,
                {"contacted": True, "solved": True, "satisfaction": "satisfied"},
                ctx,
            )
            written += len(issue.pending_events)
            batch.append(issue)
        c.service.app.save(*batch)
    return c.service.head()


# -- the library's stock runner, running the same view code one event at a time ------


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return utc(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def as_record(event: Any, position: int) -> Record | OrgChange | None:
    if isinstance(event, Organisation.Changed):
        return OrgChange(
            position, utc(event.timestamp), event.nodes, event.departments, event.categories
        )
    if not isinstance(event, Issue.Event):
        return None
    return Record(
        position,
        str(event.originator_id),
        event.originator_version,
        event.ACTION,
        utc(event.timestamp),
        event.actor,
        _plain(event.data),
        _plain(event.facts),
        event.to_state,
        event.tier,
        _plain(event.starts),
        _plain(event.ends),
    )


class StockViews(PostgresTrackingRecorder):
    views = IssueViews("gvstock_")

    def fold(self, event: Any, tracking: Tracking) -> None:
        with self.datastore.transaction(commit=True) as curs:
            record = as_record(event, tracking.notification_id)
            if record is not None:
                with curs.connection.cursor(row_factory=tuple_row) as plain:
                    self.views.apply(plain, [record])  # type: ignore[arg-type]
            self._insert_tracking(curs, tracking)


class StockProjection(Projection[StockViews]):
    name = "stockviews"

    @singledispatchmethod
    def process_event(self, domain_event: Any, tracking: Tracking) -> None:
        self.view.fold(domain_event, tracking)


def stock_rate(url: str, events: int) -> float:
    with psycopg.connect(url, autocommit=True) as conn:
        for stmt in schema("gvstock_"):
            conn.execute(stmt)
    env = {
        "PERSISTENCE_MODULE": "eventsourcing.postgres",
        "POSTGRES_DBNAME": DB,
        "POSTGRES_HOST": "localhost",
        "POSTGRES_PORT": "5432",
        "POSTGRES_USER": "postgres",
        "POSTGRES_PASSWORD": "",
    }
    started = time.perf_counter()
    with ProjectionRunner(
        application_class=GridflowApplication,
        projection_class=StockProjection,
        view_class=StockViews,
        env=env,
    ) as runner:
        runner.wait(events, timeout=3600)
    return events / (time.perf_counter() - started)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--stock-events", type=int, default=20_000)
    ap.add_argument("--queries", type=int, default=300)
    ap.add_argument("--reuse", action="store_true", help="keep the log of the last run")
    args = ap.parse_args()
    url = f"postgresql://postgres@localhost:5432/{DB}" if args.reuse else fresh_database(DB)
    c = Container(Settings.from_env({"GRIDFLOW_DATABASE_URL": url, **bench_shared()}))
    fill_s = 0.0
    if not args.reuse:
        c.service.load_org(demo.organisation())
        t0 = time.perf_counter()
        fill(c, args.events)
        fill_s = time.perf_counter() - t0
    head = c.service.head()
    with psycopg.connect(url, autocommit=True) as conn:  # the stock runner starts afresh too
        conn.execute("DROP TABLE IF EXISTS stockviews_tracking")
        for table in TABLES:  # every table of the views, as this code shapes them
            conn.execute(f"DROP TABLE IF EXISTS gvstock_{table}")
    # Opening the views brings them to this code's schema first: a whole rebuild of its
    # own when other code built the live generation (another version's run with --reuse).
    # Timed apart, so that it never counts as part of the catch-up below.
    t0 = time.perf_counter()
    engine = c.engine
    upgrade_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    generation = engine.rebuild(switch=True)
    ours = head / (time.perf_counter() - t0)
    assert engine.position(generation) == head
    stock = stock_rate(url, min(args.stock_events, head))
    auditor = Principal("auditor", Role.AUDITOR, "weihai")
    now = datetime(2026, 12, 1, tzinfo=UTC)
    timings: dict[str, list[float]] = {
        "list_newest": [],
        "list_node_urgency": [],
        "summary_street": [],
        "summary_city": [],
    }
    period = (date(2026, 3, 1), date(2026, 7, 1))  # the whole generated history
    cursor = None
    for i in range(args.queries):
        t = time.perf_counter()
        page = c.views.issues(auditor, ListQuery(limit=50, cursor=cursor), now)
        timings["list_newest"].append(time.perf_counter() - t)
        cursor = page["next_cursor"] if i % 20 else None
        t = time.perf_counter()
        c.views.issues(auditor, ListQuery(node="huancui-s1", sort="urgency", limit=50), now)
        timings["list_node_urgency"].append(time.perf_counter() - t)
        t = time.perf_counter()
        c.views.summary("huancui-s1", *period, now)
        timings["summary_street"].append(time.perf_counter() - t)
        t = time.perf_counter()
        c.views.summary("weihai", *period, now)
        timings["summary_city"].append(time.perf_counter() - t)
    print(
        json.dumps(
            {
                "events": head,
                "fill_seconds": round(fill_s, 1),
                "upgrade_seconds": round(upgrade_s, 1),
                "catch_up_events_per_s": round(ours),
                "stock_runner_events_per_s": round(stock),
                "ratio": round(ours / stock, 1),
                **{k: percentiles(v) for k, v in timings.items()},
            },
            indent=2,
        )
    )
    c.close()


if __name__ == "__main__":
    main()
