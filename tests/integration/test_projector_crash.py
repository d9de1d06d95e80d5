"""Exactly once: a projection worker killed with SIGKILL in the middle of a catch-up,
then restarted, leaves views equal to a clean rebuild."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from domain import commands
from domain.settings import Settings
from gridflow.container import Container
from projections.verify import rebuild_and_verify
from tests.support import ORG, WORKER, Clock, process_env

ROOT = Path(__file__).resolve().parents[2]


def fill(c: Container, issues: int) -> int:
    """Write `issues` issues of three events each, saved many to a transaction."""
    ctx = c.service.context()
    from uuid import uuid4

    for start in range(0, issues, 250):
        batch = []
        for n in range(start, min(issues, start + 250)):
            issue = commands.report(
                uuid4(),
                WORKER,
                {"grid_id": "g1", "category": "road", "description": f"pothole {n}"},
                ctx,
            )
            issue.take("handle_on_spot", WORKER, {}, ctx)
            issue.take("comment", WORKER, {"text": "on my way"}, ctx)
            batch.append(issue)
        c.service.app.save(*batch)
    return c.service.head()


def worker(url: str, home: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        **process_env(url, home),
        "GRIDFLOW_PROJECTION_BATCH": "100",
    }
    return subprocess.Popen(
        [sys.executable, "-m", "gridflow.cli", "worker", "--only", "projections"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def test_a_projector_killed_mid_catch_up_resumes_exactly_once(store_url: str, tmp_path: Path):
    c = Container(Settings(database_url=store_url), clock=Clock())
    c.service.load_org(ORG)
    head = fill(c, 3000)
    proc = worker(store_url, tmp_path)
    try:
        deadline = time.monotonic() + 60
        while c.engine.position() < head // 4 and time.monotonic() < deadline:
            time.sleep(0.02)
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        killed_at = c.engine.position()
        assert 0 < killed_at < head, "the kill should land in the middle of the catch-up"
    finally:
        proc.kill()
    proc = worker(store_url, tmp_path)
    try:
        deadline = time.monotonic() + 120
        while c.engine.position() < head and time.monotonic() < deadline:
            time.sleep(0.05)
        assert c.engine.position() == head
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(20)
    assert rebuild_and_verify(c.engine, head) == {}
    c.close()
