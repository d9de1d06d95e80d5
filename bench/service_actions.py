"""Actions through the application service on PostgreSQL, without HTTP.

    python -m bench.service_actions [--threads 32] [--seconds 5] [--rounds 3]

In one run, on a fresh database (`gridflow_bench_service`):

1. the raw floor: single-row INSERT commits/s by psycopg, 1 connection and N;
2. the library's own save rate: `Application.save` of one new one-event aggregate per
   call, from 1 thread and from N;
3. our actions (`comment` by community staff, each thread on issues of its own, so
   that nothing conflicts) from N threads through `IssueService`, with group commit
   off and on, alternating round by round; medians of the rounds, p50/p99 per action.
"""

from __future__ import annotations

import argparse
import json
import statistics
import threading
import time
from typing import Any

from eventsourcing.domain import Aggregate

from bench.floors import bench_shared, fresh_database, percentiles, raw_floor
from domain.principals import Principal, Role
from gridflow import demo
from gridflow.container import Container
from gridflow.settings import Settings
from stores.eventstore import GridflowApplication, store_env

DB = "gridflow_bench_service"
ISSUES_PER_THREAD = 8


class Probe(Aggregate):
    """A trivial aggregate: what the library's save costs with nothing of ours."""


def timed_threads(threads: int, seconds: float, work: Any) -> tuple[int, list[float]]:
    """Run `work(k)` in a loop from `threads` threads for `seconds`; count and latencies."""
    stop = time.monotonic() + seconds
    latencies: list[list[float]] = [[] for _ in range(threads)]

    def loop(k: int) -> None:
        n = 0
        while time.monotonic() < stop:
            t0 = time.perf_counter()
            work(k, n)
            latencies[k].append(time.perf_counter() - t0)
            n += 1

    pool = [threading.Thread(target=loop, args=(k,)) for k in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    samples = [x for row in latencies for x in row]
    return len(samples), samples


def library_rate(url: str, threads: int, seconds: float) -> float:
    app = GridflowApplication(env=store_env(url))
    try:
        n, _ = timed_threads(threads, seconds, lambda k, i: app.save(Probe()))
        return n / seconds
    finally:
        app.close()


def action_rounds(url: str, threads: int, seconds: float, rounds: int) -> dict[str, Any]:
    staff = Principal("bench-staff", Role.COMMUNITY_STAFF, demo.COMMUNITY)
    worker = Principal("bench-worker", Role.GRID_WORKER, demo.GRID)

    def container(**env: str) -> Container:
        return Container(Settings.from_env({"GRIDFLOW_DATABASE_URL": url, **bench_shared(), **env}))

    with_group_commit = container()
    service = with_group_commit.service
    service.load_org(demo.organisation())  # before the other opens, so that both see it
    containers = {False: container(GRIDFLOW_GROUP_COMMIT="0"), True: with_group_commit}
    owned = [
        [
            service.report(
                worker,
                {"grid_id": demo.GRID, "category": "road", "description": f"pothole {k}.{i}"},
            ).issue.id
            for i in range(ISSUES_PER_THREAD)
        ]
        for k in range(threads)
    ]
    results: dict[bool, list[dict[str, Any]]] = {False: [], True: []}
    for _ in range(rounds):
        for on, c in containers.items():
            gc = c.group_commit
            before = (gc.batches, gc.commands) if gc else (0, 0)

            def act(k: int, i: int, c: Container = c) -> None:
                issue = owned[k][i % ISSUES_PER_THREAD]
                c.service.act(issue, "comment", staff, {"text": f"note {i}"})

            n, samples = timed_threads(threads, seconds, act)
            row: dict[str, Any] = {"actions_per_s": round(n / seconds), **percentiles(samples)}
            if gc:
                batches = gc.batches - before[0]
                row["commands_per_save"] = round((gc.commands - before[1]) / max(batches, 1), 1)
            results[on].append(row)
    for c in containers.values():
        c.close()

    def median(rows: list[dict[str, Any]]) -> dict[str, Any]:
        return {k: statistics.median(r[k] for r in rows) for k in rows[0] if k != "n"}

    return {"group_commit_off": median(results[False]), "group_commit_on": median(results[True])}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=32)
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    url = fresh_database(DB)
    n = args.threads
    out: dict[str, Any] = {
        "threads": n,
        "raw_insert_commits_per_s_1_connection": round(raw_floor(url, 1, args.seconds)),
        f"raw_insert_commits_per_s_{n}_connections": round(raw_floor(url, n, args.seconds)),
        "library_saves_per_s_1_thread": round(library_rate(url, 1, args.seconds)),
        f"library_saves_per_s_{n}_threads": round(library_rate(url, n, args.seconds)),
    }
    out["actions"] = action_rounds(url, n, args.seconds, args.rounds)
    on, off = out["actions"]["group_commit_on"], out["actions"]["group_commit_off"]
    out["group_commit_speed_up"] = round(on["actions_per_s"] / off["actions_per_s"], 2)
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
