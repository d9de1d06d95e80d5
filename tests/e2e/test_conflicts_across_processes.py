"""Two processes, 25 comments each, on one issue at once: within a process commands on
one issue take turns, across processes they race for each version; the retry budget
absorbs the lost races, so all 50 are recorded."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from uuid import UUID

from tests.support import make_service, report

ROOT = Path(__file__).resolve().parents[2]
EACH = 25

COMMENTER = """
import json, sys, threading
from uuid import UUID
from domain.errors import DomainError
from domain.service import IssueService
from gridflow.container import issue_service
from gridflow.settings import Settings
from tests.support import STAFF

url, issue, name, each = sys.argv[1], UUID(sys.argv[2]), sys.argv[3], int(sys.argv[4])
svc = issue_service(Settings(database_url=url))
svc.get(issue)  # connections open and the organisation read before the start
print("ready", flush=True)
sys.stdin.readline()  # the test releases both processes together
outcomes = []

def comment(k):
    try:
        svc.act(issue, "comment", STAFF, {"text": f"{name} {k}"})
        outcomes.append("ok")
    except DomainError as exc:
        outcomes.append(exc.code)

threads = [threading.Thread(target=comment, args=(k,)) for k in range(each)]
for t in threads:
    t.start()
for t in threads:
    t.join()
print(json.dumps(outcomes), flush=True)
svc.close()
"""


def test_fifty_comments_from_two_processes_on_one_issue_are_all_recorded(store_url: str):
    svc = make_service(store_url)
    issue = report(svc)
    procs: list[subprocess.Popen[str]] = []
    try:
        for name in ("first", "second"):
            # one after the other: two processes opening the log's tables at the same
            # moment can trip over each other in PostgreSQL's catalog (not tested here)
            proc = subprocess.Popen(
                [sys.executable, "-c", COMMENTER, store_url, str(issue), name, str(EACH)],
                cwd=ROOT,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            procs.append(proc)
            assert proc.stdout is not None and proc.stderr is not None
            if proc.stdout.readline().strip() != "ready":  # a line once ready, or it died
                raise AssertionError(proc.stderr.read())
        for proc in procs:
            assert proc.stdin is not None
            proc.stdin.write("go\n")
            proc.stdin.flush()
        outcomes: list[str] = []
        deadline = time.monotonic() + 240
        for proc in procs:
            out, err = proc.communicate(timeout=max(1.0, deadline - time.monotonic()))
            assert proc.returncode == 0, err
            outcomes += json.loads(out.strip().splitlines()[-1])
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
    assert outcomes.count("ok") == 2 * EACH, outcomes
    events = list(svc.app.events.get(UUID(str(issue))))
    texts = sorted(e.data["text"] for e in events if e.ACTION == "comment")  # type: ignore[attr-defined]
    assert texts == sorted(f"{n} {k}" for n in ("first", "second") for k in range(EACH))
    svc.close()
