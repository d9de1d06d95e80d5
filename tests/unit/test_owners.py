"""Named owners: given (events) / when (a command) / then (the assignee or an error)."""

from __future__ import annotations

import pytest

from domain.errors import ForbiddenRole, ValidationFailed
from domain.issue import Issue
from tests.support import LEADER, RESIDENT, STAFF, SYSTEM, WORKER, WORKER2, make_service, report


def test_the_assignee_is_the_actor_of_the_last_step_that_handled_it():
    svc = make_service()
    i = report(svc, WORKER)
    assert svc.get(i).assignee == WORKER.id  # the grid worker who found it
    svc.act(i, "handle_on_spot", WORKER2, {})
    assert svc.get(i).assignee == WORKER2.id
    svc.act(i, "comment", STAFF, {"text": "seen"})  # not a step that handles it
    assert svc.get(i).assignee == WORKER2.id


def test_a_residents_report_has_no_assignee_until_staff_take_it():
    svc = make_service()
    i = report(svc, RESIDENT)
    assert svc.get(i).assignee is None
    svc.act(i, "handle_on_spot", WORKER, {})
    assert svc.get(i).assignee == WORKER.id


def test_the_units_leader_names_the_assignee_and_the_deadline_worker_does_not_change_it():
    svc = make_service()
    i = report(svc, RESIDENT)
    svc.act(i, "assign", LEADER, {"principal_id": WORKER2.id})
    svc.clock.advance(days=2)
    svc.act(i, "miss_deadline", SYSTEM, {"deadline": "triage"})
    issue = svc.get(i)
    assert issue.assignee == WORKER2.id
    events = list(svc.app.events.get(i))
    assigned = [e for e in events if isinstance(e, Issue.Assigned)]
    assert [(e.data["principal_id"], e.facts["previous_assignee"]) for e in assigned] == [
        (WORKER2.id, None)
    ]


def test_a_grid_worker_may_not_assign_and_nobody_assigns_the_assignee_again():
    svc = make_service()
    i = report(svc, WORKER)
    with pytest.raises(ForbiddenRole):
        svc.act(i, "assign", WORKER2, {"principal_id": WORKER2.id})
    with pytest.raises(ValidationFailed):
        svc.act(i, "assign", LEADER, {"principal_id": WORKER.id})
    assert svc.get(i).assignee == WORKER.id
