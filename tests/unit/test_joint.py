"""Joint handling (spec/joint-handling.md), given / when / then on the aggregate."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import pytest

from domain.errors import (
    OutsideJurisdiction,
    TasksIncomplete,
    TransitionNotAllowed,
    ValidationFailed,
)
from domain.issue import Issue
from domain.rules import DEPARTMENT_SUMMONED
from tests.support import HOUSING, POLICE, STAFF, STREET, WATER, make_service, report

TASKS = [
    {"department_id": "water", "task": "repair the main", "lead": True},
    {"department_id": "police", "task": "traffic control"},
]


def whistled(departments: list[Any] | None = None, **extra: Any) -> tuple[Any, UUID]:
    svc = make_service()
    i = report(svc, category="road", location={"lat": 37.505, "lon": 122.105})
    svc.act(i, "blow_whistle", STAFF, {"departments": departments or TASKS, **extra})
    return svc, i


def events(svc: Any, i: UUID) -> list[str]:
    return [type(e).__name__ for e in svc.app.events.get(i)]


def test_the_whistle_records_tasks_and_the_lead_as_facts_and_departments_as_ids():
    svc, i = whistled()
    e = list(svc.app.events.get(i))[-1]
    assert isinstance(e, Issue.WhistleBlown)
    assert e.data["departments"] == ["water", "police"]  # as every reader always had them
    assert e.facts["lead"] == "water"
    assert e.facts["tasks"] == {"water": "repair the main", "police": "traffic control"}
    assert e.facts["meet_at"] == {"address": None, "lat": 37.505, "lon": 122.105}


@pytest.mark.parametrize(
    "departments",
    [
        [{"department_id": "water", "lead": True}, {"department_id": "police", "lead": True}],
        [{"department_id": "water", "task": "a"}, {"department_id": "police", "task": "b"}],
    ],
)
def test_several_departments_with_tasks_name_exactly_one_lead(departments: list[Any]):
    svc = make_service()
    i = report(svc)
    with pytest.raises(ValidationFailed) as refused:
        svc.act(i, "blow_whistle", STAFF, {"departments": departments})
    assert "departments" in refused.value.fields
    assert svc.get(i).state == "reported"


def test_a_summons_adds_tasks_but_never_a_second_lead():
    svc, i = whistled()
    with pytest.raises(ValidationFailed):
        svc.act(i, "summon", STAFF, {"departments": [{"department_id": "housing", "lead": True}]})
    svc.act(i, "summon", STAFF, {"departments": [{"department_id": "housing", "task": "shore"}]})
    issue = svc.get(i)
    assert issue.lead == "water" and issue.departments["housing"]["task"] == "shore"


def test_a_report_in_without_place_is_unproven_until_the_whistle_holder_confirms_it():
    svc, i = whistled()
    with pytest.raises(TransitionNotAllowed):  # nobody reported in: nothing to confirm
        svc.act(i, "confirm_presence", STAFF, {"department_id": "water"})
    svc.act(i, "report_in", WATER, {"location": {"lat": 37.505, "lon": 122.105}})
    with pytest.raises(ValidationFailed):  # the police have not reported in
        svc.act(i, "confirm_presence", STAFF, {"department_id": "police"})
    assert svc.get(i).departments["water"]["presence"] == "unproven"  # no photo cited
    svc.act(i, "confirm_presence", STAFF, {"department_id": "water"})
    assert svc.get(i).departments["water"]["presence"] == "confirmed"
    with pytest.raises(TransitionNotAllowed):  # nobody's presence waits any more
        svc.act(i, "confirm_presence", STREET, {"department_id": "water"})


def test_resolution_waits_for_every_task_and_names_the_departments_behind():
    svc, i = whistled()
    svc.act(i, "report_in", WATER)
    svc.act(i, "report_in", POLICE)
    head = svc.app.recorder.max_notification_id()
    with pytest.raises(TasksIncomplete) as refused:
        svc.act(i, "resolve", WATER, {"resolution": "done"})
    assert refused.value.code == "tasks_incomplete"
    assert refused.value.details["departments"] == ["water", "police"]
    assert refused.value.details["state"] == "joint_handling"
    assert svc.app.recorder.max_notification_id() == head
    svc.act(i, "complete_task", POLICE, {"result": "diverted"})
    with pytest.raises(ValidationFailed):  # an officer completes their own task only
        svc.act(i, "complete_task", WATER, {"department_id": "police", "result": "x"})
    svc.act(i, "complete_task", WATER, {"department_id": "water", "result": "repaired"})
    with pytest.raises(TransitionNotAllowed):  # the task is done
        svc.act(i, "complete_task", WATER, {"result": "again"})
    with pytest.raises(TransitionNotAllowed) as not_lead:
        svc.act(i, "resolve", POLICE, {"resolution": "done"})
    assert not_lead.value.code == "transition_not_allowed"
    assert svc.act(i, "resolve", WATER, {"resolution": "repaired"}).issue.state == "resolved"


def test_a_released_department_owes_no_task():
    svc, i = whistled()
    svc.act(i, "report_in", WATER)
    svc.act(i, "contest_summons", POLICE, {"reason": "no traffic on that lane"})
    svc.act(i, "release", STAFF, {"department_id": "police", "reason": "contest granted"})
    issue = svc.get(i)
    assert issue.state == "joint_handling" and issue.departments["police"]["contest"] == "released"
    svc.act(i, "complete_task", WATER, {"result": "repaired"})
    assert svc.act(i, "resolve", STAFF, {"resolution": "repaired"}).issue.state == "resolved"


def test_an_upheld_summons_still_owes_its_report_in():
    svc, i = whistled()
    svc.act(i, "contest_summons", POLICE, {"reason": "not ours"})
    with pytest.raises(TransitionNotAllowed):  # one contest per summons
        svc.act(i, "contest_summons", POLICE, {"reason": "really not ours"})
    svc.act(i, "uphold_summons", STAFF, {"department_id": "police", "reason": "yours"})
    assert svc.get(i).departments["police"]["contest"] == "upheld"
    with pytest.raises(TransitionNotAllowed):  # no contest waits any more
        svc.act(i, "uphold_summons", STAFF, {"department_id": "police"})
    svc.act(i, "report_in", POLICE)
    assert svc.get(i).departments["police"]["reported_in_at"] is not None


def test_meetings_are_recorded_once_held_and_evaluations_once_closed():
    svc, i = whistled(["water"])
    with pytest.raises(ValidationFailed):  # a meeting in the future is not a record
        svc.act(
            i,
            "record_meeting",
            STAFF,
            {"held_at": "2030-01-01T09:00:00+08:00", "attendees": ["water"], "decisions": "x"},
        )
    svc.act(
        i,
        "record_meeting",
        STAFF,
        {"held_at": "2026-11-23T08:30:00+08:00", "attendees": ["water"], "decisions": "dig"},
    )
    assert svc.get(i).meetings[0]["decisions"] == "dig"
    rating = {"timeliness": 4, "attendee_level": "staff", "cooperation": 4, "result": 4}
    with pytest.raises(TransitionNotAllowed):  # not closed yet
        svc.act(i, "evaluate_department", STAFF, {"department_id": "water", **rating})
    svc.act(i, "report_in", WATER)
    svc.act(i, "resolve", WATER, {"resolution": "done"})
    svc.act(i, "verify", STREET)
    with pytest.raises(ValidationFailed):
        svc.act(i, "evaluate_department", STAFF, {"department_id": "water", **rating, "result": 6})
    with pytest.raises(ValidationFailed):  # never summoned
        svc.act(i, "evaluate_department", STAFF, {"department_id": "housing", **rating})
    svc.act(i, "evaluate_department", STAFF, {"department_id": "water", **rating})
    with pytest.raises(ValidationFailed):  # once per department
        svc.act(i, "evaluate_department", STREET, {"department_id": "water", **rating})
    assert svc.get(i).departments["water"]["evaluation"]["timeliness"] == 4
    assert events(svc, i)[-1] == "DepartmentEvaluated"


def test_a_whistle_recorded_before_leads_replays_with_its_first_department_leading():
    svc = make_service()
    i = report(svc)
    svc.act(i, "blow_whistle", STAFF, {"departments": ["housing", "water"]})
    # What earlier code stored: no lead, tasks or presence facts.
    stored = list(svc.app.events.get(i))
    stored[-1].facts.clear()
    issue: Any = None
    for e in stored:
        issue = e.mutate(issue)
    assert issue.lead == "housing"
    assert issue.departments["water"]["task"] is None
    assert not issue.departments["water"]["lead"]
    assert HOUSING.scope == issue.lead
    assert svc.get(i).lead == "housing"  # as the live whistle decided it


def test_a_released_department_can_no_longer_report_in_or_acknowledge():
    # given a summons of two departments, the police released before reporting in
    svc, i = whistled()
    svc.act(i, "release", STAFF, {"department_id": "police", "reason": "not its remit"})
    # then the police may neither report in nor acknowledge: the issue is no longer
    # theirs, and the rule the queues share says they are not summoned
    for action in ("report_in", "acknowledge"):
        with pytest.raises(OutsideJurisdiction):
            svc.act(i, action, POLICE)
    issue = svc.get(i)
    assert not DEPARTMENT_SUMMONED.holds(issue, POLICE)
    assert DEPARTMENT_SUMMONED.holds(issue, WATER)
    # while the water department still reports in
    assert svc.act(i, "report_in", WATER).issue.departments["water"]["reported_in_at"]
