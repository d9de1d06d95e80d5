"""Actions through HTTP measured with wrk (a C load generator: the client costs little
CPU, so the figure is the service's), beside a trivial endpoint under the same wrk.

    python -m bench.wrk_actions [--connections 32] [--seconds 15] [--workers 2]

The action: `comment` on one of 512 issues chosen at random (each request a new event;
concurrent ones on the same issue are retried by the service, so every answer is a 200
unless something is wrong). Needs Debian's `wrk`.
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

from bench.floors import fresh_database
from bench.http_load import DB, URL, running_service
from domain.principals import Principal, Role
from domain.settings import Settings
from gridflow import demo
from gridflow.container import Container

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
        Settings.from_env(
            {"GRIDFLOW_DATABASE_URL": URL, "GRIDFLOW_AUDIT_KEY_FILE": "/tmp/bench-http.key"}
        )
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
    lua = Path(tempfile.mkdtemp()) / "comment.lua"
    lua.write_text(LUA % (", ".join(f'"{i}"' for i in ids), token))
    with running_service(8791, args.workers, not args.without_background) as base:
        result = {
            "trivial_endpoint": run_wrk(base + "/healthz", args.connections, args.seconds),
            "comment_action": run_wrk(base, args.connections, args.seconds, str(lua)),
        }
        paced = result["comment_action"]["requests_per_s"]
        result["ratio_action_to_trivial"] = round(
            paced / result["trivial_endpoint"]["requests_per_s"], 3
        )
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
