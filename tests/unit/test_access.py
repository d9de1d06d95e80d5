"""Who may see and act, beyond the tables of test_roles_and_jurisdiction.py and
test_contact_details.py: a 举报 caller kept from the unit, a reporter acting in another
role, and the service's capabilities (supervision, audit, intake, webhooks).

Expected roles come from docs/hotline.md, docs/audit.md, docs/notifications.md and
docs/workflow.md ("Who sees what"), not from domain/access.py.
"""

from __future__ import annotations

from typing import Any

import pytest

from domain.access import (
    Capability,
    check_subscription,
    may_read_stored_events,
    may_see_personal,
    require,
    supervision_node,
)
from domain.errors import ForbiddenRole, OutsideJurisdiction, ValidationFailed
from gridflow.container import issue_service
from gridflow.settings import Settings
from tests.support import (
    AUDITOR,
    CALLER,
    HOUSING,
    LEADER,
    RESIDENT,
    STAFF,
    STREET,
    SUPERVISOR,
    WORKER,
    Clock,
    P,
    make_service,
)

DESK = P("intake", "c1", "hotline-12345")
ADMIN = P("admin", "c1")


def hotline_ticket(ticket_type: str) -> dict[str, Any]:
    return {
        "grid_id": "g1",
        "category": "road",
        "description": "pothole",
        "channel": "hotline",
        "reporter": CALLER,
        "hotline": {"ticket_no": f"T-{ticket_type}", "ticket_type": ticket_type},
    }


def test_a_report_tickets_caller_is_shown_to_intake_and_auditors_only():
    # given a 举报 ticket and a complaint, both waiting for the grid worker of g1
    svc = make_service()
    org = svc.org()
    tip_off = svc.get(svc.report(DESK, hotline_ticket("report")).issue.id)
    complaint = svc.get(svc.report(DESK, hotline_ticket("complaint")).issue.id)
    assert "handle_on_spot" in tip_off.allowed_actions(WORKER, org)
    # then the worker who may act sees the complainant, never the 举报 caller
    assert may_see_personal(WORKER, complaint, org)
    assert not may_see_personal(WORKER, tip_off, org)
    assert not may_see_personal(SUPERVISOR, tip_off, org)
    # and the hotline desk and auditors see both callers
    for p in (DESK, AUDITOR):
        assert may_see_personal(p, tip_off, org)
        assert may_see_personal(p, complaint, org)


def test_a_reporter_in_another_role_follows_their_report_but_takes_no_step_of_its_node():
    # given resident-1's report in g1, and resident-1 later acting as community staff of m2
    svc = make_service()
    i = svc.report(RESIDENT, {"grid_id": "g1", "category": "road", "description": "x"}).issue.id
    staff_elsewhere = P("community_staff", "m2", RESIDENT.id)
    # when they comment on it: their own report, whatever their node
    svc.act(i, "comment", staff_elsewhere, {"text": "still there"})
    # then a step of g1's community is not theirs to take
    with pytest.raises(OutsideJurisdiction):
        svc.act(i, "reject", staff_elsewhere, {"reason": "not ours"})
    # and once closed, they may record its callback (it reaches its reporter)
    svc.act(i, "handle_on_spot", WORKER, {})
    svc.act(i, "resolve", WORKER, {"resolution": "done"})
    svc.act(i, "verify", LEADER, {})
    closed, org = svc.get(i), svc.org()
    assert "record_callback" in closed.allowed_actions(staff_elsewhere, org)
    assert "record_callback" not in closed.allowed_actions(P("community_staff", "m2"), org)


#: capability -> the roles that have it (docs/audit.md, docs/hotline.md,
#: docs/notifications.md, docs/console.md)
HAVE: dict[Capability, set[str]] = {
    Capability.AUDIT: {"auditor", "city_supervisor", "admin"},
    Capability.IMPORT_TICKETS: {"intake", "admin"},
    Capability.MANAGE_ORGANISATION: {"admin"},
    Capability.ERASE_PERSONAL_DATA: {"admin"},
    Capability.READ_STORED_EVENTS: {"auditor"},
}


