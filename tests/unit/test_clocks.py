"""What every action does to the issue's clocks: which deadlines it starts (kind, limit,
due time), which it ends and how (met, missed, cancelled), which it pauses.

The expectations are written from the deadlines table of spec/workflow.md, not from
domain/decide.py. Each allowed (action, state) pair of `test_actions_by_state.EXPECTED`
has its row here; a new action adds its rows (docs/testing.md says how).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from domain.calendar import Calendars, WorkingCalendar
from domain.errors import TransitionNotAllowed
from domain.service import IssueService
from domain.workflow import CLIENT_ACTIONS
from gridflow.container import issue_service
from gridflow.settings import Settings
from tests.support import (
    CALLER,
    LEADER,
    MONDAY_9,
    ORG,
    POLICE,
    STAFF,
    STREET,
    SYSTEM,
    WATER,
    WORKER,
    Clock,
    P,
    make_service,
    report,
    walk_to,
)
from tests.unit.test_actions_by_state import ASKED_FIRST, EXPECTED, TIER_OF, actor_and_data
from tests.unit.test_callbacks import HOTLINE
from tests.unit.test_joint import whistled


def sh(day: int, hour: int, minute: int = 0, second: int = 0, month: int = 11) -> datetime:
    """A Shanghai local time in 2026 (UTC+8, no daylight saving)."""
    return datetime(2026, month, day, hour, minute, second, tzinfo=UTC) - timedelta(hours=8)


# The spec's defaults from Monday 2026-11-23 09:00 (working hours 08:30-12:00, 13:30-17:30;
# no public holiday before mid-December): the due time each limit gives.
DUE_FROM_MONDAY_9 = {
    "30m": sh(23, 9, 30),  # wall clock
    "1wh": sh(23, 10),
    "2wh": sh(23, 11),
    "1wd": sh(24, 9),  # the same local time on the next working day
    "3wd": sh(26, 9),
    "5wd": sh(30, 9),  # over the weekend
    "15wd": sh(14, 9, month=12),
    # a suspension approved below the street: 10 working days of 7h30m, counted in hours
    "75wh": sh(7, 9, month=12),
}
# ... and the 75% warning of the two shortest working-time defaults.
WARN_FROM_MONDAY_9 = {
    "2wh": sh(23, 10, 30),
    "1wd": sh(23, 16, 7, 30),  # 5h37m30s of the day's 7h30m: 3h before noon, the rest after
}

HOUSING_OFFICER = P("department_officer", "housing")
#: The callback desk: community staff who took no step on the issue.
P_RESIDENT_CALLBACK = P("community_staff", "m1", "callback-desk")

SMALL, BIG, HARD = "small_resolution", "big_resolution", "hard_resolution"
ACK, REPORT_IN = "department_acknowledge", "department_report_in"


@dataclass(frozen=True)
class Clocks:
    """What one action does to the clocks: started {key: limit}, ended {key: outcome},
    paused and resumed keys, and the effective due time of each extended one (its
    original due time stays)."""

    starts: dict[str, str] = field(default_factory=dict)
    ends: dict[str, str] = field(default_factory=dict)
    pauses: tuple[str, ...] = ()
    resumes: tuple[str, ...] = ()
    extends: dict[str, datetime] = field(default_factory=dict)


NONE = Clocks()
RESOLUTION_OF = {"on_spot": SMALL, "coordinating": BIG, "joint_handling": HARD}
#: the reply deadline (1 working day) of the n-th follow-up item opened on an issue
REPLY = "flag_reply"
#: the due time of each resolution clock moved by the 1 working day ASKED_FIRST asks
EXTENDED_BY_1WD = {SMALL: sh(25, 9), BIG: sh(1, 9, month=12), HARD: sh(15, 9, month=12)}

# action -> {state it is taken from: what it does to the clocks}, for the issue
# `walk_to` leaves in that state and the actor and data of `actor_and_data`.
CLOCKS: dict[str, dict[str, Clocks]] = {
    "handle_on_spot": {"reported": Clocks({SMALL: "1wd"}, {"triage": "met"})},
    "coordinate": {
        "reported": Clocks({BIG: "5wd"}, {"triage": "met"}),
        "on_spot": Clocks({BIG: "5wd"}, {SMALL: "cancelled"}),  # escalated
    },
    # blown for the police, grade standard: 1 working hour to acknowledge, 3 days to report in
    "blow_whistle": {
        "reported": Clocks(
            {HARD: "15wd", f"{ACK}:police": "1wh", f"{REPORT_IN}:police": "3wd"},
            {"triage": "met"},
        ),
        "coordinating": Clocks(
            {HARD: "15wd", f"{ACK}:police": "1wh", f"{REPORT_IN}:police": "3wd"},
            {BIG: "cancelled"},
        ),
    },
    # the clock started at the whistle: acknowledging ends one, starts none
    "acknowledge": {"whistle_blown": Clocks(ends={f"{ACK}:housing": "met"})},
    "report_in": {
        "whistle_blown": Clocks(ends={f"{ACK}:housing": "met", f"{REPORT_IN}:housing": "met"})
    },
    # more departments at the whistle's grade (walk_to blows it as standard)
    "summon": {
        s: Clocks({f"{ACK}:police": "1wh", f"{REPORT_IN}:police": "3wd"})
        for s in ("whistle_blown", "joint_handling")
    },
    "resolve": {s: Clocks({"verification": "1wd"}, {k: "met"}) for s, k in RESOLUTION_OF.items()},
    "verify": {"resolved": Clocks({"callback": "1wd"}, {"verification": "met"})},
    "rework": {"resolved": Clocks({SMALL: "1wd"}, {"verification": "met"})},
    "record_callback": {"closed": Clocks(ends={"callback": "met"})},
    "reject": {"reported": Clocks(ends={"triage": "met"})},
    "transfer": {"reported": NONE},  # the triage clock keeps running from the first report
    "release": {
        "whistle_blown": Clocks(
            ends={f"{ACK}:water": "cancelled", f"{REPORT_IN}:water": "cancelled"}
        )
    },
    "merge": {
        "reported": Clocks(ends={"triage": "met"}),
        "on_spot": Clocks(ends={SMALL: "cancelled"}),
        "coordinating": Clocks(ends={BIG: "cancelled"}),
    },
    # an urge opens a follow-up item on the unit handling the issue now, with a reply
    # deadline; while the whistle waits, one per department not reported in (housing, water)
    "urge": {
        s: Clocks({f"{REPLY}:f1": "1wd", f"{REPLY}:f2": "1wd"})
        if s == "whistle_blown"
        else Clocks({f"{REPLY}:f1": "1wd"})
        for s in EXPECTED["urge"]
    },
    "assign": {s: NONE for s in EXPECTED["assign"]},  # names an owner, moves no clock
    # suspend asks; the approval pauses (spec/followup.md: from the approval, not the
    # request). Approved below the street (a small matter's grid leader), the suspension
    # may last 10 working days in all: its allowance clock starts with it.
    "suspend": {s: NONE for s in RESOLUTION_OF},
    "approve_suspension": {
        s: Clocks({"suspension_allowance": "75wh"} if s == "on_spot" else {}, pauses=(k,))
        for s, k in RESOLUTION_OF.items()
    },
    "deny_suspension": {s: NONE for s in RESOLUTION_OF},
    # resuming credits the pause; a grid leader's suspension's allowance is no longer used
    "resume": {
        s: Clocks(
            ends={"suspension_allowance": "cancelled"} if s == "on_spot" else {}, resumes=(k,)
        )
        for s, k in RESOLUTION_OF.items()
    },
    "request_extension": {s: NONE for s in RESOLUTION_OF},
    "approve_extension": {
        s: Clocks(extends={k: EXTENDED_BY_1WD[k]}) for s, k in RESOLUTION_OF.items()
    },
    "deny_extension": {s: NONE for s in RESOLUTION_OF},
    # the grid leader or community staff decide within 1 working hour
    "request_escalation": {"on_spot": Clocks({"escalation_decision": "1wh"})},
    "approve_escalation": {  # as `coordinate` from on_spot would, and the decision is made
        "on_spot": Clocks({BIG: "5wd"}, {"escalation_decision": "met", SMALL: "cancelled"})
    },
    "deny_escalation": {"on_spot": Clocks(ends={"escalation_decision": "met"})},
    "confirm_presence": {"joint_handling": NONE},
    "record_meeting": {s: NONE for s in EXPECTED["record_meeting"]},
    # contested before it acknowledges: the department's clocks run on (an upheld
    # department's clocks never stopped)
    "contest_summons": {"whistle_blown": NONE},
    "comment": {s: NONE for s in EXPECTED["comment"]},
}

#: Declared client actions whose clocks are pinned elsewhere in this file.
PINNED_ELSEWHERE = {
    "appeal_callback": "test_appeals_move_no_clock",
    "uphold_appeal": "test_appeals_move_no_clock",
    "reject_appeal": "test_appeals_move_no_clock",
    "flag": "test_the_follow_up_ladder_starts_and_ends_reply_clocks",
    "reply_flag": "test_the_follow_up_ladder_starts_and_ends_reply_clocks",
    "clear_flag": "test_the_follow_up_ladder_starts_and_ends_reply_clocks",
    # no issue of walk_to allows them (their EXPECTED rows are empty): pinned on their own
    "complete_task": "test_joint_steps_move_no_clock",
    "evaluate_department": "test_joint_steps_move_no_clock",
    "uphold_summons": "test_joint_steps_move_no_clock",
    "return_to_hotline": "test_an_approved_return_ends_the_clocks",
    "approve_return": "test_an_approved_return_ends_the_clocks",
}

PAIRS = [(a, s) for a, states in CLOCKS.items() for s in states]


def test_every_allowed_pair_has_its_clocks_and_every_action_is_covered() -> None:
    allowed = {(a, s) for a, states in EXPECTED.items() for s in states}
    assert set(PAIRS) == allowed
    assert set(CLIENT_ACTIONS) == set(CLOCKS) | set(PINNED_ELSEWHERE)
    assert not set(CLOCKS) & set(PINNED_ELSEWHERE)
    assert all(name in globals() for name in PINNED_ELSEWHERE.values())


def take(action: str, state: str, clock: Clock, late: bool = False) -> tuple[Any, Any, Any]:
    """The issue before, the one event the action recorded, and the issue after."""
    svc = make_service(clock=clock)
    issue_id = walk_to(svc, state)
    other = str(report(svc))
    actor, data = actor_and_data(action, state, other)
    if action in ASKED_FIRST:  # asked by the tier's handler; a resume needs the approval
        asker = {"small": WORKER, "big": STAFF, "hard": STAFF}[TIER_OF[state]]
        request, body = ASKED_FIRST[action]
        svc.act(issue_id, request, asker, body)
        if action == "resume":
            approver = {"small": LEADER, "big": STREET, "hard": STREET}[TIER_OF[state]]
            svc.act(issue_id, "approve_suspension", approver, {})
    if late:
        clock.advance(days=28)  # every clock started at MONDAY_9 is long past due
    before = svc.get(issue_id)
    svc.act(issue_id, action, actor, data)
    (event,) = svc.app.events.get(issue_id, gt=before.version)
    return before, event, svc.get(issue_id)


@pytest.mark.parametrize(("action", "state"), PAIRS)
def test_each_action_starts_ends_and_pauses_the_spec_clocks(action: str, state: str) -> None:
    expected = CLOCKS[action][state]
    before, event, after = take(action, state, Clock())

    assert {s["key"]: s["limit"] for s in event.starts} == expected.starts
    for s in event.starts:
        kind, _, dept = s["key"].partition(":")
        if kind == REPLY:  # keyed by the follow-up item, not a department
            dept = ""
        assert (s["kind"], s["department_id"]) == (kind, dept or None)
        assert s["started_at"] == MONDAY_9
        assert s["due_at"] == DUE_FROM_MONDAY_9[s["limit"]], s["key"]
        if s["limit"] in WARN_FROM_MONDAY_9:
            assert s["warn_at"] == WARN_FROM_MONDAY_9[s["limit"]]
    assert {e["key"]: e["outcome"] for e in event.ends} == expected.ends
    assert event.facts.get("paused", []) == list(expected.pauses)
    assert sorted(event.facts.get("paused_seconds", {})) == sorted(expected.resumes)

    running_before = {d.key for d in before.open_deadlines()}
    running_after = {d.key for d in after.open_deadlines()}
    assert running_after == (running_before - set(expected.ends)) | set(expected.starts)
    for d in after.deadlines:
        if d.key in expected.ends and d.ended_at == MONDAY_9:
            assert d.status == expected.ends[d.key]
    paused = {d.key for d in after.open_deadlines() if d.paused_since is not None}
    assert paused == set(expected.pauses)
    assert {d.key for d in after.deadlines if d.status == "paused"} == set(expected.pauses)
    extended = {d.key: d for d in after.open_deadlines() if d.extensions}
    assert {k: d.effective_due for k, d in extended.items()} == expected.extends
    for d in extended.values():  # the original due time stays on record
        assert d.due_at == DUE_FROM_MONDAY_9[d.limit]


ENDS_MET = [(a, s) for a, s in PAIRS if "met" in CLOCKS[a][s].ends.values()]


@pytest.mark.parametrize(("action", "state"), ENDS_MET)
def test_a_step_that_ends_after_its_due_time_is_recorded_missed(action: str, state: str) -> None:
    expected = CLOCKS[action][state]
    clock = Clock()
    _, event, after = take(action, state, clock, late=True)
    late = {k: ("missed" if o == "met" else o) for k, o in expected.ends.items()}
    assert {e["key"]: e["outcome"] for e in event.ends} == late
    for key, outcome in late.items():
        (d,) = [d for d in after.deadlines if d.key == key and d.ended_at == clock.now]
        assert d.status == outcome
        assert d.light(clock.now) == ("red" if outcome == "missed" else "green")
    for s in event.starts:  # the new step's clock starts now, not at the old step's start
        assert s["started_at"] == clock.now > s["due_at"] - timedelta(days=30)


@pytest.mark.parametrize("grade", ["urgent", "standard", "crucial"])
@pytest.mark.parametrize("action", ["blow_whistle", "summon"])
def test_department_clocks_follow_the_grade_of_the_whistle(action: str, grade: str) -> None:
    svc = make_service()
    i = report(svc)
    svc.act(i, "blow_whistle", STAFF, {"departments": ["housing"], "grade": grade})
    if action == "summon":
        svc.act(i, "summon", STREET, {"departments": ["police"]})
    dept = "police" if action == "summon" else "housing"
    starts = {d.key: (d.limit, d.due_at) for d in svc.get(i).deadlines if d.department_id == dept}
    ack, rep = {
        "urgent": ("30m", "30m"),
        "standard": ("1wh", "3wd"),
        "crucial": ("1wh", "5wd"),
    }[grade]
    assert starts == {
        f"{ACK}:{dept}": (ack, DUE_FROM_MONDAY_9[ack]),
        f"{REPORT_IN}:{dept}": (rep, DUE_FROM_MONDAY_9[rep]),
    }


# Every miss opens a follow-up item (督办件) on the unit responsible for the deadline, at
# the level above it, with its reply deadline (spec/followup.md; this replaces the city
# flag of a missed big resolution). The fixture's grid g1 lies in community m1; its whistles
# are blown by community staff, so their holder is the community.
F1 = {f"{REPLY}:f1": "1wd"}
# kind missed -> (state it runs in, state after the miss, clocks of the miss,
#                 the item's (level, target))
MISSES: dict[str, tuple[str, str, Clocks, tuple[str, str]]] = {
    "triage": ("reported", "reported", Clocks(F1), ("community", "g1")),
    # policy (GRIDFLOW_ESCALATE_MISSED_SMALL): a missed small matter becomes big
    SMALL: (
        "on_spot",
        "coordinating",
        Clocks({BIG: "5wd", **F1}, {SMALL: "cancelled"}),
        ("community", "g1"),
    ),
    BIG: ("coordinating", "coordinating", Clocks(F1), ("street", "m1")),
    # the whistle holder's node (community staff: m1), at street level
    HARD: ("joint_handling", "joint_handling", Clocks(F1), ("street", "m1")),
    # the department, at the whistle holder's level
    f"{ACK}:housing": ("whistle_blown", "whistle_blown", Clocks(F1), ("community", "housing")),
    f"{REPORT_IN}:housing": (
        "whistle_blown",
        "whistle_blown",
        Clocks(F1),
        ("community", "housing"),
    ),
    # the verifying node of a small matter (the community), one above it
    "verification": ("resolved", "resolved", Clocks(F1), ("street", "m1")),
    "callback": ("closed", "closed", Clocks(F1), ("street", "m1")),
}


@pytest.mark.parametrize("key", list(MISSES))
def test_a_missed_deadline_is_recorded_once_and_does_what_the_spec_says(key: str) -> None:
    state, to_state, expected, (level, target) = MISSES[key]
    clock = Clock()
    svc = make_service(clock=clock)
    i = walk_to(svc, state)
    due = svc.get(i).open_deadline(key).due_at  # type: ignore[union-attr]
    clock.now = due - timedelta(seconds=1)
    with pytest.raises(TransitionNotAllowed) as early:
        svc.act(i, "miss_deadline", SYSTEM, {"deadline": key})
    assert "not yet due" in str(early.value)
    assert early.value.details == {"state": state, "allowed_actions": []}

    clock.now = due
    before = svc.get(i)
    svc.act(i, "miss_deadline", SYSTEM, {"deadline": key})
    (event,) = svc.app.events.get(i, gt=before.version)
    after = svc.get(i)
    assert after.state == to_state
    assert {s["key"]: s["limit"] for s in event.starts} == expected.starts
    assert all(s["started_at"] == clock.now for s in event.starts)
    assert {e["key"]: e["outcome"] for e in event.ends} == expected.ends
    missed = [d for d in after.deadlines if d.key == key]
    assert [d.status for d in missed] == ["missed"]
    assert missed[0].light(clock.now) == "red"
    assert after.flags == []  # no more free-text flags: an item that must be answered
    assert [
        (f["id"], f["level"], f["target"], f["reason"], f["status"]) for f in after.followups
    ] == [("f1", level, target, f"deadline_missed:{key.partition(':')[0]}", "open")]
    if to_state != state:
        assert event.facts.get("escalated") is True

    clock.advance(days=1)
    head = svc.app.recorder.max_notification_id()
    with pytest.raises(TransitionNotAllowed) as again:  # each deadline is missed once
        svc.act(i, "miss_deadline", SYSTEM, {"deadline": key})
    assert "not running" in str(again.value)
    assert again.value.details == {"state": to_state, "allowed_actions": []}
    assert svc.app.recorder.max_notification_id() == head


def test_a_small_matter_stays_small_when_escalation_is_off() -> None:
    clock = Clock()
    svc = issue_service(Settings(database_url="memory://", escalate_missed_small=False), clock)
    svc.load_org(ORG)
    i = walk_to(svc, "on_spot")
    clock.now = DUE_FROM_MONDAY_9["1wd"]
    before = svc.get(i)
    svc.act(i, "miss_deadline", SYSTEM, {"deadline": SMALL})
    (event,) = svc.app.events.get(i, gt=before.version)
    issue = svc.get(i)
    assert (issue.state, issue.tier, event.ends) == ("on_spot", "small", [])
    # no big clock: only the follow-up item's reply deadline starts
    assert {s["key"]: s["limit"] for s in event.starts} == {f"{REPLY}:f1": "1wd"}
    assert [d.status for d in issue.deadlines if d.key == SMALL] == ["missed"]


@pytest.mark.parametrize(
    ("tier_state", "first", "second"),
    [
        # a small matter reopens small, then a second dissatisfied callback raises it to big
        # and, as on every tier (spec/followup.md), opens a city follow-up item (督办) at once
        (
            "on_spot",
            ("on_spot", {SMALL: "1wd"}, False),
            ("coordinating", {BIG: "5wd", f"{REPLY}:f1": "1wd"}, True),
        ),
        # a big or hard matter reopens in its tier, the second time with a city item
        (
            "coordinating",
            ("coordinating", {BIG: "5wd"}, False),
            ("coordinating", {BIG: "5wd", f"{REPLY}:f1": "1wd"}, True),
        ),
        (
            "joint_handling",
            ("joint_handling", {HARD: "15wd"}, False),
            ("joint_handling", {HARD: "15wd", f"{REPLY}:f1": "1wd"}, True),
        ),
    ],
)
def test_a_dissatisfied_callback_reopens_with_a_fresh_resolution_clock(
    tier_state: str,
    first: tuple[str, dict[str, str], bool],
    second: tuple[str, dict[str, str], bool],
) -> None:
    svc = make_service()
    i = walk_to(svc, tier_state)
    resolver, verifier = {
        "on_spot": (WORKER, LEADER),
        "coordinating": (STAFF, STREET),
        "joint_handling": (STAFF, STREET),
    }[tier_state]
    dissatisfied = {
        "outcome": "reached",
        "handler_contacted": True,
        "solved": False,
        "satisfaction": "dissatisfied",
        "reason": "still there",
        "via": "phone",
    }
    caller = P_RESIDENT_CALLBACK
    for to_state, starts, flagged in (first, second):
        svc.act(i, "resolve", resolver, {"resolution": "done"})
        svc.act(i, "verify", verifier, {})
        before = svc.get(i)
        svc.act(i, "record_callback", caller, dissatisfied)
        (event,) = svc.app.events.get(i, gt=before.version)
        after = svc.get(i)
        assert after.state == to_state
        assert {e["key"]: e["outcome"] for e in event.ends} == {"callback": "met"}
        assert {s["key"]: s["limit"] for s in event.starts} == starts
        assert after.flags == []
        items = [(f["level"], f["reason"], f["status"]) for f in after.followups]
        assert items == ([("city", "dissatisfied", "open")] if flagged else [])


def test_appeals_move_no_clock() -> None:
    svc = make_service()
    i = walk_to(svc, "closed")
    svc.act(
        i,
        "record_callback",
        P_RESIDENT_CALLBACK,
        {
            "outcome": "reached",
            "handler_contacted": True,
            "solved": False,
            "satisfaction": "dissatisfied",
            "reason": "wants a new road",
            "via": "phone",
        },
    )
    for action, actor in (("appeal_callback", WORKER), ("uphold_appeal", STREET)):
        before = svc.get(i)
        svc.act(i, action, actor, {"reason": "no unit may grant it"})
        (event,) = svc.app.events.get(i, gt=before.version)
        assert (event.starts, event.ends) == ([], [])
        assert {d.key for d in svc.get(i).open_deadlines()} == {
            d.key for d in before.open_deadlines()
        }


def test_verify_starts_no_callback_clock_when_nobody_is_to_be_called() -> None:
    svc = make_service()
    i = report(svc)  # a patrol find: no reporter's contact
    svc.act(i, "handle_on_spot", WORKER)
    svc.act(i, "resolve", WORKER, {"resolution": "done"})
    svc.act(i, "verify", LEADER, {})
    assert svc.get(i).open_deadlines() == []
    j = report(svc, reporter=CALLER)
    svc.act(j, "handle_on_spot", WORKER)
    svc.act(j, "resolve", WORKER, {"resolution": "done"})
    svc.act(j, "verify", LEADER, {})
    assert [d.key for d in svc.get(j).open_deadlines()] == ["callback"]


def test_triage_starts_at_report_with_two_working_hours() -> None:
    svc = make_service()
    (d,) = svc.get(report(svc)).deadlines
    assert (d.key, d.limit, d.started_at, d.due_at, d.warn_at) == (
        "triage",
        "2wh",
        MONDAY_9,
        DUE_FROM_MONDAY_9["2wh"],
        WARN_FROM_MONDAY_9["2wh"],
    )


def _one_event(svc: IssueService, i: Any, action: str, actor: Any, data: dict[str, Any]) -> Any:
    before = svc.get(i)
    svc.act(i, action, actor, data)
    (event,) = svc.app.events.get(i, gt=before.version)
    return event


def _clocks_of(event: Any) -> tuple[dict[str, str], dict[str, str]]:
    return {s["key"]: s["limit"] for s in event.starts}, {
        e["key"]: e["outcome"] for e in event.ends
    }


def test_the_follow_up_ladder_starts_and_ends_reply_clocks() -> None:
    """flag opens an item whose target must reply within 1 working day; the reply ends
    that clock (met, or missed when late); clearing (销号) starts and ends none."""
    clock = Clock()
    svc = make_service(clock=clock)
    i = walk_to(svc, "on_spot")
    flagged = _one_event(svc, i, "flag", STREET, {"message": "why so slow"})
    assert _clocks_of(flagged) == ({f"{REPLY}:f1": "1wd"}, {})
    (reply_clock,) = [d for d in svc.get(i).open_deadlines() if d.kind == REPLY]
    assert (reply_clock.due_at, reply_clock.warn_at) == (
        DUE_FROM_MONDAY_9["1wd"],
        WARN_FROM_MONDAY_9["1wd"],
    )
    # the grid handling the small matter is the target; it answers in time
    replied = _one_event(svc, i, "reply_flag", WORKER, {"text": "access tomorrow"})
    assert _clocks_of(replied) == ({}, {f"{REPLY}:f1": "met"})
    cleared = _one_event(svc, i, "clear_flag", STREET, {"note": "answered"})
    assert _clocks_of(cleared) == ({}, {})
    assert [f["status"] for f in svc.get(i).followups] == ["cleared"]

    # a second item, answered a day and a half late
    again = _one_event(svc, i, "flag", STREET, {"message": "and now?"})
    assert _clocks_of(again) == ({f"{REPLY}:f2": "1wd"}, {})
    clock.now = sh(25, 14)
    late = _one_event(svc, i, "reply_flag", WORKER, {"text": "done soon"})
    assert _clocks_of(late) == ({}, {f"{REPLY}:f2": "missed"})


def test_an_unanswered_item_steps_up_a_level_per_missed_reply_and_is_listed_at_the_city() -> None:
    clock = Clock()
    svc = make_service(clock=clock)
    i = report(svc)
    clock.now = DUE_FROM_MONDAY_9["2wh"]
    _one_event(svc, i, "miss_deadline", SYSTEM, {"deadline": "triage"})  # community item f1
    due = svc.get(i).open_deadline(f"{REPLY}:f1").due_at  # type: ignore[union-attr]
    assert due == sh(24, 11)  # 1 working day from the miss at Monday 11:00
    clock.now = due
    first = _one_event(svc, i, "miss_deadline", SYSTEM, {"deadline": f"{REPLY}:f1"})
    # missed at the community: up to the street, which gets a fresh day to have it answered
    assert _clocks_of(first) == ({f"{REPLY}:f1": "1wd"}, {f"{REPLY}:f1": "missed"})
    (item,) = svc.get(i).followups
    assert (item["level"], item["listed"]) == ("street", False)
    clock.now = svc.get(i).open_deadline(f"{REPLY}:f1").due_at  # type: ignore[union-attr]
    second = _one_event(svc, i, "miss_deadline", SYSTEM, {"deadline": f"{REPLY}:f1"})
    # at the city it is listed (挂牌督办) and stays on the board until cleared: no more clock
    assert _clocks_of(second) == ({}, {f"{REPLY}:f1": "missed"})
    (item,) = svc.get(i).followups
    assert (item["level"], item["listed"], item["status"]) == ("city", True, "open")


def test_joint_steps_move_no_clock() -> None:
    """Tasks, evaluations and contests (spec/joint-handling.md, followup.md) start and end
    no clock: the department's clocks run from the whistle until it reports in."""
    svc, i = whistled()
    contested = _one_event(svc, i, "contest_summons", POLICE, {"reason": "not ours"})
    upheld = _one_event(svc, i, "uphold_summons", STAFF, {"department_id": "police"})
    assert _clocks_of(contested) == _clocks_of(upheld) == ({}, {})
    running = {d.key for d in svc.get(i).open_deadlines()}
    assert {f"{ACK}:police", f"{REPORT_IN}:police"} <= running
    svc.act(i, "report_in", WATER)
    svc.act(i, "report_in", POLICE)
    done = _one_event(svc, i, "complete_task", POLICE, {"result": "diverted"})
    assert _clocks_of(done) == ({}, {})
    svc.act(i, "complete_task", WATER, {"result": "repaired"})
    svc.act(i, "resolve", WATER, {"resolution": "repaired"})
    svc.act(i, "verify", STREET, {})
    before = {d.key for d in svc.get(i).open_deadlines()}
    graded = _one_event(
        svc,
        i,
        "evaluate_department",
        STAFF,
        {
            "department_id": "water",
            "timeliness": 5,
            "attendee_level": "staff",
            "cooperation": 5,
            "result": 5,
        },
    )
    assert _clocks_of(graded) == ({}, {})
    assert {d.key for d in svc.get(i).open_deadlines()} == before


