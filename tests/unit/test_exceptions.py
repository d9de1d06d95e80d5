"""Exceptions need approval, and have caps (spec/followup.md): suspension, extension and
escalation requests decided by somebody else; transfer caps."""

from __future__ import annotations

from datetime import timedelta

import pytest

from domain.errors import CapReached, ForbiddenRole, SeparationOfDuties, TransitionNotAllowed
from tests.support import (
    LEADER,
    ORG,
    STAFF,
    STREET,
    SYSTEM,
    WORKER,
    Clock,
    P,
    make_service,
    report,
)


def deadline(issue, key):
    return [d for d in issue.deadlines if d.key == key][-1]


# -- suspension ----------------------------------------------------------------------


def test_a_suspension_request_pauses_nothing_until_somebody_else_approves_it():
    clock = Clock()
    svc = make_service(clock=clock)
    i = report(svc, category="road")  # small resolution: 4h wall clock
    svc.act(i, "handle_on_spot", LEADER)
    svc.act(i, "suspend", LEADER, {"reason": "no access"})
    assert deadline(svc.get(i), "small_resolution").status == "open"
    head = svc.app.recorder.max_notification_id()
    with pytest.raises(SeparationOfDuties):  # 403 separation_of_duties
        svc.act(i, "approve_suspension", LEADER)
    assert svc.app.recorder.max_notification_id() == head
    clock.advance(hours=5)  # the request alone never stopped the clock
    missed = svc.act(i, "miss_deadline", SYSTEM, {"deadline": "small_resolution"}).issue
    assert deadline(missed, "small_resolution").missed


def test_the_clock_pauses_from_the_approval_not_the_request():
    clock = Clock()
    svc = make_service(clock=clock)
    i = report(svc, category="road")
    svc.act(i, "handle_on_spot", WORKER)
    due = deadline(svc.get(i), "small_resolution").due_at
    svc.act(i, "suspend", WORKER, {"reason": "no access"})
    clock.advance(hours=1)
    svc.act(i, "approve_suspension", LEADER)
    clock.advance(hours=10)
    issue = svc.act(i, "resume", WORKER).issue
    d = deadline(issue, "small_resolution")
    assert d.due_at == due and d.effective_due == due + timedelta(hours=10)


def test_a_denied_suspension_lets_the_clock_run_and_another_may_be_asked():
    svc = make_service()
    i = report(svc)
    svc.act(i, "handle_on_spot", WORKER)
    svc.act(i, "suspend", WORKER, {"reason": "no access"})
    with pytest.raises(TransitionNotAllowed):  # one request at a time
        svc.act(i, "suspend", WORKER, {"reason": "again"})
    issue = svc.act(i, "deny_suspension", LEADER, {"reason": "mornings are open"}).issue
    assert issue.suspended_since is None and issue.requests["suspension"]["status"] == "denied"
    svc.act(i, "suspend", WORKER, {"reason": "no access this week"})


def test_past_ten_working_days_suspended_only_a_street_officer_approves_more():
    clock = Clock()
    svc = make_service(clock=clock)
    i = report(svc)
    svc.act(i, "handle_on_spot", WORKER)
    svc.act(i, "suspend", WORKER, {"reason": "owner abroad"})
    svc.act(i, "approve_suspension", LEADER)
    clock.advance(days=15)  # Monday to the Tuesday two weeks later: 11 working days
    svc.act(i, "resume", WORKER)
    svc.act(i, "suspend", WORKER, {"reason": "owner still abroad"})
    with pytest.raises(ForbiddenRole):
        svc.act(i, "approve_suspension", LEADER)
    with pytest.raises(ForbiddenRole):
        svc.act(i, "approve_suspension", STAFF)
    issue = svc.act(i, "approve_suspension", STREET).issue
    assert issue.suspended_since == clock.now


# -- extension -----------------------------------------------------------------------


def test_an_approved_extension_moves_the_effective_due_time_and_keeps_the_original():
    clock = Clock()
    svc = make_service(clock=clock)
    i = report(svc, category="road")  # 4h wall clock
    svc.act(i, "handle_on_spot", WORKER)
    due = deadline(svc.get(i), "small_resolution").due_at
    svc.act(i, "request_extension", WORKER, {"reason": "parts", "extra": "2h"})
    with pytest.raises(SeparationOfDuties):
        svc.act(i, "approve_extension", P("grid_leader", "g1", WORKER.id))
    issue = svc.act(i, "approve_extension", LEADER).issue
    d = deadline(issue, "small_resolution")
    assert d.due_at == due and d.effective_due == due + timedelta(hours=2)
    clock.advance(hours=5)  # late against the original, on time against the extended one
    done = svc.act(i, "resolve", WORKER, {"resolution": "done"}).issue
    assert deadline(done, "small_resolution").status == "met"


