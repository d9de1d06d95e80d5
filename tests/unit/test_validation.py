"""Each check on an action's data against the issue and the organisation is refused with
its own field and message (422 `validation_failed` over HTTP), and records nothing."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from uuid import UUID, uuid4

import pytest

from domain.errors import ValidationFailed
from domain.service import IssueService
from tests.support import HOUSING, LEADER, RESIDENT, STAFF, STREET, make_service, report


def whistle(svc: IssueService, *depts: str) -> UUID:
    i = report(svc)
    svc.act(i, "blow_whistle", STAFF, {"departments": list(depts)})
    return i


def released(svc: IssueService) -> UUID:
    i = whistle(svc, "housing", "water")
    svc.act(i, "release", STREET, {"department_id": "water", "reason": "excused"})
    return i


def reported_in(svc: IssueService) -> UUID:
    i = whistle(svc, "housing", "water")
    svc.act(i, "report_in", HOUSING, {})
    return i


def rejected_target(svc: IssueService) -> str:
    t = report(svc)
    svc.act(t, "reject", LEADER, {"reason": "not ours"})
    return str(t)


Case = tuple[Callable[[IssueService], UUID], str, Any, Any, dict[str, str]]
# name: (issue in its state, action, actor, data (or a function of the service), fields)
CASES: dict[str, Case] = {
    "unknown department": (
        report,
        "blow_whistle",
        STAFF,
        {"departments": ["water", "nope"]},
        {"departments.1": "no department 'nope'"},
    ),
    "department twice": (
        report,
        "blow_whistle",
        STAFF,
        {"departments": ["water", "water"]},
        {"departments": "a department is listed twice"},
    ),
    "summon an unknown department": (
        lambda s: whistle(s, "housing"),
        "summon",
        STREET,
        {"departments": ["fire"]},
        {"departments.0": "no department 'fire'"},
    ),
    "summon a summoned department": (
        lambda s: whistle(s, "housing"),
        "summon",
        STREET,
        {"departments": ["police", "housing"]},
        {"departments.1": "already summoned"},
    ),
    "transfer to no grid": (
        report,
        "transfer",
        STAFF,
        {"grid_id": "m1", "reason": "x"},
        {"grid_id": "no grid 'm1'"},
    ),
    "transfer to the same grid": (
        report,
        "transfer",
        STAFF,
        {"grid_id": "g1", "reason": "x"},
        {"grid_id": "the issue is already in this grid"},
    ),
    "release a department never summoned": (
        lambda s: whistle(s, "housing"),
        "release",
        STREET,
        {"department_id": "police", "reason": "x"},
        {"department_id": "not a summoned department"},
    ),
    "release a department twice": (
        released,
        "release",
        STREET,
        {"department_id": "water", "reason": "x"},
        {"department_id": "not a summoned department"},
    ),
    "release a department that reported in": (
        reported_in,
        "release",
        STREET,
        {"department_id": "housing", "reason": "x"},
        {"department_id": "this department has already reported in"},
    ),
    "merge into a missing issue": (
        report,
        "merge",
        LEADER,
        lambda s, i: {"duplicate_of": str(uuid4())},
        {"duplicate_of": "no such issue"},
    ),
    "merge into no issue id": (
        report,
        "merge",
        LEADER,
        {"duplicate_of": "not-an-id"},
        {"duplicate_of": "no such issue"},
    ),
    "merge into itself": (
        report,
        "merge",
        LEADER,
        lambda s, i: {"duplicate_of": str(i)},
        {"duplicate_of": "an issue cannot duplicate itself"},
    ),
    "merge into a closed issue": (
        report,
        "merge",
        LEADER,
        lambda s, i: {"duplicate_of": rejected_target(s)},
        {"duplicate_of": "that issue is rejected, not open"},
    ),
    "reject without a reason": (
        report,
        "reject",
        LEADER,
        {},
        {"reason": "Field required"},
    ),
    "blow the whistle with an unknown grade": (
        report,
        "blow_whistle",
        STAFF,
        {"departments": ["water"], "grade": "soon"},
        {"grade": "Input should be 'urgent', 'standard' or 'crucial'"},
    ),
}


@pytest.mark.parametrize("name", list(CASES))
def test_each_bad_action_is_refused_with_its_own_field(name: str) -> None:
    given, action, actor, data, fields = CASES[name]
    svc = make_service()
    i = given(svc)
    body = data(svc, i) if callable(data) else data
    head = svc.app.recorder.max_notification_id()
    with pytest.raises(ValidationFailed) as err:
        svc.act(i, action, actor, body)
    assert err.value.fields == fields
    assert svc.app.recorder.max_notification_id() == head


BASE = {"grid_id": "g1", "category": "sanitation", "description": "rubbish at gate 2"}
REPORTS: dict[str, tuple[Any, dict[str, Any], dict[str, str]]] = {
    "no such grid": (STAFF, {"grid_id": "g9"}, {"grid_id": "no grid 'g9'"}),
    "a community as grid": (STAFF, {"grid_id": "m1"}, {"grid_id": "no grid 'm1'"}),
    "no such category": (STAFF, {"category": "noise"}, {"category": "no category 'noise'"}),
    "outside every grid": (
        STAFF,
        {"grid_id": None, "location": {"lat": 10.0, "lon": 10.0}},
        {"location": "not inside any grid's boundary"},
    ),
    "an address of no grid": (
        STAFF,
        {"grid_id": None, "location": {"address": "月亮街9号"}},
        {"location.address": "matches no grid's address"},
    ),
    "patrol by a resident": (
        RESIDENT,
        {"channel": "patrol"},
        {"channel": "only grid staff report on channel patrol"},
    ),
    "for someone who is no resident": (
        STAFF,
        {"reporter": {"principal_id": "nobody"}},
        {"reporter.principal_id": "names no resident"},
    ),
    "no description": (STAFF, {"description": None}, {"description": "Field required"}),
}


@pytest.mark.parametrize("name", list(REPORTS))
def test_each_bad_report_is_refused_with_its_own_field(name: str) -> None:
    actor, change, fields = REPORTS[name]
    svc = make_service()
    body = {k: v for k, v in {**BASE, **change}.items() if v is not None}
    head = svc.app.recorder.max_notification_id()
    with pytest.raises(ValidationFailed) as err:
        svc.report(actor, body)
    assert err.value.fields == fields
    assert svc.app.recorder.max_notification_id() == head


def test_an_occurrence_in_the_future_is_refused_with_its_field() -> None:
    svc = make_service()
    with pytest.raises(ValidationFailed) as err:
        svc.report(STAFF, {**BASE, "occurred_at": "2030-01-01T00:00:00Z"})
    assert err.value.fields == {
        "occurred_at": "must not be more than a day ahead of the service's clock"
    }
