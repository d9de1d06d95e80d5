"""Suspension (挂起): a paused clock is judged on the due time the pause has moved."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from domain.errors import TransitionNotAllowed
from tests.support import (
    HOUSING,
    LEADER,
    STAFF,
    STREET,
    SYSTEM,
    WORKER,
    Clock,
    make_service,
    report,
)

#: `paused_seconds` is how far the pause moved the due time: in working time, one working
#: day paused moves a due time to the same hour of the next working day
DAY = 24 * 3600.0


def deadline(issue, key):
    return [d for d in issue.deadlines if d.key == key][-1]


def test_a_step_that_ends_while_suspended_is_judged_on_the_due_time_moved_by_the_pause():
    clock = Clock()
    svc = make_service(clock=clock)
    i = report(svc, category="road")  # small resolution: 4h wall clock
    svc.act(i, "handle_on_spot", WORKER)
    due = deadline(svc.get(i), "small_resolution").due_at
    clock.advance(hours=1)
    svc.act(i, "suspend", WORKER, {"reason": "no access to the flat"})
    svc.act(i, "approve_suspension", LEADER)
    clock.advance(hours=5)  # past the original due time, but 5 of those hours were paused
    issue = svc.act(i, "resolve", WORKER, {"resolution": "done once let in"}).issue
    d = deadline(issue, "small_resolution")
    assert d.status == "met"
    assert d.due_at == due  # the original due time stays on record
    assert d.effective_due == due + timedelta(hours=5)


def test_in_working_time_the_pause_so_far_counts_in_working_time():
    clock = Clock()
    svc = make_service(clock=clock)
    i = report(svc)  # sanitation: small resolution 1 working day (Tuesday 09:00)
    svc.act(i, "handle_on_spot", WORKER)
    clock.advance(hours=7)  # Monday 16:00: 1.5 working hours left
    svc.act(i, "suspend", WORKER, {"reason": "waiting for the owner"})
    svc.act(i, "approve_suspension", LEADER)
    clock.advance(days=1, hours=1)  # Tuesday 17:00: due time passed while suspended
    issue = svc.act(i, "resolve", WORKER, {"resolution": "done"}).issue
    assert deadline(issue, "small_resolution").status == "met"
    # The same step without the suspension would have been late:
    j = report(svc)
    svc.act(j, "handle_on_spot", WORKER)
    clock.advance(days=1, hours=1)
    late = svc.act(j, "resolve", WORKER, {"resolution": "done"}).issue
    assert deadline(late, "small_resolution").status == "missed"


def test_a_step_that_ends_while_suspended_after_the_moved_due_time_is_still_missed():
    clock = Clock()
    svc = make_service(clock=clock)
    i = report(svc, category="road")
    svc.act(i, "handle_on_spot", WORKER)
    clock.advance(hours=3)  # one hour left
    svc.act(i, "suspend", WORKER, {"reason": "no access"})
    svc.act(i, "approve_suspension", LEADER)
    clock.advance(hours=2)
    svc.act(i, "resume", WORKER)
    clock.advance(hours=2)  # an hour past the moved due time
    svc.act(i, "suspend", WORKER, {"reason": "no access again"})
    svc.act(i, "approve_suspension", LEADER)
    clock.advance(hours=1)
    issue = svc.act(i, "resolve", WORKER, {"resolution": "done"}).issue
    assert deadline(issue, "small_resolution").status == "missed"


def test_leaving_the_state_while_suspended_lets_the_paused_clock_run_again():
    # Found by the deadline properties: a summon from a suspended joint handling left the
    # hard-resolution clock paused for good (never missed, never resumable).
    clock = Clock()
    svc = make_service(clock=clock)
    i = report(svc)
    svc.act(i, "blow_whistle", STAFF, {"departments": ["housing"]})
    svc.act(i, "report_in", HOUSING)
    due = deadline(svc.get(i), "hard_resolution").due_at
    svc.act(i, "suspend", STAFF, {"reason": "waiting for the owner"})
    svc.act(i, "approve_suspension", STREET)  # a hard matter's verifier approves
    clock.advance(days=1)  # Tuesday 09:00: one working day paused
    before = svc.get(i)
    issue = svc.act(i, "summon", STAFF, {"departments": ["police"]}).issue
    (summon,) = svc.app.events.get(i, gt=before.version)
    assert summon.facts["resumed_clocks"] == {"hard_resolution": DAY}
    d = deadline(issue, "hard_resolution")
    assert issue.state == "whistle_blown" and issue.suspended_since is None
    assert (d.status, d.paused_since) == ("open", None)
    assert d.due_at == due and d.effective_due == due + timedelta(days=1)
    clock.now = d.effective_due
    missed = svc.act(i, "miss_deadline", SYSTEM, {"deadline": "hard_resolution"}).issue
    assert deadline(missed, "hard_resolution").status == "missed"


def test_a_suspension_nobody_approved_pauses_nothing_and_lapses_when_the_issue_moves_on():
    clock = Clock()
    svc = make_service(clock=clock)
    i = report(svc)  # small resolution due Tuesday 09:00
    svc.act(i, "handle_on_spot", WORKER)
    asked = svc.act(i, "suspend", WORKER, {"reason": "no access"}).issue
    assert asked.suspended_since is None
    assert deadline(asked, "small_resolution").paused_since is None
    clock.advance(days=1, hours=1)
    before = svc.get(i)
    done = svc.act(i, "resolve", WORKER, {"resolution": "done"}).issue
    (resolved,) = svc.app.events.get(i, gt=before.version)
    assert "resumed_clocks" not in resolved.facts  # nothing was paused
    assert deadline(done, "small_resolution").status == "missed"
    assert done.requests["suspension"]["status"] == "lapsed"


def test_a_suspension_approved_below_the_street_runs_again_after_10_working_days():
    clock = Clock()
    svc = make_service(clock=clock)
    i = report(svc)
    svc.act(i, "handle_on_spot", WORKER)
    due = deadline(svc.get(i), "small_resolution").due_at
    svc.act(i, "suspend", WORKER, {"reason": "the owner is abroad"})
    svc.act(i, "approve_suspension", LEADER)
    allowance = svc.get(i).open_deadline("suspension_allowance")
    assert allowance is not None
    # Monday 9:00 + 10 working days: Monday 7 December 09:00 Shanghai
    assert allowance.due_at == datetime(2026, 12, 7, 1, 0, tzinfo=UTC)
    clock.now = allowance.due_at
    before = svc.get(i)
    ran_out = svc.act(i, "miss_deadline", SYSTEM, {"deadline": "suspension_allowance"}).issue
    (event,) = svc.app.events.get(i, gt=before.version)
    assert event.facts["resumed"] is True
    # Tuesday 24 November 09:00 moved by 10 working days: Tuesday 8 December (two weekends)
    assert event.facts["paused_seconds"] == {"small_resolution": 14 * DAY}
    assert ran_out.state == "on_spot" and ran_out.suspended_since is None
    d = deadline(ran_out, "small_resolution")
    assert (d.status, d.paused_since, d.due_at) == ("open", None, due)
    # the pause moved the due time by 10 working days: Tuesday 8 December 09:00
    assert d.effective_due == datetime(2026, 12, 8, 1, 0, tzinfo=UTC)
    assert ran_out.followups == []  # not a unit's miss: no follow-up item


def test_a_paused_clock_is_never_missed_while_suspended():
    clock = Clock()
    svc = make_service(clock=clock)
    i = report(svc, category="road")  # 4h wall clock
    svc.act(i, "handle_on_spot", WORKER)
    svc.act(i, "suspend", WORKER, {"reason": "no access"})
    svc.act(i, "approve_suspension", LEADER)
    clock.advance(days=3)
    head = svc.app.recorder.max_notification_id()
    with pytest.raises(TransitionNotAllowed, match="deadline small_resolution is not running"):
        svc.act(i, "miss_deadline", SYSTEM, {"deadline": "small_resolution"})
    assert svc.app.recorder.max_notification_id() == head
    svc.act(i, "resume", WORKER)
    clock.advance(hours=4)  # the 4 hours left run only now
    missed = svc.act(i, "miss_deadline", SYSTEM, {"deadline": "small_resolution"}).issue
    assert (missed.state, deadline(missed, "small_resolution").status) == ("coordinating", "missed")