def test_one_extension_per_deadline_two_for_engineering_categories():
    org = {
        **ORG,
        "categories": [
            *ORG["categories"],
            {"code": "works", "name": "Road works", "limits": {}, "engineering": True},
        ],
    }
    svc = make_service()
    svc.load_org(org)
    plain, works = report(svc), report(svc, category="works")
    for i in (plain, works):
        svc.act(i, "handle_on_spot", WORKER)
        svc.act(i, "request_extension", WORKER, {"reason": "parts", "extra": "1wd"})
        svc.act(i, "approve_extension", LEADER)
    with pytest.raises(CapReached) as capped:  # 409 cap_reached
        svc.act(plain, "request_extension", WORKER, {"reason": "more", "extra": "1wd"})
    assert capped.value.code == "cap_reached"
    svc.act(works, "request_extension", WORKER, {"reason": "more", "extra": "1wd"})
    issue = svc.act(works, "approve_extension", LEADER).issue
    assert deadline(issue, "small_resolution").extensions == 2
    with pytest.raises(CapReached):
        svc.act(works, "request_extension", WORKER, {"reason": "again", "extra": "1wd"})


def test_an_extension_asks_for_a_limit():
    svc = make_service()
    i = report(svc)
    svc.act(i, "handle_on_spot", WORKER)
    from domain.errors import ValidationFailed

    with pytest.raises(ValidationFailed) as bad:
        svc.act(i, "request_extension", WORKER, {"reason": "parts", "extra": "soon"})
    assert "extra" in bad.value.fields


# -- escalation ----------------------------------------------------------------------


def test_a_grid_worker_asks_to_escalate_and_the_leader_decides_within_a_working_hour():
    clock = Clock()
    svc = make_service(clock=clock)
    i = report(svc)
    svc.act(i, "handle_on_spot", WORKER)
    issue = svc.act(i, "request_escalation", WORKER, {"reason": "owners must agree"}).issue
    d = deadline(issue, "escalation_decision")
    assert d.due_at == clock.now + timedelta(hours=1)  # Monday 09:00 + 1 working hour
    clock.advance(minutes=30)
    up = svc.act(i, "approve_escalation", LEADER, {"lead_party": "property company"}).issue
    assert (up.state, up.tier) == ("coordinating", "big")
    assert deadline(up, "escalation_decision").status == "met"
    assert deadline(up, "small_resolution").status == "cancelled"
    assert deadline(up, "big_resolution").status == "open"


def test_a_denied_escalation_stays_on_the_spot_and_an_undecided_one_is_missed():
    clock = Clock()
    svc = make_service(clock=clock)
    i, j = report(svc), report(svc)
    for x in (i, j):
        svc.act(x, "handle_on_spot", WORKER)
        svc.act(x, "request_escalation", WORKER, {"reason": "too big"})
    denied = svc.act(i, "deny_escalation", STAFF, {"reason": "call the property manager"}).issue
    assert denied.state == "on_spot" and deadline(denied, "escalation_decision").status == "met"
    clock.advance(hours=1)
    missed = svc.act(j, "miss_deadline", SYSTEM, {"deadline": "escalation_decision"}).issue
    assert deadline(missed, "escalation_decision").missed


# -- transfer cap ----------------------------------------------------------------------


def test_after_two_transfers_only_a_street_officer_assigns_the_issue():
    svc = make_service()
    i = report(svc, STAFF)
    svc.act(i, "transfer", LEADER, {"grid_id": "g2", "reason": "theirs"})
    svc.act(i, "transfer", STAFF, {"grid_id": "g1", "reason": "no, theirs"})
    head = svc.app.recorder.max_notification_id()
    for who in (LEADER, STAFF):
        with pytest.raises(CapReached):
            svc.act(i, "transfer", who, {"grid_id": "g2", "reason": "ping-pong"})
    assert svc.app.recorder.max_notification_id() == head
    svc.act(i, "transfer", STREET, {"grid_id": "g2", "reason": "指定分拨 binding"})
    events = list(svc.app.events.get(i))
    transfers = [e for e in events if type(e).__name__ == "Transferred"]
    assert len(transfers) == 3  # hand count: two free, one binding
    assert [e.facts.get("binding", False) for e in transfers] == [False, False, True]


