"""Webhooks never reach inside: targets on this machine or its networks are refused at
subscription and at each delivery (after resolving the name), unless the operator
allows their network; revoking a principal suspends its subscriptions; deliveries carry
the Standard Webhooks headers beside `X-Gridflow-Signature`."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from ipaddress import ip_address
from typing import Any

import pytest

from gridflow.settings import Settings, networks
from projections.webhooks import Address
from tests.http.support import Api, api
from tests.support import WORKER, P

SUP = P("city_supervisor", "c1")
ADMIN = P("admin", "c1")
PUBLIC = "93.184.216.34"  # an ordinary public address (nothing is sent to it here)
INSIDE = [
    "http://127.0.0.1:9/hook",
    "http://2130706433/hook",  # 127.0.0.1 in decimal
    "http://0x7f000001/hook",  # … in hex
    "http://0177.0.0.1/hook",  # … in octal
    "http://127.1/hook",
    "http://localhost/hook",
    "http://0.0.0.0/hook",
    "http://[::1]/hook",
    "http://[::ffff:127.0.0.1]/hook",
    "http://10.1.2.3/hook",
    "http://172.16.0.1/hook",
    "http://192.168.1.1/hook",
    "http://169.254.169.254/latest/meta-data/",  # cloud metadata
    "http://100.100.100.200/latest/meta-data/",  # another cloud's, in shared space
    "http://[fd00:ec2::254]/latest/meta-data/",
    "http://[64:ff9b::a9fe:a9fe]/",  # 169.254.169.254 through NAT64
    "http://[2002:7f00:1::1]/hook",  # 127.0.0.1 through 6to4
    "http://[fe80::1]/hook",
]


class Receiver:
    """A webhook receiver on loopback that keeps each request's headers and body."""

    def __init__(self, answer: Callable[[int], int] = lambda n: 200) -> None:
        self.got: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                with outer.lock:
                    status = answer(len(outer.got))
                    outer.got.append({"headers": dict(self.headers), "body": body})
                self.send_response(status)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.port = int(self.server.server_address[1])

    def close(self) -> None:
        self.server.shutdown()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


def settings(url: str, allow: str = "") -> Settings:
    return Settings(database_url=url, webhook_allow_networks=networks(allow))


def subscribe(a: Api, url: str, secret: str = "a-secret-of-sixteen+", who=SUP) -> Any:
    return a.client.post(
        "/subscriptions", json={"url": url, "secret": secret, "filter": {}}, headers=a.h(who)
    )


def deliver(a: Api) -> int:
    """Queue and send what is due, once, in this thread."""
    a.container.notifier.queue()
    return a.container.notifier.deliver()


def resolving(table: dict[str, str]) -> Callable[[str, int], list[Address]]:
    return lambda host, port: [ip_address(table[host])]


def test_targets_inside_are_refused_at_subscription_unless_allowed(store_url: str):
    with api(store_url, settings=settings(store_url)) as a:
        for url in INSIDE:
            r = subscribe(a, url)
            assert r.status_code == 422, (url, r.text)
            assert (
                "GRIDFLOW_WEBHOOK_ALLOW_NETWORKS" in r.json()["error"]["details"]["fields"]["url"]
            )
        assert subscribe(a, f"http://{PUBLIC}/hook").status_code == 201
        # a name that does not resolve now is taken: each delivery checks it again
        assert subscribe(a, "https://hooks.example.invalid/gridflow").status_code == 201
        assert a.client.get("/subscriptions", headers=a.h(SUP)).json()["items"][0]["url"]
    with api(store_url, settings=settings(store_url, "127.0.0.0/8, ::1/128")) as a:
        for url in [*INSIDE[:5], "http://[::1]/hook", "http://[::ffff:127.0.0.1]/hook"]:
            assert subscribe(a, url).status_code == 201, url
        assert subscribe(a, "http://10.1.2.3/hook").status_code == 422  # not listed


def test_a_bad_allow_list_stops_the_start():
    with pytest.raises(ValueError, match="not-a-network"):
        Settings.from_env({"GRIDFLOW_WEBHOOK_ALLOW_NETWORKS": "10.0.0.0/8,not-a-network"})


