"""Replay: `GET /issues/{id}/history` and `GET /issues/{id}?version=N` for issues of 30
events, p50/p99, through the HTTP stack in-process (the test client), on PostgreSQL.

    python -m bench.replay [--issues 50] [--requests 1000]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import time

import psycopg

from tests.http.support import api
from tests.support import STAFF, WORKER

DB = "gridflow_bench_replay"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--issues", type=int, default=50)
    ap.add_argument("--requests", type=int, default=1000)
    args = ap.parse_args()
    with psycopg.connect("postgresql://postgres@localhost:5432/postgres", autocommit=True) as c:
        c.execute(f'DROP DATABASE IF EXISTS "{DB}" WITH (FORCE)')
        c.execute(f'CREATE DATABASE "{DB}"')
    with api(f"postgresql://postgres@localhost:5432/{DB}") as a:
        ids = []
        for _ in range(args.issues):
            i = a.report(WORKER)["id"]
            a.act(i, "handle_on_spot", WORKER)
            for n in range(28):
                a.act(i, "comment", STAFF, text=f"note {n}")
            ids.append(i)
        rnd = random.Random(1)
        timings: dict[str, list[float]] = {"history": [], "version": [], "floor_healthz": []}
        for _ in range(args.requests):
            i = rnd.choice(ids)
            for kind, path in (
                ("history", f"/issues/{i}/history"),
                ("version", f"/issues/{i}?version={rnd.randint(1, 30)}"),
                ("floor_healthz", "/healthz"),
            ):
                t = time.perf_counter()
                r = a.client.get(path, headers=a.h(STAFF))
                timings[kind].append(time.perf_counter() - t)
                assert r.status_code == 200
        out = {}
        for kind, samples in timings.items():
            q = statistics.quantiles(samples, n=100)
            out[kind] = {"p50_ms": round(q[49] * 1000, 2), "p99_ms": round(q[98] * 1000, 2)}
        print(json.dumps({"events_per_issue": 30, **out}, indent=2))


if __name__ == "__main__":
    main()
