"""Actions through HTTP measured with wrk (a C load generator: the client costs little
CPU, so the figure is the service's), beside a trivial endpoint under the same wrk.

    python -m bench.wrk_actions [--connections 32] [--seconds 15] [--workers 2]

The action: `comment` on one of 512 issues chosen at random (each request a new event;
concurrent ones on the same issue are retried by the service, so every answer is a 200
unless something is wrong). Needs Debian's `wrk`.

In one run: the trivial endpoint; the action at full speed with group commit on and
off (`GRIDFLOW_GROUP_COMMIT`); and the action paced at 70% of the full-speed rate
(each connection waits between its requests, through wrk's `delay()` hook), for the
latency at a load the service is meant to sustain.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from bench.floors import bench_shared, fresh_database
from bench.http_load import DB, URL, running_service
from domain.principals import Principal, Role
from gridflow import demo
from gridflow.container import Container
from gridflow.settings import Settings

LUA = """
local ids = {%s}
local token = "%s"
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. token
request = function()
  local id = ids[math.random(#ids)]
  return wrk.format(nil, "/issues/" .. id .. "/actions/comment", nil, '{"text": "wrk"}')
end
delay = function()
  return %d
end
"""


def run_wrk(
    url: str, connections: int, seconds: float, script: str | None = None
) -> dict[str, Any]:
    cmd = ["wrk", "-t", "2", "-c", str(connections), "-d", f"{int(seconds)}s", "--latency"]
    if script:
        cmd += ["-s", script]
    out = subprocess.run([*cmd, url], capture_output=True, text=True, timeout=seconds + 60).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    lat = {}
    for p in ("50%", "90%", "99%"):
        m = re.search(rf"\s{re.escape(p)}\s+([\d.]+)(\w+)", out)
        if m:
            value, unit = float(m.group(1)), m.group(2)
            lat[f"p{p[:-1]}_ms"] = round(value * {"us": 0.001, "ms": 1, "s": 1000}[unit], 1)
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    return {"requests_per_s": round(rps), **lat, "non_2xx": int(non2xx.group(1)) if non2xx else 0}


def main() -> None:
    if shutil.which("wrk") is None:
        sys.exit("wrk is missing: apt-get install wrk")
    ap = argparse.ArgumentParser()
    ap.add_argument("--connections", type=int, default=32)
    ap.add_argument("--seconds", type=float, default=15)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument(
        "--without-background",
        action="store_true",
        help="do not run `gridflow worker` (views, audit, webhooks) beside",
    )
    args = ap.parse_args()
    fresh_database(DB)
    c = Container(
        Settings.from_env({"GRIDFLOW_DATABASE_URL": URL, **bench_shared("/tmp/bench-http.key")})
    )
    c.service.load_org(demo.organisation())
    worker = Principal("wrk-worker", Role.GRID_WORKER, demo.GRID)
    token = c.tokens.create(worker)
    ids = [
        str(
            c.service.report(
                worker, {"grid_id": demo.GRID, "category": "road", "description": f"wrk {n}"}
            ).issue.id
        )
        for n in range(512)
    ]
    c.close()
    folder = Path(tempfile.mkdtemp())
    quoted = ", ".join(f'"{i}"' for i in ids)

    def script(delay_ms: int) -> str:
        path = folder / f"comment-{delay_ms}.lua"
        path.write_text(LUA % (quoted, token, delay_ms))
        return str(path)

    background = not args.without_background
    result: dict[str, Any] = {}
    with running_service(8791, args.workers, background, {"GRIDFLOW_GROUP_COMMIT": "0"}) as base:
        result["comment_group_commit_off"] = run_wrk(
            base, args.connections, args.seconds, script(0)
        )
    with running_service(8791, args.workers, background) as base:
        trivial = result["trivial_endpoint"] = run_wrk(
            base + "/healthz", args.connections, args.seconds
        )
        full = result["comment_group_commit_on"] = run_wrk(
            base, args.connections, args.seconds, script(0)
        )
        # 70% of the full rate: each connection sends, waits, sends again.
        rate = 0.7 * full["requests_per_s"]
        delay = max(0, round(1000 * args.connections / rate - full.get("p50_ms", 0)))
        result["comment_at_70_percent"] = {
            "target_per_s": round(rate),
            **run_wrk(base, args.connections, args.seconds, script(delay)),
        }
    result["ratio_action_to_trivial"] = round(full["requests_per_s"] / trivial["requests_per_s"], 3)
    result["group_commit_speed_up"] = round(
        full["requests_per_s"] / result["comment_group_commit_off"]["requests_per_s"], 2
    )
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