def test_an_escalation_request_lapses_when_the_issue_moves_on_and_its_clock_stops():
    clock = Clock()
    svc = make_service(clock=clock)
    i = report(svc)
    svc.act(i, "handle_on_spot", WORKER)
    svc.act(i, "request_escalation", WORKER, {"reason": "too big"})
    issue = svc.act(i, "resolve", WORKER, {"resolution": "settled after all"}).issue
    assert deadline(issue, "escalation_decision").status == "cancelled"
    assert issue.requests["escalation"]["status"] == "lapsed"
    clock.advance(hours=2)
    with pytest.raises(TransitionNotAllowed):  # nothing left to miss
        svc.act(i, "miss_deadline", SYSTEM, {"deadline": "escalation_decision"})


def test_a_suspension_approved_below_the_street_runs_out_after_ten_working_days():
    clock = Clock()
    svc = make_service(clock=clock)
    i = report(svc)
    svc.act(i, "handle_on_spot", WORKER)  # Monday 09:00: due Tuesday 09:00
    clock.advance(hours=1)
    svc.act(i, "suspend", WORKER, {"reason": "owner abroad"})
    issue = svc.act(i, "approve_suspension", LEADER).issue
    allowance = deadline(issue, "suspension_allowance")
    assert allowance.due_at == clock.now + timedelta(days=14)  # 10 working days: Monday 10:00
    clock.now = allowance.due_at
    resumed = svc.act(i, "miss_deadline", SYSTEM, {"deadline": "suspension_allowance"}).issue
    assert resumed.suspended_since is None and resumed.followups == []  # no unit missed it
    d = deadline(resumed, "small_resolution")
    assert d.status == "open" and d.effective_due == d.due_at + timedelta(days=14)
    clock.now = d.effective_due
    svc.act(i, "miss_deadline", SYSTEM, {"deadline": "small_resolution"})


def test_a_street_officer_s_approval_has_no_allowance():
    svc = make_service()
    i = report(svc)
    svc.act(i, "handle_on_spot", WORKER)
    svc.act(i, "suspend", WORKER, {"reason": "road closed for works"})
    issue = svc.act(i, "approve_suspension", STREET).issue
    assert issue.open_deadline("suspension_allowance") is None


# -- the refusals' reasons -------------------------------------------------------------

REQUESTS = {  # the request, its data, and the action that decides it
    "suspension": ("suspend", {"reason": "no access"}, "approve_suspension"),
    "extension": ("request_extension", {"reason": "parts", "extra": "1wd"}, "approve_extension"),
    "escalation": ("request_escalation", {"reason": "too big"}, "approve_escalation"),
}


@pytest.mark.parametrize("kind", list(REQUESTS))
def test_a_decision_refused_names_its_reason(kind):
    # given an issue handled on the spot, nothing asked yet
    svc = make_service()
    i = report(svc)
    svc.act(i, "handle_on_spot", WORKER)
    ask, data, decide = REQUESTS[kind]
    # then deciding is refused: nothing waits for a decision
    with pytest.raises(TransitionNotAllowed) as refused:
        svc.act(i, decide, LEADER)
    assert (
        refused.value.message == f"{decide} is not allowed: no {kind} request waits for a decision"
    )
    # and once the worker asks, they may not decide it, even in a role that decides
    svc.act(i, ask, WORKER, data)
    with pytest.raises(SeparationOfDuties) as own:
        svc.act(i, decide, P("grid_leader", "g1", WORKER.id))
    assert own.value.message == f"nobody decides their own {kind} request"


def test_a_second_extension_request_waits_for_the_first_to_be_decided():
    svc = make_service()
    i = report(svc)
    svc.act(i, "handle_on_spot", WORKER)
    svc.act(i, "request_extension", WORKER, {"reason": "parts", "extra": "2h"})
    with pytest.raises(TransitionNotAllowed) as refused:
        svc.act(i, "request_extension", WORKER, {"reason": "more parts", "extra": "4h"})
    assert "an extension request waits for a decision" in refused.value.message
