"""The views judge a step that ends while suspended as the issue does, on both stores."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from gridflow.container import Container
from gridflow.settings import Settings
from projections.queries import ListQuery
from tests.support import AUDITOR, HOUSING, LEADER, ORG, STAFF, STREET, WORKER, Clock


def test_a_step_ended_while_suspended_counts_as_on_time_in_the_views(store_url: str) -> None:
    clock = Clock()
    c = Container(Settings(database_url=store_url), clock=clock)
    try:
        c.service.load_org(ORG)
        body = {"grid_id": "g1", "category": "road", "description": "pothole"}  # 4h limit
        i = c.service.report(WORKER, body).issue.id
        c.service.act(i, "handle_on_spot", WORKER)
        clock.advance(hours=1)
        c.service.act(i, "suspend", WORKER, {"reason": "road closed by police"})
        c.service.act(i, "approve_suspension", LEADER, {})
        clock.advance(hours=5)
        c.service.act(i, "resolve", WORKER, {"resolution": "filled"})
        c.engine.catch_up()
        day = clock.now.date()
        out = c.views.summary("c1", day, day + timedelta(days=1), clock.now)
        assert out["counts"].get("deadline_met:small_resolution") == 1
        assert "deadline_missed:small_resolution" not in out["counts"]
        assert out["indicators"]["on_time_rate_by_kind"]["small_resolution"] == 1.0
    finally:
        c.close()


def test_a_clock_paused_when_the_state_changes_runs_again_in_the_views(store_url: str) -> None:
    clock = Clock()
    c = Container(Settings(database_url=store_url), clock=clock)
    try:
        c.service.load_org(ORG)
        body = {"grid_id": "g1", "category": "sanitation", "description": "leak"}
        i = c.service.report(WORKER, body).issue.id
        c.service.act(i, "blow_whistle", STAFF, {"departments": ["housing"]})
        c.service.act(i, "report_in", HOUSING)
        c.service.act(i, "suspend", STAFF, {"reason": "waiting for the owner"})
        c.service.act(i, "approve_suspension", STREET)  # paused from here (issue 14)
        clock.advance(days=1)
        issue = c.service.act(i, "summon", STAFF, {"departments": ["police"]}).issue
        hard_clock = next(d for d in issue.deadlines if d.key == "hard_resolution")
        due, warn = hard_clock.effective_due, hard_clock.warn_at + timedelta(days=1)
        c.engine.catch_up()
        assert due == datetime(2026, 12, 15, 1, 0, tzinfo=UTC)  # paused a day
        hard = [(str(i), "hard_resolution")]
        assert hard[0] not in c.views.due_deadlines(due - timedelta(seconds=1))
        assert hard[0] in c.views.due_deadlines(due)  # the deadline worker sees it again
        warned = {(w["issue_id"], w["key"]) for w in c.views.warnings(warn)}
        assert hard[0] in warned  # its 75% warning moved by the pause too
        earlier = {(w["issue_id"], w["key"]) for w in c.views.warnings(warn - timedelta(seconds=1))}
        assert hard[0] not in earlier
        (listed,) = c.views.issues(AUDITOR, ListQuery(), clock.now)["items"]
        assert listed["next_due_at"] == "2026-11-24T02:00:00.000000Z"  # police's acknowledge
    finally:
        c.close()


def test_the_views_move_a_resumed_clock_by_its_pause(store_url: str) -> None:
    clock = Clock()
    c = Container(Settings(database_url=store_url), clock=clock)
    try:
        c.service.load_org(ORG)
        body = {"grid_id": "g1", "category": "road", "description": "pothole"}  # 4h limit
        i = c.service.report(WORKER, body).issue.id
        c.service.act(i, "handle_on_spot", WORKER)
        clock.advance(hours=1)
        c.service.act(i, "suspend", WORKER, {"reason": "road closed by police"})
        c.service.act(i, "approve_suspension", LEADER)  # the pause runs from the approval
        c.engine.catch_up()
        key = (str(i), "small_resolution")
        assert key not in c.views.due_deadlines(clock.now + timedelta(days=1))  # paused
        clock.advance(hours=5)
        issue = c.service.act(i, "resume", WORKER).issue
        d = next(x for x in issue.deadlines if x.key == "small_resolution")
        assert d.effective_due == d.due_at + timedelta(hours=5)
        c.engine.catch_up()
        assert key not in c.views.due_deadlines(d.effective_due - timedelta(seconds=1))
        assert key in c.views.due_deadlines(d.effective_due)
        warn = d.warn_at + timedelta(hours=5)  # the 75% warning moved too
        warned = {w["issue_id"] for w in c.views.warnings(warn)}
        assert str(i) in warned
        assert str(i) not in {w["issue_id"] for w in c.views.warnings(warn - timedelta(seconds=1))}
        (listed,) = c.views.issues(AUDITOR, ListQuery(), clock.now)["items"]
        assert listed["next_due_at"] == "2026-11-23T10:00:00.000000Z"  # 05:00 + 5 h paused
    finally:
        c.close()


def test_the_views_show_a_transfer_and_a_merge(store_url: str) -> None:
    clock = Clock()
    c = Container(Settings(database_url=store_url), clock=clock)
    try:
        c.service.load_org(ORG)
        body = {"grid_id": "g1", "category": "road", "description": "pothole"}
        i = c.service.report(WORKER, body).issue.id
        j = c.service.report(WORKER, body).issue.id
        c.service.act(i, "transfer", STAFF, {"grid_id": "g2", "reason": "wrong grid"})
        c.service.act(j, "merge", STAFF, {"duplicate_of": str(i)})
        c.engine.catch_up()
        rows = {r["id"]: r for r in c.views.issues(AUDITOR, ListQuery(), clock.now)["items"]}
        assert rows[str(i)]["grid_id"] == "g2" and rows[str(i)]["merged_into"] is None
        assert rows[str(j)]["merged_into"] == str(i) and rows[str(j)]["state"] == "merged"
        day = clock.now.date()
        out = c.views.summary("c1", day, day + timedelta(days=1), clock.now)
        assert out["counts"]["transfers"] == 1
        assert out["indicators"]["transfer_rate"] == 0.5
    finally:
        c.close()
