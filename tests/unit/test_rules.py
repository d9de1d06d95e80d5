"""The workflow's rules beyond the table: given events, when a command, then what."""

from __future__ import annotations

from datetime import timedelta

import pytest

from domain.errors import (
    ForbiddenRole,
    ResolverCannotVerify,
    TransitionNotAllowed,
    ValidationFailed,
)
from tests.support import (
    HOUSING,
    LEADER,
    POLICE,
    RESIDENT,
    STAFF,
    STREET,
    SUPERVISOR,
    SYSTEM,
    WATER,
    WORKER,
    Clock,
    P,
    make_service,
    report,
)


def deadline(issue, key):
    return [d for d in issue.deadlines if d.key == key][-1]


def test_the_last_department_to_report_in_starts_joint_handling():
    svc = make_service()
    i = report(svc)
    svc.act(i, "blow_whistle", STAFF, {"departments": ["housing", "water"], "grade": "urgent"})
    svc.act(i, "acknowledge", HOUSING)
    assert svc.act(i, "report_in", HOUSING).issue.state == "whistle_blown"
    issue = svc.act(i, "report_in", WATER).issue
    assert issue.state == "joint_handling"
    assert issue.departments["water"]["acknowledged_at"] is not None  # reporting in signs too
    assert deadline(issue, "department_report_in:water").status == "met"


def test_urgent_whistles_give_departments_thirty_wall_clock_minutes():
    clock = Clock()
    svc = make_service(clock=clock)
    i = report(svc)
    issue = svc.act(i, "blow_whistle", STAFF, {"departments": ["water"], "grade": "urgent"}).issue
    for kind in ("department_acknowledge:water", "department_report_in:water"):
        assert deadline(issue, kind).due_at == clock.now + timedelta(minutes=30)
    standard = svc.act(report(svc), "blow_whistle", STAFF, {"departments": ["water"]}).issue
    # 3 working days after Monday 09:00 is Thursday 09:00.
    assert deadline(standard, "department_report_in:water").due_at == clock.now + timedelta(days=3)


def test_a_department_reports_in_once():
    svc = make_service()
    i = report(svc)
    svc.act(i, "blow_whistle", STAFF, {"departments": ["housing", "water"]})
    svc.act(i, "report_in", HOUSING)
    with pytest.raises(TransitionNotAllowed, match="already reported in"):
        svc.act(i, "report_in", HOUSING)


def test_releasing_the_last_pending_department_starts_joint_handling():
    svc = make_service()
    i = report(svc)
    svc.act(i, "blow_whistle", STAFF, {"departments": ["housing", "water", "police"]})
    svc.act(i, "report_in", HOUSING)
    with pytest.raises(ValidationFailed) as err:
        svc.act(i, "release", STREET, {"department_id": "housing", "reason": "reported in"})
    assert err.value.fields == {"department_id": "this department has already reported in"}
    issue = svc.act(i, "release", STREET, {"department_id": "water", "reason": "excused"}).issue
    assert issue.state == "whistle_blown"
    assert deadline(issue, "department_report_in:water").status == "cancelled"
    issue = svc.act(i, "release", STREET, {"department_id": "police", "reason": "excused"}).issue
    assert issue.state == "joint_handling"


def test_summoning_more_departments_goes_back_to_waiting_for_them():
    svc = make_service()
    i = report(svc)
    svc.act(i, "blow_whistle", STAFF, {"departments": ["housing"]})
    svc.act(i, "report_in", HOUSING)
    assert svc.act(i, "summon", STAFF, {"departments": ["police"]}).issue.state == "whistle_blown"
    with pytest.raises(ValidationFailed) as err:
        svc.act(i, "summon", STAFF, {"departments": ["police"]})
    assert err.value.fields == {"departments.0": "already summoned"}
    assert svc.act(i, "report_in", POLICE).issue.state == "joint_handling"


def test_unknown_departments_are_refused_with_the_field():
    svc = make_service()
    with pytest.raises(ValidationFailed) as err:
        svc.act(report(svc), "blow_whistle", STAFF, {"departments": ["water", "nope"]})
    assert "departments.1" in err.value.fields


