"""Faults under load, bounded and on loopback only: conflicting clients, the service and
its workers killed at a fault point (right after a given write committed, before its
answer), and a PostgreSQL server (the test's own) restarted. Nothing here waits a fixed
time: each step waits for a count (writes acknowledged, the process gone)."""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from gridflow.container import Container
from gridflow.settings import Settings
from projections.verify import rebuild_and_verify
from tests.e2e.server import Service, free_port

PG_BIN = Path("/usr/lib/postgresql/15/bin")


class Load:
    """Clients reporting and acting until stopped; every acknowledged write is kept."""

    def __init__(self, svc: Service, clients: int = 6) -> None:
        self.svc, self.clients = svc, clients
        self.acked: list[tuple[str, int, str]] = []  # (issue, version, action)
        self.statuses: dict[int, int] = {}
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.progress = threading.Condition(self.lock)
        self.threads = [threading.Thread(target=self.run, args=(k,)) for k in range(clients)]

    def note(self, status: int) -> None:
        with self.lock:
            self.statuses[status] = self.statuses.get(status, 0) + 1
            self.progress.notify_all()

    def ack(self, item: tuple[str, int, str]) -> None:
        with self.lock:
            self.acked.append(item)
            self.progress.notify_all()

    def wait_until(self, condition: Any, timeout: float = 120) -> None:
        """Block until `condition(load)` holds (counts of answers, not time)."""
        with self.progress:
            assert self.progress.wait_for(lambda: condition(self), timeout), self.statuses

    def wait_for_acks(self, more: int) -> None:
        """Block until `more` writes beyond those acknowledged so far are acknowledged."""
        with self.lock:
            target = len(self.acked) + more
        self.wait_until(lambda load: len(load.acked) >= target)

    def run(self, k: int) -> None:
        rnd = random.Random(k)
        with httpx.Client(base_url=self.svc.base, timeout=5) as client:
            while not self.stop.is_set():
                try:
                    r = client.post(
                        "/issues",
                        headers=self.svc.h("worker"),
                        json={"grid_id": "g1", "category": "road", "description": f"load {k}"},
                    )
                    self.note(r.status_code)
                    if r.status_code != 201:
                        self.stop.wait(0.05)  # back off while the store is away
                        continue
                    issue = r.json()["id"]
                    self.ack((issue, 1, "report"))
                    for action, who, body in (
                        ("handle_on_spot", "worker", {}),
                        ("comment", "worker", {"text": "x"}),
                        ("resolve", "worker", {"resolution": "ok"}),
                    ):
                        r = client.post(
                            f"/issues/{issue}/actions/{action}", json=body, headers=self.svc.h(who)
                        )
                        self.note(r.status_code)
                        if r.status_code != 200:
                            break
                        self.ack((issue, r.json()["version"], action))
                        if rnd.random() < 0.1:
                            self.stop.wait(0.01)
                except httpx.HTTPError:
                    self.note(0)  # the service is down: no answer, nothing acknowledged
                    self.stop.wait(0.05)

    def __enter__(self) -> Load:
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop.set()
        for t in self.threads:
            t.join(20)


def check_log(
    url: str, home: Path, acked: list[tuple[str, int, str]], once: bool = True
) -> Container:
    """Every acknowledged write is in the log exactly once, at the version answered."""
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
    from uuid import UUID

    by_issue: dict[str, list[tuple[int, str]]] = {}
    for issue, version, action in acked:
        by_issue.setdefault(issue, []).append((version, action))
    for issue, acks in by_issue.items():
        events = list(c.service.app.events.get(UUID(issue)))
        recorded = {e.originator_version: e.ACTION for e in events}  # type: ignore[attr-defined]
        for version, action in acks:
            assert recorded.get(version) == action, (issue, version, action, recorded)
        actions = [e.ACTION for e in events]  # type: ignore[attr-defined]
        if once:  # each action of the load's walk is taken once per issue
            assert len(actions) == len(set(actions)), f"an action was recorded twice on {issue}"
    return c


