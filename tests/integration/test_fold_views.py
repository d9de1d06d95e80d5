"""What each action's fold (domain/summary.py) leaves in the views, as a supervisor sees
it: queues, lists, counts, deadlines and the follow-up board, on a fixed clock from
Monday 23 Nov 2026 09:00 (Shanghai), on both stores. Written for issue 17: each test
pins folds that the scripted day of test_views.py does not reach or does not tell
apart (docs/mutation.md)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any
from uuid import UUID

import pytest

from domain.settings import Settings
from gridflow.container import Container
from projections.queries import ListQuery
from tests.support import AUDITOR, LEADER, ORG, RESIDENT, STAFF, STREET, WORKER, Clock, P


class Day:
    def __init__(self, url: str) -> None:
        self.clock = Clock()
        self.c = Container(Settings(database_url=url), clock=self.clock)
        self.c.service.load_org(ORG)
        self.svc = self.c.service

    def report(self, p: Any = WORKER, **extra: Any) -> UUID:
        body = {"grid_id": "g1", "category": "sanitation", "description": "bins", **extra}
        return self.svc.report(p, body).issue.id

    def act(self, i: UUID, action: str, p: Any, **data: Any) -> None:
        self.svc.act(i, action, p, data)

    def queue(self, p: Any) -> set[str]:
        self.c.engine.catch_up()
        return {
            x["id"] for x in self.c.views.queue(p, ListQuery(limit=500), self.clock.now)["items"]
        }

    def counts(self) -> dict[str, int]:
        self.c.engine.catch_up()
        day = self.clock.now.date()
        out = self.c.views.summary(
            "c1", day - timedelta(days=7), day + timedelta(days=7), self.clock.now
        )
        assert not any(self.c.views.quarantined().values())  # every event folded
        return out["counts"]

    def listed(self, i: UUID) -> dict[str, Any]:
        self.c.engine.catch_up()
        items = self.c.views.issues(AUDITOR, ListQuery(limit=500), self.clock.now)["items"]
        return next(x for x in items if x["id"] == str(i))


@pytest.fixture
def day(store_url: str) -> Iterator[Day]:
    d = Day(store_url)
    yield d
    d.c.close()


def test_a_denied_request_leaves_the_judges_queue_and_is_counted(day: Day) -> None:
    i = day.report()
    day.act(i, "handle_on_spot", WORKER)
    day.act(i, "suspend", WORKER, reason="waiting for access")
    assert str(i) in day.queue(STREET)  # a street officer may decide it
    day.act(i, "deny_suspension", STREET, reason="go and knock")
    assert str(i) not in day.queue(STREET)
    day.act(i, "request_escalation", WORKER, reason="too big for the grid")
    assert str(i) in day.queue(STAFF)  # as may the community's staff
    day.act(i, "deny_escalation", STAFF, reason="a grid matter")
    assert str(i) not in day.queue(STAFF)
    day.act(i, "request_escalation", WORKER, reason="the owners refuse")
    assert str(i) in day.queue(STAFF)
    day.act(i, "approve_escalation", LEADER, lead_party="property company")
    assert (day.listed(i)["state"], day.listed(i)["tier"]) == ("coordinating", "big")
    counts = day.counts()
    assert counts == {
        "reported": 1,
        "triaged": 1,
        "deadline_met:triage": 1,
        "suspension_requests": 1,
        "suspension_denied": 1,
        "escalation_requests": 2,
        "escalation_denied": 1,
        "escalation_approved": 1,
        "deadline_met:escalation_decision": 2,  # each request decided the same minute
    }


def test_a_rejected_appeal_leaves_the_street_s_queue_and_the_rates(day: Day) -> None:
    i = day.report(RESIDENT)
    day.act(i, "handle_on_spot", WORKER)
    day.act(i, "resolve", WORKER, resolution="emptied")
    day.act(i, "verify", LEADER)
    bad = {
        "outcome": "reached",
        "handler_contacted": True,
        "solved": False,
        "satisfaction": "dissatisfied",
        "reason": "still full",
        "via": "phone",
    }
    day.act(i, "record_callback", P("community_staff", "m1", "callback-desk"), **bad)
    day.act(i, "appeal_callback", WORKER, reason="emptied twice since")
    assert str(i) in day.queue(STREET)  # the appeal waits for the street
    day.act(i, "reject_appeal", STREET, reason="the resident is right")
    assert str(i) not in day.queue(STREET)
    counts = day.counts()
    assert counts["cb_dissatisfied"] == 1 and "cb_appeals_upheld" not in counts


DESK = P("intake", "c1", "hotline-12345")


def ticket(no: str) -> dict[str, Any]:
    return {"channel": "hotline", "hotline": {"ticket_no": no}}


def test_a_return_to_the_hotline_waits_for_the_street_and_is_counted(day: Day) -> None:
    i = day.report(DESK, **ticket("T1"))
    assert str(i) not in day.queue(STREET)
    day.act(i, "return_to_hotline", STAFF, reason="the utility's matter")
    assert str(i) in day.queue(STREET)  # the street approves a return (退单)
    day.act(i, "approve_return", STREET)
    assert str(i) not in day.queue(STREET)
    assert day.listed(i)["state"] == "rejected"
    assert day.counts()["hotline_returns"] == 1


def test_a_repeat_complaint_reopens_a_closed_matter_in_the_counts(day: Day) -> None:
    i = day.report(RESIDENT)
    day.act(i, "handle_on_spot", WORKER)
    day.act(i, "resolve", WORKER, resolution="emptied")
    day.act(i, "verify", LEADER)
    day.clock.advance(days=1)  # Tuesday: the ticket comes
    day.act(i, "repeat_complaint", DESK, ticket_no="T7")
    day.c.engine.catch_up()
    assert day.c.views.merged_ticket("T7") == str(i)
    assert day.listed(i)["state"] == "on_spot"
    counts = day.counts()
    assert (counts["reopens"], counts["closed_then_complained"]) == (1, 1)


def test_an_assignee_named_by_the_leader_is_credited_in_the_people_figures(day: Day) -> None:
    i = day.report()
    day.act(i, "handle_on_spot", WORKER)
    day.act(i, "assign", LEADER, principal_id="second-worker")
    day.act(i, "resolve", P("grid_worker", "g1", "second-worker"), resolution="emptied")
    day.act(i, "verify", LEADER)
    assert day.counts()["assignments"] == 1
    week = (day.clock.now.date() - timedelta(days=7), day.clock.now.date() + timedelta(days=7))
    figures = day.c.views.people("c1", *week, day.clock.now)["items"]
    got = {
        f["principal_id"]: (f["settled_on_spot"], f["on_time"]["met"], f["assigned"])
        for f in figures
    }
    # the finder met the triage; the named assignee settled it, within its resolution time
    assert got == {"grid_worker@g1": (0, 1, 0), "second-worker": (1, 1, 1)}
