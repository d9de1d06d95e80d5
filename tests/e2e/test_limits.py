"""Limits at the edge, in process: bodies cut off at their limit however they are sent,
and the browser security headers."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest

from api.app import create_app
from tests.e2e.support import Api, api
from tests.support import WORKER

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
