"""Callbacks (回访): closure rounds, the valid callback, separation of duties, attempts
that reached nobody, replacements, the hotline's precedence and appeals."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from uuid import uuid4

import pytest
from eventsourcing.persistence import StoredEvent

from domain.calendar import Calendars, WorkingCalendar
from domain.callbacks import answer
from domain.errors import SeparationOfDuties, TransitionNotAllowed, ValidationFailed
from gridflow.container import issue_service
from gridflow.settings import Settings
from tests.support import (
    CALLER,
    LEADER,
    ORG,
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


# -- issue 17: what the mutation run found unpinned ----------------------------------

ANSWERS = [  # a callback as recorded -> its answers in the new shape
    (SATISFIED, ("reached", True, True, "satisfied")),
    ({**UNREACHABLE}, ("unreachable", None, None, None)),
    ({"outcome": "refused", "via": "phone"}, ("refused", None, None, None)),
    # the old shape: whether the handling unit contacted them is unknown
    ({"contacted": True, "solved": False, "satisfaction": "dissatisfied"},
     ("reached", None, False, "dissatisfied")),
    ({"contacted": False}, ("unreachable", None, None, None)),
    ({"contacted": False, "solved": True, "satisfaction": "satisfied"},  # as old code kept
     ("unreachable", None, None, None)),
]  # fmt: skip


@pytest.mark.parametrize(("data", "expected"), ANSWERS)
def test_each_callback_reads_in_the_new_shape_whichever_shape_it_was_recorded_in(data, expected):
    keys = ("outcome", "handler_contacted", "solved", "satisfaction")
    assert answer(data) == dict(zip(keys, expected, strict=True))


def test_a_replacement_is_a_reached_callback_by_the_street_or_the_city_with_its_reason():
    svc = make_service()
    i = closed(svc, RESIDENT)
    replacing = {**SATISFIED, "replaces_reason": "the desk called the wrong number"}
    with pytest.raises(ValidationFailed) as not_theirs:
        svc.act(i, "record_callback", DESK, replacing)
    assert not_theirs.value.fields == {
        "replaces_reason": "only a street officer or a city supervisor replaces a callback"
    }
    with pytest.raises(ValidationFailed) as why:
        svc.act(i, "record_callback", STREET, SATISFIED)
    assert why.value.fields == {
        "replaces_reason": "a street officer or city supervisor records a callback only to "
        "replace the round's valid one: say why"
    }
    with pytest.raises(TransitionNotAllowed) as nothing_yet:
        svc.act(i, "record_callback", STREET, replacing)
    assert nothing_yet.value.message == "this round has no valid callback to replace yet"
    assert nothing_yet.value.details == {"state": "closed", "allowed_actions": []}
    svc.act(i, "record_callback", DESK, SATISFIED)
    with pytest.raises(ValidationFailed) as unreached:
        svc.act(i, "record_callback", STREET, {**UNREACHABLE, "replaces_reason": "checked"})
    assert unreached.value.fields == {"outcome": "a replacement is a callback that reached them"}


def test_a_round_closed_as_unreachable_may_be_replaced_by_a_callback_that_reached_them():
    clock = Clock()
    svc = make_service(clock=clock)
    i = closed(svc, RESIDENT)
    for hours in (0, 2, 4):  # Monday 09:00, 11:00, 15:00 (the lunch break is no working time)
        clock.advance(hours=hours)
        svc.act(i, "record_callback", DESK, UNREACHABLE)
    assert svc.get(i).callback_round["closed"] == "unreachable"
    replacing = {**SATISFIED, "replaces_reason": "reached her at home"}
    svc.act(i, "record_callback", STREET, replacing)
    facts = svc.history(i, SUPERVISOR)[-1]["facts"]["callback"]
    assert facts == {"round": 1, "valid": True, "replaces": None}


def test_the_hotline_desk_records_one_callback_a_round():
    svc = make_service()
    body = {"grid_id": "g1", "category": "sanitation", "description": "ticket"}
    i = svc.report(HOTLINE, {**body, "reporter": CALLER}).issue.id
    svc.act(i, "handle_on_spot", WORKER)
    svc.act(i, "resolve", WORKER, {"resolution": "done"})
    svc.act(i, "verify", LEADER)
    svc.act(i, "record_callback", HOTLINE, SATISFIED)
    with pytest.raises(TransitionNotAllowed) as again:
        svc.act(i, "record_callback", HOTLINE, SATISFIED)
    assert again.value.message == (
        "this round has its callback (回访); a street officer or city supervisor may replace it"
    )
    assert again.value.details == {"state": "closed", "allowed_actions": []}


def test_each_callback_names_its_round_and_a_second_dissatisfied_one_calls_in_the_city():
    clock = Clock()
    svc = make_service(clock=clock)
    i = closed(svc, RESIDENT)
    svc.act(i, "record_callback", RESIDENT, DISSATISFIED)  # round 1: back on the spot
    svc.act(i, "resolve", WORKER, {"resolution": "done again"})
    svc.act(i, "verify", LEADER)
    issue = svc.act(i, "record_callback", RESIDENT, DISSATISFIED).issue  # round 2
    rounds = [
        h["facts"]["callback"]["round"]
        for h in svc.history(i, SUPERVISOR)
        if h["action"] == "record_callback"
    ]
    assert rounds == [1, 2]
    (item,) = issue.followups
    assert (item["level"], item["reason"], item["raised_by"]) == ("city", "dissatisfied", "system")


def test_a_reopened_matter_runs_its_categorys_clock_in_its_grids_hours():
    # given grid g1's community working 13:00-14:00 only, and a category whose small
    # matters are resolved within 2 working hours
    calendars = Calendars.from_config({"m1": {"hours": "13:00-14:00"}}, WorkingCalendar())
    svc = issue_service(Settings(database_url="memory://", calendars=calendars), Clock())
    gas = {"code": "gas", "name": "Gas smell", "limits": {"small_resolution": "2wh"}}
    svc.load_org({**ORG, "categories": [*ORG["categories"], gas]})
    i = closed(svc, RESIDENT, category="gas")
    # when a dissatisfied callback reopens it on Monday 09:00
    svc.act(i, "record_callback", RESIDENT, DISSATISFIED)
    # then its clock runs Monday's hour and Tuesday's: due Tuesday 14:00
    clock = svc.get(i).open_deadline("small_resolution")
    assert clock is not None and clock.due_at == datetime(2026, 11, 24, 6, 0, tzinfo=UTC)


def test_attempts_are_two_of_the_grids_working_hours_apart():
    calendars = Calendars.from_config({"m1": {"hours": "13:00-14:00"}}, WorkingCalendar())
    clock = Clock(datetime(2026, 11, 23, 5, 0, tzinfo=UTC))  # Monday 13:00
    svc = issue_service(Settings(database_url="memory://", calendars=calendars), clock)
    svc.load_org(ORG)
    i = closed(svc, RESIDENT)
    counted = []
    # Monday 13:00; 17:00, one of the grid's working hours on (3.5 on the default calendar)
    # is too soon; Tuesday 14:00, two, counts
    for hours in (0, 4, 21):
        clock.advance(hours=hours)
        issue = svc.act(i, "record_callback", DESK, UNREACHABLE).issue
        counted.append(len(issue.callback_round["attempts"]))
    assert counted == [1, 1, 2]


def test_an_appeal_and_its_decision_keep_the_tier_and_name_the_callback():
    svc = make_service()
    i = closed(svc, RESIDENT)
    dissatisfied = svc.act(i, "record_callback", RESIDENT, DISSATISFIED).issue
    svc.act(i, "resolve", WORKER, {"resolution": "done again"})
    svc.act(i, "verify", LEADER)
    svc.act(i, "appeal_callback", WORKER, {"reason": "the resident wants a new road"})
    issue = svc.act(i, "uphold_appeal", STREET, {"reason": "outside any remit"}).issue
    assert issue.tier == "small"
    steps = svc.history(i, SUPERVISOR)[-2:]
    assert [s["data"] for s in steps] == [
        {"reason": "the resident wants a new road"},
        {"reason": "outside any remit"},
    ]
    assert [s["facts"]["callback_version"] for s in steps] == [dissatisfied.version] * 2
    assert [s["tier"] for s in steps] == ["small", "small"]


def test_callbacks_recorded_before_rounds_read_the_first_that_reached_them_as_valid():
    # given a closed issue with an attempt and two callbacks that reached the resident,
    # recorded as code before closure rounds wrote them: no `callback` fact
    svc = make_service()
    i = closed(svc, RESIDENT)
    svc.act(i, "record_callback", DESK, UNREACHABLE)
    svc.act(i, "record_callback", DESK, SATISFIED)
    old_id, rewritten = uuid4(), []
    for stored in svc.app.recorder.select_events(i):
        state = json.loads(stored.state)
        if stored.topic.endswith("Issue.CallbackRecorded"):
            state["facts"].pop("callback")
        rewritten.append((stored.originator_version, stored.topic, state))
    version, topic, state = rewritten[-1]
    again = {**state, "data": {**state["data"], "satisfaction": "basically_satisfied"}}
    rewritten.append((version + 1, topic, again))  # old code took a second one too
    svc.app.recorder.insert_events(
        [StoredEvent(old_id, v, t, json.dumps(s).encode()) for v, t, s in rewritten]
    )
    # then the round's valid callback is the first that reached them
    issue = svc.get(old_id)
    assert issue.callback_round["valid"]["version"] == version
    assert issue.callback_round["attempts"] == []  # old attempts counted nothing
