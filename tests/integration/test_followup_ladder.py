"""The follow-up ladder (督办) over a scripted month, on both stores and after a
rebuild: a department misses 签收 → an item on it opens at the whistle holder's level →
no reply → it steps up level by level to the city and is listed → a reply and a clear;
the board (GET /supervision/escalations?level=) and the target's queue show each step.
And the exceptions' gaming attempts, each with a hand count."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any
from uuid import UUID

import pytest

from domain.errors import CapReached, SeparationOfDuties, TransitionNotAllowed
from gridflow.container import Container
from gridflow.settings import Settings
from projections.queries import ListQuery
from projections.verify import rebuild_and_verify
from tests.support import HOUSING, LEADER, ORG, STAFF, STREET, SUPERVISOR, WORKER, Clock
from workers.deadlines import DeadlineWorker


class Month:
    def __init__(self, url: str) -> None:
        self.clock = Clock()  # Monday 2026-11-23 09:00, Shanghai
        self.c = Container(Settings(database_url=url), clock=self.clock)
        self.c.service.load_org(ORG)
        self.svc = self.c.service
        self.worker = DeadlineWorker(self.svc, self.c.views)

    def close(self) -> None:
        self.c.close()

    def tick(self, **kw: float) -> int:
        """Time passes; the deadline worker records what fell due."""
        self.clock.advance(**kw)
        self.c.engine.catch_up()
        n = self.worker.run_once()
        self.c.engine.catch_up()
        return n

    def board(self, level: str | None = None) -> list[dict[str, Any]]:
        self.c.engine.catch_up()
        out: list[dict[str, Any]] = self.c.views.escalations("c1", self.clock.now, level)[
            "followups"
        ]
        return out

    def queue(self, who: Any) -> dict[str, dict[str, Any]]:
        self.c.engine.catch_up()
        items = self.c.views.queue(who, ListQuery(limit=100), self.clock.now)["items"]
        return {x["id"]: x for x in items}

    def counts(self, days: int = 31) -> dict[str, int]:
        self.c.engine.catch_up()
        day = date(2026, 11, 23)
        out = self.c.views.summary("c1", day, day + timedelta(days=days), self.clock.now)
        counts: dict[str, int] = out["counts"]
        return counts

    def report(self, p: Any = WORKER, category: str = "sanitation") -> UUID:
        body = {"grid_id": "g1", "category": category, "description": "leaking main"}
        return self.svc.report(p, body).issue.id


@pytest.fixture
def month(store_url: str) -> Any:
    m = Month(store_url)
    yield m
    m.close()


def test_a_missed_acknowledgement_climbs_the_ladder_to_the_city_and_is_cleared(month: Month):
    m = month
    i = m.report(STAFF)
    m.svc.act(i, "blow_whistle", STAFF, {"departments": ["housing"], "grade": "standard"})

    # 签收 due Monday 10:00 (1 working hour): missed → an item on housing at the whistle
    # holder's level (community staff blew it: community)
    assert m.tick(hours=1) == 1
    [item] = m.board()
    assert (item["issue_id"], item["id"], item["target"]) == (str(i), "f1", "housing")
    assert (item["level"], item["reason"]) == (
        "community",
        "deadline_missed:department_acknowledge",
    )
    assert item["status"] == "open" and item["steps"] == ["community"]
    assert item["reply_due_at"] == "2026-11-24T02:00:00.000000Z"  # Tuesday 10:00: 1wd
    assert [x["id"] for x in m.board("community")] == ["f1"] and m.board("street") == []
    queued = m.queue(HOUSING)[str(i)]["followups"]
    assert [(x["id"], x["level"], x["status"]) for x in queued] == [("f1", "community", "open")]

    # no reply by Tuesday 10:00 → the street
    assert m.tick(days=1) == 1
    [item] = m.board("street")
    assert item["steps"] == ["community", "street"] and not item["listed"]
    assert item["reply_due_at"] == "2026-11-25T02:00:00.000000Z"
    assert m.board("community") == []
    assert m.queue(HOUSING)[str(i)]["followups"][0]["level"] == "street"

    # no reply by Wednesday 10:00 → the city, listed (挂牌督办); it climbs no further
    assert m.tick(days=1) == 1
    [item] = m.board("city")
    assert item["steps"] == ["community", "street", "city"] and item["listed"]
    assert item["reply_due_at"] is None
    assert m.tick(days=1) == 1  # Thursday 10:00: the 报到 deadline (3wd), not the item
    assert [x["id"] for x in m.board("city")] == ["f1"]
    assert [x["reason"] for x in m.board("community")] == ["deadline_missed:department_report_in"]

    # nobody clears an item that is not answered; the target replies; the city clears
    with pytest.raises(TransitionNotAllowed):
        m.svc.act(i, "clear_flag", SUPERVISOR, {"flag_id": "f1"})
    m.svc.act(i, "reply_flag", HOUSING, {"flag_id": "f1", "text": "签收 late: on site now"})
    [replied] = [x for x in m.board("city") if x["id"] == "f1"]
    assert replied["status"] == "replied" and replied["replies"][0]["by"] == HOUSING.id
    with pytest.raises(TransitionNotAllowed):  # raised to the city: the street may not clear
        m.svc.act(i, "clear_flag", STREET, {"flag_id": "f1"})
    m.svc.act(i, "clear_flag", SUPERVISOR, {"flag_id": "f1", "note": "answered"})
    assert [x["id"] for x in m.board()] == ["f2"]  # cleared: off the board
    issue = m.svc.get(i)
    f1 = issue.followups[0]
    assert (f1["status"], f1["cleared_by"]) == ("cleared", SUPERVISOR.id)  # stays on record

    # hand count of the month, and the same after a rebuild
    counts = m.counts()
    day = date(2026, 11, 23)
    [housing] = m.c.views.departments(day, day + timedelta(days=31), m.clock.now)["items"]
    assert housing["acknowledge"]["missed"] == 1 and housing["report_in"]["missed"] == 1
    assert counts["deadline_missed:flag_reply"] == 2
    assert counts["followup_open"] == 2  # f1 (签收), f2 (报到)
    assert counts["followup_step"] == 2
    assert counts["followup_reply"] == 1 and counts["followup_clear"] == 1
    assert rebuild_and_verify(m.c.engine, m.svc.head()) == {}


def test_a_repeat_counts_on_the_open_item_and_remind_urges_never_step_up(month: Month):
    m = month
    i = m.report(STAFF)
    m.svc.act(i, "blow_whistle", STAFF, {"departments": ["housing", "water"]})
    # the whistle holder urges the departments it summoned; a remind never steps up
    issue = m.svc.act(i, "urge", STAFF, {"message": "签收 please"}).issue
    assert [(x["target"], x["grade"], x["level"]) for x in issue.followups] == [
        ("housing", "remind", "community"),
        ("water", "remind", "community"),
    ]
    issue = m.svc.act(i, "urge", STAFF, {"message": "again", "target": "water"}).issue
    assert [x["count"] for x in issue.followups] == [1, 2]  # a repeat: one item, counted
    m.tick(days=1, hours=1)
    assert {x["level"] for x in m.board() if x["reason"] == "urge"} == {"community"}
    # a city supervisor's urge of grade `list` opens a listed city item
    issue = m.svc.act(
        i, "urge", SUPERVISOR, {"message": "挂牌", "target": "housing", "grade": "list"}
    ).issue
    assert [x["listed"] for x in issue.followups if x["level"] == "city"] == [True]


# -- exceptions: gaming attempts, each with a hand count ------------------------------


def test_a_self_approved_suspension_does_not_move_the_numbers(month: Month):
    m = month
    i, j = m.report(), m.report()
    for x in (i, j):
        m.svc.act(x, "handle_on_spot", LEADER)  # small resolution: 1 working day
        m.svc.act(x, "suspend", LEADER, {"reason": "waiting for the owner"})
    with pytest.raises(SeparationOfDuties):
        m.svc.act(i, "approve_suspension", LEADER)
    m.svc.act(j, "approve_suspension", STAFF)  # somebody else: the clock pauses
    m.tick(days=3)
    counts = m.counts()
    assert counts["suspension_requests"] == 2 and counts["suspension_approved"] == 1
    # hand count: i's clock ran on and was missed (and escalated); j's is paused
    assert counts["deadline_missed:small_resolution"] == 1
    assert m.svc.get(i).state == "coordinating" and m.svc.get(j).suspended_since is not None


def test_transfer_and_rework_caps_and_escalation_requests_by_hand(month: Month):
    m = month
    t = m.report(STAFF)
    m.svc.act(t, "transfer", LEADER, {"grid_id": "g2", "reason": "theirs"})
    m.svc.act(t, "transfer", STAFF, {"grid_id": "g1", "reason": "no, theirs"})
    with pytest.raises(CapReached):
        m.svc.act(t, "transfer", STAFF, {"grid_id": "g2", "reason": "again"})
    m.svc.act(t, "transfer", STREET, {"grid_id": "g2", "reason": "指定分拨"})

    r = m.report()
    m.svc.act(r, "handle_on_spot", WORKER)
    for _ in range(3):
        m.svc.act(r, "resolve", WORKER, {"resolution": "done"})
        issue = m.svc.act(r, "rework", LEADER, {"reason": "not done"}).issue
    assert (issue.state, issue.tier) == ("coordinating", "big")  # the third raises the tier
    [rework] = [x for x in m.board("city") if x["reason"] == "rework"]
    assert (rework["issue_id"], rework["target"], rework["count"]) == (str(r), "g1", 2)

    a, b, c = m.report(), m.report(), m.report()
    for x in (a, b, c):
        m.svc.act(x, "handle_on_spot", WORKER)
        m.svc.act(x, "request_escalation", WORKER, {"reason": "owners must agree"})
    m.svc.act(a, "approve_escalation", LEADER, {"lead_party": "property"})
    m.svc.act(b, "deny_escalation", STAFF, {"reason": "call the property manager"})
    m.tick(hours=1)  # c undecided for 1 working hour
    [late] = [x for x in m.board("street") if x["reason"] == "deadline_missed:escalation_decision"]
    assert (late["issue_id"], late["target"]) == (str(c), "m1")

    counts = m.counts()
    assert counts["transfers"] == 3  # two free, one binding; the refused one is not counted
    assert counts["reworks"] == 3 and counts["verifications"] == 3
    assert counts["escalation_requests"] == 3
    assert counts["escalation_approved"] == 1 and counts["escalation_denied"] == 1
    assert counts["deadline_missed:escalation_decision"] == 1
    assert rebuild_and_verify(m.c.engine, m.svc.head()) == {}


def test_an_approved_extension_counts_on_time_against_the_extended_due_time(month: Month):
    m = month
    i, j = m.report(category="road"), m.report(category="road")  # 4h wall clock
    for x in (i, j):
        m.svc.act(x, "handle_on_spot", WORKER)
        m.svc.act(x, "request_extension", WORKER, {"reason": "asphalt on order", "extra": "2h"})
    m.svc.act(i, "approve_extension", LEADER)
    m.svc.act(j, "deny_extension", LEADER, {"reason": "patch it today"})
    m.clock.advance(hours=5)  # past the original 4h, within the extended 6h
    for x in (i, j):
        m.svc.act(x, "resolve", WORKER, {"resolution": "patched"})
    counts = m.counts()
    # hand count: i met its extended deadline, j missed its original one
    assert counts["deadline_met:small_resolution"] == 1
    assert counts["deadline_missed:small_resolution"] == 1
    assert counts["extension_requests"] == 2
    assert counts["extension_approved"] == 1 and counts["extension_denied"] == 1
    issue = m.svc.get(i)
    d = [x for x in issue.deadlines if x.key == "small_resolution"][-1]
    assert d.effective_due - d.due_at == timedelta(hours=2)  # the original stays on record
    assert rebuild_and_verify(m.c.engine, m.svc.head()) == {}
