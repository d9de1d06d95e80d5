"""The rules of each action, once role, jurisdiction, data and table have passed.

Each function decides the next state and tier, which clocks start and end, and the
facts the event keeps; it reads the clock only through `ctx.now`. Problems found
here are about the data against the issue (422) or the issue's state (409).
"""

from __future__ import annotations

from typing import Any

from domain import actions as A
from domain import catalogue, hotline, joint
from domain import followups as F
from domain.callbacks import someone_to_call
from domain.context import Context, Decision
from domain.deadlines import RESOLUTION_KIND
from domain.errors import BeyondHolidayData, CapReached, TransitionNotAllowed, ValidationFailed
from domain.issue import Issue
from domain.principals import Principal, Role
from domain.states import HANDLING_STATE, TERMINAL


def _dump(data: A.ActionData) -> dict[str, Any]:
    return data.model_dump(mode="json", exclude_none=True)


def _deadline(issue: Issue, ctx: Context, kind: str) -> dict[str, Any]:
    """A clock of the issue's own, at its catalogue version's limits (departments' clocks:
    `_summon_clocks`)."""
    return ctx.deadline(
        kind, issue.category, issue.grid_id, limits=catalogue.limits(issue, ctx.org)
    )


def _end_resolution(issue: Issue, d: Decision, outcome: str = "met") -> None:
    if issue.tier and issue.open_deadline(RESOLUTION_KIND[issue.tier]):
        d.end(RESOLUTION_KIND[issue.tier], outcome)


def _end_triage(issue: Issue, d: Decision) -> None:
    if issue.open_deadline("triage"):
        d.end("triage")


def _summon_clocks(issue: Issue, ctx: Context, d: Decision, depts: list[str], grade: str) -> None:
    limits = catalogue.limits(issue, ctx.org)  # the issue's catalogue version's
    for dept in depts:
        for kind in ("department_acknowledge", "department_report_in"):
            d.starts.append(
                ctx.deadline(kind, issue.category, issue.grid_id, dept, grade, limits=limits)
            )


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


def _summons_data(data: A.BlowWhistle | A.Summon) -> dict[str, Any]:
    """The event keeps the departments as ids (as it always did); their tasks, the lead
    and the meeting place are the decision's facts (domain.joint)."""
    body = _dump(data)
    body["departments"] = joint.ids_of(data.departments)
    body.pop("meet_at", None)
    return body


def blow_whistle(issue: Issue, p: Principal, data: A.BlowWhistle, ctx: Context, _: Any) -> Decision:
    depts = joint.ids_of(data.departments)
    _known_departments(ctx, depts)
    facts = joint.whistle_facts(issue, data.departments, data.meet_at, first=True)
    d = Decision("whistle_blown", "hard", _summons_data(data), facts)
    _end_triage(issue, d)
    _end_resolution(issue, d, "cancelled")
    d.starts.append(_deadline(issue, ctx, "hard_resolution"))
    _summon_clocks(issue, ctx, d, depts, data.grade)
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
        {"department_id": dept, **joint.presence(issue, p, data.location, data.evidence, ctx)},
    )
    if issue.open_deadline(f"department_acknowledge:{dept}"):
        d.end(f"department_acknowledge:{dept}")
    d.end(f"department_report_in:{dept}")
    return d


def summon(issue: Issue, p: Principal, data: A.Summon, ctx: Context, _: Any) -> Decision:
    depts = joint.ids_of(data.departments)
    _known_departments(ctx, depts)
    active = issue.active_departments()
    again = {f"departments.{i}": "already summoned" for i, x in enumerate(depts) if x in active}
    if again:
        raise ValidationFailed(again)
    facts = joint.whistle_facts(issue, data.departments, None, first=False)
    d = Decision("whistle_blown", "hard", _summons_data(data), facts)
    _summon_clocks(issue, ctx, d, depts, issue.grade or "standard")
    return d


def resolve(issue: Issue, p: Principal, data: A.Resolve, ctx: Context, _: Any) -> Decision:
    catalogue.check_close(issue, data.checklist, data.evidence, "resolve")
    d = Decision("resolved", issue.tier, _dump(data))
    _end_resolution(issue, d)
    d.starts.append(_deadline(issue, ctx, "verification"))
    return d


