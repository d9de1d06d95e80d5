"""What each action's fold (domain/summary.py) leaves in the views, as a supervisor sees
it: queues, lists, counts, deadlines and the follow-up board, on a fixed clock from
Monday 23 Nov 2026 09:00 (Shanghai), on both stores. Written for issue 17: each test
pins folds that the scripted day of test_views.py does not reach or does not tell
apart (docs/mutation.md)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from typing import Any
from uuid import UUID

import pytest

from gridflow.container import Container
from gridflow.settings import Settings
from projections.open311 import RequestQuery
from projections.queries import ListQuery
from projections.records import Record, decode
from projections.verify import rebuild_and_verify
from projections.views import IssueViews
from tests.support import (
    AUDITOR,
    HOUSING,
    LEADER,
    ORG,
    RESIDENT,
    STAFF,
    STREET,
    SUPERVISOR,
    WATER,
    WORKER,
    Clock,
    P,
)
from workers.deadlines import DeadlineWorker


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
    # the month's hot spots by category (the report, its valid callback, still dissatisfied)
    day.report()  # another sanitation matter the same day
    day.c.engine.catch_up()
    spots = day.c.views.hotspots("c1", None, day.clock.now)["items"]
    got = [(x["category"], x["reported"], x["valid_callbacks"], x["dissatisfied"]) for x in spots]
    assert got == [("sanitation", 2, 1, 1)]


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
    i = day.report()  # a patrol find
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
    # the reverse comparison counts the ticket on the day it came, against the patrol find
    tue = day.clock.now.date()
    on = {
        d: day.c.views.summary("c1", d, d + timedelta(days=1), day.clock.now)["patrol_misses"]
        for d in (tue - timedelta(days=1), tue)
    }
    assert [(m["hotline"], m["misses"]) for m in on.values()] == [(0, 0), (1, 1)]


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


def test_an_approved_extension_moves_the_due_time_a_denied_one_does_not(day: Day) -> None:
    i, j = day.report(), day.report()
    for x in (i, j):
        day.act(x, "handle_on_spot", WORKER)  # small resolution due Tue 09:00, warned 16:07:30
    assert not {str(i), str(j)} & day.queue(STAFF)
    for x in (i, j):
        day.act(x, "request_extension", WORKER, reason="parts on order", extra="2wd")
    assert {str(i), str(j)} <= day.queue(STAFF)  # a small matter's verifier decides
    day.act(i, "approve_extension", STAFF)
    day.act(j, "deny_extension", STAFF, reason="no")
    assert not {str(i), str(j)} & day.queue(STAFF)
    assert day.listed(i)["next_due_at"] == "2026-11-26T01:00:00.000000Z"  # Thu 09:00
    assert day.listed(j)["next_due_at"] == "2026-11-24T01:00:00.000000Z"
    key = (str(i), "small_resolution")
    due = day.clock.now.replace(year=2026, month=11, day=26, hour=1, minute=0)
    assert key not in day.c.views.due_deadlines(due - timedelta(seconds=1))
    assert key in day.c.views.due_deadlines(due)
    warn = due.replace(day=25, hour=8, minute=7, second=30)  # the 75% warning moved too
    assert str(i) in {w["issue_id"] for w in day.c.views.warnings(warn)}
    assert str(i) not in {w["issue_id"] for w in day.c.views.warnings(warn - timedelta(seconds=1))}
    counts = day.counts()
    assert (counts["extension_requests"], counts["extension_approved"]) == (2, 1)
    assert counts["extension_denied"] == 1


def test_each_miss_is_counted_on_its_due_day_and_never_judged_again(day: Day) -> None:
    """Deadlines missed on Monday, Tuesday and Thursday, recorded by the deadline worker
    on Friday: each counts on the day it fell due (moved by an extension), once."""
    a = day.report()  # small resolution due Tue 09:00, extended by 2 working days
    day.act(a, "handle_on_spot", WORKER)
    day.act(a, "request_extension", WORKER, reason="parts on order", extra="2wd")
    day.act(a, "approve_extension", STAFF)
    b = day.report(RESIDENT)  # closed at once: its callback is due Tue 09:00
    day.act(b, "handle_on_spot", WORKER)
    day.act(b, "resolve", WORKER, resolution="emptied")
    day.act(b, "verify", LEADER)
    w = day.report()  # water acknowledges by Mon 10:00 and reports in by Thu 09:00
    day.act(w, "blow_whistle", STAFF, departments=["water"])
    day.clock.advance(days=4)  # Friday 09:00
    day.c.engine.catch_up()
    DeadlineWorker(day.svc, day.c.views).run_once()
    day.counts()
    mon = day.clock.now.date() - timedelta(days=4)
    counts, acknowledge, report_in = {}, {}, {}
    for n in range(5):
        d = mon + timedelta(days=n)
        counts[d.day] = day.c.views.summary("c1", d, d + timedelta(days=1), day.clock.now)["counts"]
        for x in day.c.views.departments(d, d + timedelta(days=1), day.clock.now)["items"]:
            acknowledge[d.day], report_in[d.day] = (
                x["acknowledge"]["missed"],
                x["report_in"]["missed"],
            )
    missed = {
        n: {k: v for k, v in c.items() if "missed" in k or "cb_" in k} for n, c in counts.items()
    }
    assert missed == {
        23: {},
        # b's round, never called: not contacted, not solved, not satisfied (docs/indicators.md)
        24: {
            "deadline_missed:callback": 1,
            "cb_valid": 1,
            "cb_handler_known": 1,
            "cb_not_called": 1,
        },
        25: {},
        26: {"deadline_missed:small_resolution": 1},  # a's, as extended
        27: {},
    }
    assert (acknowledge, report_in) == ({23: 1, 26: 0}, {23: 0, 26: 1})  # water's
    assert counts[27] == {"followup_open": 4}  # each miss opens a follow-up item (issue 14)
    assert day.c.views.due_deadlines(day.clock.now) == []  # a miss is judged once


def test_a_suspension_past_its_allowance_runs_again_and_is_no_miss(day: Day) -> None:
    i = day.report(category="road")  # small resolution: 4 h, due 13:00
    day.act(i, "handle_on_spot", WORKER)
    day.clock.advance(hours=1)
    day.act(i, "suspend", WORKER, reason="road closed by police")
    assert str(i) in day.queue(STREET)
    day.act(i, "approve_suspension", LEADER)  # paused at 10:00, 3 h left
    assert str(i) not in day.queue(STREET)  # decided
    assert day.counts()["suspension_approved"] == 1
    day.clock.advance(days=21)  # the 10 working days' allowance ran out on 7 Dec
    day.c.engine.catch_up()
    assert DeadlineWorker(day.svc, day.c.views).run_once() == 1
    key = (str(i), "small_resolution")
    # paused three weeks until the allowance's miss was recorded: due three weeks later
    assert day.listed(i)["next_due_at"] == "2026-12-14T05:00:00.000000Z"
    due = day.clock.now.replace(hour=5)
    assert key not in day.c.views.due_deadlines(due - timedelta(seconds=1))
    assert key in day.c.views.due_deadlines(due)
    counts = day.counts()
    assert counts["suspension_allowance_ended"] == 1
    assert not [k for k in counts if k.startswith("deadline_missed")]


def test_the_board_shows_each_summoned_department_s_steps(day: Day) -> None:
    i = day.report(RESIDENT)
    day.clock.advance(minutes=10)
    day.act(i, "blow_whistle", STAFF, departments=["housing", "water"])
    day.clock.advance(minutes=10)
    day.act(i, "acknowledge", HOUSING)
    day.clock.advance(minutes=10)
    day.act(i, "report_in", HOUSING)
    day.act(i, "report_in", WATER)  # reporting in acknowledges too
    day.clock.advance(minutes=10)
    day.act(i, "urge", SUPERVISOR, message="all of you, please")
    day.act(i, "urge", SUPERVISOR, message="again")
    day.c.engine.catch_up()
    (item,) = day.c.views.escalations("c1", day.clock.now)["items"]
    assert item["urges"] == 2
    steps = {
        d["department_id"]: (d["summoned_at"], d["acknowledged_at"], d["reported_in_at"], d["lead"])
        for d in item["departments"]
    }
    assert steps == {
        "housing": (
            "2026-11-23T01:10:00.000000Z",
            "2026-11-23T01:20:00.000000Z",
            "2026-11-23T01:30:00.000000Z",
            True,  # the first named leads
        ),
        "water": (
            "2026-11-23T01:10:00.000000Z",
            "2026-11-23T01:30:00.000000Z",
            "2026-11-23T01:30:00.000000Z",
            False,
        ),
    }
    counts = day.counts()
    assert (counts["triaged"], counts["whistles"]) == (1, 1)  # whistled at triage
    day.act(i, "reply_flag", WATER, text="on site at 15:00")
    day.c.engine.catch_up()
    items = day.c.views.escalations("c1", day.clock.now)["followups"]
    # the urges opened an item on each department, counted twice; water has answered
    assert [(x["target"], x["count"], x["status"], x["replies"]) for x in items] == [
        ("housing", 2, "open", []),
        (
            "water",
            2,
            "replied",
            [
                {
                    "at": "2026-11-23T01:40:00.000000Z",
                    "by": "department_officer@water",
                    "text": "on site at 15:00",
                }
            ],
        ),
    ]
    today = day.clock.now.date()
    summoned = day.c.views.departments(today, today + timedelta(days=1), day.clock.now)["items"]
    assert {d["department_id"]: d["summoned"] for d in summoned} == {"housing": 1, "water": 1}


def test_a_transfer_moves_the_issue_to_the_grid_and_category_given(day: Day) -> None:
    i, j = day.report(), day.report()
    day.act(i, "transfer", STAFF, grid_id="g2", category="road", reason="a road matter")
    day.act(j, "transfer", STAFF, grid_id="g2", reason="wrong grid")  # keeps its category
    assert (day.listed(i)["grid_id"], day.listed(i)["category"]) == ("g2", "road")
    assert (day.listed(j)["grid_id"], day.listed(j)["category"]) == ("g2", "sanitation")
    assert day.counts()["transfers"] == 2


def test_a_clock_extended_then_paused_moves_by_both(day: Day) -> None:
    i = day.report(category="road")  # small resolution: 4 h, due Mon 13:00
    day.act(i, "handle_on_spot", WORKER)
    day.act(i, "request_extension", WORKER, reason="parts on order", extra="2h")
    day.act(i, "approve_extension", LEADER)  # due 15:00
    assert day.listed(i)["next_due_at"] == "2026-11-23T07:00:00.000000Z"
    day.clock.advance(hours=1)
    day.act(i, "suspend", WORKER, reason="road closed by police")
    day.act(i, "approve_suspension", LEADER)
    # paused: the next due time is the suspension allowance's (10 working days)
    assert day.listed(i)["next_due_at"] == "2026-12-07T02:00:00.000000Z"
    day.clock.advance(hours=3)
    day.act(i, "resume", WORKER)  # paused 3 h: due 18:00
    assert day.listed(i)["next_due_at"] == "2026-11-23T10:00:00.000000Z"


def test_the_views_keep_what_the_report_said(day: Day) -> None:
    place = {"address": "幸福路1号", "lat": 37.505, "lon": 122.105}
    long = "rubbish " * 100  # 800 characters: the list keeps the first 500
    picture = "https://example.org/p/1.jpg"
    i = day.report(
        description=long, location=place, occurred_at="2026-11-23T05:00:00+08:00", media_url=picture
    )
    j = day.report(occurred_at="2026-11-23T08:00:00+08:00")  # an hour ago: not late
    assert day.listed(i)["description"] == long[:500]
    (shown,) = day.c.views.open311_requests(AUDITOR, RequestQuery(ids=[str(i)]))
    assert shown["media_url"] == picture
    for x in (i, j):
        day.act(x, "handle_on_spot", WORKER)
        day.act(x, "resolve", WORKER, resolution="emptied")
        day.act(x, "verify", LEADER)
    day.c.engine.catch_up()
    closed = day.c.views.closed_like("sanitation", day.clock.now - timedelta(days=1))
    assert {c["id"]: (c["address"], c["lat"], c["lon"]) for c in closed} == {
        str(i): ("幸福路1号", 37.505, 122.105),
        str(j): (None, None, None),
    }
    today = day.clock.now.date()
    (me,) = day.c.views.people("g1", today, today + timedelta(days=1), day.clock.now)["items"]
    assert (me["found"], me["late_entries"]) == (2, 1)  # i happened 4 h before it was found


def test_a_step_taken_late_counts_as_missed_once_on_its_due_day(day: Day) -> None:
    i = day.report(category="road")  # small resolution: 4 h, due Mon 13:00, warned at 12:00
    day.act(i, "handle_on_spot", WORKER)
    for hours, light in ((2, "green"), (1.5, "yellow"), (1, "red")):  # 11:00, 12:30, 13:30
        day.clock.advance(hours=hours)
        assert day.listed(i)["light"] == light
    day.clock.advance(days=1)
    day.act(i, "resolve", WORKER, resolution="filled")  # Tuesday
    counts = day.counts()
    assert counts["deadline_missed:small_resolution"] == 1
    assert "deadline_met:small_resolution" not in counts
    tue = day.clock.now.date()
    on_tue = day.c.views.summary("c1", tue, tue + timedelta(days=1), day.clock.now)["counts"]
    assert "deadline_missed:small_resolution" not in on_tue  # Monday's


def test_a_matter_complained_about_twice_is_flagged_on_the_board(day: Day) -> None:
    i = day.report(RESIDENT)
    day.act(i, "coordinate", STAFF, lead_party="property company")
    for ticket_no in ("T1", "T2"):
        day.act(i, "resolve", STAFF, resolution="agreed with the owners")
        # a big matter is verified by the community or the street: never by its resolver
        assert str(i) in day.queue(STREET) and str(i) not in day.queue(STAFF)
        day.act(i, "verify", STREET)
        assert day.listed(i)["flagged"] is False
        day.act(i, "repeat_complaint", DESK, ticket_no=ticket_no)
    assert day.listed(i)["flagged"] is True  # the second time (督办)
    day.c.engine.catch_up()
    (item,) = day.c.views.escalations("c1", day.clock.now)["items"]
    assert item["flags"] == ["closed, then complained again (督办)"]


def test_a_request_open_when_the_issue_moves_on_lapses(day: Day) -> None:
    i = day.report()
    day.act(i, "handle_on_spot", WORKER)
    day.act(i, "request_extension", WORKER, reason="parts on order", extra="1wd")
    assert str(i) in day.queue(STAFF)
    day.act(i, "resolve", WORKER, resolution="done after all")
    day.act(i, "rework", LEADER, reason="not done")  # back on the spot
    assert str(i) not in day.queue(STAFF)  # the request lapsed when the issue moved on
    assert day.counts()["extension_requests"] == 1


def test_a_callback_owed_to_a_caller_a_worker_reported_for_counts_when_missed(day: Day) -> None:
    i = day.report(reporter={"name": "Li", "phone": "13800000001"})
    day.act(i, "handle_on_spot", WORKER)
    day.act(i, "resolve", WORKER, resolution="emptied")
    day.act(i, "verify", LEADER)  # callback due Tue 09:00
    day.clock.advance(days=1)
    day.c.engine.catch_up()
    DeadlineWorker(day.svc, day.c.views).run_once()
    counts = day.counts()
    assert (counts["cb_valid"], counts["cb_not_called"]) == (1, 1)


# -- the engine (projections/views.py) ---------------------------------------------------


def test_a_follow_up_item_flags_the_issue_until_it_is_cleared(day: Day) -> None:
    i = day.report()
    day.act(i, "handle_on_spot", WORKER)
    day.act(i, "urge", SUPERVISOR, message="hurry")  # an item on the grid, at city level
    assert day.listed(i)["flagged"] is True
    day.act(i, "reply_flag", WORKER, text="on it")
    assert day.listed(i)["flagged"] is True  # replied, not yet cleared
    day.act(i, "clear_flag", SUPERVISOR)
    assert day.listed(i)["flagged"] is False


def test_the_views_count_by_the_local_day_whatever_the_machines_time_zone(
    store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """07:30 on Monday in Shanghai is still Sunday in UTC (and on a machine set to UTC)."""
    import time as _time

    monkeypatch.setenv("TZ", "UTC")
    _time.tzset()
    d = Day(store_url)
    try:
        d.clock.now -= timedelta(hours=1, minutes=30)  # Monday 07:30 Shanghai
        i = d.report()
        d.act(i, "handle_on_spot", WORKER)
        d.c.engine.catch_up()
        mon = d.clock.now.astimezone(d.c.views.tz).date()
        for when, n in ((mon - timedelta(days=1), 0), (mon, 1)):
            out = d.c.views.summary("c1", when, when + timedelta(days=1), d.clock.now)
            assert (out["counts"].get("reported", 0), sum(out["by_state"].values())) == (n, n)
    finally:
        d.c.close()
        monkeypatch.undo()
        _time.tzset()


def test_events_of_an_issue_the_views_never_saw_reported_are_skipped(day: Day) -> None:
    """As after a report set aside (projections.quarantine): its issue's later events
    fold into nothing, and the rest of their batch folds as ever."""
    a, b = day.report(), day.report()
    for x in (a, b):
        day.act(x, "handle_on_spot", WORKER)
    notes = day.c.tracking.recorder.select_notifications(start=1, limit=1000)
    records = [r for n in notes if (r := decode(n)) is not None]
    kept = [
        r
        for r in records
        if not (isinstance(r, Record) and (r.issue_id, r.action) == (str(a), "report"))
    ]
    views = IssueViews("gvtest_")
    with day.c.db.transaction() as cur:
        views.create(cur)
        views.apply(cur, kept)  # one batch: a's handling comes before b's report
        cur.execute("SELECT id, state FROM gvtest_issues")
        assert dict(cur.fetchall()) == {str(b): "on_spot"}


def test_a_grid_added_while_another_copy_folded_counts_under_its_community(day: Day) -> None:
    """Another process folds the organisation's change (this copy goes on from where it
    got, never seeing the change): a report on the new grid still counts at every node
    above it."""
    day.report()
    day.c.engine.catch_up()  # this copy knows the grids' ancestors now
    twin = Container(Settings(database_url=day.c.settings.database_url), clock=day.clock)
    try:
        org = {
            **ORG,
            "nodes": [
                *ORG["nodes"],
                {"id": "g4", "name": "Grid 4", "kind": "grid", "parent": "m1"},
            ],
        }
        day.svc.load_org(org)
        twin.engine.catch_up()  # the twin folds the new grid
        day.report(STAFF, grid_id="g4")  # the community reports on its new grid
        day.c.engine.catch_up()
        today = day.clock.now.date()
        for node, n in (("g4", 1), ("m1", 2), ("c1", 2)):
            out = day.c.views.summary(node, today, today + timedelta(days=1), day.clock.now)
            assert (out["counts"]["reported"], sum(out["by_state"].values())) == (n, n), node
    finally:
        twin.close()


def test_a_grid_added_by_another_copy_within_one_catch_up_counts_under_its_community(
    day: Day,
) -> None:
    """The same, inside one catch-up: this copy read the grids' ancestors at its first
    batch, another copy folds the change that adds a grid, and this copy's next batch
    reports on it — read again, not kept at the grid alone."""
    day.report()
    org = {
        **ORG,
        "nodes": [*ORG["nodes"], {"id": "g4", "name": "Grid 4", "kind": "grid", "parent": "m1"}],
    }
    day.svc.load_org(org)
    day.report(STAFF, grid_id="g4")
    notes = day.c.tracking.recorder.select_notifications(start=1, limit=1000)
    records = [decode(n) for n in notes]
    first_org = next(i for i, r in enumerate(records) if not isinstance(r, Record))
    change = max(i for i, r in enumerate(records) if not isinstance(r, Record))
    this, other = IssueViews("gvtest_"), IssueViews("gvtest_")
    with day.c.db.transaction() as cur:
        this.create(cur)
        this.apply(cur, records[:change])  # the first organisation, the first report
        other.apply(cur, [records[change]])  # the other copy folds the new grid
        this.apply(cur, [r for r in records[change + 1 :] if isinstance(r, Record)])
        cur.execute("SELECT node_id, n FROM gvtest_facts WHERE metric = 'reported' ORDER BY 1")
        reported = dict(cur.fetchall())
    assert first_org < change
    assert (reported["g4"], reported["m1"], reported["c1"]) == (1, 2, 2)


def test_the_time_an_issue_closed_and_its_next_due_time_in_the_lists(day: Day) -> None:
    i = day.report(RESIDENT)
    day.act(i, "handle_on_spot", WORKER)
    day.act(i, "resolve", WORKER, resolution="emptied")
    day.clock.advance(minutes=10)
    day.act(i, "verify", LEADER)  # closed at 09:10; its callback due Tue 09:10
    day.clock.advance(minutes=10)
    day.act(i, "comment", STAFF, text="noted")  # still closed: since 09:10
    j = day.report()
    day.act(j, "reject", LEADER, reason="not a grid matter")  # at 09:20
    k = day.report(RESIDENT)
    day.act(k, "handle_on_spot", WORKER)
    day.act(k, "resolve", WORKER, resolution="emptied")
    day.act(k, "verify", LEADER)
    bad = {"outcome": "reached", "handler_contacted": True, "solved": False}
    bad |= {"satisfaction": "dissatisfied", "reason": "still full", "via": "phone"}
    day.act(k, "record_callback", P("community_staff", "m1", "callback-desk"), **bad)  # reopens
    day.c.engine.catch_up()
    closed = {
        r["id"]: r["closed_at"] for r in day.c.views.open311_requests(AUDITOR, RequestQuery())
    }
    assert closed == {
        str(i): "2026-11-23T01:10:00.000000Z",
        str(j): "2026-11-23T01:20:00.000000Z",
        str(k): None,
    }
    # a closed issue still owes its callback; a rejected one owes nothing
    assert day.listed(i)["next_due_at"] == "2026-11-24T01:10:00.000000Z"
    assert (day.listed(j)["next_due_at"], day.listed(j)["light"]) == (None, None)


def test_counts_taken_back_to_zero_across_batches_leave_no_row(store_url: str) -> None:
    """A replaced callback takes its first answer's counts back (tally): folded one event
    at a time, the views hold the same rows as a rebuild that folds the log at once."""
    d = Day(store_url)
    d.c.engine.batch = 1
    try:
        i = d.report(RESIDENT)
        d.act(i, "handle_on_spot", WORKER)
        d.act(i, "resolve", WORKER, resolution="emptied")
        d.act(i, "verify", LEADER)
        first = {"outcome": "reached", "handler_contacted": True, "solved": True}
        first |= {"satisfaction": "satisfied", "via": "phone"}
        d.act(i, "record_callback", P("community_staff", "m1", "callback-desk"), **first)
        d.c.engine.catch_up()
        again = {
            **first,
            "satisfaction": "basically_satisfied",
            "replaces_reason": "asked a neighbour",
        }
        d.act(i, "record_callback", STREET, **again)
        counts = d.counts()
        assert ("cb_satisfied" in counts, counts["cb_basically_satisfied"]) == (False, 1)
        d.c.engine.batch = 10_000
        assert rebuild_and_verify(d.c.engine, d.svc.head()) == {}
    finally:
        d.c.close()


def test_counts_of_a_grid_the_views_hold_no_organisation_for_stay_at_the_grid(day: Day) -> None:
    """Folded without the organisation (its change not folded by this copy): the counts
    and states are kept at the grid itself, not lost."""
    day.report()
    notes = day.c.tracking.recorder.select_notifications(start=1, limit=1000)
    records = [r for n in notes if isinstance(r := decode(n), Record)]
    views = IssueViews("gvtest_")
    with day.c.db.transaction() as cur:
        views.create(cur)
        views.apply(cur, records)
        cur.execute("SELECT node_id, metric, n FROM gvtest_facts WHERE metric = 'reported'")
        assert cur.fetchall() == [("g1", "reported", 1)]
        cur.execute("SELECT node_id, state, n FROM gvtest_state_counts")
        assert cur.fetchall() == [("g1", "reported", 1)]


def test_a_batch_of_more_issues_than_one_read_holds_folds_every_one(day: Day) -> None:
    """The views read a batch's issues 500 at a time: 1,001 issues handled in one batch
    all move on."""
    i = day.report()
    day.act(i, "handle_on_spot", WORKER)
    notes = day.c.tracking.recorder.select_notifications(start=1, limit=1000)
    org, reported, handled = [decode(n) for n in notes if decode(n) is not None]
    assert isinstance(reported, Record) and isinstance(handled, Record)
    ids = [str(UUID(int=n)) for n in range(1, 1002)]
    views = IssueViews("gvtest_")
    with day.c.db.transaction() as cur:
        views.create(cur)
        views.apply(cur, [org, *(replace(reported, issue_id=x) for x in ids)])
        views.apply(cur, [replace(handled, issue_id=x) for x in ids])
        cur.execute("SELECT state, COUNT(*) FROM gvtest_issues GROUP BY state")
        assert cur.fetchall() == [("on_spot", 1001)]


def test_a_ticket_is_listed_under_the_catalogue_s_category_not_the_hotline_s(day: Day) -> None:
    names = {"sanitation": ["垃圾暴露"], "road": ["道路破损"]}
    categories = [{**c, "hotline_names": names[c["code"]]} for c in ORG["categories"]]
    day.svc.load_org({**ORG, "categories": categories})
    i = day.report(DESK, category="道路破损", **ticket("T5"))
    assert day.listed(i)["category"] == "road"


def test_a_step_on_an_extended_clock_counts_on_its_moved_due_day(day: Day) -> None:
    """Met on time counts on the day the clock fell due: extended (k: Tue 09:00 + 1
    working day), or extended and paused when the step ended while suspended (i: Mon
    13:00 + 1 day extended + the 2 days paused until it was resolved)."""
    k = day.report()
    day.act(k, "handle_on_spot", WORKER)
    day.act(k, "request_extension", WORKER, reason="parts on order", extra="1wd")
    day.act(k, "approve_extension", LEADER)
    day.act(k, "resolve", WORKER, resolution="emptied")
    i = day.report(category="road")  # 4 h: due Mon 13:00
    day.act(i, "handle_on_spot", WORKER)
    day.act(i, "request_extension", WORKER, reason="parts on order", extra="1wd")
    day.act(i, "approve_extension", LEADER)
    day.clock.advance(hours=1)
    day.act(i, "suspend", WORKER, reason="road closed by police")
    day.act(i, "approve_suspension", LEADER)
    day.clock.advance(days=2)
    day.act(i, "resolve", WORKER, resolution="filled")  # Wed 10:00, still suspended
    day.counts()
    mon = day.clock.now.date() - timedelta(days=2)
    met = {}
    for n in range(5):
        d = mon + timedelta(days=n)
        out = day.c.views.summary("c1", d, d + timedelta(days=1), day.clock.now)["counts"]
        met[d.day] = out.get("deadline_met:small_resolution", 0)
    assert met == {23: 0, 24: 0, 25: 1, 26: 1, 27: 0}


def test_the_reverse_comparison_sees_a_patrol_find_settled_or_left_overdue(day: Day) -> None:
    """Two patrol finds at one address: the rubbish left overdue (its resolution due Tue),
    the pothole resolved at once. Wednesday's tickets about both: one miss, found and not
    handled; the pothole's ticket is matched by a settled find."""
    place = {"address": "幸福路1号"}
    left = day.report(location=place)
    day.act(left, "handle_on_spot", WORKER)
    settled = day.report(category="road", location=place)
    day.act(settled, "handle_on_spot", WORKER)
    day.act(settled, "resolve", WORKER, resolution="filled")
    day.clock.advance(days=2)
    for n, category in enumerate(("sanitation", "road")):
        day.report(DESK, category=category, location=place, **ticket(f"T{n}"))
    day.c.engine.catch_up()
    wed = day.clock.now.date()
    (got,) = day.c.views.patrol_misses("g1", wed, wed + timedelta(days=1), day.clock.now)["items"]
    assert (got["hotline"], got["matched"], got["misses"]) == (2, 1, 1)
    assert [(m["kind"], m["patrol_id"]) for m in got["miss_details"]] == [
        ("found_not_handled", str(left))
    ]


