"""Every action by every role, inside and outside its jurisdiction.

Expected roles are copied from the table of spec/workflow.md, not from the code.
"""

from __future__ import annotations

from typing import Any

import pytest

from domain.errors import ForbiddenRole, IssueNotFound, OutsideJurisdiction
from tests.support import RESIDENT, STAFF, WORKER2, P, make_service

ROLES = [
    "resident",
    "building_head",
    "grid_worker",
    "grid_leader",
    "community_staff",
    "street_officer",
    "department_officer",
    "city_supervisor",
    "auditor",
    "intake",
    "admin",
]

# action: (state to start from, roles that may, data)
SPEC: dict[str, tuple[str, set[str], dict[str, Any]]] = {
    "handle_on_spot": ("reported", {"grid_worker", "grid_leader"}, {}),
    "coordinate": ("reported", {"grid_leader", "community_staff"}, {"lead_party": "property"}),
    "blow_whistle": ("reported", {"community_staff", "street_officer"}, {"departments": ["water"]}),
    "acknowledge": ("whistle_blown", {"department_officer"}, {}),
    "report_in": ("whistle_blown", {"department_officer"}, {}),
    "summon": ("whistle_blown", {"community_staff", "street_officer"}, {"departments": ["police"]}),
    "resolve": ("on_spot", {"grid_worker", "grid_leader"}, {"resolution": "done"}),
    "verify": ("resolved", {"grid_leader", "community_staff"}, {}),
    "rework": ("resolved", {"grid_leader", "community_staff"}, {"reason": "not done"}),
    # street officers and city supervisors record one to replace the round's (see attempt)
    "record_callback": (
        "closed",
        {"community_staff", "resident", "intake", "street_officer", "city_supervisor"},
        {"contacted": True, "solved": True, "satisfaction": "satisfied"},
    ),
    "reject": ("reported", {"grid_leader", "community_staff"}, {"reason": "not ours"}),
    "transfer": (  # and the hotline desk (分拨, spec/joint-handling.md)
        "reported",
        {"grid_leader", "community_staff", "street_officer", "intake"},
        {"grid_id": "g2", "reason": "wrong grid"},
    ),
    "release": (
        "whistle_blown",
        {"community_staff", "street_officer"},
        {"department_id": "water", "reason": "excused"},
    ),
    "merge": ("reported", {"grid_leader", "community_staff"}, {}),
    # community staff urge as the whistle holder (issue_in: community_staff@m1 blew it)
    "urge": (
        "whistle_blown",
        {"city_supervisor", "street_officer", "community_staff"},
        {"message": "hurry"},
    ),
    "flag": ("reported", {"city_supervisor", "street_officer"}, {"message": "explain"}),
    "suspend": ("on_spot", {"grid_worker", "grid_leader"}, {"reason": "no access"}),
    "resume": ("on_spot", {"grid_worker", "grid_leader"}, {}),
    "comment": ("reported", set(ROLES) - {"auditor"}, {"text": "seen"}),
    "approve_suspension": ("on_spot", {"grid_leader", "community_staff", "street_officer"}, {}),
    "deny_suspension": (
        "on_spot",
        {"grid_leader", "community_staff", "street_officer"},
        {"reason": "no"},
    ),
    "request_extension": (
        "on_spot",
        {"grid_worker", "grid_leader"},
        {"reason": "parts", "extra": "1wd"},
    ),
    "approve_extension": ("on_spot", {"grid_leader", "community_staff"}, {}),
    "deny_extension": ("on_spot", {"grid_leader", "community_staff"}, {"reason": "no"}),
    "request_escalation": ("on_spot", {"grid_worker"}, {"reason": "too big"}),
    "approve_escalation": ("on_spot", {"grid_leader", "community_staff"}, {}),
    "deny_escalation": ("on_spot", {"grid_leader", "community_staff"}, {"reason": "no"}),
    # spec/followup.md: the unit's leader names an assignee
    "assign": (
        "on_spot",
        {"grid_leader", "community_staff", "street_officer"},
        {"principal_id": "worker-li"},
    ),
    # joint handling (spec/joint-handling.md): the whistle holder, or a summoned department
    "confirm_presence": (
        "whistle_blown",
        {"community_staff", "street_officer"},
        {"department_id": "housing"},
    ),
    "record_meeting": (
        "whistle_blown",
        {"community_staff", "street_officer"},
        {"held_at": "2026-11-23T08:00:00+08:00", "attendees": ["housing"], "decisions": "x"},
    ),
    "contest_summons": ("whistle_blown", {"department_officer"}, {"reason": "not ours"}),
    "uphold_summons": (
        "whistle_blown",
        {"community_staff", "street_officer"},
        {"department_id": "housing"},
    ),
}
#: what another grid worker asks first (the request that the action decides)
ASKED_FIRST = {
    "resume": ("suspend", {"reason": "no access"}),
    "approve_suspension": ("suspend", {"reason": "no access"}),
    "deny_suspension": ("suspend", {"reason": "no access"}),
    "approve_extension": ("request_extension", {"reason": "parts", "extra": "1wd"}),
    "deny_extension": ("request_extension", {"reason": "parts", "extra": "1wd"}),
    "approve_escalation": ("request_escalation", {"reason": "too big"}),
    "deny_escalation": ("request_escalation", {"reason": "too big"}),
}

