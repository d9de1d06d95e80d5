"""Callbacks (回访): closure rounds, the valid callback, separation of duties, attempts
that reached nobody, replacements, the hotline's precedence and appeals."""

from __future__ import annotations

import pytest

from domain.errors import SeparationOfDuties, TransitionNotAllowed, ValidationFailed
from tests.support import (
    CALLER,
    LEADER,
    RESIDENT,
    STAFF,
    STREET,
    SUPERVISOR,
    SYSTEM,
    WORKER,
    Clock,
    P,
    make_service,
    report,
)

DESK = P("community_staff", "m1", "callback-desk")
HOTLINE = P("intake", "c1", "hotline-12345")
SATISFIED = {
    "outcome": "reached",
    "handler_contacted": True,
    "solved": True,
    "satisfaction": "satisfied",
    "via": "phone",
}
DISSATISFIED = {
    **SATISFIED,
    "solved": False,
    "satisfaction": "dissatisfied",
    "reason": "water still leaks",
}
UNREACHABLE = {"outcome": "unreachable", "via": "phone"}


def closed(svc, p=WORKER, **extra):
    i = report(svc, p, **extra)
    svc.act(i, "handle_on_spot", WORKER)
    svc.act(i, "resolve", WORKER, {"resolution": "done"})
    svc.act(i, "verify", LEADER)
    return i


def callback_clock(issue):
    return [d for d in issue.deadlines if d.kind == "callback"]


def test_the_new_shape_and_the_old_shape_are_both_recorded():
    svc = make_service()
    new = svc.act(closed(svc, reporter=CALLER), "record_callback", DESK, SATISFIED).issue
    assert callback_clock(new)[-1].status == "met"
    old = {"contacted": True, "solved": True, "satisfaction": "satisfied", "comment": "ok"}
    again = svc.act(closed(svc, reporter=CALLER), "record_callback", DESK, old).issue
    assert callback_clock(again)[-1].status == "met"
    assert again.callback_round["valid"] is not None


@pytest.mark.parametrize(
    "body, field",
    [
        ({"outcome": "reached", "via": "phone"}, "body"),  # answers missing
        ({**DISSATISFIED, "reason": None}, "body"),  # dissatisfied without a reason
        ({"outcome": "unreachable", "via": "sms", "solved": True}, "body"),
        ({**SATISFIED, "via": None}, "body"),
        ({**SATISFIED, "contacted": True}, "body"),  # both shapes at once
        ({**SATISFIED, "outcome": "maybe"}, "outcome"),
    ],
)
def test_a_callback_that_says_nothing_clear_is_refused(body, field):
    svc = make_service()
    i = closed(svc, reporter=CALLER)
    with pytest.raises(ValidationFailed) as err:
        svc.act(i, "record_callback", DESK, {k: v for k, v in body.items() if v is not None})
    assert field in err.value.fields


def test_whoever_handled_resolved_or_verified_never_records_the_callback():
    svc = make_service()
    i = report(svc, WORKER, reporter=CALLER)
    svc.act(i, "coordinate", STAFF, {"lead_party": "property company"})
    svc.act(i, "resolve", LEADER, {"resolution": "done"})
    svc.act(i, "verify", STREET)
    for who in (STAFF, STREET):
        with pytest.raises(SeparationOfDuties) as err:
            svc.act(i, "record_callback", who, SATISFIED)
        assert err.value.code == "separation_of_duties"
    assert svc.act(i, "record_callback", DESK, SATISFIED).issue.state == "closed"


def test_a_round_counts_one_valid_callback_and_a_second_one_is_refused():
    svc = make_service()
    i = closed(svc, RESIDENT)
    svc.act(i, "record_callback", RESIDENT, SATISFIED)
    head = svc.head()
    for who in (RESIDENT, DESK):
        with pytest.raises(TransitionNotAllowed, match="no callback is owed"):
            svc.act(i, "record_callback", who, SATISFIED)
    assert svc.head() == head


def test_a_street_officer_replaces_the_valid_callback_and_both_stay_on_record():
    svc = make_service()
    i = closed(svc, RESIDENT)
    first = svc.act(i, "record_callback", DESK, SATISFIED).issue
    with pytest.raises(ValidationFailed) as err:
        svc.act(i, "record_callback", STREET, DISSATISFIED)
    assert "replaces_reason" in err.value.fields
    with pytest.raises(TransitionNotAllowed):  # only they replace
        svc.act(i, "record_callback", DESK, {**SATISFIED, "replaces_reason": "again"})
    body = {**DISSATISFIED, "replaces_reason": "the desk called a neighbour"}
    after = svc.act(i, "record_callback", STREET, body).issue
    assert after.state == "on_spot"  # the replacement counts: dissatisfied reopens
    history = svc.history(i, SUPERVISOR)
    callbacks = [e for e in history if e["action"] == "record_callback"]
    assert [c["facts"]["callback"]["valid"] for c in callbacks] == [True, True]
    assert callbacks[1]["facts"]["callback"]["replaces"] == first.version


