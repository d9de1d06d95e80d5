"""Events that the views cannot fold never stop them (both stores).

Old code let a NUL character and impossible times into the log; a bug could record an
event a view cannot fold. Such events are written here straight into the store, as old
or broken code would have, and the projections must go on: the known kinds are cleaned
on read, anything else is set aside (quarantined), listed, and set aside again by a
rebuild, so the views still equal a rebuild.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from domain.issue import Issue
from gridflow.cli import main
from gridflow.container import Container
from gridflow.settings import Settings
from projections import quarantine
from projections.queries import ListQuery
from projections.verify import rebuild_and_verify
from projections.views import IssueViews
from tests.support import AUDITOR, ORG, SUPERVISOR, WORKER, Clock, process_env


@pytest.fixture
def c(store_url: str) -> Any:
    container = Container(Settings(database_url=store_url), clock=Clock())
    container.service.load_org(ORG)
    yield container
    container.close()


def record_raw_report(c: Container, data: dict[str, Any]) -> UUID:
    """A `report` event as code without today's checks would have recorded it."""
    ctx = c.service.context()
    issue = Issue._create(
        Issue.Reported,
        id=uuid4(),
        actor=WORKER.as_actor(),
        data=data,
        facts={"grid_id": "g1", "channel": "patrol"},
        to_state="reported",
        tier=None,
        starts=[ctx.deadline("triage", "sanitation", "g1")],
        ends=[],
        timestamp=ctx.now,
    )
    c.service.app.save(issue)
    return issue.id


#: A report whose description is not text: the issue loads, but no view can fold it.
BROKEN = {"category": "sanitation", "description": 42}


def report(c: Container, description: str) -> UUID:
    body = {"grid_id": "g1", "category": "sanitation", "description": description}
    return c.service.report(WORKER, body).issue.id


def listed(c: Container) -> dict[str, dict[str, Any]]:
    items = c.views.issues(SUPERVISOR, ListQuery(limit=500), c.clock())["items"]
    return {i["id"]: i for i in items}


def test_an_old_nul_is_cleaned_on_read_and_the_views_go_on(c: Container) -> None:
    before = report(c, "before")
    nul = record_raw_report(c, {"category": "sanitation", "description": "rub\x00bish"})
    after = report(c, "after")
    c.engine.catch_up()
    assert c.engine.position() == c.service.head()
    shown = listed(c)
    assert shown[str(nul)]["description"] == "rubbish"
    assert {str(before), str(after)} <= set(shown)
    assert quarantine.current(c.db, c.engine.active()) == []
    assert rebuild_and_verify(c.engine, c.service.head()) == {}


