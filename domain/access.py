"""Who may see an issue, and whose jurisdiction an action falls in."""

from __future__ import annotations

from typing import TYPE_CHECKING

from domain.declare import Action, Reach
from domain.organisation import Org
from domain.principals import GRID_LEVEL, SEE_ALL, Principal, Role
from domain.workflow import ACTION

if TYPE_CHECKING:
    from domain.issue import Issue


def may_see(p: Principal, issue: Issue, org: Org) -> bool:
    """Staff see their jurisdiction (grid staff: their whole community, to spot
    duplicates); departments see the matters they were summoned to; residents see
    their own reports; supervisors and auditors see everything."""
    if p.role in SEE_ALL:
        return True
    if p.role is Role.DEPARTMENT_OFFICER:
        return p.scope in issue.departments
    if issue.reporter_principal == p.id:
        return True
    if p.role is Role.RESIDENT:
        return False
    scope = p.scope
    if p.role in GRID_LEVEL:
        scope = org.ancestor_of_kind(p.scope, "community") or p.scope
    return org.covers(scope, issue.grid_id)


#: Actions that do not need the reporter reached: taking one gives no contact details.
_NO_CONTACT_NEEDED = frozenset({"comment", "urge"})


def may_see_personal(p: Principal, issue: Issue, org: Org) -> bool:
    """Reporters' contact details: for the reporter (and whoever recorded the report:
    a building head, a grid worker, intake for the tickets it imported), those whose
    role may act on the issue now within their jurisdiction, whoever may record its
    callback, and auditors. Seeing the issue is not enough: a building head or
    city-scope intake sees many issues, not the people behind them."""
    if p.role is Role.AUDITOR or p.id in (issue.reporter_principal, issue.reported_by.get("id")):
        return True
    if p.role is Role.RESIDENT:
        return False
    callback = ACTION["record_callback"]
    if p.role in callback.roles_for(issue.tier) and in_jurisdiction(callback, p, issue, org):
        return True
    return bool(set(issue.allowed_actions(p, org)) - _NO_CONTACT_NEEDED)


def may_read_stored_events(p: Principal) -> bool:
    """Events as stored — a reporter's sealed details and the subject beside them, which
    in events of older code is a reversible hash of the phone — are for auditors."""
    return p.role is Role.AUDITOR


def in_jurisdiction(a: Action, p: Principal, issue: Issue, org: Org) -> bool:
    """Whether the issue lies within `p`'s reach for action `a`: supervisors and the
    system reach everywhere; a department officer, the issues their department is
    summoned to (and not released from, but for a comment); a resident, their own
    reports; others, the issues of their node — or their own reports where the action
    reaches its reporter (docs/workflow.md, "Who sees what")."""
    if p.role in (Role.SYSTEM, Role.CITY_SUPERVISOR):
        return True
    if p.role is Role.DEPARTMENT_OFFICER:
        dept = issue.departments.get(p.scope)
        if dept is None:
            return False
        return a.reach is Reach.ANY_PART or dept["released_at"] is None
    if p.role is Role.RESIDENT:
        return issue.reporter_principal == p.id
    if a.reach is not Reach.NODE and issue.reporter_principal == p.id:
        return True
    return org.covers(p.scope, issue.grid_id)
