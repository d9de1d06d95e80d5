"""One `Idempotency-Key` sent many times at once: one event in the log, and every other
request answered with the first answer, 409 `request_in_progress` or 422 — on one app
(threads) and on two apps sharing one PostgreSQL database (as two processes would)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import httpx
import uvicorn
from eventsourcing.utils import get_topic

from api.app import create_app
from api.issues import request_hash
from domain.issue import Issue
from domain.service import IssueService
from projections.idempotency import LEASE
from tests.http.support import Api, api
from tests.support import WORKER, make_service, report

N = 20


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def served(a: Api) -> Iterator[str]:
    """The app on a loopback port (uvicorn in a thread): real concurrent HTTP."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(a.container.services()), host="127.0.0.1", port=port, log_level="warning"
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.01)
    assert server.started
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


def at_once(bases: list[str], send: Callable[[httpx.Client, int], httpx.Response]) -> list[Any]:
    """`send(client, k)` from N threads released together, spread over the apps;
    (status, body) of each."""
    barrier = threading.Barrier(N)
    out: list[Any] = [None] * N

    def run(k: int) -> None:
        with httpx.Client(base_url=bases[k % len(bases)], timeout=30) as client:
            barrier.wait()
            r = send(client, k)
            out[k] = (r.status_code, r.json())

    threads = [threading.Thread(target=run, args=(k,)) for k in range(N)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return out


def comments(a: Api, issue: str) -> list[str]:
    events = a.container.service.app.events.get(UUID(issue))
    return [e.data.get("text") for e in events if e.ACTION == "comment"]  # type: ignore[attr-defined]


def same_key_same_body(a: Api, bases: list[str], issue: str) -> None:
    h = a.h(WORKER, **{"Idempotency-Key": "comment-once"})
    got = at_once(
        bases,
        lambda c, k: c.post(f"/issues/{issue}/actions/comment", json={"text": "once"}, headers=h),
    )
    assert comments(a, issue) == ["once"]  # one event, whoever won
    answers = [body for status, body in got if status == 200]
    assert answers and all(body == answers[0] for body in answers)
    busy = [body for status, body in got if status != 200]
    assert all(b["error"]["code"] == "request_in_progress" for b in busy), busy
    with httpx.Client(base_url=bases[-1]) as client:  # afterwards, the first answer
        again = client.post(f"/issues/{issue}/actions/comment", json={"text": "once"}, headers=h)
    assert (again.status_code, again.json()) == (200, answers[0])
    assert comments(a, issue) == ["once"]


def test_one_key_sent_twenty_times_at_once_records_one_event(store_url: str):
    with api(store_url) as a, served(a) as base:
        issue = a.report(WORKER)["id"]
        same_key_same_body(a, [base], issue)


def test_one_key_with_twenty_bodies_at_once_records_one_and_refuses_the_others(store_url: str):
    with api(store_url) as a, served(a) as base:
        issue = a.report(WORKER)["id"]
        h = a.h(WORKER, **{"Idempotency-Key": "comment-bodies"})
        got = at_once(
            [base],
            lambda c, k: c.post(
                f"/issues/{issue}/actions/comment", json={"text": f"body {k}"}, headers=h
            ),
        )
        statuses = sorted(status for status, _ in got)
        assert statuses == [200] + [422] * (N - 1), statuses
        assert all(b["error"]["code"] == "idempotency_key_reused" for s, b in got if s == 422)
        winner = next(b for s, b in got if s == 200)
        assert len(comments(a, issue)) == 1 and winner["version"] == 2


def test_one_report_key_sent_twenty_times_at_once_reports_once(store_url: str):
    with api(store_url) as a, served(a) as base:
        h = a.h(WORKER, **{"Idempotency-Key": "report-once"})
        body = {"grid_id": "g1", "category": "road", "description": "pothole"}
        got = at_once([base], lambda c, k: c.post("/issues", json=body, headers=h))
        created = [b for s, b in got if s == 201]
        assert created and all(b == created[0] for b in created)
        assert {s for s, _ in got} <= {201, 409}
        log = a.container.service.app.recorder.select_notifications(1, 10_000)
        reports = [n for n in log if n.topic == get_topic(Issue.Reported)]
        assert [str(n.originator_id) for n in reports] == [created[0]["id"]]


def test_two_apps_sharing_one_postgres_database_record_one_event(postgres_url: str):
    with ExitStack() as stack:
        a = stack.enter_context(api(postgres_url))
        b = stack.enter_context(api(postgres_url))  # its own locks and connections
        bases = [stack.enter_context(served(x)) for x in (a, b)]
        b._tokens = a._tokens  # one principal, one token, on both
        issue = a.report(WORKER)["id"]
        same_key_same_body(a, bases, issue)


def test_a_reservation_left_by_a_crash_blocks_the_key_only_for_a_while(store_url: str):
    with api(store_url) as a:
        issue = a.report(WORKER)["id"]
        path, body = f"/issues/{issue}/actions/comment", {"text": "x"}
        digest = request_hash("POST", path, body)
        store = a.container.idempotency
        now = datetime.now(UTC)

        def post(key: str) -> httpx.Response:
            return a.client.post(path, json=body, headers=a.h(WORKER, **{"Idempotency-Key": key}))

        # a process reserved the key and died: within the lease, retries are told to wait
        store.reserve(WORKER.id, "fresh", digest, now=now - timedelta(seconds=1))
        busy = post("fresh")
        assert busy.status_code == 409 and busy.json()["error"]["code"] == "request_in_progress"
        assert busy.headers["Retry-After"]
        assert comments(a, issue) == []
        # after the lease, the retry acts
        store.reserve(WORKER.id, "stale", digest, now=now - LEASE - timedelta(seconds=1))
        assert post("stale").status_code == 200
        assert comments(a, issue) == ["x"]
        # it died after saving: the retry answers from the log and records nothing new
        a.container.service.act(
            UUID(issue), "comment", WORKER, body, request_key=f"{WORKER.id}:saved"
        )
        store.reserve(WORKER.id, "saved", digest, now=now - LEASE - timedelta(seconds=1))
        r = post("saved")
        assert r.status_code == 200 and r.json()["version"] == 3
        assert comments(a, issue) == ["x", "x"]


def test_two_services_acting_on_one_request_key_at_once_record_it_once(store_url: str):
    """What makes taking over a lease safe while its holder still runs: the log itself
    records a request key at most once."""
    first, second = make_service(store_url), make_service(store_url)
    issue = report(first)
    barrier = threading.Barrier(2)
    versions: list[int] = []

    def run(svc: IssueService) -> None:
        barrier.wait()
        r = svc.act(issue, "comment", WORKER, {"text": "x"}, request_key="worker:k1")
        versions.append(r.issue.version)

    threads = [threading.Thread(target=run, args=(svc,)) for svc in (first, second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert versions == [2, 2]  # both answered with the one event
    assert first.get(issue).version == 2
    first.close()
    second.close()
