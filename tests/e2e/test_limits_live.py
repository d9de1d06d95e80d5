"""The limits on a live `gridflow serve` (uvicorn, real sockets), watched from outside:
a chunked body cut off at its limit, a pixel bomb refused without the server's memory
growing, and the rate limit held by every process of `serve --workers 2`."""

from __future__ import annotations

import os
import select
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from domain.principals import Principal
from gridflow.container import Container
from gridflow.settings import Settings
from tests.images import photo, png_bomb
from tests.support import ORG, WORKER

ROOT = Path(__file__).resolve().parents[2]
MiB = 1 << 20


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Served:
    """`gridflow serve` in its own process, with a token for a grid worker."""

    def __init__(self, url: str, home: Path, *args: str, **env: str) -> None:
        self.env = {
            **os.environ,
            "GRIDFLOW_DATABASE_URL": url,
            "GRIDFLOW_AUDIT_KEY_FILE": str(home / "audit.key"),
            "GRIDFLOW_AUDIT_ORIGIN": "gridflow",
            "GRIDFLOW_EVIDENCE_DIR": str(home / "evidence"),
            **env,
        }
        c = Container(Settings.from_env(self.env))
        c.service.load_org(ORG)
        self.token = c.tokens.create(WORKER)
        self.other = c.tokens.create(Principal("another-worker", WORKER.role, WORKER.scope))
        c.close()
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        cmd = [sys.executable, "-m", "gridflow.cli", "serve", "--port", str(self.port)]
        self.proc = subprocess.Popen(
            [*cmd, "--no-demo", *args],
            cwd=ROOT,
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and self.proc.poll() is None:
            try:
                if httpx.get(self.base + "/healthz", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError("the service did not start")

    def peak_mib(self) -> int:
        """The server process's peak resident memory so far (VmHWM)."""
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) // 1024
        raise AssertionError("no VmHWM")

    def h(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(30)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    home = tmp_path_factory.mktemp("limits")
    s = Served(f"sqlite:///{home}/gridflow.db", home)
    yield s
    s.stop()


def post_chunked(port: int, path: str, headers: dict[str, str], most: int) -> tuple[bytes, int]:
    """POST a chunked body of up to `most` bytes over a raw socket, as a client that
    stops sending once the server answers. Answers the status line and bytes sent."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=60)
    head = f"POST {path} HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: chunked\r\n"
    head += "Content-Type: application/json\r\n"
    head += "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    piece = 64 << 10
    chunk = f"{piece:x}\r\n".encode() + b" " * piece + b"\r\n"
    sent = 0
    try:
        sock.sendall(head.encode() + b"\r\n")
        while sent < most and not select.select([sock], [], [], 0)[0]:
            sock.sendall(chunk)
            sent += piece
        if sent >= most:
            sock.sendall(b"0\r\n\r\n")
    except (BrokenPipeError, ConnectionResetError):
        pass  # the server closed the connection after answering
    try:
        answer = sock.recv(4096)
    finally:
        sock.close()
    return answer.split(b"\r\n", 1)[0], sent


def test_a_chunked_body_is_cut_off_at_the_limit_by_a_live_server(served: Served):
    for headers in ({}, served.h()):  # before any token is looked at, and after
        before = served.peak_mib()
        status, sent = post_chunked(served.port, "/issues", headers, 200 * MiB)
        grown = served.peak_mib() - before
        assert status.startswith(b"HTTP/1.1 413"), status
        # The server stopped reading at 1 MiB: what got through is the sockets' buffers.
        assert sent < 32 * MiB, f"{sent // MiB} MiB sent before the server answered"
        assert grown < 64, f"the server grew by {grown} MiB"


def test_a_pixel_bomb_does_not_balloon_a_live_server(served: Served):
    issue = httpx.post(
        served.base + "/issues",
        json={"grid_id": "g1", "category": "sanitation", "description": "rubbish"},
        headers=served.h(),
    ).json()["id"]

    def upload(data: bytes, name: str) -> Any:
        return httpx.post(
            f"{served.base}/issues/{issue}/evidence",
            files={"file": (name, data)},
            headers=served.h(),
            timeout=120,
        )

    assert upload(photo(), "p.jpg").status_code == 201  # the decoder is loaded and warm
    before = served.peak_mib()
    r = upload(png_bomb(), "bomb.png")
    grown = served.peak_mib() - before
    assert r.status_code == 422 and r.json()["error"]["code"] == "validation_failed"
    assert grown < 100, f"the server grew by {grown} MiB for a {len(png_bomb())}-byte file"


def test_the_rate_limit_holds_across_the_processes_of_serve_workers(
    postgres_url: str, tmp_path: Path
):
    limit = 20
    s = Served(postgres_url, tmp_path, "--workers", "2", GRIDFLOW_RATE_LIMIT=str(limit))
    try:
        for _ in range(2):  # a burst that straddles a minute's end is tried again
            window = int(time.time() // 60)
            answers = []
            for _ in range(2 * limit):
                # A new connection each time: either process may take it.
                with httpx.Client(base_url=s.base, headers=s.h()) as client:
                    answers.append(client.get("/me"))
            if int(time.time() // 60) == window:
                break
            s.token, s.other = s.other, s.token  # a fresh principal for the retry
        let_through = [r for r in answers if r.status_code == 200]
        refused = [r for r in answers if r.status_code == 429]
        assert len(let_through) + len(refused) == len(answers)
        # Two processes may each hold at most a tenth of the limit unspent.
        assert limit - 2 * (limit // 10) <= len(let_through) <= limit
        assert all(r.json()["error"]["code"] == "rate_limited" for r in refused)
        assert all(1 <= int(r.headers["retry-after"]) <= 60 for r in refused)
    finally:
        s.stop()
