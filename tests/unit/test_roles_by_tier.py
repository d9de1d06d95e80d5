"""Who may take the steps whose roles depend on the tier, at every tier, and who may report.

Expected roles are copied from the actions table of spec/workflow.md and from
spec/followup.md, not from the code: resolve, suspend (a request), resume and
request_extension by the tier's handlers; verify and rework by the tier's verifiers (never
whoever resolved it); a suspension approved or denied by those who may verify the tier or
a street officer; an extension by the verifying level; an escalation asked by a grid
worker and decided by the grid leader or community staff. Nobody decides their own request.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

import pytest

from domain.errors import ForbiddenRole, IssueNotFound, SeparationOfDuties
from domain.service import IssueService
from tests.support import (
    HOUSING,
    LEADER,
    RESIDENT,
    STAFF,
    STREET,
    SYSTEM,
    WORKER,
    WORKER2,
    Clock,
    make_service,
)
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
#: Who approves the resolver's suspension before a resume: a verifier of the tier.
APPROVER = {"small": LEADER, "big": STREET, "hard": STREET}
#: spec/followup.md: "those who may verify the tier"; a street officer approves at any tier
#: (past 10 working days suspended, only they may).
SUSPENSION_DECIDERS = {tier: roles | {"street_officer"} for tier, roles in VERIFIERS.items()}


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
    if action == "resume":  # only an approved suspension pauses, and may be resumed
        svc.act(i, "suspend", RESOLVER[tier], {"reason": "no access"})
        svc.act(i, "approve_suspension", APPROVER[tier], {})
    ctx = expect(role, HANDLERS[tier], tier)
    attempt(svc, i, action, role, HANDLER_STEPS[action], ctx)
    if ctx is None and action == "suspend":
        assert svc.get(i).suspended_since is None  # asked, not yet paused
    if ctx is None and action == "resume":
        assert svc.get(i).suspended_since is None


#: request -> (its data, the deciding actions with their data, who decides per tier)
REQUESTS: dict[str, tuple[dict[str, Any], dict[str, dict[str, Any]], dict[str, set[str]]]] = {
    "suspend": (
        {"reason": "no access"},
        {"approve_suspension": {}, "deny_suspension": {"reason": "ask the owner first"}},
        SUSPENSION_DECIDERS,
    ),
    "request_extension": (
        {"reason": "parts on order", "extra": "1wd"},
        {"approve_extension": {}, "deny_extension": {"reason": "no"}},
        VERIFIERS,
    ),
}
DECISIONS = [(d, r) for r, (_, decisions, _) in REQUESTS.items() for d in decisions]


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("tier", list(HANDLERS))
def test_the_tiers_handlers_ask_for_an_extension(tier: str, role: str) -> None:
    svc = make_service()
    i = handled(svc, tier)
    ctx = expect(role, HANDLERS[tier], tier)
    attempt(svc, i, "request_extension", role, REQUESTS["request_extension"][0], ctx)


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("tier", list(HANDLERS))
@pytest.mark.parametrize(("action", "asked_for"), DECISIONS)
def test_the_tiers_deciders_approve_and_deny_requests(
    action: str, asked_for: str, tier: str, role: str
) -> None:
    svc = make_service()
    i = handled(svc, tier)
    asked, decisions, deciders = REQUESTS[asked_for]
    svc.act(i, asked_for, RESOLVER[tier], asked)
    ctx = expect(role, deciders[tier], tier)
    attempt(svc, i, action, role, decisions[action], ctx)
    if ctx is None and action == "approve_suspension":
        assert svc.get(i).suspended_since is not None  # the clock pauses from the approval


@pytest.mark.parametrize("asked_for", list(REQUESTS))
@pytest.mark.parametrize("tier", list(HANDLERS))
def test_nobody_decides_their_own_request(asked_for: str, tier: str) -> None:
    svc = make_service()
    i = handled(svc, tier)
    asked, decisions, deciders = REQUESTS[asked_for]
    # a handler of the tier who may also decide its requests asks
    asker = {"small": LEADER, "big": STAFF, "hard": STREET}
    assert asker[tier].role in HANDLERS[tier] & deciders[tier]
    svc.act(i, asked_for, asker[tier], asked)
    for action, data in decisions.items():
        head = svc.app.recorder.max_notification_id()
        with pytest.raises(SeparationOfDuties):
            svc.act(i, action, asker[tier], data)
        assert svc.app.recorder.max_notification_id() == head


ESCALATION = {
    "request_escalation": ({"grid_worker"}, {"reason": "too big for the grid"}),
    "approve_escalation": ({"grid_leader", "community_staff"}, {"lead_party": "owners"}),
    "deny_escalation": ({"grid_leader", "community_staff"}, {"reason": "a grid matter"}),
}


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("action", list(ESCALATION))
def test_a_grid_worker_asks_to_escalate_and_the_grid_leader_or_community_decides(
    action: str, role: str
) -> None:
    svc = make_service()
    i = handled(svc, "small")
    if action != "request_escalation":
        svc.act(i, "request_escalation", WORKER, {"reason": "too big for the grid"})
    allowed, data = ESCALATION[action]
    attempt(svc, i, action, role, data, expect(role, allowed, "small"))


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


def test_past_10_working_days_suspended_only_a_street_officer_approves_another() -> None:
    clock = Clock()
    svc = make_service(clock=clock)
    i = handled(svc, "small")
    svc.act(i, "suspend", WORKER2, {"reason": "the owner is abroad"})
    svc.act(i, "approve_suspension", LEADER, {})
    allowance = svc.get(i).open_deadline("suspension_allowance")
    assert allowance is not None
    clock.now = allowance.due_at  # 10 working days used up: the clock runs again
    svc.act(i, "miss_deadline", SYSTEM, {"deadline": "suspension_allowance"})
    svc.act(i, "suspend", WORKER2, {"reason": "still abroad"})
    for role in ("grid_leader", "community_staff"):  # who could approve the first one
        head = svc.app.recorder.max_notification_id()
        with pytest.raises(ForbiddenRole):
            svc.act(i, "approve_suspension", INSIDE[role], {})
        assert svc.app.recorder.max_notification_id() == head
    svc.act(i, "approve_suspension", STREET, {})
    assert svc.get(i).suspended_since is not None
