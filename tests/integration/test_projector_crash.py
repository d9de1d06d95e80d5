"""Exactly once: a projection worker killed with SIGKILL in the middle of a catch-up,
then restarted, leaves views equal to a clean rebuild.

The kill is a fault point, not a timed signal: the worker kills itself after folding its
Nth batch into the views and before that batch's transaction commits — the worst moment,
and always the same one, however loaded the machine."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from domain import commands
from gridflow.container import Container
from gridflow.settings import Settings
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


BATCH = 100

#: `gridflow worker --only projections`, killed by itself (SIGKILL) inside the
#: transaction of its Nth batch of the views: folded, position written, not committed.
KILLED_MID_BATCH = """
import os, signal, sys
from contextlib import contextmanager
from projections.engine import Engine

at, folds = int(os.environ["GRIDFLOW_TEST_KILL_AT_BATCH"]), 0
moving = Engine._moving

@contextmanager
def killed_before_commit(self, p, after, to):
    global folds
    with moving(self, p, after, to) as cur:
        yield cur
        folds += p.name == "views"
        if folds >= at:
            os.kill(os.getpid(), signal.SIGKILL)

Engine._moving = killed_before_commit
from gridflow.cli import main
sys.exit(main(sys.argv[1:]))
"""


def worker(url: str, home: Path, kill_at_batch: int | None = None) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        **process_env(url, home),
        "GRIDFLOW_PROJECTION_BATCH": str(BATCH),
    }
    run = [sys.executable, "-m", "gridflow.cli"]
    if kill_at_batch is not None:
        env["GRIDFLOW_TEST_KILL_AT_BATCH"] = str(kill_at_batch)
        run = [sys.executable, "-c", KILLED_MID_BATCH]
    return subprocess.Popen(
        [*run, "worker", "--only", "projections"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def test_a_projector_killed_mid_catch_up_resumes_exactly_once(store_url: str, tmp_path: Path):
    c = Container(Settings(database_url=store_url), clock=Clock())
    c.service.load_org(ORG)
    start = c.engine.position()  # the organisation, folded when the views were built
    head = fill(c, 3000)
    proc = worker(store_url, tmp_path, kill_at_batch=8)
    try:
        assert proc.wait(120) == -signal.SIGKILL  # by itself, at its fault point
    finally:
        proc.kill()
    killed_at = c.engine.position()
    # seven batches committed; the eighth was folded and lost with its transaction
    assert killed_at == start + 7 * BATCH < head
    c.engine.catch_up()  # from where it stopped: nothing missing, nothing folded twice
    assert c.engine.position() == head
    assert rebuild_and_verify(c.engine, head) == {}
    c.close()


def test_a_restarted_projector_takes_over_where_the_killed_one_stopped(
    store_url: str, tmp_path: Path
):
    """The same fault, then `gridflow worker` started again finishes the catch-up."""
    c = Container(Settings(database_url=store_url), clock=Clock())
    c.service.load_org(ORG)
    head = fill(c, 1000)
    proc = worker(store_url, tmp_path, kill_at_batch=3)
    try:
        assert proc.wait(120) == -signal.SIGKILL
    finally:
        proc.kill()
    assert c.engine.position() < head
    proc = worker(store_url, tmp_path)
    try:
        c.views.wait_for(head, timeout=120)  # on the position, not a time; else ViewsBehind
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(20)
    assert rebuild_and_verify(c.engine, head) == {}
    c.close()