@pytest.mark.parametrize("capability", list(HAVE))
def test_each_capability_is_for_its_roles_and_others_are_refused_by_name(capability):
    for role in ("resident", "grid_worker", "street_officer", "city_supervisor", "auditor",
                 "intake", "admin", "department_officer"):  # fmt: skip
        p = P(role, "c1")
        if role in HAVE[capability]:
            require(p, capability)
            continue
        with pytest.raises(ForbiddenRole) as refused:
            require(p, capability)
        words = capability.value.replace("_", " ")
        assert refused.value.message == f"a {role} may not {words}"
        assert refused.value.details == {"role": role}


def test_stored_events_are_read_by_auditors_alone():
    assert may_read_stored_events(AUDITOR)
    for p in (SUPERVISOR, ADMIN, DESK, STAFF):
        assert not may_read_stored_events(p)


def test_supervision_shows_the_city_by_default_and_a_node_within_ones_scope():
    org = make_service().org()
    assert supervision_node(SUPERVISOR, org, None) == "c1"
    assert supervision_node(AUDITOR, org, "m2") == "m2"
    assert supervision_node(ADMIN, org, "g3") == "g3"
    # a street officer: their street and below, nothing beside or above
    assert supervision_node(STREET, org, "s1") == "s1"
    assert supervision_node(STREET, org, "g1") == "g1"
    for node in ("m2", "d1", None):
        with pytest.raises(OutsideJurisdiction) as outside:
            supervision_node(STREET, org, node)
        assert outside.value.message == f"{node or 'c1'} is outside your jurisdiction"
    with pytest.raises(ValidationFailed) as refused:
        supervision_node(SUPERVISOR, org, "nowhere")
    assert refused.value.fields == {"node": "no node 'nowhere'"}
    with pytest.raises(ForbiddenRole):
        supervision_node(HOUSING, org, "d1")


def test_before_any_organisation_is_loaded_supervision_names_the_askers_own_node():
    empty = issue_service(Settings(database_url="memory://"), Clock()).org()
    with pytest.raises(ValidationFailed) as refused:
        supervision_node(SUPERVISOR, empty, None)
    assert refused.value.fields == {"node": "no node 'c1'"}


def test_a_webhook_filter_names_what_exists():
    org = make_service().org()
    with pytest.raises(ValidationFailed) as refused:
        check_subscription(
            SUPERVISOR,
            org,
            ["verify", "fly"],
            ["c1", "moon"],
            ["water", "fire"],
            {"url": "refused"},
        )
    assert refused.value.fields == {
        "filter.actions.1": "no such action",
        "filter.nodes.1": "no such node",
        "filter.departments.1": "no such department",
        "url": "refused",
    }
    check_subscription(SUPERVISOR, org, ["verify"], ["c1"], ["water"])  # all exist


def test_a_webhook_tells_nobody_of_what_they_may_not_see():
    org = make_service().org()
    # supervisors and admins: anything (auditors subscribe to nothing: see the notes)
    for p in (SUPERVISOR, ADMIN):
        check_subscription(p, org, [], [], [])
    # a department officer: their department, and only it
    check_subscription(HOUSING, org, [], [], ["housing"])
    for departments in ([], ["water"], ["housing", "water"]):
        with pytest.raises(OutsideJurisdiction) as refused:
            check_subscription(HOUSING, org, [], [], departments)
        expected = "a department officer subscribes to departments: ['housing']"
        assert refused.value.message == expected
    # other staff: nodes, every one within their scope
    check_subscription(STREET, org, [], ["s1", "g1"], [])
    for nodes in ([], ["s2"], ["g1", "m2"]):
        with pytest.raises(OutsideJurisdiction) as outside:
            check_subscription(STREET, org, [], nodes, [])
        assert outside.value.message == "filter.nodes must lie in your scope"
    with pytest.raises(ForbiddenRole):
        check_subscription(RESIDENT, org, [], ["m1"], [])
