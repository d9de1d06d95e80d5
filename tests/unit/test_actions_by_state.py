"""Every action from every state: allowed ones record exactly the expected event and
state; refused ones raise a clear error and record nothing.

The expectations below are written from spec/workflow.md, independently of the
transition table in domain/workflow.py.
"""

from __future__ import annotations

from typing import Any

import pytest

from domain.errors import IssueNotFound, TransitionNotAllowed
from domain.issue import EVENT_CLASSES
from tests.support import (
    HOUSING,
    LEADER,
    MONDAY_9,
    STAFF,
    STREET,
    SUPERVISOR,
    WORKER,
    make_service,
    report,
    walk_to,
)

STATES = [
    "reported",
    "on_spot",
    "coordinating",
    "whistle_blown",
    "joint_handling",
    "resolved",
    "closed",
    "rejected",
    "merged",
]
OPEN = [s for s in STATES if s not in ("closed", "rejected", "merged")]
HANDLING = ["on_spot", "coordinating", "joint_handling"]

# action -> {from state: to state}
EXPECTED: dict[str, dict[str, str]] = {
    "handle_on_spot": {"reported": "on_spot"},
    "coordinate": {"reported": "coordinating", "on_spot": "coordinating"},
    "blow_whistle": {"reported": "whistle_blown", "coordinating": "whistle_blown"},
    "acknowledge": {"whistle_blown": "whistle_blown"},
    "report_in": {"whistle_blown": "whistle_blown"},  # one of two departments
    "summon": {"whistle_blown": "whistle_blown", "joint_handling": "whistle_blown"},
    "resolve": {s: "resolved" for s in HANDLING},
    "verify": {"resolved": "closed"},
    "rework": {"resolved": "on_spot"},  # the fixture is a small matter
    "record_callback": {"closed": "closed"},
    "reject": {"reported": "rejected"},
    "transfer": {"reported": "reported"},
    "release": {"whistle_blown": "whistle_blown"},
    "merge": {"reported": "merged", "on_spot": "merged", "coordinating": "merged"},
    "urge": {s: s for s in OPEN},
    "assign": {s: s for s in OPEN},
    "suspend": {s: s for s in HANDLING},
    "resume": {s: s for s in HANDLING},
    "comment": {s: s for s in STATES},
    "approve_suspension": {s: s for s in HANDLING},
    "deny_suspension": {s: s for s in HANDLING},
    "request_extension": {s: s for s in HANDLING},
    "approve_extension": {s: s for s in HANDLING},
    "deny_extension": {s: s for s in HANDLING},
    "request_escalation": {"on_spot": "on_spot"},
    "approve_escalation": {"on_spot": "coordinating"},
    "deny_escalation": {"on_spot": "on_spot"},
    # joint handling: the fixture's whistles name plain ids (no tasks; the first leads)
    "confirm_presence": {"joint_handling": "joint_handling"},  # housing's is unproven
    "complete_task": {},  # nobody has a task
    "record_meeting": {"whistle_blown": "whistle_blown", "joint_handling": "joint_handling"},
    "evaluate_department": {},  # the fixture's closed issue is a small matter
    "contest_summons": {"whistle_blown": "whistle_blown"},
    "uphold_summons": {},  # nobody contested
    # 12345: the fixture's issues are patrol reports, never returned to the hotline
    "return_to_hotline": {},
    "approve_return": {},
}
#: what must be asked first: (the request, its data) — asked by the tier's handler
ASKED_FIRST = {
    "resume": ("suspend", {"reason": "waiting"}),
    "approve_suspension": ("suspend", {"reason": "waiting"}),
    "deny_suspension": ("suspend", {"reason": "waiting"}),
    "approve_extension": ("request_extension", {"reason": "parts", "extra": "1wd"}),
    "deny_extension": ("request_extension", {"reason": "parts", "extra": "1wd"}),
    "approve_escalation": ("request_escalation", {"reason": "too big"}),
    "deny_escalation": ("request_escalation", {"reason": "too big"}),
}

#: The tier an issue has in each state it is handled in; elsewhere it keeps its tier.
TIER_AFTER = {
    "on_spot": "small",
    "coordinating": "big",
    "whistle_blown": "hard",
    "joint_handling": "hard",
}

TIER_OF = {
    "on_spot": "small",
    "coordinating": "big",
    "joint_handling": "hard",
    "whistle_blown": "hard",
    "resolved": "small",
    "closed": "small",
}


