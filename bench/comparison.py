"""The reverse comparison at a city's size: patrol misses of a 30-day period (with its
rolling windows and the 30-day 处置不实 lookback) and the city summary that runs it.

    python -m bench.comparison [--days 60] [--grids 40] [--patrols 20] [--tickets 3]

Writes a fresh PostgreSQL database (gridflow_bench_comparison): per grid and day,
`--patrols` patrol reports (half taken on the spot and settled, a tenth rejected) and
`--tickets` hotline tickets. Prints one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from datetime import UTC, date, datetime, timedelta
from uuid import uuid4

from bench.floors import bench_shared, fresh_database
from domain import commands
from domain.principals import Principal, Role
from gridflow import demo
from gridflow.container import Container
from gridflow.settings import Settings

DB = "gridflow_bench_comparison"


def fill(c: Container, days: int, grids_n: int, patrols: int, tickets: int) -> int:
    grids = list(c.service.org().grids())[:grids_n]
    desk = Principal("desk", Role.INTAKE, "weihai")
    start = datetime(2026, 9, 1, 1, 0, tzinfo=UTC)
    for d in range(days):
        batch = []
        for g in grids:
            worker = Principal(f"w-{g}", Role.GRID_WORKER, g)
            leader = Principal(f"l-{g}", Role.GRID_LEADER, g)
            for k in range(patrols + tickets):
                ctx = c.service.context()
                ctx.now = start + timedelta(days=d, minutes=20 * k)
                category = ("road", "sanitation")[k % 2]
                body = {"grid_id": g, "category": category, "description": f"{g} {d} {k}"}
                if k >= patrols:
                    issue = commands.report(uuid4(), desk, {**body, "channel": "hotline"}, ctx)
                else:
                    issue = commands.report(uuid4(), worker, body, ctx)
                    if k % 10 == 9:
                        issue.take("reject", leader, {"reason": "not ours"}, ctx)
                    elif k % 2 == 0:
                        issue.take("handle_on_spot", worker, {}, ctx)
                        issue.take("resolve", worker, {"resolution": "done"}, ctx)
                        issue.take("verify", leader, {}, ctx)
                batch.append(issue)
        for i in range(0, len(batch), 500):
            c.service.app.save(*batch[i : i + 500])
    return c.service.head()


def timed(f, n: int) -> dict[str, float]:
    samples = []
    for _ in range(n):
        t = time.perf_counter()
        f()
        samples.append(time.perf_counter() - t)
    return {"median_ms": round(statistics.median(samples) * 1000, 1), "n": n}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--days", type=int, default=60)
    ap.add_argument("--grids", type=int, default=40)
    ap.add_argument("--patrols", type=int, default=20)
    ap.add_argument("--tickets", type=int, default=3)
    ap.add_argument("--queries", type=int, default=10)
    args = ap.parse_args()
    url = fresh_database(DB)
    c = Container(Settings.from_env({"GRIDFLOW_DATABASE_URL": url, **bench_shared()}))
    c.service.load_org(demo.organisation())
    t0 = time.perf_counter()
    head = fill(c, args.days, args.grids, args.patrols, args.tickets)
    fill_s = time.perf_counter() - t0
    c.engine.rebuild(switch=True)
    now = datetime(2026, 12, 1, tzinfo=UTC)
    end = date(2026, 9, 1) + timedelta(days=args.days)
    period = (end - timedelta(days=30), end)
    misses = c.views.patrol_misses("weihai", *period, now)
    print(
        json.dumps(
            {
                "events": head,
                "fill_seconds": round(fill_s, 1),
                "tickets_in_period": misses["hotline"],
                "misses": misses["misses"],
                "patrol_misses_city_30d": timed(
                    lambda: c.views.patrol_misses("weihai", *period, now), args.queries
                ),
                "summary_city_30d": timed(
                    lambda: c.views.summary("weihai", *period, now), args.queries
                ),
            },
            indent=2,
        )
    )
    c.close()


if __name__ == "__main__":
    main()
