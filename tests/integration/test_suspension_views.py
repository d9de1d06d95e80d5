"""The views judge a step that ends while suspended as the issue does, on both stores."""

from __future__ import annotations

from datetime import timedelta

from domain.settings import Settings
from gridflow.container import Container
from tests.support import HOUSING, LEADER, ORG, STAFF, WORKER, Clock


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
        clock.advance(days=1)
        issue = c.service.act(i, "summon", STAFF, {"departments": ["police"]}).issue
        due = next(d for d in issue.deadlines if d.key == "hard_resolution").effective_due
        c.engine.catch_up()
        hard = [(str(i), "hard_resolution")]
        assert hard[0] not in c.views.due_deadlines(due - timedelta(seconds=1))
        assert hard[0] in c.views.due_deadlines(due)  # the deadline worker sees it again
    finally:
        c.close()
