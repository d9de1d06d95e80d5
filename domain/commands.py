"""Taking an action on an issue: check, decide, then record (`Issue.take`).

The checks run in the contract's order — the action exists, the role may take it at the
issue's tier, the issue is within the actor's reach, the data, the transition table, the
declared rules — then the action's decision computes the next state and the clocks from
the injected clock, and only then is the event recorded. A refused command raises a
DomainError and leaves the aggregate untouched. Everything an action is, is declared in
`domain.workflow`.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from domain import actions as A
from domain import catalogue, hotline
from domain.access import in_jurisdiction
from domain.context import Context, Decision
from domain.decide import _dump
from domain.declare import Action
from domain.errors import (
    ForbiddenRole,
    OutsideJurisdiction,
    TransitionNotAllowed,
    UnknownAction,
    ValidationFailed,
)
from domain.geo import to_wgs84
from domain.inputs import past_time_problem
from domain.issue import Issue
from domain.organisation import Org
from domain.principals import Principal, Role
from domain.workflow import ACTION, CLIENT_ACTIONS, destinations

__all__ = ["allowed_actions", "owes", "report", "require_may_attach", "take"]

#: Clocks of requests that lapse when the issue leaves its state (domain.approvals).
REQUEST_CLOCKS = ("escalation_decision", "suspension_allowance")


def _may(issue: Issue, a: Action, p: Principal, org: Org) -> bool:
    return (
        p.role in a.roles_for(issue.tier)
        and in_jurisdiction(a, p, issue, org)
        and bool(destinations(a.name, issue.state))
        and all(rule.holds(issue, p) for rule in a.rules)
    )


def allowed_actions(issue: Issue, p: Principal, org: Org) -> list[str]:
    """The actions `p` could take on the issue now (data aside)."""
    return [name for name in CLIENT_ACTIONS if _may(issue, ACTION[name], p, org)]


def owes(issue: Issue, p: Principal, org: Org) -> bool:
    """Whether the issue is in `p`'s queue: `p` may take an action now that puts it there
    (domain.declare.Action.queue), and that action's queue conditions hold."""
    return any(
        p.role in a.queue
        and _may(issue, a, p, org)
        and all(rule.holds(issue, p) for rule in a.queue[p.role])
        for a in ACTION.values()
        if a.client
    )


def take(
    issue: Issue,
    action: str,
    p: Principal,
    data: Any,
    ctx: Context,
    related: Issue | None = None,
    request_key: str | None = None,
) -> None:
    """Check and record one action (the duplicate's target takes part in `merge`)."""
    a = ACTION.get(action)
    if a is None or a.decide is None:
        raise UnknownAction(f"no action {action!r}", actions=list(CLIENT_ACTIONS))
    if p.role not in a.roles_for(issue.tier):
        raise ForbiddenRole(f"a {p.role} may not {action} this issue", role=p.role.value)
    if not in_jurisdiction(a, p, issue, ctx.org):
        raise OutsideJurisdiction(f"this issue is outside the jurisdiction of {p.id}")
    parsed = A.parse(a.data, data)
    if isinstance(parsed, A.WithEvidence):
        ctx.check_evidence(str(issue.id), p.id, parsed.evidence)
    if not destinations(action, issue.state):
        raise _refuse(issue, action, p, ctx.org, f"the issue is {issue.state}")
    for rule in a.rules:
        if not rule.holds(issue, p):
            if rule.refuse is None:
                raise _refuse(issue, action, p, ctx.org, rule.why)
            refusal = rule.refuse(rule.why)
            if isinstance(refusal, TransitionNotAllowed):
                refusal.details.update(_refuse(issue, action, p, ctx.org, "").details)
            if rule.details is not None:
                refusal.details.update(rule.details(issue, p))
            raise refusal
    decision = a.decide(issue, p, parsed, ctx, related)
    assert decision.to_state in destinations(action, issue.state), (action, decision)
    if request_key:
        decision.facts["request_key"] = request_key
    if decision.to_state != issue.state:  # the issue moves on: requests' clocks stop
        ended = {e["key"] for e in decision.ends}
        for key in REQUEST_CLOCKS:
            if key not in ended and issue.open_deadline(key):
                decision.end(key, "cancelled")
        if decision.to_state in ("rejected", "merged"):  # nothing left to answer for:
            for clock in issue.open_deadlines():  # items wait to be cleared, unclocked
                if clock.kind == "flag_reply" and clock.key not in ended:
                    decision.end(clock.key, "cancelled")
    for end in decision.ends:  # a step that ends after its due time missed it
        d = issue.open_deadline(end["key"])
        if d is None:
            continue
        paused = d.paused_seconds
        if d.paused_since is not None:  # ends while suspended: the pause so far counts
            paused = end["paused_seconds"] = d.paused_seconds_at(
                ctx.now, ctx.calendar(issue.grid_id)
            )
        if end["outcome"] == "met" and ctx.now > d.due_with(paused):
            end["outcome"] = "missed"
    _resume_on_leaving(issue, decision, ctx)
    _record(issue, a.event, p, decision, ctx)
    if action == "merge" and related is not None:
        attach = Decision(related.state, related.tier, {}, {"duplicate": str(issue.id)})
        _record(related, Issue.DuplicateAttached, p, attach, ctx)


