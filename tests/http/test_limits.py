"""Limits at the edge, in process: bodies cut off at their limit however they are sent,
the import's role checked before its body is read, caps on rows and trend periods, a
rate limit per principal shared through the store, and the browser security headers."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from gridflow.settings import Settings
from stores.db import Database
from stores.ratelimit import RateLimiter
from stores.schema import migrate
from tests.http.support import Api, api
from tests.support import STAFF, SUPERVISOR, WORKER, Clock, P

CHUNK = 64 << 10
MULTIPART_HEAD = (
    b'--x\r\nContent-Disposition: form-data; name="file"; filename="a.jpg"\r\n'
    b"Content-Type: image/jpeg\r\n\r\n"
)


def asgi_post(
    a: Api, path: str, chunks: int, content_type: str, token: str | None = None
) -> tuple[int, dict[str, str], bytes, int]:
    """POST `chunks` pieces of 64 KiB straight through the ASGI interface, as a server
    hands on a chunked body; answers status, headers, body and the bytes the app took."""
    app = create_app(a.container.services())
    taken = 0
    sent: list[dict[str, Any]] = []
    headers = [(b"host", b"test"), (b"content-type", content_type.encode())]
    if token:
        headers.append((b"authorization", f"Bearer {token}".encode()))
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 50000),
        "server": ("test", 80),
    }

    async def receive() -> dict[str, Any]:
        nonlocal taken
        if taken >= chunks * CHUNK:
            return {"type": "http.disconnect"}
        piece = MULTIPART_HEAD.ljust(CHUNK, b" ") if taken == 0 else b" " * CHUNK
        taken += CHUNK
        return {"type": "http.request", "body": piece, "more_body": taken < chunks * CHUNK}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    start = sent[0]
    got = {k.decode().lower(): v.decode() for k, v in start["headers"]}
    return start["status"], got, b"".join(m.get("body", b"") for m in sent[1:]), taken


@pytest.fixture
def a(tmp_path: Any) -> Iterator[Api]:
    with api(f"sqlite:///{tmp_path}/gridflow.db") as a:
        yield a


def test_a_chunked_body_stops_at_the_limit_on_every_route(a: Api):
    i = a.report(WORKER)["id"]
    limit_mib = {
        "/issues": (1, "application/json"),
        f"/issues/{i}/actions/comment": (1, "application/json"),
        "/open311/v2/requests.json": (1, "application/x-www-form-urlencoded"),
        f"/issues/{i}/evidence": (10, "multipart/form-data; boundary=x"),
        "/evidence": (10, "multipart/form-data; boundary=x"),
    }
    for path, (mib, content_type) in limit_mib.items():
        for token in (None, a.token(WORKER)):
            # 200 pieces: 12.5 MiB, more than every limit here.
            status, headers, body, taken = asgi_post(a, path, 200, content_type, token)
            assert status == 413, (path, body)
            assert taken <= (mib << 20) + (64 << 10) + CHUNK, (path, taken)
            assert headers["connection"] == "close"
            if path.startswith("/open311/"):
                assert b'"code":413' in body  # GeoReport's own error list
            else:
                assert b'"payload_too_large"' in body, (path, body)


def test_chunked_and_declared_bodies_over_the_limit_answer_413(a: Api):
    def pieces() -> Iterator[bytes]:  # no Content-Length: sent chunked
        yield b'{"description": "'
        for _ in range(40):
            yield b"x" * CHUNK
        yield b'"}'

    r = a.client.post("/issues", content=pieces(), headers=a.h(WORKER))
    assert r.status_code == 413 and r.json()["error"]["code"] == "payload_too_large"
    r = a.client.post(
        "/open311/v2/requests.json",
        content=pieces(),
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert r.status_code == 413 and r.json() == [
        {"code": 413, "description": f"bodies here are limited to {1 << 20} bytes"}
    ]
    big = b"[" + b" " * (2 << 20) + b"]"
    r = a.client.post("/issues", content=big, headers=a.h(WORKER))
    assert r.status_code == 413 and r.json()["error"]["code"] == "payload_too_large"
    r = a.client.post("/issues", json={"grid_id": "g1"}, headers=a.h(WORKER))
    assert r.status_code == 422  # a body under the limit goes on to the route


def test_an_import_is_refused_by_role_before_its_body_is_read(a: Api):
    for token, status in ((None, 401), (a.token(WORKER), 403)):
        got, _, body, taken = asgi_post(a, "/intake/hotline", 1000, "text/csv", token)
        assert got == status, body
        assert taken == 0, f"{taken} bytes read before answering {status}"
    got, _, body, taken = asgi_post(
        a, "/intake/hotline", 1100, "text/csv", a.token(P("intake", "c1"))
    )
    assert got == 413 and taken <= (64 << 20) + CHUNK  # the importer's limit is 64 MiB


def test_an_import_over_the_row_cap_is_refused_whole(a: Api):
    intake = P("intake", "c1")
    assert Settings.from_env({}).max_import_rows == 50_000
    assert Settings.from_env({"GRIDFLOW_MAX_IMPORT_ROWS": "7"}).max_import_rows == 7
    service = a.container.service
    a.client.app.state.services.max_import_rows = 3  # as GRIDFLOW_MAX_IMPORT_ROWS=3 would
    head = service.head()
    rows = [
        {
            "ticket_no": f"12345-{n}",
            "received_at": "2026-11-23T09:00:00+08:00",
            "grid_id": "g1",
            "category": "sanitation",
            "text": "rubbish",
        }
        for n in range(4)
    ]
    r = a.client.post("/intake/hotline", json=rows, headers=a.h(intake))
    assert r.status_code == 422, r.text
    assert "at most 3" in r.json()["error"]["details"]["fields"]["body"]
    assert service.head() == head  # nothing of it recorded
    r = a.client.post("/intake/hotline", json=rows[:3], headers=a.h(intake))
    assert r.status_code == 200 and r.json()["counts"]["created"] == 3


def test_a_trend_covers_at_most_a_year_or_so(a: Api):
    def trend(period: str) -> Any:
        return a.client.get(f"/supervision/trend?node=c1&{period}", headers=a.h(SUPERVISOR))

    r = trend("from=2000-01-01&to=2030-01-01")
    assert r.status_code == 422 and "to" in r.json()["error"]["details"]["fields"]
    assert trend("from=2025-01-01&to=2026-01-03").status_code == 422
    ok = trend("from=2025-01-01&to=2026-01-02")
    assert ok.status_code == 200 and len(ok.json()["days"]) == 366


def test_every_answer_carries_the_browser_security_headers(a: Api):
    for path, who in (("/healthz", None), ("/me", WORKER), ("/nowhere", None)):
        r = a.client.get(path, headers=a.h(who) if who else {})
        assert r.headers["x-content-type-options"] == "nosniff", path
        assert r.headers["x-frame-options"] == "DENY", path
        assert r.headers["referrer-policy"] == "no-referrer", path
        assert "frame-ancestors 'none'" in r.headers["content-security-policy"], path
    page = a.client.get("/console")
    csp = dict(d.strip().split(" ", 1) for d in page.headers["content-security-policy"].split(";"))
    assert csp["script-src"] == "'self' 'unsafe-eval'"  # no inline script, nothing remote
    assert csp["frame-ancestors"] == "'none'" and csp["object-src"] == "'none'"
    assert csp["default-src"] == "'self'" and "unsafe-inline" not in str(csp)
    assert page.headers["x-frame-options"] == "DENY"
    assert page.headers["x-content-type-options"] == "nosniff"
    assert page.headers["referrer-policy"] == "no-referrer"


def test_the_rate_limit_is_shared_by_every_process(store_url: str):
    """Two limiters on their own connections stand for two processes of the service."""
    clock = Clock()
    now = lambda: clock().timestamp()  # noqa: E731
    one, two = Database(store_url), Database(store_url)
    migrate(one)  # as every process does on start
    try:
        first, second = RateLimiter(one, 50, now), RateLimiter(two, 50, now)
        answers = [(first if n % 3 else second).hit("worker") for n in range(120)]
        let_through = answers.count(None)
        assert 50 - 2 * first.most_per_lease <= let_through <= 50
        waits = [w for w in answers if w is not None]
        assert all(1 <= w <= 60 for w in waits) and len(waits) == 120 - let_through
        assert first.hit("leader") is None  # another principal has its own allowance
        clock.advance(seconds=60)
        assert first.hit("worker") is None and second.hit("worker") is None
    finally:
        one.close()
        two.close()


def test_a_principal_over_the_limit_is_answered_429_with_retry_after(store_url: str):
    clock = Clock()
    with api(store_url, clock) as a:
        a.container.limiter = RateLimiter(a.container.db, 5, lambda: clock().timestamp())
        client = TestClient(create_app(a.container.services()))
        answers = [client.get("/me", headers=a.h(WORKER)) for _ in range(8)]
        assert [r.status_code for r in answers] == [200] * 5 + [429] * 3
        refused = answers[-1]
        assert refused.json()["error"]["code"] == "rate_limited"
        assert 1 <= int(refused.headers["retry-after"]) <= 60
        assert client.get("/me", headers=a.h(STAFF)).status_code == 200
        assert client.get("/me").status_code == 401  # no principal: nothing to count
        clock.advance(seconds=61)
        assert client.get("/me", headers=a.h(WORKER)).status_code == 200


def test_the_rate_limit_is_configured_and_zero_turns_it_off(tmp_path: Any):
    assert Settings.from_env({}).rate_limit == 6000
    off = Settings.from_env(
        {"GRIDFLOW_RATE_LIMIT": "0", "GRIDFLOW_DATABASE_URL": f"sqlite:///{tmp_path}/g.db"}
    )
    from gridflow.container import Container

    c = Container(off)
    try:
        assert c.services().limiter is None
    finally:
        c.close()
