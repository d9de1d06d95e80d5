"""Audit chain benchmarks on PostgreSQL.

    python -m bench.audit [--actions 2000] [--rounds 3]

1. Actions per second through the application service, with the audit worker running
   beside (`gridflow worker --only audit`, its own process) and without, alternating,
   in one run: chain and checkpoint maintenance must not slow the command path.
2. Chain build and verification speed over the log of bench.views_catchup (run that
   first: it leaves 1,000,000 events in gridflow_bench_views).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from uuid import uuid4

from bench.floors import bench_shared, fresh_database
from domain.principals import Principal, Role
from gridflow import demo
from gridflow.container import Container
from gridflow.settings import Settings
from projections.audit_read import _leaves, verify

ROOT = Path(__file__).resolve().parents[1]


def actions_per_second(c: Container, n: int) -> float:
    worker = Principal("w", Role.GRID_WORKER, demo.GRID)
    started = time.perf_counter()
    for k in range(n // 2):
        i = c.service.report(
            worker,
            {"grid_id": demo.GRID, "category": "road", "description": f"pothole {k}"},
            issue_id=uuid4(),
        ).issue.id
        c.service.act(i, "handle_on_spot", worker)
    return n / (time.perf_counter() - started)


def command_path(actions: int, rounds: int) -> dict[str, object]:
    url = fresh_database("gridflow_bench_audit")
    env = {**os.environ, "GRIDFLOW_DATABASE_URL": url, **bench_shared()}
    c = Container(Settings.from_env(env))
    c.service.load_org(demo.organisation())
    with_chain, without = [], []
    for _ in range(rounds):
        without.append(actions_per_second(c, actions))
        proc = subprocess.Popen(
            [sys.executable, "-m", "gridflow.cli", "worker", "--only", "audit"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(1.0)
        with_chain.append(actions_per_second(c, actions))
        c.audit.catch_up()
        proc.terminate()
        proc.wait(10)
    c.close()
    a, b = statistics.median(with_chain), statistics.median(without)
    return {
        "actions_per_s_with_chain": round(a),
        "actions_per_s_without": round(b),
        "ratio": round(a / b, 3),
        "rounds": rounds,
        "actions_per_round": actions,
    }


def verification() -> dict[str, object]:
    url = "postgresql://postgres@localhost:5432/gridflow_bench_views"
    c = Container(Settings.from_env({"GRIDFLOW_DATABASE_URL": url, **bench_shared()}))
    head = c.service.head()
    t0 = time.perf_counter()
    hashed = c.audit.catch_up()
    build = time.perf_counter() - t0
    c.audit.checkpoint()
    t0 = time.perf_counter()
    result = verify(c.audit)
    took = time.perf_counter() - t0
    # The floor: reading what verify reads (the stored events, the recorded leaves)
    # without hashing anything.
    t0 = time.perf_counter()
    read = sum(1 for _ in c.audit.stream())
    size = len(_leaves(c.audit, read))
    read_took = time.perf_counter() - t0
    c.close()
    return {
        "log_head": head,
        "newly_hashed": hashed,
        "chain_build_events_per_s": round(hashed / build) if hashed else None,
        "verified": result["checked"],
        "ok": result["ok"],
        "verify_seconds": round(took, 1),
        "verify_events_per_s": round(result["checked"] / took),
        "floor_read_events_per_s": round(max(read, size) / read_took),
        "verify_to_read": round(read_took / took, 3),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--actions", type=int, default=2000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--skip-verify", action="store_true")
    args = ap.parse_args()
    out = {"command_path": command_path(args.actions, args.rounds)}
    if not args.skip_verify:
        out["verification"] = verification()
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