def test_a_name_pointed_inside_after_subscription_is_refused_without_connecting(
    store_url: str, receiver: Receiver
):
    with api(store_url, settings=settings(store_url)) as a:
        targets = a.container.outbox.targets
        targets.resolver = resolving({"hooks.example.test": PUBLIC})
        sub = subscribe(a, f"http://hooks.example.test:{receiver.port}/hook").json()["id"]
        a.report(WORKER)
        targets.resolver = resolving({"hooks.example.test": "127.0.0.1"})  # rebound
        assert deliver(a) == 0
        assert receiver.got == []  # never connected
        tries = a.client.get(f"/subscriptions/{sub}/deliveries", headers=a.h(SUP)).json()
        attempt = tries["items"][0]["tries"][0]
        assert attempt["status_code"] is None
        assert attempt["error"].startswith("refused: 127.0.0.1 is a loopback address")


def test_a_delivery_goes_to_the_address_that_was_checked(store_url: str, receiver: Receiver):
    """The name is resolved once, by the policy; the connection goes to that address
    (the operating system cannot resolve this name at all), with the name as Host."""
    with api(store_url, settings=settings(store_url, "127.0.0.0/8")) as a:
        a.container.outbox.targets.resolver = resolving({"hooks.example.test": "127.0.0.1"})
        subscribe(a, f"http://hooks.example.test:{receiver.port}/hook")
        a.report(WORKER)
        assert deliver(a) == 1
        assert receiver.got[0]["headers"]["Host"] == f"hooks.example.test:{receiver.port}"


def test_revoking_a_principal_suspends_its_subscriptions(store_url: str, receiver: Receiver):
    with api(store_url, settings=settings(store_url, "127.0.0.0/8")) as a:
        sub = subscribe(a, f"http://127.0.0.1:{receiver.port}/hook").json()["id"]
        a.report(WORKER)
        assert deliver(a) == 1
        assert a.container.tokens.revoke(SUP.id) == 1
        a.report(WORKER)
        assert deliver(a) == 0 and len(receiver.got) == 1
        listed = a.client.get("/subscriptions", headers=a.h(ADMIN)).json()["items"]
        assert [(s["id"], s["suspended"]) for s in listed] == [(sub, True)]
        a.container.tokens.create(SUP)  # the principal is given a token again: it resumes
        assert deliver(a) == 1 and len(receiver.got) == 2


def verify_standard(secret_key: bytes, headers: dict[str, str], body: bytes) -> bool:
    """A receiver's check, as the Standard Webhooks spec describes it."""
    msg_id, stamp = headers["webhook-id"], headers["webhook-timestamp"]
    if abs(time.time() - int(stamp)) > 300:  # refuses replays older than 5 minutes
        return False
    signed = f"{msg_id}.{stamp}.".encode() + body
    expected = base64.b64encode(hmac.new(secret_key, signed, hashlib.sha256).digest()).decode()
    return any(
        v == "v1" and hmac.compare_digest(s, expected)
        for v, _, s in (part.partition(",") for part in headers["webhook-signature"].split())
    )


def test_deliveries_carry_standard_webhooks_headers_beside_the_old_signature(store_url: str):
    key = bytes(range(32))
    whsec = "whsec_" + base64.b64encode(key).decode()
    plain = "a-secret-of-sixteen+"
    failing_once = Receiver(answer=lambda n: 500 if n == 0 else 200)
    try:
        with api(store_url, settings=settings(store_url, "127.0.0.0/8")) as a:
            hook = f"http://127.0.0.1:{failing_once.port}/hook"
            subs = {
                subscribe(a, hook, whsec).json()["id"]: key,
                subscribe(a, hook, plain).json()["id"]: plain.encode(),  # its UTF-8 bytes
            }
            bad = subscribe(a, hook, "whsec_" + base64.b64encode(b"short").decode())
            assert bad.status_code == 422 and "secret" in bad.json()["error"]["details"]["fields"]
            a.report(WORKER)
            a.container.notifier.backoff_base = 0.0
            deadline = time.monotonic() + 20
            while len(failing_once.got) < 3 and time.monotonic() < deadline:
                deliver(a)
            got = failing_once.got
            assert len(got) == 3  # two subscriptions, one of them retried
            for g in got:
                h, body = g["headers"], g["body"]
                sub = json.loads(body)["subscription_id"]
                assert verify_standard(subs[sub], h, body), h
                secret = whsec if subs[sub] == key else plain
                old = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
                assert h["X-Gridflow-Signature"] == old  # existing receivers keep working
            ids = {json.loads(g["body"])["subscription_id"]: set() for g in got}
            for g in got:
                ids[json.loads(g["body"])["subscription_id"]].add(g["headers"]["webhook-id"])
            one, two = ids.values()
            assert len(one) == len(two) == 1 and one != two  # per delivery, per subscription
            last = got[-1]
            forged = dict(last["headers"], **{"webhook-id": "msg_other"})
            assert not verify_standard(subs[sub], forged, last["body"])
    finally:
        failing_once.close()
