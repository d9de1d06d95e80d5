"""Actions through HTTP on PostgreSQL, with floors measured in the same run.

    python -m bench.http_load [--clients 32] [--seconds 20] [--workers 2]

1. The raw floor: single-row INSERT commits per second by psycopg into a table shaped
   like the log (one connection, and as many as the clients).
2. A trivial FastAPI endpoint (`/healthz`) under the same load generator.
3. `gridflow serve --workers N` on a fresh database with `gridflow worker` beside it:
   32 asyncio clients walk generated issues through a realistic mix (report,
   handle_on_spot, comment, resolve, verify, record_callback; one in five escalated to
   coordinate → blow_whistle → report_in → resolve → verify) as fast as they can.
4. The same at 70% of that rate, paced, for the latency there.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from bench.floors import bench_shared, fresh_database, percentiles, raw_floor
from domain.principals import Principal, Role
from gridflow import demo
from gridflow.container import Container
from gridflow.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
DB = "gridflow_bench_http"
URL = f"postgresql://postgres@localhost:5432/{DB}"


class Walker:
    """One client: walks issues of its grid through the workflow."""

    def __init__(self, base: str, tokens: dict[str, str], rnd: random.Random) -> None:
        self.base, self.tokens, self.rnd = base, tokens, rnd
        self.latencies: list[float] = []
        self.errors: dict[str, int] = {}

    async def call(
        self, client: httpx.AsyncClient, role: str, method: str, path: str, body: Any = None
    ) -> Any:
        started = time.perf_counter()
        r = await client.request(
            method,
            self.base + path,
            json=body,
            headers={"Authorization": f"Bearer {self.tokens[role]}"},
        )
        self.latencies.append(time.perf_counter() - started)
        if r.status_code >= 300:
            key = f"{r.status_code} {path.rsplit('/', 1)[-1]}"
            self.errors[key] = self.errors.get(key, 0) + 1
            return None
        return r.json()

    async def walk(self, client: httpx.AsyncClient, pace: float | None = None) -> None:
        grid = self.tokens["grid"]
        steps: list[tuple[str, str, dict[str, Any]]]
        issue = await self.call(
            client,
            "worker",
            "POST",
            "/issues",
            {
                "grid_id": grid,
                "category": self.rnd.choice(["road", "sanitation", "noise"]),
                "description": "load test",
            },
        )
        if issue is None:
            return
        if self.rnd.random() < 0.2:
            steps = [
                ("staff", "coordinate", {"lead_party": "property company"}),
                ("staff", "blow_whistle", {"departments": ["housing"]}),
                ("housing", "report_in", {}),
                ("staff", "resolve", {"resolution": "fixed jointly"}),
                ("street", "verify", {}),
            ]
        else:
            steps = [
                ("worker", "handle_on_spot", {}),
                ("worker", "comment", {"text": "on my way"}),
                ("worker", "resolve", {"resolution": "done"}),
                ("leader", "verify", {}),
            ]
        steps.append(
            (
                "staff",
                "record_callback",
                {"contacted": True, "solved": True, "satisfaction": "satisfied"},
            )
        )
        for role, action, body in steps:
            if pace:
                await asyncio.sleep(pace)
            if (
                await self.call(
                    client, role, "POST", f"/issues/{issue['id']}/actions/{action}", body
                )
                is None
            ):
                return


async def drive(
    base: str,
    clients: list[dict[str, str]],
    seconds: float,
    pace: float | None = None,
    path: str | None = None,
) -> dict[str, Any]:
    walkers = [Walker(base, t, random.Random(k)) for k, t in enumerate(clients)]
    stop = time.monotonic() + seconds
    limits = httpx.Limits(max_connections=len(clients) * 2)
    async with httpx.AsyncClient(limits=limits, timeout=30) as client:

        async def loop(w: Walker) -> None:
            while time.monotonic() < stop:
                if path:
                    await w.call(client, "worker", "GET", path)
                else:
                    await w.walk(client, pace)

        started = time.monotonic()
        await asyncio.gather(*(loop(w) for w in walkers))
        took = time.monotonic() - started
    samples = [x for w in walkers for x in w.latencies]
    errors: dict[str, int] = {}
    for w in walkers:
        for k, v in w.errors.items():
            errors[k] = errors.get(k, 0) + v
    return {"requests_per_s": round(len(samples) / took), **percentiles(samples), "errors": errors}


def setup(clients: int) -> list[dict[str, str]]:
    c = Container(
        Settings.from_env({"GRIDFLOW_DATABASE_URL": URL, **bench_shared("/tmp/bench-http.key")})
    )
    c.service.load_org(demo.organisation())
    org = c.service.org()
    grids = [g for g in org.grids() if g.startswith("huancui")][:clients]
    out = []
    for k in range(clients):
        g = grids[k % len(grids)]
        m = org.ancestor_of_kind(g, "community")
        s = org.ancestor_of_kind(g, "street")
        out.append(
            {
                "grid": g,
                "worker": c.tokens.create(Principal(f"w{k}", Role.GRID_WORKER, g)),
                "leader": c.tokens.create(Principal(f"l{k}", Role.GRID_LEADER, g)),
                "staff": c.tokens.create(Principal(f"c{k}", Role.COMMUNITY_STAFF, m or g)),
                "street": c.tokens.create(Principal(f"s{k}", Role.STREET_OFFICER, s or g)),
                "housing": c.tokens.create(Principal(f"h{k}", Role.DEPARTMENT_OFFICER, "housing")),
            }
        )
    c.close()
    return out


def start(cmd: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "gridflow.cli", *cmd],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


@contextmanager
def running_service(
    port: int, workers: int, background: bool = True, extra: dict[str, str] | None = None
) -> Iterator[str]:
    """`gridflow serve --workers N` (and `gridflow worker` beside it) on the benchmark's
    database, answering before this yields its base URL; stopped afterwards. `extra`:
    more environment for the service."""
    env = {
        **os.environ,
        "GRIDFLOW_DATABASE_URL": URL,
        **bench_shared("/tmp/bench-http.key"),
        "GRIDFLOW_RATE_LIMIT": "0",  # a few tokens at full speed: the limit is not measured here
        **(extra or {}),
    }
    procs = [start(["serve", "--port", str(port), "--workers", str(workers), "--no-demo"], env)]
    if background:
        procs.append(start(["worker"], env))
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            try:
                if httpx.get(base + "/healthz").status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        yield base
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(20)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--clients", type=int, default=32)
    ap.add_argument("--seconds", type=float, default=20)
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    fresh_database(DB)
    result: dict[str, Any] = {
        "raw_insert_commits_per_s_1_connection": round(raw_floor(URL, 1)),
        f"raw_insert_commits_per_s_{args.clients}_connections": round(raw_floor(URL, args.clients)),
    }
    clients = setup(args.clients)
    with running_service(8790, args.workers) as base:
        result["trivial_endpoint"] = asyncio.run(drive(base, clients, 5, path="/healthz"))
        full = asyncio.run(drive(base, clients, args.seconds))
        result["actions_full_speed"] = full
        # 70% of that rate, paced: each client sleeps between its requests.
        rate = full["requests_per_s"] * 0.7
        pace = max(0.0, len(clients) / rate - full.get("p50_ms", 0) / 1000) if rate else 0
        result["actions_at_70_percent"] = {
            "target_per_s": round(rate),
            **asyncio.run(drive(base, clients, args.seconds, pace)),
        }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