def test_conflicting_clients_get_clean_refusals_and_nothing_doubles(store_url: str, tmp_path: Path):
    svc = Service(store_url, tmp_path)
    svc.start()
    try:
        issues = [
            httpx.post(
                svc.base + "/issues",
                headers=svc.h("worker"),
                json={"grid_id": "g1", "category": "road", "description": f"contested {n}"},
            ).json()["id"]
            for n in range(4)
        ]
        results: list[tuple[str, str, int, int | None]] = []
        lock = threading.Lock()

        def fight(k: int) -> None:
            rnd = random.Random(k)
            with httpx.Client(base_url=svc.base, timeout=10) as client:
                for _ in range(15):
                    issue = rnd.choice(issues)
                    current = client.get(f"/issues/{issue}", headers=svc.h("staff")).json()
                    action, who, body = rnd.choice(
                        [
                            ("handle_on_spot", "worker", {}),
                            ("comment", "staff", {"text": "x"}),
                            ("coordinate", "staff", {"lead_party": "property"}),
                            ("reject", "staff", {"reason": "no"}),
                        ]
                    )
                    r = client.post(
                        f"/issues/{issue}/actions/{action}",
                        json=body,
                        headers=svc.h(who, **{"If-Match": f'"{current["version"]}"'}),
                    )
                    version = r.json()["version"] if r.status_code == 200 else None
                    with lock:
                        results.append((issue, action, r.status_code, version))

        threads = [threading.Thread(target=fight, args=(k,)) for k in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        statuses = {s for _, _, s, _ in results}
        assert statuses <= {200, 409, 412}, statuses  # refusals are clean, never a 5xx
        assert 200 in statuses and (409 in statuses or 412 in statuses)
        acked = [(i, v, a) for i, a, s, v in results if s == 200 and v is not None]
        c = check_log(store_url, tmp_path, acked, once=False)
        from uuid import UUID

        for issue in issues:
            events = list(c.service.app.events.get(UUID(issue)))
            assert len(events) == 1 + sum(1 for i, *_ in acked if i == issue)
            live = httpx.get(f"{svc.base}/issues/{issue}", headers=svc.h("auditor")).json()
            replayed = c.service.get(UUID(issue), version=live["version"])
            assert (live["state"], live["version"]) == (replayed.state, replayed.version)
        c.close()
    finally:
        svc.stop()


KILL_AFTER_SAVES = 40


def test_the_service_and_its_workers_killed_mid_load_lose_and_double_nothing(tmp_path: Path):
    url = f"sqlite:///{tmp_path}/gridflow.db"  # workers run inside the service on SQLite
    svc = Service(url, tmp_path)
    svc.start(kill_after_saves=KILL_AFTER_SAVES)
    with Load(svc) as load:
        # SIGKILL of the service and its in-process workers, right after the 40th write
        assert svc.died() == -signal.SIGKILL
        before = len(load.acked)  # the last write committed but was never answered
        assert before > 0
        svc.start()
        load.wait_for_acks(20)  # the restarted service takes writes again
    svc.stop()
    assert len(load.acked) >= before + 20
    assert all(s in (0, 200, 201) for s in load.statuses), load.statuses
    c = check_log(url, tmp_path, load.acked)
    c.engine.catch_up()
    assert rebuild_and_verify(c.engine, c.service.head()) == {}
    c.audit.catch_up()
    from projections.audit_read import verify

    assert verify(c.audit)["ok"]
    c.close()


@pytest.fixture
def own_postgres(tmp_path: Path) -> Iterator[dict[str, Any]]:
    """A PostgreSQL server of the test's own (own data directory and port), run as the
    postgres user: never the machine's shared server."""
    if not (PG_BIN / "pg_ctl").exists() or shutil.which("runuser") is None:
        if os.environ.get("CI"):
            pytest.fail(f"{PG_BIN}/pg_ctl and runuser are needed")
        pytest.skip(f"{PG_BIN}/pg_ctl or runuser is missing")
    import tempfile

    home = Path(tempfile.mkdtemp(prefix="gridflow-pg-"))  # pytest's tmp is root's alone
    shutil.chown(home, "postgres")
    data = home / "pgdata"
    port = free_port()

    def as_postgres(*cmd: str) -> None:
        subprocess.run(
            ["runuser", "-u", "postgres", "--", *cmd], check=True, capture_output=True, timeout=120
        )

    as_postgres(str(PG_BIN / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres")
    ctl = {
        "start": [
            str(PG_BIN / "pg_ctl"),
            "-D",
            str(data),
            "-w",
            "-o",
            f"-p {port} -k {home} -c listen_addresses=127.0.0.1",
            "start",
            "-l",
            str(home / "pg.log"),
        ],
        "stop": [str(PG_BIN / "pg_ctl"), "-D", str(data), "-w", "-m", "fast", "stop"],
    }
    as_postgres(*ctl["start"])
    yield {
        "url": f"postgresql://postgres@127.0.0.1:{port}/postgres",
        "start": lambda: as_postgres(*ctl["start"]),
        "stop": lambda: as_postgres(*ctl["stop"]),
    }
    subprocess.run(["runuser", "-u", "postgres", "--", *ctl["stop"]], capture_output=True)
    shutil.rmtree(home, ignore_errors=True)


def test_a_database_restart_answers_503_then_recovers_and_loses_nothing(
    own_postgres: dict[str, Any], tmp_path: Path
):
    home = tmp_path / "svc"
    home.mkdir()
    svc = Service(own_postgres["url"], home)
    svc.start()
    try:
        with Load(svc, clients=4) as load:
            load.wait_for_acks(10)
            own_postgres["stop"]()
            down = httpx.post(
                svc.base + "/issues",
                headers=svc.h("worker"),
                timeout=30,
                json={"grid_id": "g1", "category": "road", "description": "while down"},
            )
            assert down.status_code == 503, down.text
            assert down.json()["error"]["code"] == "store_unavailable"
            assert down.headers["Retry-After"]
            load.wait_until(lambda ld: ld.statuses.get(503, 0) > 0)
            created = load.statuses.get(201, 0)
            own_postgres["start"]()
            # the service recovers by itself: its clients' reports are created again
            load.wait_until(lambda ld: ld.statuses.get(201, 0) >= created + 5)
        assert 503 in load.statuses and load.statuses.get(201, 0) > 5
        assert all(s in (0, 200, 201, 503) for s in load.statuses), load.statuses
        check_log(own_postgres["url"], home, load.acked).close()
    finally:
        svc.stop()
