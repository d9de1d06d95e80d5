"""Random histories that take only allowed steps (so they go deep: whistles, summons,
reworks, reopenings, suspensions, misses), with time passing between steps, against the
clock invariants of spec/workflow.md and followup.md:

- each deadline ends once, and only a running one ends;
- a paused clock never runs: it is never missed, and its light does not change;
- no step ends `met` after its effective due time, nor `missed` before it;
- a miss is recorded at or after the effective due time (moved by pauses and approved
  extensions), once;
- a suspension request pauses nothing; its approval does.

The same walk runs from a seeded generator to show which depths it reaches.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from domain.errors import DomainError
from domain.service import IssueService
from tests.support import (
    CALLER,
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

T = TypeVar("T")
Choose = Callable[[Sequence[T]], T]

DESK = P("community_staff", "m1", "callback-desk")  # never handles: records callbacks
ACTORS = [WORKER, WORKER2, LEADER, STAFF, DESK, STREET, HOUSING, WATER, POLICE, SUPERVISOR]
DEPTS = ["housing", "water", "police"]
MINUTES = [0, 0, 10, 45, 90, 240, 24 * 60, 3 * 24 * 60]
FAR = timedelta(days=60)
#: steps that leave the issue where it is (some start or end a reply clock): taken in a
#: quarter of the draws, so that the walk goes deep
SIDE_STEPS = ("comment", "urge", "assign", "flag", "reply_flag", "clear_flag")


def data_for(action: str, choose: Choose[Any], target: str) -> dict[str, Any]:
    depts = sorted({choose(DEPTS) for _ in range(choose([1, 2]))})
    callbacks = [
        {"contacted": True, "solved": True, "satisfaction": "satisfied"},
        {
            "outcome": "reached",
            "handler_contacted": True,
            "solved": False,
            "satisfaction": "dissatisfied",
            "reason": "still there",
            "via": "phone",
        },
        {"outcome": "unreachable", "via": "phone"},
    ]
    return {
        "coordinate": {"lead_party": "property company"},
        "blow_whistle": {"departments": depts, "grade": choose(["urgent", "standard", "crucial"])},
        "summon": {"departments": depts},
        "resolve": {"resolution": "done"},
        "rework": {"reason": "not done"},
        "record_callback": choose(callbacks),
        "reject": {"reason": "no"},
        "transfer": {"grid_id": "g2", "reason": "wrong grid"},
        "release": {"department_id": choose(DEPTS), "reason": "excused"},
        "merge": {"duplicate_of": target},
        "urge": {"message": "hurry"},
        "suspend": {"reason": "no access"},
        "deny_suspension": {"reason": "ask the owner first"},
        "request_extension": {"reason": "parts on order", "extra": choose(["1wd", "2h"])},
        "deny_extension": {"reason": "no"},
        "request_escalation": {"reason": "too big for the grid"},
        "approve_escalation": {"lead_party": "property company"},
        "deny_escalation": {"reason": "a grid matter"},
        "flag": {"message": "why so slow"},
        "reply_flag": {"text": "on it"},
        "clear_flag": {"note": "answered"},
        "assign": {"principal_id": "second-worker"},
        "contest_summons": {"reason": "not ours"},
        "uphold_summons": {"department_id": choose(DEPTS)},
        "confirm_presence": {"department_id": choose(DEPTS)},
        "complete_task": {"result": "done"},
        "comment": {"text": "noted"},
        "appeal_callback": {"reason": "unreasonable"},
        "uphold_appeal": {"reason": "unreasonable"},
        "reject_appeal": {"reason": "reasonable"},
    }.get(action, {})


def walk(choose: Choose[Any], steps: int) -> tuple[IssueService, Any, list[str]]:
    """A history of up to `steps` allowed steps; returns the service, the issue id and
    the states it went through."""
    clock = Clock()
    svc = make_service(clock=clock)
    i = report(svc, RESIDENT, reporter=CALLER)
    target = str(report(svc))
    states = ["reported"]
    for _ in range(steps):
        clock.advance(minutes=choose(MINUTES))
        issue = svc.get(i)
        moves = [(p, a) for p in [*ACTORS, RESIDENT] for a in svc.allowed_actions(issue, p)]
        due = [
            d.key
            for d in issue.open_deadlines()
            if not d.missed and d.paused_since is None and d.effective_due <= clock.now
        ]
        moves += [(SYSTEM, "miss_deadline")] * len(due)
        # an action first, then who takes it: ten actors who may all comment would
        # otherwise drown the rare steps (a suspension approved, then resumed)
        actions = sorted({a for _, a in moves})
        steps = [a for a in actions if a not in SIDE_STEPS]
        if not steps:  # merged, rejected: nothing but talk is left (or a flag to clear)
            break
        lively = [a for a in steps if a not in ("merge", "reject")] or steps  # not the end
        action = choose(choose([lively, lively, steps, actions]))
        p = choose([p for p, a in moves if a == action])
        body = {"deadline": choose(due)} if action == "miss_deadline" else None
        try:
            live = svc.act(i, action, p, body or data_for(action, choose, target)).issue
        except DomainError:
            continue  # data the state refuses (a department summoned twice, …)
        check_live(live, clock.now)
        states.append(f"{live.state}:{live.tier}")
    return svc, i, states


def check_live(issue: Any, now: datetime) -> None:
    for d in issue.open_deadlines():
        if d.paused_since is not None:  # a paused clock never runs
            assert issue.suspended_since is not None
            assert d.light(now) == d.light(now + FAR)
            assert d.status == ("missed" if d.missed else "paused")


@dataclass
class Instance:
    key: str
    due: datetime
    extended: float = 0.0
    paused: float = 0.0
    paused_since: datetime | None = None
    ended: bool = False
    missed: bool = False


def check_log(events: list[Any]) -> None:
    """The clock invariants over the issue's whole log."""
    clocks: list[Instance] = []

    def running(key: str) -> Instance | None:
        return next((c for c in reversed(clocks) if c.key == key and not c.ended), None)

    for e in events:
        name = type(e).__name__
        if name == "DeadlineMissed":  # marked before an escalation ends the clock
            c = running(e.data["deadline"])
            assert c is not None and not c.missed, "a deadline is missed once"
            assert c.paused_since is None, "a paused clock never runs, nor misses"
            assert e.timestamp >= c.due + timedelta(seconds=c.paused + c.extended)
            c.missed = True
        for end in e.ends:
            c = running(end["key"])
            assert c is not None, f"{name} ends {end['key']}, which is not running"
            paused = end.get("paused_seconds", c.paused)
            assert paused >= c.paused  # credited pause never shrinks
            due = c.due + timedelta(seconds=paused + c.extended)
            if end["outcome"] == "met":
                assert e.timestamp <= due, f"{end['key']} met after its due time"
            if name == "DeadlineMissed" and end["key"] == e.data["deadline"]:
                # a miss that ends its own clock (missed: a reply deadline stepping up, a
                # used-up suspension allowance; cancelled: a small matter escalated) is
                # recorded at or after the due time, as any miss
                assert end["outcome"] in ("missed", "cancelled") and e.timestamp >= due
            elif end["outcome"] == "missed":
                assert e.timestamp > due, f"{end['key']} missed before its due time"
            c.ended = True
        for start in e.starts:
            assert running(start["key"]) is None, f"{start['key']} started twice"
            clocks.append(Instance(start["key"], start["due_at"]))
        # suspend asks and the approval pauses (a `suspend` of old events paused at once)
        if name in ("Suspended", "SuspensionApproved") and "paused" in e.facts:
            assert name == "SuspensionApproved" or "requested" not in e.facts
            for key in e.facts["paused"]:
                c = running(key)
                assert c is not None
                c.paused_since = e.timestamp
        if name == "Suspended" and "requested" in e.facts:
            assert "paused" not in e.facts, "a request pauses nothing"
        for key, seconds in e.facts.get("extended", {}).items():
            c = running(key)
            assert c is not None and seconds > 0
            c.extended += seconds
        # resumed: by `resume`, by a step that leaves the suspended state
        # (`resumed_clocks`), or when a suspension's allowance runs out (`resumed`)
        if name == "Resumed" or e.facts.get("resumed_clocks") or e.facts.get("resumed"):
            resumed = e.facts.get("resumed_clocks") or e.facts["paused_seconds"]
            for key, seconds in resumed.items():
                c = running(key)
                assert c is not None and seconds >= c.paused
                c.paused, c.paused_since = seconds, None


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_deep_random_histories_keep_the_clock_invariants(data: st.DataObject) -> None:
    def choose(options: Sequence[Any]) -> Any:
        return data.draw(st.sampled_from(list(options)))

    svc, i, _ = walk(choose, 30)
    events = list(svc.app.events.get(i))
    check_log(events)
    assert svc.get(i) == svc.app.repository.get(i)  # the log rebuilds the same issue


def test_the_walk_reaches_deep_states() -> None:
    rng = random.Random(17)
    seen: set[str] = set()
    actions: set[str] = set()
    for _ in range(25):
        svc, i, states = walk(lambda options: rng.choice(list(options)), 50)
        seen.update(states)
        events = list(svc.app.events.get(i))
        check_log(events)
        actions.update(type(e).__name__ for e in events)
    # reopened hard matters, joint handling, escalations and closure at every tier
    assert {"joint_handling:hard", "closed:hard", "closed:big", "closed:small"} <= seen
    assert {"coordinating:big", "whistle_blown:hard", "on_spot:small"} <= seen
    assert {
        "Summoned",
        "Released",
        "Reworked",
        "Suspended",
        "Resumed",
        "DeadlineMissed",
        "CallbackRecorded",
        "CallbackAppealed",
        # issue 14: approvals, extensions and the follow-up ladder
        "SuspensionApproved",
        "ExtensionApproved",
        "Flagged",
        "FlagReplied",
    } <= actions
