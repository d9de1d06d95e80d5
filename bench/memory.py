"""Peak RSS of `gridflow worker` and `gridflow serve` over a store of many issues.

    python -m bench.memory [--issues 1000000] [--reuse] [--only worker|serve]

Fills a fresh database (`gridflow_bench_memory`) with open issues — each reported and
taken on the spot, so each holds an open deadline, which is what the deadline worker
and the urgency list work over — then, each under `/usr/bin/time -v`:

1. `gridflow worker` (views, deadlines, audit chain, webhooks) from zero until every
   part has reached the head of the log;
2. `gridflow serve` answering pages of the issue list (newest and by urgency), issue
   reads and actions, and now and then city and street summaries.

The figure is the kernel's peak resident set size of each process.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import uuid4

import httpx
import psycopg

from bench.floors import bench_shared, fresh_database
from domain import commands
from domain.principals import Principal, Role
from gridflow import demo
from gridflow.container import Container
from gridflow.settings import Settings

DB = "gridflow_bench_memory"
URL = f"postgresql://postgres@localhost:5432/{DB}"
ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "GRIDFLOW_DATABASE_URL": URL, **bench_shared("/tmp/bench-mem.key")}


def fill(c: Container, issues: int) -> None:
    """Open issues over every grid, reported over the last hour, 500 to a transaction."""
    grids = list(c.service.org().grids())
    workers = {g: Principal(f"w-{g}", Role.GRID_WORKER, g) for g in grids}
    start = datetime.now(UTC) - timedelta(hours=1)
    ctx = c.service.context()
    for first in range(0, issues, 500):
        batch = []
        for n in range(first, min(first + 500, issues)):
            g = grids[n % len(grids)]
            ctx.now = start + timedelta(seconds=3600 * n / issues)
            issue = commands.report(
                uuid4(), workers[g], {"grid_id": g, "category": "road", "description": f"#{n}"}, ctx
            )
            issue.take("handle_on_spot", workers[g], {}, ctx)
            batch.append(issue)
        c.service.app.save(*batch)


def timed(args: list[str]) -> subprocess.Popen[str]:
    """`gridflow ARGS` under `time -v`, whose report goes to a file (the process's own
    output is dropped: a pipe nobody reads would stop it once full)."""
    report = Path(tempfile.mkstemp(suffix=".time")[1])
    cmd = ["/usr/bin/time", "-v", "-o", str(report), sys.executable, "-m", "gridflow.cli", *args]
    proc = subprocess.Popen(
        cmd, cwd=ROOT, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, text=True
    )
    proc.report = report  # type: ignore[attr-defined]
    return proc


def stop(proc: subprocess.Popen[str]) -> int:
    """SIGTERM the gridflow process under `time`; its peak RSS in MB."""
    child = subprocess.run(["pgrep", "-P", str(proc.pid)], capture_output=True, text=True)
    for pid in child.stdout.split():
        os.kill(int(pid), 15)
    proc.wait(timeout=120)
    report = proc.report.read_text()  # type: ignore[attr-defined]
    kb = re.search(r"Maximum resident set size \(kbytes\): (\d+)", report)
    assert kb, report[-2000:]
    return round(int(kb.group(1)) / 1024)


def positions(conn: psycopg.Connection[Any]) -> dict[str, int]:
    def one(sql: str) -> int:
        row = conn.execute(sql).fetchone()
        return int(row[0]) if row and row[0] is not None else 0

    return {
        "views": one(
            "SELECT p.position FROM gridflow_tracking p JOIN gridflow_view_generation g "
            "ON p.generation = g.active WHERE g.id = 1 AND p.projection = 'views'"
        ),
        "audit": one("SELECT position FROM gridflow_tracking WHERE projection = 'audit'"),
        "webhooks": one("SELECT position FROM gridflow_tracking WHERE projection = 'outbox'"),
    }


def derived_tables_dropped() -> None:
    """Everything the workers build, so that they start from zero on the same log; and
    the migrations' bookkeeping, so that the next start applies them again (each only
    adds what is missing) and brings back the tracking table."""
    with psycopg.connect(URL, autocommit=True) as conn:
        for (table,) in conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND (tablename "
            "LIKE 'gv%' OR tablename LIKE 'gridflow_view%' OR tablename LIKE 'gridflow_audit%' "
            "OR tablename LIKE 'gridflow_outbox%' OR tablename IN ('gridflow_tracking', "
            "'gridflow_quarantine', 'yoyo_lock') OR tablename LIKE '\\_yoyo%')"
        ).fetchall():
            conn.execute(f'DROP TABLE "{table}"')


def worker_peak(head: int) -> dict[str, Any]:
    proc = timed(["worker"])
    started = time.perf_counter()
    try:
        with psycopg.connect(URL, autocommit=True) as conn:
            while True:
                time.sleep(2)
                try:
                    at = positions(conn)
                except psycopg.errors.UndefinedTable:
                    continue  # the worker has not created its tables yet
                if min(at.values()) >= head:
                    break
    except BaseException:
        proc.kill()
        raise
    took = time.perf_counter() - started
    return {"peak_rss_mb": stop(proc), "catch_up_seconds": round(took)}


def serve_peak(c: Container, requests: int) -> dict[str, Any]:
    proc = timed(["serve", "--port", "8797", "--no-demo"])
    base = "http://127.0.0.1:8797"
    leader = c.tokens.create(Principal("bench-leader", Role.GRID_LEADER, demo.GRID))
    auditor = c.tokens.create(Principal("bench-auditor", Role.AUDITOR, "weihai"))
    staff = c.tokens.create(Principal("bench-staff", Role.COMMUNITY_STAFF, demo.COMMUNITY))
    with httpx.Client(base_url=base, timeout=600) as http:
        for _ in range(300):
            try:
                if http.get("/healthz").status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        city = {"Authorization": f"Bearer {auditor}"}
        cursor = None
        ids: list[str] = []
        failed = 0
        for k in range(requests):
            params: dict[str, Any] = {"limit": 50, **({"cursor": cursor} if cursor else {})}
            page = http.get("/issues", params=params, headers=city).json()
            cursor = page.get("next_cursor")
            ids += [i["id"] for i in page["items"] if i["grid_id"] == demo.GRID]
            answers = [http.get("/issues", params={"sort": "urgency", "limit": 50}, headers=city)]
            if k % 20 == 0:  # seconds each over a million open deadlines: see performance.md
                answers += [
                    http.get("/supervision/summary", params={"node": node}, headers=city)
                    for node in ("weihai", "huancui-s1")
                ]
            if ids:
                issue = ids[k % len(ids)]
                answers += [
                    http.get(f"/issues/{issue}", headers={"Authorization": f"Bearer {leader}"}),
                    http.post(
                        f"/issues/{issue}/actions/comment",
                        json={"text": f"bench {k}"},
                        headers={"Authorization": f"Bearer {staff}"},
                    ),
                ]
            failed += sum(a.status_code != 200 for a in answers)
    return {"peak_rss_mb": stop(proc), "rounds": requests, "failed_requests": failed}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--issues", type=int, default=1_000_000)
    ap.add_argument("--requests", type=int, default=200)
    ap.add_argument("--reuse", action="store_true", help="the log of the last run, views anew")
    ap.add_argument("--only", choices=["worker", "serve"])
    args = ap.parse_args()
    if args.reuse and args.only != "serve":
        derived_tables_dropped()
    else:
        fresh_database(DB)
    c = Container(Settings.from_env(ENV))
    out: dict[str, Any] = {}
    if not args.reuse:
        c.service.load_org(demo.organisation())
        t0 = time.perf_counter()
        fill(c, args.issues)
        out["fill_seconds"] = round(time.perf_counter() - t0)
    out["events"] = head = c.service.head()
    if args.only in (None, "worker"):
        out["worker"] = worker_peak(head)
        print(json.dumps(out["worker"]), file=sys.stderr, flush=True)
    if args.only in (None, "serve"):
        out["serve"] = serve_peak(c, args.requests)
    c.close()
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