def test_three_attempts_two_working_hours_apart_close_the_round_as_unreachable():
    clock = Clock()
    svc = make_service(clock=clock)
    i = closed(svc, RESIDENT)
    attempts = []
    # Monday 09:00, 10:00 (too soon), 11:00, 14:00 (1.5 working hours after 11:00: the
    # lunch break is not working time), 15:00.
    for hours in (0, 1, 1, 3, 1):
        clock.advance(hours=hours)
        e = svc.act(i, "record_callback", DESK, UNREACHABLE).issue
        attempts.append(e.callback_round["attempts"][:])
    assert [len(a) for a in attempts] == [1, 1, 2, 2, 3]
    issue = svc.get(i)
    assert issue.callback_round["closed"] == "unreachable"
    assert callback_clock(issue)[-1].status == "met"
    with pytest.raises(TransitionNotAllowed):
        svc.act(i, "record_callback", DESK, SATISFIED)


def test_the_old_shape_contacted_false_is_an_attempt_that_reached_nobody():
    svc = make_service()
    i = closed(svc, RESIDENT)
    issue = svc.act(i, "record_callback", DESK, {"contacted": False}).issue
    assert len(issue.callback_round["attempts"]) == 1
    assert callback_clock(issue)[-1].status == "open"


def test_no_callback_is_owed_when_there_is_nobody_to_call():
    svc = make_service()
    i = closed(svc, WORKER)  # a patrol find with no reporter contact
    issue = svc.get(i)
    assert callback_clock(issue) == []
    assert "record_callback" not in svc.allowed_actions(issue, DESK)
    with pytest.raises(TransitionNotAllowed):
        svc.act(i, "record_callback", DESK, SATISFIED)
    named = closed(svc, WORKER, reporter={"name": "a neighbour"})  # a name is no contact
    assert callback_clock(svc.get(named)) == []
    assert callback_clock(svc.get(closed(svc, WORKER, reporter=CALLER)))


def test_the_hotline_callback_takes_precedence_over_the_units():
    svc = make_service()
    body = {"grid_id": "g1", "category": "sanitation", "description": "ticket"}
    i = svc.report(HOTLINE, {**body, "reporter": CALLER}).issue.id
    svc.act(i, "handle_on_spot", WORKER)
    svc.act(i, "resolve", WORKER, {"resolution": "done"})
    svc.act(i, "verify", LEADER)
    svc.act(i, "record_callback", DESK, SATISFIED)
    hotline = svc.act(i, "record_callback", HOTLINE, DISSATISFIED).issue
    assert hotline.state == "on_spot"
    facts = svc.history(i, SUPERVISOR)[-1]["facts"]["callback"]
    assert facts["hotline"] and facts["valid"] and "replaces" in facts
    # on an issue that is not the hotline's the desk's callback is not replaced by intake
    j = closed(svc, RESIDENT)
    svc.act(j, "record_callback", DESK, SATISFIED)
    with pytest.raises(TransitionNotAllowed):
        svc.act(j, "record_callback", HOTLINE, DISSATISFIED)


def test_a_dissatisfied_callback_may_be_appealed_once_and_decided_by_the_street():
    svc = make_service()
    i = closed(svc, RESIDENT)
    with pytest.raises(TransitionNotAllowed):  # nothing to appeal yet
        svc.act(i, "appeal_callback", WORKER, {"reason": "unreasonable"})
    svc.act(i, "record_callback", RESIDENT, DISSATISFIED)
    with pytest.raises(TransitionNotAllowed):  # no appeal waits
        svc.act(i, "uphold_appeal", STREET, {"reason": "agreed"})
    svc.act(i, "appeal_callback", WORKER, {"reason": "the resident wants a new road"})
    with pytest.raises(TransitionNotAllowed):
        svc.act(i, "appeal_callback", WORKER, {"reason": "again"})
    issue = svc.act(i, "uphold_appeal", STREET, {"reason": "outside any remit"}).issue
    assert issue.appeal["status"] == "upheld"
    with pytest.raises(TransitionNotAllowed):
        svc.act(i, "reject_appeal", SUPERVISOR, {"reason": "too late"})


def test_a_missed_callback_deadline_judges_the_round():
    clock = Clock()
    svc = make_service(clock=clock)
    i = closed(svc, RESIDENT)
    clock.advance(days=2)
    svc.act(i, "miss_deadline", SYSTEM, {"deadline": "callback"})
    issue = svc.act(i, "record_callback", DESK, SATISFIED).issue
    assert issue.callback_round["judged"] is True
    assert callback_clock(issue)[-1].status == "missed"
