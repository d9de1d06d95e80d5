"""The follow-up ladder's rules (spec/followup.md): which miss opens which item where,
the new clocks in working time, and who answers and clears."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from domain.errors import Forbidden, TransitionNotAllowed, ValidationFailed
from tests.support import (
    HOUSING,
    LEADER,
    MONDAY_9,
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

P_STAFF_M1_OTHER = P("community_staff", "m1", "another-secretary")


def miss(svc: Any, clock: Clock, i: Any, key: str) -> dict[str, Any]:
    """Let `key` fall due and record its miss; the item it opened or touched."""
    due = svc.get(i).open_deadline(key).effective_due
    clock.now = max(clock.now, due)
    issue = svc.act(i, "miss_deadline", SYSTEM, {"deadline": key}).issue
    return max(issue.followups, key=lambda it: it["last_at"])


def item_of(it: dict[str, Any]) -> tuple[str, str, str]:
    return it["target"], it["level"], it["reason"]


def test_each_missed_deadline_opens_an_item_where_the_spec_says():
    clock = Clock()
    svc = make_service(clock=clock)
    small = report(svc)  # grid g1, community m1, street s1
    assert item_of(miss(svc, clock, small, "triage")) == (
        "g1",
        "community",
        "deadline_missed:triage",
    )
    svc.act(small, "handle_on_spot", WORKER)
    assert item_of(miss(svc, clock, small, "small_resolution"))[:2] == ("g1", "community")
    # (the miss escalated it: big now) → the community answers to the street
    assert item_of(miss(svc, clock, small, "big_resolution"))[:2] == ("m1", "street")

    clock.now = MONDAY_9  # each issue from the month's first Monday
    verify_small = report(svc)
    svc.act(verify_small, "handle_on_spot", WORKER)
    svc.act(verify_small, "resolve", WORKER, {"resolution": "done"})
    assert item_of(miss(svc, clock, verify_small, "verification"))[:2] == ("m1", "street")

    clock.now = MONDAY_9  # each issue from the month's first Monday
    by_staff = report(svc, STAFF)
    svc.act(by_staff, "blow_whistle", STAFF, {"departments": ["housing"]})
    assert item_of(miss(svc, clock, by_staff, "department_acknowledge:housing"))[:2] == (
        "housing",
        "community",
    )
    assert item_of(miss(svc, clock, by_staff, "hard_resolution"))[:2] == ("m1", "street")

    clock.now = MONDAY_9  # each issue from the month's first Monday
    by_street = report(svc, STAFF)
    svc.act(by_street, "blow_whistle", STREET, {"departments": ["water"]})
    assert item_of(miss(svc, clock, by_street, "department_report_in:water"))[:2] == (
        "water",
        "street",
    )
    assert item_of(miss(svc, clock, by_street, "hard_resolution"))[:2] == ("s1", "city")
    svc.act(by_street, "report_in", WATER, {})
    svc.act(by_street, "resolve", WATER, {"resolution": "valve replaced"})
    assert item_of(miss(svc, clock, by_street, "verification"))[:2] == ("s1", "city")


def test_a_repeat_counts_on_the_open_item():
    clock = Clock()
    svc = make_service(clock=clock)
    i = report(svc)
    svc.act(i, "coordinate", STAFF, {"lead_party": "property"})
    miss(svc, clock, i, "big_resolution")
    svc.act(i, "resolve", STAFF, {"resolution": "done"})
    svc.act(i, "rework", STREET, {"reason": "not done"})
    item = miss(svc, clock, i, "big_resolution")  # the new clock, missed again
    assert (item["count"], item["id"]) == (2, "f1")
    assert len(svc.get(i).followups) == 1


def test_the_new_clocks_run_in_working_time():
    # Friday 2026-11-27 16:00 Shanghai: one working day later is Monday 16:00
    friday_4pm = datetime(2026, 11, 27, 8, 0, tzinfo=UTC)
    clock = Clock(friday_4pm - timedelta(hours=2))
    svc = make_service(clock=clock)
    i = report(svc, STAFF)  # Friday 14:00; triage 2wh → Friday 16:00
    item = miss(svc, clock, i, "triage")
    assert clock.now == friday_4pm
    reply = svc.get(i).open_deadline(f"flag_reply:{item['id']}")
    assert reply.due_at == datetime(2026, 11, 30, 8, 0, tzinfo=UTC)  # Monday 16:00
    # an escalation asked at 11:30 is decided within 1 working hour: by 14:00, after lunch
    clock.now = datetime(2026, 11, 30, 3, 30, tzinfo=UTC)
    j = report(svc)
    svc.act(j, "handle_on_spot", WORKER)
    issue = svc.act(j, "request_escalation", WORKER, {"reason": "too big"}).issue
    decision = issue.open_deadline("escalation_decision")
    assert decision.due_at == datetime(2026, 11, 30, 6, 0, tzinfo=UTC)


def test_only_the_target_replies_and_only_an_answered_item_is_cleared():
    clock = Clock()
    svc = make_service(clock=clock)
    i = report(svc, STAFF)
    svc.act(i, "blow_whistle", STAFF, {"departments": ["housing", "water"]})
    miss(svc, clock, i, "department_acknowledge:housing")
    with pytest.raises(TransitionNotAllowed):  # no item aimed at water
        svc.act(i, "reply_flag", WATER, {"text": "not ours"})
    with pytest.raises(TransitionNotAllowed):
        svc.act(i, "clear_flag", STAFF, {})
    issue = svc.act(i, "reply_flag", HOUSING, {"text": "acknowledged"}).issue  # no flag_id
    assert issue.followups[0]["status"] == "replied"
    assert issue.open_deadline("flag_reply:f1") is None
    with pytest.raises(ValidationFailed):
        svc.act(i, "clear_flag", STAFF, {"flag_id": "f9"})
    issue = svc.act(i, "clear_flag", STAFF, {"note": "checked"}).issue
    assert issue.followups[0]["status"] == "cleared"


def test_urges_name_a_target_with_a_part_in_the_issue():
    svc = make_service()
    i = report(svc, STAFF)
    svc.act(i, "blow_whistle", STAFF, {"departments": ["housing"]})
    with pytest.raises(ValidationFailed):
        svc.act(i, "urge", SUPERVISOR, {"message": "x", "target": "police"})
    with pytest.raises(ValidationFailed):  # the whistle holder urges departments only
        svc.act(i, "urge", STAFF, {"message": "x", "target": "g1"})
    other = P_STAFF_M1_OTHER
    with pytest.raises(TransitionNotAllowed):  # not the whistle holder
        svc.act(i, "urge", other, {"message": "x"})
    issue = svc.act(i, "urge", STREET, {"message": "grid, help", "target": "g1"}).issue
    assert item_of(issue.followups[0]) == ("g1", "street", "urge")
    assert issue.followups[0]["grade"] == "remind"


def test_a_reply_to_an_item_not_yours_is_forbidden():
    clock = Clock()
    svc = make_service(clock=clock)
    i = report(svc, STAFF)
    svc.act(i, "blow_whistle", STAFF, {"departments": ["housing", "water"]})
    miss(svc, clock, i, "department_acknowledge:housing")
    miss(svc, clock, i, "department_acknowledge:water")
    with pytest.raises(Forbidden):
        svc.act(i, "reply_flag", WATER, {"flag_id": "f1", "text": "mine?"})
    assert [it["target"] for it in svc.get(i).followups] == ["housing", "water"]


def test_a_rejected_issue_s_items_lose_their_reply_clock_and_wait_to_be_cleared():
    clock = Clock()
    svc = make_service(clock=clock)
    i = report(svc)
    miss(svc, clock, i, "triage")
    issue = svc.act(i, "reject", LEADER, {"reason": "not a grid matter"}).issue
    assert issue.open_deadline("flag_reply:f1") is None
    assert [d.status for d in issue.deadlines if d.key == "flag_reply:f1"] == ["cancelled"]
    issue = svc.act(i, "clear_flag", STAFF, {"note": "rejected: nothing to answer"}).issue
    assert issue.followups[0]["status"] == "cleared"


def test_a_merged_issue_s_items_lose_their_reply_clock_too():
    clock = Clock()
    svc = make_service(clock=clock)
    i, target = report(svc), report(svc)
    miss(svc, clock, i, "triage")
    issue = svc.act(i, "merge", LEADER, {"duplicate_of": str(target)}).issue
    assert [d.status for d in issue.deadlines if d.key == "flag_reply:f1"] == ["cancelled"]
    assert issue.followups[0]["status"] == "open"  # waits to be cleared


def test_a_patrol_miss_item_goes_to_the_tickets_own_grid_once_per_ticket():
    svc = make_service(clock=Clock())
    i = report(svc)  # grid g1
    warned = {"grid_id": "g1", "days": 7, "hotline": 3, "misses": 3}
    with pytest.raises(ValidationFailed):  # not this ticket's grid: nothing recorded
        svc.act(i, "raise_patrol_miss", SYSTEM, {**warned, "grid_id": "g2"})
    assert svc.get(i).followups == []
    issue = svc.act(i, "raise_patrol_miss", SYSTEM, warned).issue
    (it,) = issue.followups
    assert (item_of(it), it["raised_by"]) == (("g1", "community", "patrol_miss"), "system")
    assert issue.open_deadline(f"flag_reply:{it['id']}") is not None
    with pytest.raises(TransitionNotAllowed):  # a second run: refused
        svc.act(i, "raise_patrol_miss", SYSTEM, warned)
    with pytest.raises(Forbidden):  # a system action: nobody else records it
        svc.act(i, "raise_patrol_miss", SUPERVISOR, warned)