def test_an_approved_return_ends_the_clocks() -> None:
    svc = make_service()
    ticket = {"ticket_no": "H1", "ticket_type": "help", "dispatched_at": MONDAY_9.isoformat()}
    body = {"grid_id": "g1", "category": "sanitation", "description": "ticket"}
    i = svc.report(
        HOTLINE,
        {
            **body,
            "channel": "hotline",
            "hotline": {**ticket, "due_at": "2026-11-27T17:00:00+08:00"},
        },
    ).issue.id
    assert {d.key for d in svc.get(i).open_deadlines()} == {"triage", "hotline_due"}
    asked = _one_event(svc, i, "return_to_hotline", STAFF, {"reason": "the utility's matter"})
    assert _clocks_of(asked) == ({}, {})  # a request: the clocks run on until approved
    approved = _one_event(svc, i, "approve_return", STREET, {})
    # returned (退单) is the hotline's reply: triage and the hotline's due time are met
    assert _clocks_of(approved) == ({}, {"triage": "met", "hotline_due": "met"})
    assert (svc.get(i).state, svc.get(i).open_deadlines()) == ("rejected", [])


def test_an_escalation_nobody_decided_in_an_hour_opens_a_street_item_on_the_community() -> None:
    """spec/followup.md: `escalation_decision` is the community's to answer, at street level."""
    clock = Clock()
    svc = make_service(clock=clock)
    i = walk_to(svc, "on_spot")
    asked = _one_event(svc, i, "request_escalation", WORKER, {"reason": "too big for the grid"})
    assert _clocks_of(asked) == ({"escalation_decision": "1wh"}, {})
    clock.now = DUE_FROM_MONDAY_9["1wh"]
    missed = _one_event(svc, i, "miss_deadline", SYSTEM, {"deadline": "escalation_decision"})
    assert _clocks_of(missed) == (F1, {})
    issue = svc.get(i)
    assert issue.state == "on_spot"
    assert [(f["level"], f["target"], f["reason"]) for f in issue.followups] == [
        ("street", "m1", "deadline_missed:escalation_decision")
    ]
    # decided late: the decision ends its clock missed and moves the matter on
    clock.advance(minutes=30)
    approved = _one_event(svc, i, "approve_escalation", LEADER, {"lead_party": "owners"})
    assert _clocks_of(approved) == (
        {BIG: "5wd"},
        {"escalation_decision": "missed", SMALL: "cancelled"},
    )


