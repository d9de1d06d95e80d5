"""Who sees a reporter's contact details: role × inside/outside the jurisdiction × state.

Expected sets are worked out by hand from the rule (the reporter and whoever recorded
the report; those whose role may act on the issue now, comment and urge aside, within
their jurisdiction; whoever may record its callback; auditors) and the workflow table
of spec/workflow.md — not from the code.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

import pytest

from domain.access import may_see_personal
from domain.service import IssueService
from tests.support import HOUSING, LEADER, STAFF, WORKER, P, make_service

REPORTER = P("resident", "m1", "resident-1")
INSIDE = {
    "resident": REPORTER,
    "building_head": P("building_head", "g1"),
    "grid_worker": P("grid_worker", "g1"),
    "grid_leader": P("grid_leader", "g1"),
    "community_staff": P("community_staff", "m1"),
    "street_officer": P("street_officer", "s1"),
    "department_officer": P("department_officer", "housing"),
    "city_supervisor": P("city_supervisor", "c1"),
    "auditor": P("auditor", "c1"),
    "intake": P("intake", "c1", "another-desk"),
    "admin": P("admin", "c1"),
}
OUTSIDE = {
    "resident": P("resident", "m1", "someone-else"),
    "building_head": P("building_head", "g3"),
    "grid_worker": P("grid_worker", "g2"),  # same community: sees the issue
    "grid_leader": P("grid_leader", "g2"),
    "community_staff": P("community_staff", "m2"),
    "street_officer": P("street_officer", "s2"),
    "department_officer": P("department_officer", "police"),  # never summoned
    "auditor": P("auditor", "d1"),
    "intake": P("intake", "m2", "desk-elsewhere"),
}
ALWAYS = {"resident", "auditor", "community_staff"}  # reporter, auditors, the callback desk

SEES_INSIDE: dict[str, set[str]] = {
    # handle_on_spot, coordinate, blow_whistle, reject, transfer, merge
    "reported": ALWAYS | {"grid_worker", "grid_leader", "street_officer"},
    # resolve, suspend (grid staff); coordinate, merge (leader)
    "on_spot": ALWAYS | {"grid_worker", "grid_leader"},
    # resolve, suspend (big handlers); blow_whistle (street)
    "coordinating": ALWAYS | {"grid_leader", "street_officer"},
    # acknowledge, report_in (a summoned department); summon, release (street)
    "whistle_blown": ALWAYS | {"department_officer", "street_officer"},
    # resolve, suspend (hard handlers); summon (street)
    "joint_handling": ALWAYS | {"department_officer", "street_officer"},
    # a small matter: verify, rework (grid leader); the resolver was the grid worker
    "resolved": ALWAYS | {"grid_leader"},
    # a hard matter: verify, rework (street officer and city supervisor)
    "resolved_hard": ALWAYS | {"street_officer", "city_supervisor"},
    # record_callback (community staff, the reporter)
    "closed": ALWAYS,
    "rejected": ALWAYS,
    "merged": ALWAYS,
}

PATHS: dict[str, list[tuple[str, Any, dict[str, Any]]]] = {
    "reported": [],
    "on_spot": [("handle_on_spot", WORKER, {})],
    "coordinating": [("coordinate", STAFF, {"lead_party": "property company"})],
    "whistle_blown": [("blow_whistle", STAFF, {"departments": ["housing", "water"]})],
    "joint_handling": [
        ("blow_whistle", STAFF, {"departments": ["housing"]}),
        ("report_in", HOUSING, {}),
    ],
    "resolved": [("handle_on_spot", WORKER, {}), ("resolve", WORKER, {"resolution": "done"})],
    "resolved_hard": [
        ("blow_whistle", STAFF, {"departments": ["housing"]}),
        ("report_in", HOUSING, {}),
        ("resolve", HOUSING, {"resolution": "pipe replaced"}),
    ],
    "closed": [
        ("handle_on_spot", WORKER, {}),
        ("resolve", WORKER, {"resolution": "done"}),
        ("verify", LEADER, {}),
    ],
    "rejected": [("reject", LEADER, {"reason": "not a grid matter"})],
    "merged": [],
}


def issue_in(svc: IssueService, state: str, reporter: Any = REPORTER) -> UUID:
    body = {
        "grid_id": "g1",
        "category": "sanitation",
        "description": "rubbish at gate 2",
        "reporter": {"name": "Wang", "phone": "13800000000"},
    }
    i = svc.report(reporter, body).issue.id
    if state == "merged":
        target = svc.report(WORKER, {**body, "reporter": None}).issue.id
        svc.act(i, "merge", LEADER, {"duplicate_of": str(target)})
    for action, actor, data in PATHS[state]:
        svc.act(i, action, actor, data)
    return i


@pytest.fixture(scope="module")
def world() -> tuple[IssueService, dict[str, UUID]]:
    svc = make_service()
    return svc, {state: issue_in(svc, state) for state in SEES_INSIDE}


@pytest.mark.parametrize("state", list(SEES_INSIDE))
@pytest.mark.parametrize("role", list(INSIDE))
def test_inside_the_jurisdiction(world, state: str, role: str) -> None:
    svc, issues = world
    issue = svc.get(issues[state])
    assert issue.state == state.removesuffix("_hard")
    expected = role in SEES_INSIDE[state]
    assert may_see_personal(INSIDE[role], issue, svc.org()) is expected


@pytest.mark.parametrize("state", list(SEES_INSIDE))
@pytest.mark.parametrize("role", list(OUTSIDE))
def test_outside_the_jurisdiction_only_auditors(world, state: str, role: str) -> None:
    svc, issues = world
    issue = svc.get(issues[state])
    assert may_see_personal(OUTSIDE[role], issue, svc.org()) is (role == "auditor")


@pytest.mark.parametrize("state", ["reported", "closed", "merged"])
def test_intake_sees_the_tickets_it_imported_and_no_others(state: str) -> None:
    svc = make_service()
    desk = P("intake", "c1", "hotline-desk")
    mine = svc.get(issue_in(svc, state, reporter=desk))
    assert may_see_personal(desk, mine, svc.org())
    assert not may_see_personal(P("intake", "c1", "other-desk"), mine, svc.org())
    theirs = svc.get(issue_in(svc, state))
    assert not may_see_personal(desk, theirs, svc.org())