def test_whoever_resolved_never_verifies():
    svc = make_service()
    i = report(svc)
    svc.act(i, "handle_on_spot", LEADER)
    svc.act(i, "resolve", LEADER, {"resolution": "done"})
    with pytest.raises(ResolverCannotVerify):
        svc.act(i, "verify", LEADER)
    with pytest.raises(ResolverCannotVerify):
        svc.act(i, "rework", LEADER, {"reason": "self-check"})
    assert svc.act(i, "verify", STAFF).issue.state == "closed"


def test_rework_starts_a_fresh_resolution_clock_and_keeps_the_old_one():
    clock = Clock()
    svc = make_service(clock=clock)
    i = report(svc)
    svc.act(i, "handle_on_spot", WORKER)
    svc.act(i, "resolve", WORKER, {"resolution": "done"})
    clock.advance(hours=1)
    issue = svc.act(i, "rework", LEADER, {"reason": "still there"}).issue
    assert issue.state == "on_spot"
    small = [d for d in issue.deadlines if d.kind == "small_resolution"]
    assert [d.status for d in small] == ["met", "open"]
    assert small[1].started_at == clock.now


def closed_small(svc):
    i = report(svc, RESIDENT)
    svc.act(i, "handle_on_spot", WORKER)
    svc.act(i, "resolve", WORKER, {"resolution": "done"})
    svc.act(i, "verify", LEADER)
    return i


DISSATISFIED = {"contacted": True, "solved": False, "satisfaction": "dissatisfied"}


def test_a_dissatisfied_callback_reopens_and_a_second_raises_a_small_matter_to_big():
    svc = make_service()
    i = closed_small(svc)
    assert svc.act(i, "record_callback", RESIDENT, DISSATISFIED).issue.state == "on_spot"
    svc.act(i, "resolve", WORKER, {"resolution": "done again"})
    svc.act(i, "verify", LEADER)
    issue = svc.act(i, "record_callback", STAFF, DISSATISFIED).issue
    assert (issue.state, issue.tier) == ("coordinating", "big")
    # spec/followup.md: a second dissatisfied callback opens a city item at once, any tier
    [item] = issue.followups
    assert (item["level"], item["reason"], item["target"]) == ("city", "dissatisfied", "g1")


def test_a_second_dissatisfied_callback_on_a_big_matter_flags_it_for_city_follow_up():
    svc = make_service()
    i = report(svc, RESIDENT)
    svc.act(i, "coordinate", STAFF, {"lead_party": "property company"})
    for _ in range(2):
        svc.act(i, "resolve", STAFF, {"resolution": "done"})
        svc.act(i, "verify", STREET)
        issue = svc.act(i, "record_callback", RESIDENT, DISSATISFIED).issue
    assert (issue.state, issue.tier) == ("coordinating", "big")
    [item] = issue.followups  # a city follow-up item (督办件) on the community
    assert (item["level"], item["reason"], item["target"]) == ("city", "dissatisfied", "m1")
    assert item["status"] == "open" and issue.open_deadline("flag_reply:f1") is not None


def test_a_callback_that_reached_nobody_keeps_its_clock_running():
    svc = make_service()
    i = closed_small(svc)
    issue = svc.act(i, "record_callback", STAFF, {"contacted": False}).issue
    assert deadline(issue, "callback").status == "open"
    with pytest.raises(ValidationFailed) as err:
        svc.act(i, "record_callback", STAFF, {"contacted": True})
    assert err.value.fields == {
        "body": "Value error, a callback that reached the resident records solved and satisfaction"
    }


def test_merge_attaches_the_duplicate_to_its_target_in_one_transaction():
    svc = make_service()
    target, dup = report(svc), report(svc, RESIDENT)
    head = svc.app.recorder.max_notification_id()
    result = svc.act(dup, "merge", LEADER, {"duplicate_of": str(target)})
    assert result.issue.state == "merged" and result.issue.merged_into == str(target)
    assert svc.get(target).duplicates == [str(dup)]
    assert result.position == head + 2
    with pytest.raises(ValidationFailed) as err:
        svc.act(report(svc), "merge", LEADER, {"duplicate_of": str(dup)})  # merged: not open
    assert err.value.fields == {"duplicate_of": "that issue is merged, not open"}