def test_reporting_in_after_acknowledging_ends_only_the_report_in_clock() -> None:
    clock = Clock()
    svc = make_service(clock=clock)
    i = walk_to(svc, "whistle_blown")
    clock.advance(minutes=20)
    svc.act(i, "acknowledge", HOUSING_OFFICER, {})
    before = svc.get(i)
    svc.act(i, "report_in", HOUSING_OFFICER, {"note": "on site"})
    (event,) = svc.app.events.get(i, gt=before.version)
    assert event.ends == [{"key": f"{REPORT_IN}:housing", "outcome": "met"}]
    acks = [d for d in svc.get(i).deadlines if d.key == f"{ACK}:housing"]
    assert [(d.status, d.ended_at) for d in acks] == [("met", MONDAY_9 + timedelta(minutes=20))]


def test_each_clock_follows_its_grids_calendar_and_its_categorys_limits() -> None:
    # Community m1 works one hour a day (13:00-14:00) and takes Tuesday off; category
    # "flood" has its own hard-resolution and report-in limits.
    calendars = Calendars.from_config(
        {"m1": {"hours": "13:00-14:00", "holidays": ["2026-11-24"]}}, WorkingCalendar()
    )
    clock = Clock()
    svc = issue_service(Settings(database_url="memory://", calendars=calendars), clock)
    flood = {"code": "flood", "name": "Flooding", "limits": {"hard_resolution": "2wd"}}
    flood["limits"]["department_report_in.standard"] = "1wd"
    svc.load_org({**ORG, "categories": [*ORG["categories"], flood]})
    body = {"grid_id": "g1", "category": "flood", "description": "water in the cellar"}
    i = svc.report(WORKER, body).issue.id

    def due(key: str) -> datetime:
        return next(d.due_at for d in reversed(svc.get(i).deadlines) if d.key == key)

    assert due("triage") == sh(25, 14)  # 13:00-14:00 Monday, then Wednesday's hour
    svc.act(i, "handle_on_spot", WORKER)
    assert due(SMALL) == sh(25, 9)  # one working day: Tuesday is off
    svc.act(i, "coordinate", STAFF, {"lead_party": "property company"})
    assert due(BIG) == sh(1, 9, month=12)  # Wed, Thu, Fri, Mon, Tue
    svc.act(i, "blow_whistle", STAFF, {"departments": ["housing"]})
    assert due(HARD) == sh(26, 9)  # the category's 2 working days
    assert due(f"{REPORT_IN}:housing") == sh(25, 9)  # the category's 1 working day
    assert due(f"{ACK}:housing") == sh(23, 14)  # 1 working hour: Monday 13:00-14:00
    svc.act(i, "summon", STREET, {"departments": ["police"]})
    assert due(f"{ACK}:police") == sh(23, 14) and due(f"{REPORT_IN}:police") == sh(25, 9)
    svc.act(i, "report_in", HOUSING_OFFICER, {})
    svc.act(i, "report_in", P("department_officer", "police"), {})
    svc.act(i, "suspend", STAFF, {"reason": "waiting for the pump"})
    svc.act(i, "approve_suspension", STREET, {})  # the pause runs from the approval
    clock.now = sh(25, 13, 30)  # paused Monday's hour and half of Wednesday's
    svc.act(i, "resume", STAFF, {})
    (hard,) = [d for d in svc.get(i).deadlines if d.key == HARD]
    # 1.5 of the grid's working hours paused: Thursday's hour and half of Friday's
    assert hard.effective_due == sh(27, 13, 30)
