"""Webhooks from the log: every event, in order per issue, signed; retries; a department
told of its whistle; deadline warnings at 75%; a killed notifier loses nothing."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from gridflow.settings import Settings, networks
from tests.http.support import Api
from tests.http.support import api as plain_api
from tests.support import HOUSING, STAFF, WORKER, P, process_env

SECRET = "a-secret-of-sixteen+"
ROOT = Path(__file__).resolve().parents[2]
# The receivers here listen on loopback, where webhooks are refused unless allowed.
LOOPBACK = {"GRIDFLOW_WEBHOOK_ALLOW_NETWORKS": "127.0.0.0/8"}


def api(url: str):
    """The app, allowed to send webhooks to this machine's loopback receivers."""
    allowed = networks(LOOPBACK["GRIDFLOW_WEBHOOK_ALLOW_NETWORKS"])
    return plain_api(url, settings=Settings(database_url=url, webhook_allow_networks=allowed))


class Receiver:
    """A webhook receiver on loopback; `answer(n)` gives the status of the n-th request."""

    def __init__(self, answer: Callable[[int], int] = lambda n: 200, delay: float = 0.0):
        self.got: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                with outer.lock:
                    n = len(outer.got)
                    status = answer(n)
                    outer.got.append(
                        {
                            "body": body,
                            "sig": self.headers["X-Gridflow-Signature"],
                            "status": status,
                        }
                    )
                time.sleep(delay)
                self.send_response(status)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def delivered(self) -> list[dict[str, Any]]:
        with self.lock:
            return [json.loads(g["body"]) for g in self.got if g["status"] == 200]

    def close(self) -> None:
        self.server.shutdown()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


def subscribe(a: Api, who, url: str, **filt: Any) -> str:
    r = a.client.post(
        "/subscriptions", json={"url": url, "secret": SECRET, "filter": filt}, headers=a.h(who)
    )
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def flush(a: Api, until: Callable[[], bool], seconds: float = 20) -> None:
    n = a.container.notifier
    n.backoff_base = 0.05
    deadline = time.monotonic() + seconds
    while not until() and time.monotonic() < deadline:
        a.container.engine.catch_up()
        n.queue()
        n.deliver()
        time.sleep(0.02)


def script(a: Api) -> list[str]:
    one = a.report(WORKER)["id"]
    two = a.report(WORKER)["id"]
    a.act(one, "handle_on_spot", WORKER)
    a.act(two, "blow_whistle", STAFF, departments=["housing"], grade="urgent")
    a.act(one, "resolve", WORKER, resolution="done")
    a.act(two, "report_in", HOUSING)
    a.act(two, "comment", STAFF, text="joint handling")
    return [one, two]


def test_every_event_arrives_signed_and_in_order_per_issue(store_url: str, receiver: Receiver):
    with api(store_url) as a:
        sup = P("city_supervisor", "c1")
        subscribe(a, sup, receiver.url)
        issues = script(a)
        flush(a, lambda: len(receiver.delivered()) >= 7)
        got = receiver.delivered()
        assert len(got) == 7  # 2 reports + 5 actions, nothing twice
        for g in receiver.got:
            expected = "sha256=" + hmac.new(SECRET.encode(), g["body"], hashlib.sha256).hexdigest()
            assert hmac.compare_digest(g["sig"], expected)
        for issue in issues:
            versions = [x["version"] for x in got if x["issue_id"] == issue]
            assert versions == sorted(versions) and versions[0] == 1
        assert all("reporter" not in x["data"] for x in got)


def test_a_failing_receiver_gets_retries_and_then_everything(store_url: str):
    failing = Receiver(answer=lambda n: 500 if n < 3 else 200)
    try:
        with api(store_url) as a:
            sub = subscribe(a, P("city_supervisor", "c1"), failing.url)
            script(a)
            flush(a, lambda: len(failing.delivered()) >= 7)
            assert len(failing.delivered()) == 7
            deliveries = a.client.get(
                f"/subscriptions/{sub}/deliveries", headers=a.h(P("city_supervisor", "c1"))
            ).json()["items"]
            assert all(d["status"] == "delivered" for d in deliveries)
            retried = [d for d in deliveries if len(d["tries"]) > 1]
            assert retried and retried[0]["tries"][0]["status_code"] == 500
            assert retried[0]["tries"][-1]["status_code"] == 200
    finally:
        failing.close()


def test_a_summoned_department_is_told_and_nothing_else(store_url: str, receiver: Receiver):
    with api(store_url) as a:
        subscribe(a, HOUSING, receiver.url, departments=["housing"])
        forbidden = a.client.post(
            "/subscriptions",
            headers=a.h(HOUSING),
            json={"url": receiver.url, "secret": SECRET, "filter": {"departments": ["water"]}},
        )
        assert forbidden.status_code == 403
        script(a)
        flush(a, lambda: len(receiver.delivered()) >= 3)
        actions = [x["action"] for x in receiver.delivered()]
        assert actions[0] == "blow_whistle" and set(actions) == {
            "blow_whistle",
            "report_in",
            "comment",
        }


def test_a_deadline_warning_arrives_at_75_percent(store_url: str, receiver: Receiver):
    with api(store_url) as a:
        subscribe(
            a, P("city_supervisor", "c1"), receiver.url, actions=["report"], deadline_warnings=True
        )
        a.report(WORKER)  # triage: 2 working hours from Monday 09:00, 75% at 10:30
        a.clock.advance(minutes=95)
        flush(a, lambda: any(x["kind"] == "deadline_warning" for x in receiver.delivered()))
        warnings = [x for x in receiver.delivered() if x["kind"] == "deadline_warning"]
        assert [w["deadline"] for w in warnings] == ["triage"]
        a.container.notifier.queue()  # once per deadline
        flush(a, lambda: False, seconds=0.3)
        assert len([x for x in receiver.delivered() if x["kind"] == "deadline_warning"]) == 1


def test_a_killed_notifier_redelivers_only_what_was_not_acknowledged(
    store_url: str, tmp_path: Path
):
    slow = Receiver(delay=0.15)
    try:
        with api(store_url) as a:
            subscribe(a, P("city_supervisor", "c1"), slow.url)
            for _ in range(10):
                i = a.report(WORKER)["id"]
                a.act(i, "handle_on_spot", WORKER)
            env = {**os.environ, **process_env(store_url, tmp_path), **LOOPBACK}
            cmd = [sys.executable, "-m", "gridflow.cli", "worker", "--only", "notifications"]
            proc = subprocess.Popen(
                cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
            )
            deadline = time.monotonic() + 60
            while len(slow.got) < 5 and time.monotonic() < deadline:
                time.sleep(0.02)
            proc.send_signal(signal.SIGKILL)
            proc.wait(10)
            assert 0 < len(slow.got) < 20
            proc = subprocess.Popen(
                cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
            )
            while len({d["delivery_id"] for d in slow.delivered()}) < 20 and (
                time.monotonic() < deadline
            ):
                time.sleep(0.05)
            proc.terminate()
            proc.wait(20)
            ids = [d["delivery_id"] for d in slow.delivered()]
            assert len(set(ids)) == 20
            assert len(ids) - len(set(ids)) <= 1  # at most the one in flight at the kill
    finally:
        slow.close()
    _ = timedelta