INSIDE = {
    "resident": RESIDENT,  # the resident who reported the issue
    "building_head": P("building_head", "g1"),
    "grid_worker": P("grid_worker", "g1"),
    "grid_leader": P("grid_leader", "g1"),
    "community_staff": P("community_staff", "m1"),
    "street_officer": P("street_officer", "s1"),
    "department_officer": P("department_officer", "housing"),
    "city_supervisor": P("city_supervisor", "c1"),
    "auditor": P("auditor", "c1"),
    "intake": P("intake", "c1"),
    "admin": P("admin", "c1"),
}
# Outside the jurisdiction; `True` where the principal may still see the issue.
OUTSIDE = {
    "resident": (P("resident", "m1", "someone-else"), False),
    "building_head": (P("building_head", "g3"), False),
    "grid_worker": (P("grid_worker", "g2"), True),  # same community: sees, may not act
    "grid_leader": (P("grid_leader", "g2"), True),
    "community_staff": (P("community_staff", "m2"), False),
    "street_officer": (P("street_officer", "s2"), False),
    "department_officer": (P("department_officer", "police"), False),  # not summoned
    "intake": (P("intake", "g3"), False),
}


def issue_in(svc: Any, state: str) -> Any:
    issue = svc.report(RESIDENT, {"grid_id": "g1", "category": "road", "description": "pothole"})
    i = issue.issue.id
    steps = {
        "whistle_blown": [("blow_whistle", STAFF, {"departments": ["housing", "water"]})],
        "on_spot": [("handle_on_spot", WORKER2, {})],
        "resolved": [("handle_on_spot", WORKER2, {}), ("resolve", WORKER2, {"resolution": "ok"})],
        "closed": [
            ("handle_on_spot", WORKER2, {}),
            ("resolve", WORKER2, {"resolution": "ok"}),
            ("verify", P("grid_leader", "g1"), {}),
        ],
    }.get(state, [])
    for action, actor, data in steps:
        svc.act(i, action, actor, data)
    return i


def attempt(action: str, principal: Any) -> None:
    svc = make_service()
    state, _, data = SPEC[action]
    i = issue_in(svc, state)
    if action == "merge":
        target = svc.report(STAFF, {"grid_id": "g1", "category": "road", "description": "same"})
        data = {"duplicate_of": str(target.issue.id)}
    if action in ASKED_FIRST:
        request, body = ASKED_FIRST[action]
        svc.act(i, request, WORKER2, body)
    if action == "resume":
        svc.act(i, "approve_suspension", STAFF, {})
    housing = P("department_officer", "housing")
    if action == "confirm_presence":
        svc.act(i, "report_in", housing, {})  # unproven: no place given
    if action == "uphold_summons":
        svc.act(i, "contest_summons", housing, {"reason": "not ours"})
    replacers = ("street_officer", "city_supervisor")
    if action == "record_callback" and principal.role.value in replacers:
        svc.act(i, action, STAFF, data)  # the round's valid callback, which they replace
        data = {**data, "replaces_reason": "the first call was made to the wrong number"}
    head = svc.app.recorder.max_notification_id()
    try:
        svc.act(i, action, principal, data)
    except Exception:
        assert svc.app.recorder.max_notification_id() == head, "a refusal recorded something"
        raise


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("action", list(SPEC))
def test_inside_the_jurisdiction_only_the_spec_roles_may_act(action: str, role: str) -> None:
    if role == "department_officer" and SPEC[action][0] != "whistle_blown":
        with pytest.raises(IssueNotFound):  # not summoned: the issue is not theirs to see
            attempt(action, INSIDE[role])
    elif role in SPEC[action][1]:
        attempt(action, INSIDE[role])
    else:
        with pytest.raises(ForbiddenRole):
            attempt(action, INSIDE[role])


@pytest.mark.parametrize("role", list(OUTSIDE))
@pytest.mark.parametrize("action", list(SPEC))
def test_outside_the_jurisdiction_nobody_acts(action: str, role: str) -> None:
    principal, sees = OUTSIDE[role]
    if not sees:
        expected: type[Exception] = IssueNotFound
    elif role in SPEC[action][1]:
        expected = OutsideJurisdiction
    else:
        expected = ForbiddenRole
    with pytest.raises(expected):
        attempt(action, principal)


def test_reports_outside_the_reporters_scope_are_refused():
    svc = make_service()
    with pytest.raises(OutsideJurisdiction):
        svc.report(
            P("grid_worker", "g2"), {"grid_id": "g1", "category": "road", "description": "x"}
        )
    with pytest.raises(ForbiddenRole):
        svc.report(P("auditor", "c1"), {"grid_id": "g1", "category": "road", "description": "x"})
