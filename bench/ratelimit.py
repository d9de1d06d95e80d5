"""What the rate limit costs a request: `GET /me` through the whole app in process,
with the limiter off and on, on SQLite and on PostgreSQL; and `RateLimiter.hit` alone.

    python -m bench.ratelimit [--requests 3000] [--principals 300]

- one principal: every request from one token (leases grow to a tenth of the limit,
  so a write every few hundred requests);
- many principals: each token makes two requests in the window (a lease, that is a
  write, for the first: the worst case per request).
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import statistics
import tempfile
import time
import uuid
from typing import Any

import httpx

from api.app import create_app
from bench.floors import fresh_database
from domain.principals import Principal, Role
from gridflow import demo
from gridflow.container import Container
from gridflow.settings import Settings

LIMIT = 6000  # the default of GRIDFLOW_RATE_LIMIT


async def timed_requests(app: Any, tokens: list[str], each: int) -> float:
    """Microseconds per request of `each` GET /me for every token, in one event loop."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
        started = time.perf_counter()
        for token in tokens:
            for _ in range(each):
                r = await client.get("/me", headers={"Authorization": f"Bearer {token}"})
                assert r.status_code == 200, r.text
        return (time.perf_counter() - started) / (len(tokens) * each) * 1e6


def measure(url: str, requests: int, principals: int, rounds: int) -> dict[str, Any]:
    c = Container(
        Settings(
            database_url=url,
            rate_limit=LIMIT,
            audit_key_file="/tmp/bench-ratelimit.key",
            evidence_dir=tempfile.mkdtemp(prefix="bench-evidence-"),
        )
    )
    c.service.load_org(demo.organisation())
    scope = next(iter(c.service.org().nodes))

    def tokens(n: int) -> list[str]:
        return [
            c.tokens.create(Principal(f"bench-{uuid.uuid4().hex}", Role.CITY_SUPERVISOR, scope))
            for _ in range(n)
        ]

    limited = c.services()
    apps = {
        "off": create_app(dataclasses.replace(limited, limiter=None)),
        "on": create_app(limited),
    }
    runs: dict[str, dict[str, list[float]]] = {k: {"one": [], "many": []} for k in apps}
    for _ in range(rounds):  # off and on alternate, so that the machine's drift hits both
        for name, app in apps.items():
            # one principal a round: three rounds of it could pass the limit in a minute
            runs[name]["one"].append(asyncio.run(timed_requests(app, tokens(1), requests)))
            # Principals new to the window: each one's first request takes a lease.
            runs[name]["many"].append(asyncio.run(timed_requests(app, tokens(principals), 2)))
    out: dict[str, Any] = {}
    for kind in ("one", "many"):
        off = statistics.median(runs["off"][kind])
        on = statistics.median(runs["on"][kind])
        out[f"{kind}_principal_us"] = {"off": round(off), "on": round(on), "cost": round(on - off)}
    assert c.limiter is not None
    limiter = c.limiter

    def hit_us(names: list[str]) -> float:
        started = time.perf_counter()
        for name in names:
            limiter.hit(name)
        return round((time.perf_counter() - started) / len(names) * 1e6, 1)

    out["hit_us"] = {
        "same_principal": hit_us(["solo"] * 5000),
        "new_principal_a_lease": hit_us([uuid.uuid4().hex for _ in range(500)]),
    }
    c.close()
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=3000)
    ap.add_argument("--principals", type=int, default=300)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    result: dict[str, Any] = {"limit_per_minute": LIMIT}
    with tempfile.TemporaryDirectory() as home:
        result["sqlite"] = measure(
            f"sqlite:///{home}/bench.db", args.requests, args.principals, args.rounds
        )
    result["postgres"] = measure(
        fresh_database("gridflow_bench_ratelimit"), args.requests, args.principals, args.rounds
    )
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
