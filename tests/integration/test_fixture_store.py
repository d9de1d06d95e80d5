"""Stored events always load: the fixture store, built by an earlier day's code
(`tests/fixtures/build_store.py`), opened with today's code on both stores.

`tests/fixtures/store/` holds a SQLite store (with its audit key, subject key and
evidence beside it, as the container keeps them) and the same week recorded on
PostgreSQL as a plain `pg_dump`, restored here with `psql` into a fresh database. Its
log holds every event class of its day, the organisation loaded twice, a hotline
import, a version-1 report (upcast on reading), an erased reporter, cited evidence,
tokens, webhook deliveries and the audit chain with signed checkpoints; `expected.json`
keeps what the service answered then. A copy of it must read the same today: every
field present in the expected answer is equal (fields added since may appear), the
views rebuilt from the log answer the same, the audit chain verifies, and every stored
event topic still resolves (a moved or renamed event class is registered with
`eventsourcing.utils.register_topic` under its old topic; stored bytes never change).

When a change MEANS to change what old events read as, update `expected.json` in that
same change (by hand, only the fields concerned) and add a line to docs/changes.md
saying what changed for clients and why. Never rebuild the fixture to make this test
pass: the fixture is the previous release's store, and rebuilding it with the new code
would hide exactly what this test is here to catch.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from eventsourcing.persistence import StoredEvent
from eventsourcing.utils import register_topic, resolve_topic
from fastapi.testclient import TestClient

from api.app import create_app
from domain.issue import Issue
from gridflow.container import Container
from gridflow.settings import Settings
from projections.records import ACTION_BY_TOPIC, decode
from projections.verify import rebuild_and_verify
from tests.interop import tlog
from tests.support import Clock

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "store"
EXPECTED: dict[str, Any] = json.loads((FIXTURE / "expected.json").read_text("utf-8"))
DB = "gridflow.db"


def differences(actual: Any, expected: Any, path: str = "$") -> list[str]:
    """Where `actual` does not answer as `expected`: each field of an expected object
    must be there and equal (an object may carry more fields), lists item by item."""
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return [f"{path}: {actual!r} is not an object"]
        out: list[str] = []
        for key, value in expected.items():
            if key not in actual:
                out.append(f"{path}.{key}: missing")
            else:
                out += differences(actual[key], value, f"{path}.{key}")
        return out
    if isinstance(expected, list):
        if not isinstance(actual, list) or len(actual) != len(expected):
            got = len(actual) if isinstance(actual, list) else repr(actual)
            return [f"{path}: {got} items, {len(expected)} expected"]
        return [
            problem
            for k, (a, e) in enumerate(zip(actual, expected, strict=True))
            for problem in differences(a, e, f"{path}[{k}]")
        ]
    return [] if actual == expected else [f"{path}: {actual!r}, {expected!r} expected"]


@dataclass
class Opened:
    """The copy of the fixture store, open with today's code."""

    kind: str  # "sqlite" or "postgres"
    container: Container
    client: TestClient

    def get(self, path: str, who: str = "auditor") -> Any:
        token = EXPECTED["tokens"][self.kind][who]
        r = self.client.get(path, headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 200, (path, r.status_code, r.text)
        return r.json()

    def expected(self, key: str) -> Any:
        """An expected read kept per store (tokens, the chain's head, deliveries)."""
        return EXPECTED[key][self.kind]


def restore(url: str) -> None:
    """The fixture's PostgreSQL dump into the (fresh, empty) database at `url`."""
    done = subprocess.run(
        [
            "psql",
            "-X",
            "-q",
            "-v",
            "ON_ERROR_STOP=1",
            "-d",
            url,
            "-f",
            str(FIXTURE / "postgres.sql"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr


@pytest.fixture
def old_store(store_url: str, tmp_path: Path) -> Iterator[Opened]:
    root = tmp_path / "fixture"
    shutil.copytree(FIXTURE, root, ignore=shutil.ignore_patterns("postgres.sql", "*.json"))
    if store_url.startswith("sqlite"):
        kind, settings = "sqlite", Settings(database_url=f"sqlite:///{root / DB}")
    else:
        restore(store_url)
        kind = "postgres"
        settings = Settings(
            database_url=store_url,
            audit_key_file=str(root / f"{DB}.audit-key"),
            subject_key_file=str(root / f"{DB}.subject-key"),
            evidence_dir=str(root / f"{DB}.evidence"),
        )
    c = Container(settings, clock=Clock(datetime.fromisoformat(EXPECTED["now"])))
    client = TestClient(create_app(c.services()))
    try:
        yield Opened(kind, c, client)
    finally:
        client.close()
        c.close()


def test_every_issue_reads_as_it_did(old_store: Opened):
    problems = []
    for name, want in EXPECTED["issues"].items():
        issue_id = EXPECTED["ids"][name]
        problems += differences(old_store.get(f"/issues/{issue_id}"), want["issue"], name)
        history = old_store.get(f"/issues/{issue_id}/history")
        problems += differences(history, want["history"], f"{name}/history")
    assert not problems, "\n".join(problems)


def test_erased_upcast_and_imported_reporters_read_as_they_did(old_store: Opened):
    """The cases most likely to break quietly, spelled out (also within the above)."""
    ids = EXPECTED["ids"]

    def reporter(name: str) -> Any:
        return old_store.get(f"/issues/{ids[name]}")["reporter"]

    assert reporter("K") == {"erased": True}  # `gridflow privacy erase` destroyed the key
    assert reporter("V1") == {"phone": "13600000005"}  # v1's data["reporter_phone"]
    assert reporter("hotline:T-0001") == {"name": "Chen", "phone": "13700000003"}


def test_the_views_read_as_they_did_and_rebuild_the_same(old_store: Opened):
    period = "from={}&to={}".format(*EXPECTED["period"])
    reads = {
        "list": "/issues?node=c1&limit=500",
        "summary": f"/supervision/summary?node=c1&{period}",
        "escalations": "/supervision/escalations?node=c1",
    }
    c = old_store.container
    assert c.engine.position() == c.service.head()  # nothing left to fold
    for when in ("as stored", "rebuilt from the log"):
        problems = [
            p
            for key, path in reads.items()
            for p in differences(old_store.get(path), EXPECTED[key], f"{when}: {key}")
        ]
        assert not problems, "\n".join(problems)
        c.engine.rebuild(switch=True, grace=0.0)
    assert rebuild_and_verify(c.engine, c.service.head()) == {}


def test_the_audit_chain_verifies(old_store: Opened):
    old_store.container.audit.catch_up()  # the chain had taken every event already
    verified = old_store.get("/audit/verify")
    assert verified["ok"] is True
    assert not differences(verified, old_store.expected("audit_verify"))
    checkpoints = old_store.get("/audit/checkpoints")
    assert checkpoints["checkpoints"], checkpoints
    # An outside checker, over HTTP: the old checkpoints, leaves and every proof.
    checked = tlog.check_log(old_store.get, "gridflow")
    assert checked["checkpoints"] == len(checkpoints["checkpoints"])


def test_every_stored_topic_resolves(old_store: Opened):
    """Every event in the log names a class today's code still finds (moved or renamed
    classes are registered under their old topic), and the projections decode it."""
    stored = old_store.container.service.app.recorder.select_notifications(1, 100_000)
    topics = {n.topic for n in stored}
    assert topics == set(EXPECTED["topics"])
    for topic in sorted(topics):
        resolve_topic(topic)  # raises TopicError for a class that moved away
    undecoded = [n.id for n in stored if n.topic in ACTION_BY_TOPIC and decode(n) is None]
    assert not undecoded


def test_an_event_class_registered_under_an_old_topic_still_reads_and_folds(old_store: Opened):
    """A class that moved or was renamed keeps its old topic through the library's topic
    registry: an event stored under that topic loads, folds into the views and takes its
    place in the audit trail as the class it now is."""
    old_topic = "domain.issue_before_the_move:Issue.Urged"  # where the class once was
    register_topic(old_topic, Issue.Urged)
    c, issue_id = old_store.container, UUID(EXPECTED["ids"]["C"])
    before = c.service.get(issue_id)
    state = {
        "timestamp": {"_type_": "datetime_iso", "_data_": EXPECTED["now"]},
        "actor": {"id": "city_supervisor@c1", "role": "city_supervisor"},
        "data": {"message": "recorded under the old topic"},
        "facts": {},
        "to_state": before.state,
        "tier": before.tier,
        "starts": [],
        "ends": [],
    }
    c.service.app.recorder.insert_events(
        [StoredEvent(issue_id, before.version + 1, old_topic, json.dumps(state).encode())]
    )
    c.engine.catch_up()
    c.audit.catch_up()
    assert old_store.get(f"/issues/{issue_id}")["counts"]["urge"] == 2
    assert old_store.get(f"/issues/{issue_id}/history")["events"][-1]["action"] == "urge"
    board = old_store.get("/supervision/escalations?node=c1")["items"]
    assert next(i for i in board if i["id"] == str(issue_id))["urges"] == 2
    trail = old_store.get(f"/audit/events?issue={issue_id}&limit=1000")["items"]
    assert trail[-1]["action"] == "urge"
    assert old_store.get("/audit/verify")["ok"] is True


def test_what_is_kept_beside_the_log_still_serves(old_store: Opened):
    """Tokens, evidence and webhook deliveries are not rebuilt from the log: the stored
    rows must keep serving."""
    revoked = EXPECTED["tokens"][old_store.kind]["revoked"]
    r = old_store.client.get("/org/nodes", headers={"Authorization": f"Bearer {revoked}"})
    assert r.status_code == 401
    a = EXPECTED["issues"]["A"]["issue"]
    (evidence_id,) = a["evidence"]
    token = EXPECTED["tokens"][old_store.kind]["auditor"]
    photo = old_store.client.get(
        f"/evidence/{evidence_id}", headers={"Authorization": f"Bearer {token}"}
    )
    assert photo.status_code == 200
    blob = FIXTURE / f"{DB}.evidence" / evidence_id[:2] / evidence_id
    assert photo.content == blob.read_bytes()
    subs = sorted(
        old_store.get("/subscriptions", "supervisor")["items"],
        key=lambda s: json.dumps(s["filter"]),
    )
    assert not differences(subs, EXPECTED["subscriptions"])
    deliveries = [
        old_store.get(f"/subscriptions/{s['id']}/deliveries", "supervisor")["items"] for s in subs
    ]
    assert not differences(deliveries, old_store.expected("deliveries"))