def _resume_on_leaving(issue: Issue, d: Decision, ctx: Context) -> None:
    """A step that leaves the state ends its suspension: each paused clock it does not end
    runs again, credited with the pause so far (before, a summon from a suspended joint
    handling left the hard-resolution clock paused for good)."""
    if issue.suspended_since is None or d.to_state == issue.state:
        return
    ended = {end["key"] for end in d.ends}
    cal = ctx.calendar(issue.grid_id)
    resumed = {
        dl.key: dl.paused_seconds_at(ctx.now, cal)
        for dl in issue.open_deadlines()
        if dl.paused_since is not None and dl.key not in ended
    }
    if resumed:
        d.facts["resumed_clocks"] = resumed


def require_may_attach(issue: Issue, p: Principal, org: Org) -> None:
    """Evidence is attached to an issue by its reporter, or by someone who may take some
    action on it now; others are refused as an action of theirs would be."""
    if issue.reporter_principal == p.id or allowed_actions(issue, p, org):
        return
    if any(in_jurisdiction(ACTION[a], p, issue, org) for a in CLIENT_ACTIONS):
        raise ForbiddenRole(f"a {p.role} may take no action on this issue now", role=p.role.value)
    raise OutsideJurisdiction(f"this issue is outside the jurisdiction of {p.id}")


def _refuse(issue: Issue, action: str, p: Principal, org: Org, why: str) -> TransitionNotAllowed:
    return TransitionNotAllowed(
        f"{action} is not allowed: {why}",
        state=issue.state,
        allowed_actions=allowed_actions(issue, p, org),
    )


def _record(
    issue: Issue, event: type[Issue.Event], p: Principal, d: Decision, ctx: Context
) -> None:
    issue.trigger_event(
        event,
        actor=p.as_actor(),
        data=d.data,
        facts=d.facts,
        to_state=d.to_state,
        tier=d.tier,
        starts=d.starts,
        ends=d.ends,
        timestamp=ctx.now,
    )


# -- report -------------------------------------------------------------------------

_CHANNEL_BY_ROLE = {
    Role.RESIDENT: "resident",
    Role.BUILDING_HEAD: "resident",
    Role.INTAKE: "hotline",
}
#: Grid staff: what they report is what the patrol found, which the reverse comparison
#: holds hotline tickets against (a patrol report by anyone else would fool it).
PATROL_REPORTERS = frozenset({Role.GRID_WORKER, Role.GRID_LEADER, Role.COMMUNITY_STAFF})


def _reporter_facts(p: Principal, parsed: A.Report, ctx: Context) -> dict[str, Any]:
    """The channel, and the resident the report is for (who may then follow it)."""
    channel = parsed.channel or _CHANNEL_BY_ROLE.get(p.role, "patrol")
    if channel == "patrol" and p.role not in PATROL_REPORTERS:
        raise ValidationFailed({"channel": "only grid staff report on channel patrol"})
    r = parsed.reporter
    facts: dict[str, Any] = {"channel": channel, "contact": bool(r and (r.phone or r.email))}
    named = parsed.reporter.principal_id if parsed.reporter else None
    if p.role is Role.RESIDENT:
        facts["reporter_principal"] = p.id
    elif named:
        if not ctx.is_resident(named):
            raise ValidationFailed({"reporter.principal_id": "names no resident"})
        facts["reporter_principal"] = named
    return facts


