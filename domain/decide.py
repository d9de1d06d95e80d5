"""The rules of each action, once role, jurisdiction, data and table have passed.

Each function decides the next state and tier, which clocks start and end, and the
facts the event keeps; it reads the clock only through `ctx.now`. Problems found
here are about the data against the issue (422) or the issue's state (409).
"""

from __future__ import annotations

from typing import Any

from domain import actions as A
from domain.callbacks import someone_to_call
from domain.context import Context, Decision
from domain.deadlines import RESOLUTION_KIND
from domain.errors import BeyondHolidayData, TransitionNotAllowed, ValidationFailed
from domain.issue import Issue
from domain.principals import Principal
from domain.states import HANDLING_STATE, TERMINAL


def _dump(data: A.ActionData) -> dict[str, Any]:
    return data.model_dump(mode="json", exclude_none=True)


def _deadline(issue: Issue, ctx: Context, kind: str) -> dict[str, Any]:
    """A clock of the issue's own (departments' clocks: `_summon_clocks`)."""
    return ctx.deadline(kind, issue.category, issue.grid_id)


def _end_resolution(issue: Issue, d: Decision, outcome: str = "met") -> None:
    if issue.tier and issue.open_deadline(RESOLUTION_KIND[issue.tier]):
        d.end(RESOLUTION_KIND[issue.tier], outcome)


def _end_triage(issue: Issue, d: Decision) -> None:
    if issue.open_deadline("triage"):
        d.end("triage")


def _summon_clocks(issue: Issue, ctx: Context, d: Decision, depts: list[str], grade: str) -> None:
    for dept in depts:
        for kind in ("department_acknowledge", "department_report_in"):
            d.starts.append(ctx.deadline(kind, issue.category, issue.grid_id, dept, grade))


def _known_departments(ctx: Context, depts: list[str]) -> None:
    bad = {
        f"departments.{i}": f"no department {x!r}"
        for i, x in enumerate(depts)
        if x not in ctx.org.departments
    }
    if len(set(depts)) != len(depts):
        bad["departments"] = "a department is listed twice"
    if bad:
        raise ValidationFailed(bad)


def handle_on_spot(issue: Issue, p: Principal, data: Any, ctx: Context, _: Any) -> Decision:
    d = Decision("on_spot", "small", _dump(data))
    _end_triage(issue, d)
    d.starts.append(_deadline(issue, ctx, "small_resolution"))
    return d


def coordinate(issue: Issue, p: Principal, data: Any, ctx: Context, _: Any) -> Decision:
    d = Decision("coordinating", "big", _dump(data))
    _end_triage(issue, d)
    _end_resolution(issue, d, "cancelled")  # escalated from on the spot
    d.starts.append(_deadline(issue, ctx, "big_resolution"))
    return d


def blow_whistle(issue: Issue, p: Principal, data: A.BlowWhistle, ctx: Context, _: Any) -> Decision:
    _known_departments(ctx, data.departments)
    d = Decision("whistle_blown", "hard", _dump(data))
    _end_triage(issue, d)
    _end_resolution(issue, d, "cancelled")
    d.starts.append(ctx.deadline("hard_resolution", issue.category, issue.grid_id))
    _summon_clocks(issue, ctx, d, data.departments, data.grade)
    return d


def acknowledge(issue: Issue, p: Principal, data: Any, ctx: Context, _: Any) -> Decision:
    d = Decision(issue.state, issue.tier, _dump(data), {"department_id": p.scope})
    d.end(f"department_acknowledge:{p.scope}")
    return d


def report_in(issue: Issue, p: Principal, data: A.ReportIn, ctx: Context, _: Any) -> Decision:
    dept = p.scope
    pending = [
        k
        for k, v in issue.active_departments().items()
        if v["reported_in_at"] is None and k != dept
    ]
    d = Decision(
        "whistle_blown" if pending else "joint_handling",
        "hard",
        _dump(data),
        {"department_id": dept},
    )
    if issue.open_deadline(f"department_acknowledge:{dept}"):
        d.end(f"department_acknowledge:{dept}")
    d.end(f"department_report_in:{dept}")
    return d


def summon(issue: Issue, p: Principal, data: A.Summon, ctx: Context, _: Any) -> Decision:
    _known_departments(ctx, data.departments)
    active = issue.active_departments()
    again = {
        f"departments.{i}": "already summoned"
        for i, x in enumerate(data.departments)
        if x in active
    }
    if again:
        raise ValidationFailed(again)
    d = Decision("whistle_blown", "hard", _dump(data))
    _summon_clocks(issue, ctx, d, data.departments, issue.grade or "standard")
    return d


def resolve(issue: Issue, p: Principal, data: A.Resolve, ctx: Context, _: Any) -> Decision:
    d = Decision("resolved", issue.tier, _dump(data))
    _end_resolution(issue, d)
    d.starts.append(_deadline(issue, ctx, "verification"))
    return d


def verify(issue: Issue, p: Principal, data: Any, ctx: Context, _: Any) -> Decision:
    d = Decision("closed", issue.tier, _dump(data))
    d.end("verification")
    if someone_to_call(issue):  # no callback is owed when there is nobody to call
        d.starts.append(_deadline(issue, ctx, "callback"))
    return d


