"""`gridflow serve` in its own process on a loopback port, for the tests that need a real
server: tokens for a few principals, and an optional fault point."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path

import httpx

from domain.principals import Principal, Role
from gridflow.container import Container
from gridflow.settings import Settings
from tests.support import ORG

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


#: `gridflow serve`, killed by itself (SIGKILL) right after its Nth write to the log has
#: committed and before anything answers it: the worst moment for a client, and always
#: the same one.
FAULTY_SERVE = """
import os, signal, sys
from eventsourcing.sqlite import SQLiteAggregateRecorder

after, saves = int(os.environ["GRIDFLOW_TEST_KILL_AFTER_SAVES"]), 0
original = SQLiteAggregateRecorder.insert_events

def insert_events(self, *args, **kwargs):
    global saves
    result = original(self, *args, **kwargs)
    saves += 1
    if saves >= after:
        os.kill(os.getpid(), signal.SIGKILL)
    return result

SQLiteAggregateRecorder.insert_events = insert_events
from gridflow.cli import main
sys.exit(main(sys.argv[1:]))
"""


class Service:
    """`gridflow serve` in its own process, with tokens for a few principals."""

    def __init__(self, url: str, home: Path) -> None:
        self.url, self.home = url, home
        c = Container(
            Settings.from_env(
                {
                    "GRIDFLOW_DATABASE_URL": url,
                    "GRIDFLOW_AUDIT_KEY_FILE": str(home / "key"),
                    "GRIDFLOW_AUDIT_ORIGIN": "gridflow",
                    "GRIDFLOW_EVIDENCE_DIR": str(home / "evidence"),
                }
            )
        )
        c.service.load_org(ORG)
        self.tokens = {
            name: c.tokens.create(Principal(name, role, scope))
            for name, role, scope in (
                ("worker", Role.GRID_WORKER, "g1"),
                ("staff", Role.COMMUNITY_STAFF, "m1"),
                ("auditor", Role.AUDITOR, "c1"),
            )
        }
        c.close()
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None
        self.ready = threading.Event()  # never set: a pause that a stop could cut short

    def start(self, kill_after_saves: int | None = None) -> None:
        env = {
            **os.environ,
            "GRIDFLOW_DATABASE_URL": self.url,
            "GRIDFLOW_AUDIT_KEY_FILE": str(self.home / "key"),
            "GRIDFLOW_AUDIT_ORIGIN": "gridflow",
            "GRIDFLOW_EVIDENCE_DIR": str(self.home / "evidence"),
        }
        run = [sys.executable, "-m", "gridflow.cli"]
        if kill_after_saves is not None:
            env["GRIDFLOW_TEST_KILL_AFTER_SAVES"] = str(kill_after_saves)
            run = [sys.executable, "-c", FAULTY_SERVE]
        self.proc = subprocess.Popen(
            [*run, "serve", "--port", str(self.port), "--no-demo"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        with httpx.Client(transport=httpx.HTTPTransport(retries=0)) as client:
            for _ in range(600):  # each attempt waits for the port, not for a fixed time
                try:
                    if client.get(self.base + "/healthz", timeout=1).status_code == 200:
                        return
                except httpx.HTTPError:
                    if self.proc.poll() is not None:
                        break
                    self.ready.wait(0.05)
        raise RuntimeError("the service did not start")

    def died(self, timeout: float = 60) -> int:
        """Wait for the process to end by itself (the fault point); its exit status."""
        assert self.proc is not None
        return self.proc.wait(timeout)

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(20)

    def h(self, who: str, **extra: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}", **extra}
