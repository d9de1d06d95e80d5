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
from domain.settings import Settings
from domain.workflow import CLIENT_ACTIONS
from tests.support import (
    CALLER,
    LEADER,
    MONDAY_9,
    ORG,
    STAFF,
    STREET,
    SYSTEM,
    WORKER,
    Clock,
    P,
    make_service,
    report,
    walk_to,
)
from tests.unit.test_actions_by_state import EXPECTED, actor_and_data


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
    paused and resumed keys."""

    starts: dict[str, str] = field(default_factory=dict)
    ends: dict[str, str] = field(default_factory=dict)
    pauses: tuple[str, ...] = ()
    resumes: tuple[str, ...] = ()


NONE = Clocks()
RESOLUTION_OF = {"on_spot": SMALL, "coordinating": BIG, "joint_handling": HARD}

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
    "urge": {s: NONE for s in EXPECTED["urge"]},
    "suspend": {s: Clocks(pauses=(k,)) for s, k in RESOLUTION_OF.items()},
    "resume": {s: Clocks(resumes=(k,)) for s, k in RESOLUTION_OF.items()},
    "comment": {s: NONE for s in EXPECTED["comment"]},
}

#: Declared client actions whose clocks are pinned elsewhere in this file.
PINNED_ELSEWHERE = {
    "appeal_callback": "test_appeals_move_no_clock",
    "uphold_appeal": "test_appeals_move_no_clock",
    "reject_appeal": "test_appeals_move_no_clock",
}

PAIRS = [(a, s) for a, states in CLOCKS.items() for s in states]


def test_every_allowed_pair_has_its_clocks_and_every_action_is_covered() -> None:
    allowed = {(a, s) for a, states in EXPECTED.items() for s in states}
    assert set(PAIRS) == allowed
    assert set(CLIENT_ACTIONS) == set(CLOCKS) | set(PINNED_ELSEWHERE)


def take(action: str, state: str, clock: Clock, late: bool = False) -> tuple[Any, Any, Any]:
    """The issue before, the one event the action recorded, and the issue after."""
    svc = make_service(clock=clock)
    issue_id = walk_to(svc, state)
    other = str(report(svc))
    actor, data = actor_and_data(action, state, other)
    if action == "resume":
        svc.act(issue_id, "suspend", actor, {"reason": "waiting"})
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


# kind missed -> (state it runs in, state after the miss, clocks of the miss, flag)
MISSES: dict[str, tuple[str, str, Clocks, bool]] = {
    "triage": ("reported", "reported", NONE, False),
    # policy (GRIDFLOW_ESCALATE_MISSED_SMALL): a missed small matter becomes big
    SMALL: ("on_spot", "coordinating", Clocks({BIG: "5wd"}, {SMALL: "cancelled"}), False),
    BIG: ("coordinating", "coordinating", NONE, True),  # flagged for city follow-up (督办)
    HARD: ("joint_handling", "joint_handling", NONE, False),
    f"{ACK}:housing": ("whistle_blown", "whistle_blown", NONE, False),
    f"{REPORT_IN}:housing": ("whistle_blown", "whistle_blown", NONE, False),
    "verification": ("resolved", "resolved", NONE, False),
    "callback": ("closed", "closed", NONE, False),
}


@pytest.mark.parametrize("key", list(MISSES))
def test_a_missed_deadline_is_recorded_once_and_does_what_the_spec_says(key: str) -> None:
    state, to_state, expected, flagged = MISSES[key]
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
    assert {e["key"]: e["outcome"] for e in event.ends} == expected.ends
    missed = [d for d in after.deadlines if d.key == key]
    assert [d.status for d in missed] == ["missed"]
    assert missed[0].light(clock.now) == "red"
    assert bool(after.flags) == flagged
    if flagged:
        assert after.flags == ["big-matter resolution deadline missed (督办)"]
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
    svc = IssueService(Settings(database_url="memory://", escalate_missed_small=False), clock=clock)
    svc.load_org(ORG)
    i = walk_to(svc, "on_spot")
    clock.now = DUE_FROM_MONDAY_9["1wd"]
    before = svc.get(i)
    svc.act(i, "miss_deadline", SYSTEM, {"deadline": SMALL})
    (event,) = svc.app.events.get(i, gt=before.version)
    issue = svc.get(i)
    assert (issue.state, issue.tier, event.starts, event.ends) == ("on_spot", "small", [], [])
    assert [d.status for d in issue.deadlines if d.key == SMALL] == ["missed"]


@pytest.mark.parametrize(
    ("tier_state", "first", "second"),
    [
        # a small matter reopens small, then a second dissatisfied callback raises it to big
        ("on_spot", ("on_spot", {SMALL: "1wd"}, False), ("coordinating", {BIG: "5wd"}, False)),
        # a big or hard matter reopens in its tier, the second time flagged (督办)
        (
            "coordinating",
            ("coordinating", {BIG: "5wd"}, False),
            ("coordinating", {BIG: "5wd"}, True),
        ),
        (
            "joint_handling",
            ("joint_handling", {HARD: "15wd"}, False),
            ("joint_handling", {HARD: "15wd"}, True),
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
        assert bool(after.flags) == flagged


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
    svc = IssueService(Settings(database_url="memory://", calendars=calendars), clock=clock)
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
    clock.now = sh(25, 13, 30)  # paused Monday's hour and half of Wednesday's
    svc.act(i, "resume", STAFF, {})
    (hard,) = [d for d in svc.get(i).deadlines if d.key == HARD]
    # 1.5 of the grid's working hours paused: Thursday's hour and half of Friday's
    assert hard.effective_due == sh(27, 13, 30)