def test_transfer_moves_the_issue_and_keeps_the_triage_clock():
    clock = Clock()
    svc = make_service(clock=clock)
    i = report(svc)
    due = deadline(svc.get(i), "triage").due_at
    clock.advance(minutes=30)
    issue = svc.act(i, "transfer", STAFF, {"grid_id": "g2", "reason": "wrong grid"}).issue
    assert (issue.grid_id, issue.original_grid_id) == ("g2", "g1")
    assert deadline(issue, "triage").due_at == due
    with pytest.raises(ValidationFailed) as err:
        svc.act(i, "transfer", STAFF, {"grid_id": "m1", "reason": "not a grid"})
    assert err.value.fields == {"grid_id": "no grid 'm1'"}


def test_suspension_pauses_the_resolution_clock_and_shows_the_paused_time():
    clock = Clock()
    svc = make_service(clock=clock)
    i = report(svc, category="road")  # small resolution limit: 4h wall clock
    svc.act(i, "handle_on_spot", WORKER)
    due = deadline(svc.get(i), "small_resolution").due_at
    clock.advance(hours=1)
    svc.act(i, "suspend", WORKER, {"reason": "no access"})
    svc.act(i, "approve_suspension", LEADER, {})
    assert deadline(svc.get(i), "small_resolution").status == "paused"
    clock.advance(hours=5)  # past the original due time, but paused
    with pytest.raises(TransitionNotAllowed):
        svc.act(i, "miss_deadline", SYSTEM, {"deadline": "small_resolution"})
    issue = svc.act(i, "resume", WORKER).issue
    d = deadline(issue, "small_resolution")
    assert d.due_at == due  # the original deadline never moves
    assert d.paused_seconds == 5 * 3600
    assert d.effective_due == due + timedelta(hours=5)


def test_a_missed_small_resolution_is_recorded_once_and_escalates_to_big():
    clock = Clock()
    svc = make_service(clock=clock)
    i = report(svc, category="road")
    svc.act(i, "handle_on_spot", WORKER)
    clock.advance(hours=3)
    with pytest.raises(TransitionNotAllowed, match="not yet due"):
        svc.act(i, "miss_deadline", SYSTEM, {"deadline": "small_resolution"})
    clock.advance(hours=1)
    issue = svc.act(i, "miss_deadline", SYSTEM, {"deadline": "small_resolution"}).issue
    assert (issue.state, issue.tier) == ("coordinating", "big")
    assert deadline(issue, "small_resolution").status == "missed"
    with pytest.raises(TransitionNotAllowed):
        svc.act(i, "miss_deadline", SYSTEM, {"deadline": "small_resolution"})


def test_only_the_system_records_missed_deadlines():
    svc = make_service()
    with pytest.raises(ForbiddenRole, match="may not"):
        svc.act(report(svc), "miss_deadline", SUPERVISOR, {"deadline": "triage"})


def test_auditors_change_nothing_but_see_everything():
    svc = make_service()
    i = report(svc)
    auditor = P("auditor", "c1")
    assert svc.get(i, auditor).state == "reported"
    assert svc.allowed_actions(svc.get(i), auditor) == []


def test_coordinates_in_gcj02_are_converted_and_resolve_to_the_grid():
    svc = make_service()
    from coordTransform import wgs84_to_gcj02

    lon, lat = wgs84_to_gcj02(122.105, 37.505)
    body = {
        "category": "road",
        "description": "pothole",
        "location": {"lat": lat, "lon": lon, "crs": "gcj02"},
    }
    issue = svc.report(WORKER, body).issue
    assert issue.grid_id == "g1"
    assert issue.location["lat"] == pytest.approx(37.505, abs=1e-5)
    with pytest.raises(ValidationFailed) as err:
        svc.report(WORKER, {**body, "location": {"lat": 30.0, "lon": 120.0}})
    assert "location" in err.value.fields


def test_bad_data_lists_every_field():
    svc = make_service()
    with pytest.raises(ValidationFailed) as err:
        svc.report(WORKER, {"grid_id": "g1", "description": "", "surprise": 1})
    assert {"category", "description", "surprise"} <= set(err.value.fields)
