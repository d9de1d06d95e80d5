"""Who may take the steps whose roles depend on the tier, at every tier, and who may report.

Expected roles are copied from the actions table of spec/workflow.md, not from the code:
resolve, suspend and resume by the tier's handlers; verify and rework by the tier's
verifiers (never whoever resolved it).
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

import pytest

from domain.errors import ForbiddenRole, IssueNotFound
from domain.service import IssueService
from tests.support import HOUSING, LEADER, RESIDENT, STAFF, WORKER2, make_service
from tests.unit.test_roles_and_jurisdiction import INSIDE, ROLES

HANDLERS = {
    "small": {"grid_worker", "grid_leader"},
    "big": {"grid_leader", "community_staff"},
    "hard": {"community_staff", "street_officer", "department_officer"},  # a summoned one
}
VERIFIERS = {
    "small": {"grid_leader", "community_staff"},
    "big": {"community_staff", "street_officer"},
    "hard": {"street_officer", "city_supervisor"},
}
REPORTERS = {"resident", "building_head", "grid_worker", "grid_leader", "community_staff", "intake"}
#: Who resolves, in the tests of verify and rework: a handler who may not verify.
RESOLVER = {"small": WORKER2, "big": LEADER, "hard": HOUSING}


def handled(svc: IssueService, tier: str) -> UUID:
    """A resident's report, in its tier's handling state (hard: housing summoned)."""
    body = {"grid_id": "g1", "category": "sanitation", "description": "leak"}
    i = svc.report(RESIDENT, body).issue.id
    if tier == "small":
        svc.act(i, "handle_on_spot", WORKER2, {})
    elif tier == "big":
        svc.act(i, "coordinate", STAFF, {"lead_party": "property company"})
    else:
        svc.act(i, "blow_whistle", STAFF, {"departments": ["housing"]})
        svc.act(i, "report_in", HOUSING, {})
    return i


def expect(role: str, allowed: set[str], tier: str) -> Any:
    if role == "department_officer" and tier != "hard":
        return pytest.raises(IssueNotFound)  # never summoned: not theirs to see
    if role in allowed:
        return None
    return pytest.raises(ForbiddenRole)


def attempt(svc: IssueService, i: UUID, action: str, role: str, data: dict[str, Any], ctx: Any):
    head = svc.app.recorder.max_notification_id()
    if ctx is None:
        svc.act(i, action, INSIDE[role], data)
        assert svc.app.recorder.max_notification_id() == head + 1
        return
    with ctx:
        svc.act(i, action, INSIDE[role], data)
    assert svc.app.recorder.max_notification_id() == head


HANDLER_STEPS = {
    "resolve": {"resolution": "done"},
    "suspend": {"reason": "no access"},
    "resume": {},
}


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("tier", list(HANDLERS))
@pytest.mark.parametrize("action", list(HANDLER_STEPS))
def test_the_tiers_handlers_resolve_suspend_and_resume(action: str, tier: str, role: str) -> None:
    svc = make_service()
    i = handled(svc, tier)
    if action == "resume":
        svc.act(i, "suspend", RESOLVER[tier], {"reason": "no access"})
    ctx = expect(role, HANDLERS[tier], tier)
    attempt(svc, i, action, role, HANDLER_STEPS[action], ctx)


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("tier", list(VERIFIERS))
@pytest.mark.parametrize("action", ["verify", "rework"])
def test_the_tiers_verifiers_verify_and_send_back(action: str, tier: str, role: str) -> None:
    svc = make_service()
    i = handled(svc, tier)
    svc.act(i, "resolve", RESOLVER[tier], {"resolution": "done"})
    data = {"reason": "not done"} if action == "rework" else {}
    ctx = expect(role, VERIFIERS[tier], tier)
    attempt(svc, i, action, role, data, ctx)
    if ctx is None:
        back = {"small": "on_spot", "big": "coordinating", "hard": "joint_handling"}[tier]
        assert svc.get(i).state == ("closed" if action == "verify" else back)


@pytest.mark.parametrize("role", ROLES)
def test_the_spec_reporters_report(role: str) -> None:
    svc = make_service()
    body = {"grid_id": "g1", "category": "sanitation", "description": "rubbish"}
    head = svc.app.recorder.max_notification_id()
    if role in REPORTERS:
        issue = svc.report(INSIDE[role], body).issue
        assert issue.state == "reported" and issue.reported_by["role"] == role
    else:
        with pytest.raises(ForbiddenRole):
            svc.report(INSIDE[role], body)
        assert svc.app.recorder.max_notification_id() == head
