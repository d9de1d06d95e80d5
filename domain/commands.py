"""Commands on the issue: check, decide, then record.

`act` checks in the contract's order — role, jurisdiction, data, the transition
table, the other rules of the workflow — computes the deadlines from the injected
clock, and only then triggers the event. A refused command raises a DomainError and
leaves the aggregate untouched.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from domain import actions as A
from domain.access import in_jurisdiction
from domain.context import Context, Decision
from domain.deadlines import effective_due
from domain.decide import DECIDE, _dump
from domain.errors import (
    ForbiddenRole,
    OutsideJurisdiction,
    ResolverCannotVerify,
    TransitionNotAllowed,
    UnknownAction,
    ValidationFailed,
)
from domain.geo import to_wgs84
from domain.inputs import past_time_problem
from domain.issue import EVENT_CLASSES, Issue
from domain.organisation import Org
from domain.principals import Principal, Role
from domain.workflow import ACTIONS, CLIENT_ACTIONS, destinations, roles_for

__all__ = ["CLIENT_ACTIONS", "act", "allowed_actions", "report", "require_may_attach"]


# -- checks shared by act() and allowed_actions() -----------------------------------


def _blocked(issue: Issue, action: str, p: Principal) -> str | None:
    """Why the workflow refuses `action` now beyond the table, or None."""
    if action in ("verify", "rework") and issue.resolver_id == p.id:
        return "resolver"
    if action == "suspend" and issue.suspended_since is not None:
        return "the issue is already suspended"
    if action == "resume" and issue.suspended_since is None:
        return "the issue is not suspended"
    if action in ("acknowledge", "report_in"):
        dept = issue.departments.get(p.scope)
        if dept is None or dept["released_at"] is not None:
            return "your department is not summoned"
        if dept["reported_in_at"] is not None:
            return "your department has already reported in"
        if action == "acknowledge" and dept["acknowledged_at"] is not None:
            return "your department has already acknowledged"
    return None


def allowed_actions(issue: Issue, p: Principal, org: Org) -> list[str]:
    """The actions `p` could take on the issue now (data aside)."""
    return [
        a
        for a in CLIENT_ACTIONS
        if p.role in roles_for(a, issue.tier)
        and in_jurisdiction(a, p, issue, org)
        and destinations(a, issue.state)
        and _blocked(issue, a, p) is None
    ]


def require_may_attach(issue: Issue, p: Principal, org: Org) -> None:
    """Evidence is attached to an issue by its reporter, or by someone who may take some
    action on it now; others are refused as an action of theirs would be."""
    if issue.reporter_principal == p.id or allowed_actions(issue, p, org):
        return
    if any(in_jurisdiction(a, p, issue, org) for a in CLIENT_ACTIONS):
        raise ForbiddenRole(f"a {p.role} may take no action on this issue now", role=p.role.value)
    raise OutsideJurisdiction(f"this issue is outside the jurisdiction of {p.id}")


def _refuse(issue: Issue, action: str, p: Principal, org: Org, why: str) -> TransitionNotAllowed:
    return TransitionNotAllowed(
        f"{action} is not allowed: {why}",
        state=issue.state,
        allowed_actions=allowed_actions(issue, p, org),
    )


# -- act ----------------------------------------------------------------------------


def act(
    issue: Issue,
    action: str,
    p: Principal,
    data: Any,
    ctx: Context,
    related: Issue | None = None,
    request_key: str | None = None,
) -> None:
    """Check and record one action (the duplicate's target takes part in `merge`)."""
    if action not in ACTIONS or action == "report":
        raise UnknownAction(f"no action {action!r}", actions=list(CLIENT_ACTIONS))
    if p.role not in roles_for(action, issue.tier):
        raise ForbiddenRole(f"a {p.role} may not {action} this issue", role=p.role.value)
    if not in_jurisdiction(action, p, issue, ctx.org):
        raise OutsideJurisdiction(f"this issue is outside the jurisdiction of {p.id}")
    parsed = A.parse(action, data)
    if isinstance(parsed, A.WithEvidence):
        ctx.check_evidence(str(issue.id), p.id, parsed.evidence)
    if not destinations(action, issue.state):
        raise _refuse(issue, action, p, ctx.org, f"the issue is {issue.state}")
    why = _blocked(issue, action, p)
    if why == "resolver":
        raise ResolverCannotVerify("whoever resolved an issue never verifies it")
    if why:
        raise _refuse(issue, action, p, ctx.org, why)
    decision = DECIDE[action](issue, p, parsed, ctx, related)
    assert decision.to_state in destinations(action, issue.state), (action, decision)
    if request_key:
        decision.facts["request_key"] = request_key
    for end in decision.ends:  # a step that ends after its due time missed it
        d = issue.open_deadline(end["key"])
        if end["outcome"] == "met" and d is not None and ctx.now > effective_due(d):
            end["outcome"] = "missed"
    _record(issue, action, p, decision, ctx)
    if action == "merge" and related is not None:
        attach = Decision(related.state, related.tier, {}, {"duplicate": str(issue.id)})
        _record(related, "duplicate_attached", p, attach, ctx)


def _record(issue: Issue, action: str, p: Principal, d: Decision, ctx: Context) -> None:
    issue.trigger_event(
        EVENT_CLASSES[action],
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
    facts: dict[str, Any] = {"channel": channel}
    named = parsed.reporter.principal_id if parsed.reporter else None
    if p.role is Role.RESIDENT:
        facts["reporter_principal"] = p.id
    elif named:
        if not ctx.is_resident(named):
            raise ValidationFailed({"reporter.principal_id": "names no resident"})
        facts["reporter_principal"] = named
    return facts


def report(issue_id: UUID, p: Principal, data: Any, ctx: Context) -> Issue:
    """Record a new issue; with `settled_on_spot`, also its on-the-spot handling and
    resolution (three events, saved together)."""
    if p.role not in roles_for("report", None):
        raise ForbiddenRole(f"a {p.role} may not report issues", role=p.role.value)
    parsed = A.parse("report", data)
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
    grid = parsed.grid_id
    if grid is None:
        loc = facts["location"]
        if "lat" in loc:
            grid = ctx.org.grid_at(loc["lat"], loc["lon"])
            if grid is None:
                raise ValidationFailed({"location": "not inside any grid's boundary"})
        else:
            grid = ctx.org.grid_for_address(loc["address"])
            if grid is None:
                raise ValidationFailed({"location.address": "matches no grid's address"})
    elif not ctx.org.is_grid(grid):
        raise ValidationFailed({"grid_id": f"no grid {grid!r}"})
    if parsed.category not in ctx.org.categories:
        raise ValidationFailed({"category": f"no category {parsed.category!r}"})
    if not ctx.org.covers(p.scope, grid):
        raise OutsideJurisdiction(f"grid {grid} is outside the jurisdiction of {p.id}")
    facts["grid_id"] = grid
    facts.update(_reporter_facts(p, parsed, ctx))

    body = _dump(parsed)
    for key in ("settled_on_spot", "resolution"):
        body.pop(key, None)
    if body.get("reporter"):
        body["reporter"] = ctx.seal(body["reporter"])
    issue = Issue._create(
        Issue.Reported,
        id=issue_id,
        actor=p.as_actor(),
        data=body,
        facts=facts,
        to_state="reported",
        tier=None,
        starts=[ctx.deadline("triage", parsed.category, grid)],
        ends=[],
        timestamp=ctx.now,
    )
    if parsed.settled_on_spot:
        act(issue, "handle_on_spot", p, {}, ctx)
        act(issue, "resolve", p, {"resolution": parsed.resolution}, ctx)
    return issue