def test_two_extensions_of_one_clock_add_up(day: Day) -> None:
    works = {"code": "works", "name": "Engineering works", "limits": {}, "engineering": True}
    day.svc.load_org({**ORG, "categories": [*ORG["categories"], works]})  # extended twice
    i = day.report(category="works")  # small resolution due Tue 09:00
    day.act(i, "handle_on_spot", WORKER)
    for _ in range(2):
        day.act(i, "request_extension", WORKER, reason="parts on order", extra="1wd")
        day.act(i, "approve_extension", STAFF)
    assert day.listed(i)["next_due_at"] == "2026-11-26T01:00:00.000000Z"  # Thu 09:00


def test_a_suspension_recorded_before_requests_existed_pauses_at_once(day: Day) -> None:
    """Before issue 14 a suspension paused its clocks at once (`paused` in its facts, no
    request): the previous release's logs still hold such events."""
    i = day.report()
    day.act(i, "handle_on_spot", WORKER)
    day.act(i, "suspend", WORKER, reason="waiting for access")
    notes = day.c.tracking.recorder.select_notifications(start=1, limit=1000)
    records = [r for n in notes if (r := decode(n)) is not None]
    old = [
        replace(r, facts={"paused": ["small_resolution"]})
        if isinstance(r, Record) and r.action == "suspend"
        else r
        for r in records
    ]
    views = IssueViews("gvtest_")
    with day.c.db.transaction() as cur:
        views.create(cur)
        views.apply(cur, old)
        cur.execute("SELECT dkey, paused FROM gvtest_open_deadlines")
        assert dict(cur.fetchall()) == {"small_resolution": 1}
        cur.execute("SELECT COUNT(*) FROM gvtest_issue_requests")
        assert cur.fetchall() == [(0,)]  # nothing was asked