def verify(issue: Issue, p: Principal, data: A.Verify, ctx: Context, _: Any) -> Decision:
    catalogue.check_close(issue, data.checklist, data.evidence, "verify")
    d = Decision("closed", issue.tier, _dump(data))
    d.end("verification")
    if issue.hotline is not None:  # 回单: the result goes back to the hotline
        d.facts["hotline_reply"] = hotline.reply(issue, "closed", issue.resolution)
        hotline.end_due(issue, d)
    if someone_to_call(issue):  # no callback is owed when there is nobody to call
        d.starts.append(_deadline(issue, ctx, "callback"))
    return d


def rework(issue: Issue, p: Principal, data: Any, ctx: Context, _: Any) -> Decision:
    """返工. A second rework opens a city follow-up item; a third raises the tier (a big
    matter cannot blow its own whistle: its item is listed and waits for one)."""
    tier = was = issue.tier or "small"
    n = issue.counts.get("rework", 0) + 1
    if n >= 3 and tier == "small":
        tier = "big"
    d = Decision(HANDLING_STATE[tier], tier, _dump(data), {"rework": n})
    d.end("verification")
    d.starts.append(_deadline(issue, ctx, RESOLUTION_KIND[tier]))
    if n >= 2:
        F.raise_item(
            issue,
            d,
            ctx,
            target=F.responsible(issue, ctx),
            level="city",
            reason="rework",
            by="system",
            listed=n >= 3 and was == "big",  # big → hard waits for a whistle: listed
        )
    return d


def reject(issue: Issue, p: Principal, data: Any, ctx: Context, _: Any) -> Decision:
    d = Decision("rejected", issue.tier, _dump(data))
    _end_triage(issue, d)
    if issue.hotline is not None:
        d.facts["hotline_reply"] = hotline.reply(issue, "rejected", data.reason)
        hotline.end_due(issue, d)
    return d


def transfer(issue: Issue, p: Principal, data: A.Transfer, ctx: Context, _: Any) -> Decision:
    if not ctx.org.is_grid(data.grid_id):
        raise ValidationFailed({"grid_id": f"no grid {data.grid_id!r}"})
    if data.grid_id == issue.grid_id and not data.category:
        raise ValidationFailed({"grid_id": "the issue is already in this grid"})
    if data.category is not None and data.category not in ctx.org.categories:
        raise ValidationFailed({"category": f"no category {data.category!r}"})
    if not (data.category or issue.category):  # 分拨 places a ticket in a category too
        raise ValidationFailed({"category": "the hotline's category matched none: name one"})
    d = Decision("reported", issue.tier, _dump(data))  # the triage clock keeps running
    if data.category and data.category != issue.category:
        d.facts["catalogue"] = catalogue.snapshot(ctx.org, data.category)
    if issue.counts.get("transfer", 0) >= ctx.transfer_cap:
        if p.role is not Role.STREET_OFFICER:
            raise CapReached(
                f"transferred {ctx.transfer_cap} times: only a street officer assigns it now "
                "(指定分拨)",
                cap=ctx.transfer_cap,
            )
        d.facts["binding"] = True  # a binding assignment (指定分拨)
    if data.category and data.category != issue.category:
        d.facts["catalogue"] = catalogue.snapshot(ctx.org, data.category)
    return d


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
    hotline.end_due(issue, d, "cancelled")
    return d


def _shifts(issue: Issue, ctx: Context) -> dict[str, float]:
    """Each paused deadline's pause so far, in its own kind of time."""
    cal = ctx.calendar(issue.grid_id)
    return {
        dl.key: dl.paused_seconds_at(ctx.now, cal)
        for dl in issue.open_deadlines()
        if dl.paused_since is not None
    }


def resume(issue: Issue, p: Principal, data: Any, ctx: Context, _: Any) -> Decision:
    """Shift each paused deadline by the pause, in its own kind of time."""
    d = Decision(issue.state, issue.tier, _dump(data), {"paused_seconds": _shifts(issue, ctx)})
    if issue.open_deadline("suspension_allowance"):
        d.end("suspension_allowance", "cancelled")
    return d


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
    if dl.kind == "flag_reply":
        F.step_up(issue, d, ctx, dl.key.split(":", 1)[1])
    elif dl.kind == "suspension_allowance":  # 10 working days in all: the clock runs again
        d.facts["paused_seconds"], d.facts["resumed"] = _shifts(issue, ctx), True
        d.end("suspension_allowance", "missed")
    else:
        target, level = F.for_miss(issue, dl.kind, dl.department_id, ctx)
        reason = f"deadline_missed:{dl.kind}"
        F.raise_item(issue, d, ctx, target=target, level=level, reason=reason, by="system")
    return d
