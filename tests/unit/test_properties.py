"""Random action sequences by random actors, against invariants stated without the
transition table."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from domain.errors import DomainError
from tests.support import (
    HOUSING,
    LEADER,
    POLICE,
    RESIDENT,
    STAFF,
    STREET,
    SUPERVISOR,
    SYSTEM,
    WATER,
    WORKER,
    WORKER2,
    Clock,
    P,
    make_service,
    report,
)

ACTORS = [
    WORKER,
    WORKER2,
    LEADER,
    STAFF,
    STREET,
    HOUSING,
    WATER,
    POLICE,
    SUPERVISOR,
    RESIDENT,
    SYSTEM,
    P("grid_worker", "g2"),
    P("auditor", "c1"),
]
DEPTS = ["housing", "water", "police"]
TIER_RANK = {None: 0, "small": 1, "big": 2, "hard": 3}

data_for: dict[str, Any] = {
    "handle_on_spot": st.just({}),
    "coordinate": st.just({"lead_party": "property company"}),
    "blow_whistle": st.fixed_dictionaries(
        {
            "departments": st.lists(st.sampled_from(DEPTS), min_size=1, max_size=3, unique=True)
            | st.lists(st.sampled_from(DEPTS), min_size=1, max_size=3, unique=True).map(
                lambda ds: [
                    {"department_id": d, "task": f"{d}'s part", "lead": n == 0}
                    for n, d in enumerate(ds)
                ]
            ),
            "grade": st.sampled_from(["urgent", "standard", "crucial"]),
        }
    ),
    "acknowledge": st.just({}),
    "report_in": st.just({}),
    "summon": st.fixed_dictionaries(
        {"departments": st.lists(st.sampled_from(DEPTS), min_size=1, max_size=2, unique=True)}
    ),
    "resolve": st.just({"resolution": "done"}),
    "verify": st.just({}),
    "rework": st.just({"reason": "not done"}),
    "record_callback": st.sampled_from(
        [
            {"contacted": True, "solved": True, "satisfaction": "satisfied"},
            {"contacted": True, "solved": False, "satisfaction": "dissatisfied"},
            {"contacted": False},
        ]
    ),
    "reject": st.just({"reason": "no"}),
    "transfer": st.sampled_from(
        [{"grid_id": "g2", "reason": "x"}, {"grid_id": "g1", "reason": "x"}]
    ),
    "release": st.fixed_dictionaries(
        {"department_id": st.sampled_from(DEPTS), "reason": st.just("x")}
    ),
    "merge": st.just("TARGET"),
    "suspend": st.just({"reason": "wait"}),
    "resume": st.just({}),
    "comment": st.just({"text": "hi"}),
    "approve_suspension": st.just({}),
    "deny_suspension": st.just({"reason": "no"}),
    "request_extension": st.sampled_from(
        [{"reason": "parts", "extra": "2wd"}, {"reason": "x", "extra": "4h", "deadline": "triage"}]
    ),
    "approve_extension": st.just({}),
    "deny_extension": st.just({"reason": "no"}),
    "request_escalation": st.just({"reason": "too big"}),
    "approve_escalation": st.just({}),
    "deny_escalation": st.just({"reason": "no"}),
    "flag": st.sampled_from([{"message": "why"}, {"message": "you", "target": "housing"}]),
    "reply_flag": st.just({"text": "on it"}),
    "clear_flag": st.just({}),
    "urge": st.sampled_from(
        [
            {"message": "hurry"},
            {"message": "hurry", "grade": "supervise"},
            {"message": "report in", "target": "water", "grade": "list"},
        ]
    ),
    "assign": st.sampled_from([{"principal_id": "worker-li"}, {"principal_id": "worker-wang"}]),
    "confirm_presence": st.sampled_from(DEPTS).map(lambda d: {"department_id": d}),
    "complete_task": st.just({"result": "done"}),
    "record_meeting": st.just(
        {"held_at": "2026-11-23T08:00:00+08:00", "attendees": ["water"], "decisions": "split"}
    ),
    "evaluate_department": st.sampled_from(DEPTS).map(
        lambda d: {
            "department_id": d,
            "timeliness": 4,
            "attendee_level": "staff",
            "cooperation": 3,
            "result": 5,
        }
    ),
    "contest_summons": st.just({"reason": "not ours"}),
    "uphold_summons": st.sampled_from(DEPTS).map(lambda d: {"department_id": d, "reason": "ours"}),
    "miss_deadline": st.sampled_from(
        [
            "triage",
            "small_resolution",
            "big_resolution",
            "hard_resolution",
            "verification",
            "callback",
            "department_report_in:water",
        ]
    ).map(lambda k: {"deadline": k}),
}

step = st.tuples(
    st.sampled_from(range(len(ACTORS))),
    st.booleans(),  # pick among the actor's allowed actions (else any action at all)
    st.integers(min_value=0, max_value=2 * 24 * 60),  # minutes that pass first
    st.data(),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(step, min_size=1, max_size=40))
def test_random_histories_keep_the_invariants(steps: list[Any]) -> None:
    clock = Clock()
    svc = make_service(clock=clock)
    i = report(svc, RESIDENT)
    target = report(svc)
    for who, pick_allowed, minutes, data in steps:
        clock.advance(minutes=minutes)
        issue = svc.get(i)
        allowed = svc.allowed_actions(issue, ACTORS[who])
        if ACTORS[who] is SYSTEM:
            open_keys = [d.key for d in issue.open_deadlines()]
            allowed = ["miss_deadline"] if open_keys else []
        if pick_allowed and allowed:
            action = data.draw(st.sampled_from(allowed))
        else:
            action = data.draw(st.sampled_from(sorted(data_for)))
        body = data.draw(data_for[action])
        if action == "miss_deadline" and pick_allowed and allowed:
            body = {"deadline": data.draw(st.sampled_from(open_keys))}
        if body == "TARGET":
            body = {"duplicate_of": str(target)}
        head = svc.app.recorder.max_notification_id()
        live_before = svc.get(i)
        try:
            live = svc.act(i, action, ACTORS[who], body).issue
        except DomainError:
            assert svc.app.recorder.max_notification_id() == head  # refusals record nothing
            assert svc.get(i) == live_before
            continue
        assert svc.get(i) == live  # rebuilt from the log equals the live issue
        if live.state in ("whistle_blown", "joint_handling"):
            active = [d for d in live.departments.values() if d["released_at"] is None]
            everyone_in = all(d["reported_in_at"] is not None for d in active)
            assert (live.state == "joint_handling") == everyone_in
        if action == "resolve" and live.tier == "hard":  # the joint matter's own rules
            active = [d for d in live.departments.values() if d["released_at"] is None]
            assert all(d.get("task_completed_at") for d in active if d.get("task"))
            assert ACTORS[who].role.value != "department_officer" or (
                live.lead == ACTORS[who].scope
            )

    events = list(svc.app.events.get(i))
    resolver = None
    ranks = []
    missed_instances: list[tuple[str, int]] = []
    started: dict[str, int] = {}
    for n, e in enumerate(events):
        if type(e).__name__ == "Resolved":
            resolver = e.actor["id"]
        if type(e).__name__ == "Verified":
            assert e.actor["id"] != resolver  # the verifier is never the resolver
        ranks.append(TIER_RANK[e.tier])
        if type(e).__name__ == "DeadlineMissed":
            key = e.data["deadline"]  # one event starts several clocks: each by its key
            missed_instances.append((key, started[key]))
        for d in e.starts:
            started[d["key"]] = n
    assert ranks == sorted(ranks)  # the tier never drops
    assert len(missed_instances) == len(set(missed_instances))  # each deadline missed once