def test_a_callback_judged_in_the_next_month_counts_in_the_month_it_fell_due(day: Day) -> None:
    day.clock.advance(days=4)  # Friday 27 November
    i = day.report(RESIDENT)
    day.act(i, "handle_on_spot", WORKER)
    day.act(i, "resolve", WORKER, resolution="emptied")
    day.act(i, "verify", LEADER)  # its callback is due Monday 30 November, 09:00
    day.clock.advance(days=4)  # judged on Tuesday 1 December
    day.c.engine.catch_up()
    DeadlineWorker(day.svc, day.c.views).run_once()
    day.c.engine.catch_up()
    valid = {
        month: [
            x["valid_callbacks"] for x in day.c.views.hotspots("c1", month, day.clock.now)["items"]
        ]
        for month in ("2026-11", "2026-12")
    }
    assert valid == {"2026-11": [1], "2026-12": [0]}


def test_hot_spots_count_only_their_own_figures(day: Day) -> None:
    """A matter reported in September and handled in November: November's hot spots (and
    October's, its month before) have nothing of it."""
    day.clock.now -= timedelta(days=83)  # 1 September
    i = day.report()
    day.clock.advance(days=83)
    day.act(i, "handle_on_spot", WORKER)
    day.c.engine.catch_up()
    assert day.c.views.hotspots("c1", "2026-11", day.clock.now)["items"] == []