def _ticket(p: Principal, parsed: A.Report) -> hotline.HotlineTicket | None:
    """A 12345 ticket's own facts, which only the hotline desk gives."""
    if parsed.hotline is None:
        return None
    if p.role is not Role.INTAKE:
        raise ValidationFailed({"hotline": "only the hotline desk (intake) gives ticket facts"})
    return A.parse(hotline.HotlineTicket, parsed.hotline)


def report(issue_id: UUID, p: Principal, data: Any, ctx: Context) -> Issue:
    """Record a new issue; with `settled_on_spot`, also its on-the-spot handling and
    resolution (three events, saved together)."""
    if p.role not in ACTION["report"].roles_for(None):
        raise ForbiddenRole(f"a {p.role} may not report issues", role=p.role.value)
    parsed = A.parse(A.Report, data)
    assert isinstance(parsed, A.Report)
    ctx.check_evidence(None, p.id, parsed.evidence)
    if parsed.occurred_at and (problem := past_time_problem(parsed.occurred_at, ctx.now)):
        raise ValidationFailed({"occurred_at": problem})
    if parsed.settled_on_spot and p.role not in (Role.GRID_WORKER, Role.GRID_LEADER):
        raise ForbiddenRole("only grid workers and grid leaders settle matters on the spot")
    facts: dict[str, Any] = {}
    if parsed.location and parsed.location.lat is not None and parsed.location.lon is not None:
        lat, lon = to_wgs84(parsed.location.lat, parsed.location.lon, parsed.location.crs)
        facts["location"] = {"address": parsed.location.address, "lat": lat, "lon": lon}
    elif parsed.location and parsed.location.address:
        facts["location"] = {"address": parsed.location.address}
    ticket = _ticket(p, parsed)
    problems: dict[str, str] = {}
    grid = parsed.grid_id
    if grid is None:
        loc = facts["location"]
        if "lat" in loc:
            grid = ctx.org.grid_at(loc["lat"], loc["lon"])
            if grid is None:
                problems["location"] = "not inside any grid's boundary"
        else:
            grid = ctx.org.grid_for_address(loc["address"])
            if grid is None:
                problems["location.address"] = "matches no grid's address"
    elif not ctx.org.is_grid(grid):
        problems["grid_id"] = f"no grid {grid!r}"
    category = parsed.category
    if ticket is not None:  # the hotline's own name, mapped through the catalogue
        category = hotline.category_for(ctx.org, parsed.category) or ""
    if category not in ctx.org.categories:
        problems["category"] = f"no category {parsed.category!r}"
    if problems and ticket is None:
        raise ValidationFailed(problems)
    if problems:  # a ticket is never refused for these: it waits for 分拨 at the desk's node
        grid = p.scope
        facts["unplaced"] = sorted(problems)
    assert grid is not None
    if not ctx.org.covers(p.scope, grid):
        raise OutsideJurisdiction(f"grid {grid} is outside the jurisdiction of {p.id}")
    facts["grid_id"] = grid
    facts.update(_reporter_facts(p, parsed, ctx))

    body = _dump(parsed)
    for key in ("settled_on_spot", "resolution", "hotline", "checklist"):
        body.pop(key, None)
    if body.get("reporter"):
        body["reporter"] = ctx.seal(body["reporter"])
    starts = [ctx.deadline("triage", category, grid, start=hotline.clock_start(ticket, ctx.now))]
    if category:  # the catalogue version the issue is reported under, and its rules
        catalogue.check_report(ctx.org, category, parsed.evidence, facts["channel"])
        facts["catalogue"] = catalogue.snapshot(ctx.org, category)
    if ticket is not None:
        facts["category"], facts["hotline"] = category, hotline.facts(ticket)
        if (due := hotline.due_deadline(ticket, ctx.now)) is not None:
            starts.append(due)
    issue = Issue.reported(
        issue_id,
        actor=p.as_actor(),
        data=body,
        facts=facts,
        starts=starts,
        at=ctx.now,
    )
    if parsed.settled_on_spot:
        take(issue, "handle_on_spot", p, {}, ctx)
        settled: dict[str, Any] = {"resolution": parsed.resolution, "evidence": parsed.evidence}
        if parsed.checklist is not None:
            settled["checklist"] = parsed.checklist
        take(issue, "resolve", p, settled, ctx)
    return issue
