"""Comments on ONE issue from two processes at once, on PostgreSQL, without HTTP.

    python -m bench.contention [--threads 25] [--seconds 5]

Within a process, commands on one issue take turns; across processes they race for
each version, and the loser is decided again (domain/service.py). In one run, on a
fresh database of its own:

1. the raw floor: single-row INSERT commits/s by psycopg, 1 connection and 2;
2. two processes, `--threads` threads each, commenting on one issue for `--seconds`:
   comments recorded per second, refusals (409 `version_conflict`), p50/p99;
3. the same with each process on an issue of its own (nothing to race for).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import threading
import time
import uuid
from typing import Any
from uuid import UUID

import psycopg

from bench.floors import SERVER, percentiles, raw_floor

CHILD = "--child"


def child(url: str, issue: UUID, threads: int, seconds: float, tuning: dict[str, float]) -> None:
    """One process: comment from `threads` threads until the time is up; print counts."""
    from domain import service
    from domain.errors import VersionConflict
    from domain.principals import Principal, Role
    from gridflow import demo
    from gridflow.container import issue_service
    from gridflow.settings import Settings

    for name, value in tuning.items():  # to compare back-off settings
        setattr(service, name, value)
    svc = issue_service(Settings(database_url=url))
    staff = Principal("bench-staff", Role.COMMUNITY_STAFF, demo.COMMUNITY)
    svc.get(issue)
    print("ready", flush=True)
    sys.stdin.readline()
    stop = time.monotonic() + seconds
    ok: list[float] = []
    refused = [0]

    def loop() -> None:
        while time.monotonic() < stop:
            t0 = time.perf_counter()
            try:
                svc.act(issue, "comment", staff, {"text": "bench"})
                ok.append(time.perf_counter() - t0)
            except VersionConflict:
                refused[0] += 1

    pool = [threading.Thread(target=loop) for _ in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    lost = getattr(svc, "lost_races", None)
    print(json.dumps({"ok": ok, "refused": refused[0], "lost": lost}), flush=True)
    svc.close()


def two_processes(
    url: str, issues: list[UUID], threads: int, seconds: float, tuning: str
) -> dict[str, Any]:
    procs = []
    for i in issues:  # one after the other: their start-up DDL would collide
        args = [CHILD, url, str(i), str(threads), str(seconds), tuning]
        p = subprocess.Popen(
            [sys.executable, "-m", "bench.contention", *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert p.stdout is not None and p.stdout.readline().strip() == "ready"
        procs.append(p)
    for p in procs:
        assert p.stdin is not None
        p.stdin.write("go\n")
        p.stdin.flush()
    ok: list[float] = []
    refused, lost = 0, 0
    for p in procs:
        out, _ = p.communicate(timeout=seconds + 120)
        got = json.loads(out.strip().splitlines()[-1])
        ok += got["ok"]
        refused += got["refused"]
        lost += got["lost"] or 0
    return {
        "comments_per_s": round(len(ok) / seconds),
        "refused_409": refused,
        "lost_races_per_comment": round(lost / max(len(ok), 1), 2),
        **percentiles(ok),
    }


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == CHILD:
        tuning = json.loads(sys.argv[6])
        child(sys.argv[2], UUID(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5]), tuning)
        return
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=25)
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument(
        "--tuning",
        default="{}",
        help='JSON of domain.service constants, e.g. {"BACKOFF_MAX_SECONDS": 0.02}',
    )
    args = ap.parse_args()

    from domain.principals import Principal, Role
    from gridflow import demo
    from gridflow.container import issue_service
    from gridflow.settings import Settings

    name = f"gridflow_bench_contention_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(SERVER, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = f"postgresql://postgres@localhost:5432/{name}"
    try:
        svc = issue_service(Settings(database_url=url))
        svc.load_org(demo.organisation())
        worker = Principal("bench-worker", Role.GRID_WORKER, demo.GRID)
        body = {"grid_id": demo.GRID, "category": "road", "description": "pothole"}
        one, two = (svc.report(worker, body).issue.id for _ in range(2))
        svc.close()
        out = {
            "threads_per_process": args.threads,
            "raw_insert_commits_per_s_1_connection": round(raw_floor(url, 1, args.seconds)),
            "raw_insert_commits_per_s_2_connections": round(raw_floor(url, 2, args.seconds)),
            "tuning": json.loads(args.tuning),
            "one_issue_two_processes": two_processes(
                url, [one, one], args.threads, args.seconds, args.tuning
            ),
            "own_issue_each_process": two_processes(
                url, [one, two], args.threads, args.seconds, args.tuning
            ),
        }
        print(json.dumps(out, indent=2))
    finally:
        with psycopg.connect(SERVER, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