def actor_and_data(action: str, state: str, other: str) -> tuple[Any, dict[str, Any]]:
    tier = TIER_OF.get(state)
    handler = {"small": WORKER, "big": STAFF, "hard": STAFF}.get(tier or "", STAFF)
    verifier = {"small": LEADER, "big": STAFF, "hard": STREET}.get(tier or "", STAFF)
    approver = {"small": LEADER, "big": STREET, "hard": STREET}.get(tier or "", STREET)
    return {
        "handle_on_spot": (WORKER, {}),
        "coordinate": (STAFF, {"lead_party": "property company", "parties": ["owners"]}),
        "blow_whistle": (STAFF, {"departments": ["police"], "grade": "standard"}),
        "acknowledge": (HOUSING, {}),
        "report_in": (HOUSING, {"note": "on site"}),
        "summon": (STREET, {"departments": ["police"]}),
        "resolve": (handler, {"resolution": "fixed"}),
        "verify": (verifier, {}),
        "rework": (verifier, {"reason": "still dirty"}),
        "record_callback": (
            STAFF,
            {"contacted": True, "solved": True, "satisfaction": "satisfied"},
        ),
        "reject": (LEADER, {"reason": "not ours"}),
        "transfer": (STAFF, {"grid_id": "g2", "reason": "wrong grid"}),
        "release": (STREET, {"department_id": "water", "reason": "not its remit"}),
        "merge": (LEADER, {"duplicate_of": other}),
        "urge": (SUPERVISOR, {"message": "hurry"}),
        "assign": (STAFF, {"principal_id": "worker-li"}),
        "suspend": (handler, {"reason": "waiting for access"}),
        "resume": (handler, {}),
        "comment": (STAFF, {"text": "noted"}),
        "approve_suspension": (approver, {}),
        "deny_suspension": (approver, {"reason": "no"}),
        "request_extension": (handler, {"reason": "parts on order", "extra": "2wd"}),
        "approve_extension": (approver, {}),
        "deny_extension": (approver, {"reason": "no"}),
        "request_escalation": (WORKER, {"reason": "too big for the grid"}),
        "approve_escalation": (LEADER, {"lead_party": "property company"}),
        "deny_escalation": (LEADER, {"reason": "a grid matter"}),
        "confirm_presence": (STAFF, {"department_id": "housing"}),
        "complete_task": (HOUSING, {"result": "done"}),
        "record_meeting": (
            STAFF,
            {"held_at": "2026-11-23T08:00:00+08:00", "attendees": ["housing"], "decisions": "x"},
        ),
        "evaluate_department": (
            STAFF,
            {
                "department_id": "housing",
                "timeliness": 5,
                "attendee_level": "staff",
                "cooperation": 5,
                "result": 5,
            },
        ),
        "contest_summons": (HOUSING, {"reason": "not ours"}),
        "uphold_summons": (STAFF, {"department_id": "housing"}),
        "return_to_hotline": (STAFF, {"reason": "the utility's matter"}),
        "approve_return": (STREET, {}),
    }[action]


@pytest.mark.parametrize("state", STATES)
@pytest.mark.parametrize("action", list(EXPECTED))
def test_every_action_from_every_state(action: str, state: str) -> None:
    svc = make_service()
    issue_id = walk_to(svc, state)
    other = str(report(svc))
    actor, data = actor_and_data(action, state, other)
    if action in ASKED_FIRST and state in EXPECTED[action]:
        tier = TIER_OF.get(state)
        asker = {"small": WORKER, "big": STAFF, "hard": STAFF}[tier or "small"]
        request, body = ASKED_FIRST[action]
        svc.act(issue_id, request, asker, body)
        if action == "resume":
            approver = {"small": LEADER, "big": STREET, "hard": STREET}[tier or "small"]
            svc.act(issue_id, "approve_suspension", approver, {})
    before = svc.get(issue_id)
    head = svc.app.recorder.max_notification_id()

    if state in EXPECTED[action]:
        result = svc.act(issue_id, action, actor, data)
        after = svc.get(issue_id)
        events = list(svc.app.events.get(issue_id, gt=before.version))
        assert after.state == EXPECTED[action][state]
        assert [type(e) for e in events] == [EVENT_CLASSES[action]]
        assert result.position > (head or 0)
        (event,) = events
        # ... and what the event keeps: who, when, what they said, the tier it leads to
        assert event.actor == actor.as_actor()
        assert event.timestamp == MONDAY_9
        assert event.to_state == after.state
        assert after.tier == TIER_AFTER.get(after.state, before.tier)
        given = {k: v for k, v in data.items() if k not in ("contacted",)}
        assert {k: event.data[k] for k in given} == given
        assert None not in event.data.values()  # what was not given is not recorded as null
        assert after.counts[action] == before.counts.get(action, 0) + 1
        assert after.version == before.version + 1
    elif actor is HOUSING and "housing" not in before.departments:
        # A department that was never summoned does not even see the issue.
        with pytest.raises(IssueNotFound):
            svc.act(issue_id, action, actor, data)
    else:
        with pytest.raises(TransitionNotAllowed) as refused:
            svc.act(issue_id, action, actor, data)
        assert refused.value.details["state"] == state
        assert action not in refused.value.details["allowed_actions"]
        assert refused.value.details["allowed_actions"] == before.allowed_actions(actor, svc.org())
    if state not in EXPECTED[action]:
        assert svc.app.recorder.max_notification_id() == head
        assert svc.get(issue_id).version == before.version


def test_reporting_is_one_event_and_settling_on_the_spot_is_three_in_one_step():
    svc = make_service()
    plain = svc.report(WORKER, {"grid_id": "g1", "category": "road", "description": "pothole"})
    assert [type(e).__name__ for e in svc.app.events.get(plain.issue.id)] == ["Reported"]
    settled = svc.report(
        WORKER,
        {
            "grid_id": "g1",
            "category": "road",
            "description": "pothole",
            "settled_on_spot": True,
            "resolution": "filled",
        },
    )
    names = [type(e).__name__ for e in svc.app.events.get(settled.issue.id)]
    assert names == ["Reported", "HandledOnSpot", "Resolved"]
    assert settled.issue.state == "resolved" and settled.issue.tier == "small"
    assert svc.get(settled.issue.id).state == "resolved"