@pytest.mark.parametrize("claimed", ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00"])
def test_an_old_impossible_time_is_dropped_on_read(c: Container, claimed: str) -> None:
    odd = record_raw_report(
        c, {"category": "sanitation", "description": "odd", "occurred_at": claimed}
    )
    later = report(c, "later")
    c.engine.catch_up()
    assert c.engine.position() == c.service.head()
    live = c.engine.active()
    with c.db.transaction(write=False) as cur:
        cur.execute(
            f"SELECT occurred_at, reported_at FROM gv{live}_issues WHERE id = %s",
            (str(odd),),
        )
        occurred, reported = cur.fetchone()
    assert occurred == reported  # the claimed time is dropped: it counts from its report
    assert str(later) in listed(c)
    assert quarantine.current(c.db, c.engine.active()) == []


def test_an_event_no_view_can_fold_is_set_aside_and_the_views_go_on(c: Container) -> None:
    first = report(c, "first")
    broken = record_raw_report(c, BROKEN)  # a fold raises KeyError
    last = report(c, "last")
    c.engine.catch_up()
    assert c.engine.position() == c.service.head()
    assert {str(first), str(last)} <= set(listed(c))
    aside = quarantine.current(c.db, c.engine.active())
    assert [(q.projection, q.event_id) for q in aside] == [("views", str(broken))]
    assert aside[0].error.startswith("TypeError")
    # A rebuild sets aside the same event, so the live views still equal a rebuild.
    assert rebuild_and_verify(c.engine, c.service.head()) == {}
    generation = c.engine.rebuild(switch=True, grace=0.0)
    again = quarantine.current(c.db, c.engine.active())
    assert [(q.generation, q.event_id) for q in again] == [(generation, str(broken))]


def test_readiness_tells_the_truth_about_set_aside_events_and_stalls(c: Container) -> None:
    record_raw_report(c, BROKEN)
    client = TestClient(create_app(c.services()))
    token = c.tokens.create(AUDITOR)
    c.engine.catch_up()
    ready = client.get("/readyz")
    assert ready.status_code == 200, ready.text  # set aside, but the views keep up
    views = ready.json()["checks"]["views"]
    assert views["ok"] is True and views["lag"] == 0
    assert views["quarantine"]["counts"]["views"] == 1
    assert views["quarantine"]["events"][0]["error"].startswith("TypeError")
    metrics = client.get("/metrics", headers={"Authorization": f"Bearer {token}"}).text
    assert 'gridflow_quarantined_events{projection="views"} 1.0' in metrics
    # Views that lag and do not move are not ready; once they move again, they are.
    report(c, "waiting")
    head = c.service.head()
    t = time.monotonic() + 1000.0  # the check's clock, after /readyz's own look
    assert c.views.readiness(head, now=t)["ok"] is True
    assert c.views.readiness(head, now=t + 29)["ok"] is True
    stalled = c.views.readiness(head, now=t + 31)
    assert stalled["ok"] is False and stalled["lag"] == 1
    c.engine.catch_up()
    assert c.views.readiness(head, now=t + 32)["ok"] is True


def test_the_outbox_sets_aside_what_it_cannot_queue_and_delivers_the_rest(
    c: Container,
) -> None:
    sub = c.outbox.subscribe("admin", "http://example.invalid/hook", "s3cret", {})
    first = report(c, "first")
    issue = c.service.get(first)
    # A comment whose `departments` is not a list: the outbox cannot tell whom it concerns.
    issue.trigger_event(
        Issue.Commented,
        actor=WORKER.as_actor(),
        data={"text": "see the departments", "departments": 5},
        facts={},
        to_state="reported",
        tier=None,
        starts=[],
        ends=[],
        timestamp=c.clock(),
    )
    c.service.app.save(issue)
    last = report(c, "last")
    covers = c.service.org().covers
    c.outbox.catch_up(covers)
    assert c.outbox.position() == c.service.head()
    queued = {d["issue_id"] for d in c.outbox.deliveries(sub["id"])}
    assert queued == {str(first), str(last)}
    aside = [q for q in quarantine.current(c.db, c.engine.active()) if q.projection == "outbox"]
    assert [(q.event_id, q.version) for q in aside] == [(str(first), 2)]


def test_the_command_line_lists_and_retries_set_aside_events(
    c: Container, store_url: str, monkeypatch: pytest.MonkeyPatch, capsys: Any, tmp_path: Path
) -> None:
    broken = record_raw_report(c, BROKEN)
    c.engine.catch_up()
    for name, value in process_env(store_url, tmp_path).items():
        monkeypatch.setenv(name, value)
    assert main(["projections", "quarantine", "list"]) == 0
    out = capsys.readouterr().out
    assert str(broken) in out and "TypeError" in out
    assert main(["projections", "quarantine", "retry"]) == 1  # the code still cannot fold it
    assert "1 left" in capsys.readouterr().out
    # An upgrade that can fold it: a description that is not text is shown as text.
    new = IssueViews._new

    def tolerant(r: Any) -> dict[str, Any]:
        r.data["description"] = str(r.data["description"])
        return new(r)

    monkeypatch.setattr(IssueViews, "_new", staticmethod(tolerant))
    assert main(["projections", "quarantine", "retry"]) == 0
    assert "1 of 1 set-aside event(s) folded; 0 left" in capsys.readouterr().out
    c.engine.catch_up()
    assert quarantine.current(c.db, c.engine.active()) == []
    assert listed(c)[str(broken)]["description"] == "42"