def rework(issue: Issue, p: Principal, data: Any, ctx: Context, _: Any) -> Decision:
    tier = issue.tier or "small"
    d = Decision(HANDLING_STATE[tier], tier, _dump(data))
    d.end("verification")
    d.starts.append(_deadline(issue, ctx, RESOLUTION_KIND[tier]))
    return d


def reject(issue: Issue, p: Principal, data: Any, ctx: Context, _: Any) -> Decision:
    d = Decision("rejected", issue.tier, _dump(data))
    _end_triage(issue, d)
    return d


def transfer(issue: Issue, p: Principal, data: A.Transfer, ctx: Context, _: Any) -> Decision:
    if not ctx.org.is_grid(data.grid_id):
        raise ValidationFailed({"grid_id": f"no grid {data.grid_id!r}"})
    if data.grid_id == issue.grid_id:
        raise ValidationFailed({"grid_id": "the issue is already in this grid"})
    return Decision("reported", issue.tier, _dump(data))  # the triage clock keeps running


def release(issue: Issue, p: Principal, data: A.Release, ctx: Context, _: Any) -> Decision:
    dept = issue.departments.get(data.department_id)
    if dept is None or dept["released_at"] is not None:
        raise ValidationFailed({"department_id": "not a summoned department"})
    if dept["reported_in_at"] is not None:
        raise ValidationFailed({"department_id": "this department has already reported in"})
    rest = [v for k, v in issue.active_departments().items() if k != data.department_id]
    done = all(v["reported_in_at"] is not None for v in rest)
    d = Decision("joint_handling" if done else "whistle_blown", "hard", _dump(data))
    for kind in ("department_acknowledge", "department_report_in"):
        if issue.open_deadline(f"{kind}:{data.department_id}"):
            d.end(f"{kind}:{data.department_id}", "cancelled")
    return d


def merge(
    issue: Issue, p: Principal, data: A.Merge, ctx: Context, target: Issue | None
) -> Decision:
    if target is None:
        raise ValidationFailed({"duplicate_of": "no such issue"})
    if target.id == issue.id:
        raise ValidationFailed({"duplicate_of": "an issue cannot duplicate itself"})
    if target.state in TERMINAL:
        raise ValidationFailed({"duplicate_of": f"that issue is {target.state}, not open"})
    d = Decision("merged", issue.tier, _dump(data))
    _end_triage(issue, d)
    _end_resolution(issue, d, "cancelled")
    return d


def urge(issue: Issue, p: Principal, data: Any, ctx: Context, _: Any) -> Decision:
    return Decision(issue.state, issue.tier, _dump(data))


def suspend(issue: Issue, p: Principal, data: Any, ctx: Context, _: Any) -> Decision:
    kind = RESOLUTION_KIND[issue.tier or "small"]
    paused = [kind] if issue.open_deadline(kind) else []
    return Decision(issue.state, issue.tier, _dump(data), {"paused": paused})


def resume(issue: Issue, p: Principal, data: Any, ctx: Context, _: Any) -> Decision:
    """Shift each paused deadline by the pause, in its own kind of time."""
    cal = ctx.calendar(issue.grid_id)
    shifts = {
        dl.key: dl.paused_seconds_at(ctx.now, cal)
        for dl in issue.open_deadlines()
        if dl.paused_since is not None
    }
    return Decision(issue.state, issue.tier, _dump(data), {"paused_seconds": shifts})


def comment(issue: Issue, p: Principal, data: Any, ctx: Context, _: Any) -> Decision:
    return Decision(issue.state, issue.tier, _dump(data))


def miss_deadline(
    issue: Issue, p: Principal, data: A.MissDeadline, ctx: Context, _: Any
) -> Decision:
    dl = issue.open_deadline(data.deadline)
    if dl is None or dl.missed or dl.paused_since is not None:
        raise TransitionNotAllowed(
            f"deadline {data.deadline} is not running", state=issue.state, allowed_actions=[]
        )
    cal = ctx.calendar(issue.grid_id)
    due = dl.judged_due(cal)
    if due is None:
        raise BeyondHolidayData(
            f"deadline {data.deadline} falls due after {cal.data_until}, beyond the official "
            "holiday data: add that year to the calendar file",
            state=issue.state,
            allowed_actions=[],
        )
    if ctx.now < due:
        raise TransitionNotAllowed(
            f"deadline {data.deadline} is not yet due", state=issue.state, allowed_actions=[]
        )
    d = Decision(issue.state, issue.tier, _dump(data))
    if dl.kind == "small_resolution" and issue.state == "on_spot" and ctx.escalate_missed_small:
        d.to_state, d.tier = "coordinating", "big"
        d.end("small_resolution", "cancelled")
        d.starts.append(_deadline(issue, ctx, "big_resolution"))
        d.facts["escalated"] = True
    elif dl.kind == "big_resolution":
        d.facts["flag"] = "big-matter resolution deadline missed (督办)"
    return d
