"""Who may see an issue, and whose jurisdiction an action falls in."""

from __future__ import annotations

from typing import TYPE_CHECKING

from domain.organisation import Org
from domain.principals import GRID_LEVEL, SEE_ALL, Principal, Role

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


def may_see_personal(p: Principal, issue: Issue, org: Org) -> bool:
    """Reporters' contact details: for those acting on the issue's place, the reporter
    themself, and auditors."""
    if p.role in (Role.AUDITOR, Role.ADMIN) or issue.reporter_principal == p.id:
        return True
    return p.role is not Role.RESIDENT and in_jurisdiction("comment", p, issue, org)


def in_jurisdiction(action: str, p: Principal, issue: Issue, org: Org) -> bool:
    """Whether the issue lies inside the part of the organisation `p` acts for."""
    if p.role in (Role.SYSTEM, Role.CITY_SUPERVISOR):
        return True
    if p.role is Role.DEPARTMENT_OFFICER:
        dept = issue.departments.get(p.scope)
        if dept is None:
            return False
        return action == "comment" or dept["released_at"] is None
    if p.role is Role.RESIDENT:
        return issue.reporter_principal == p.id
    if action in ("record_callback", "comment") and issue.reporter_principal == p.id:
        return True
    return org.covers(p.scope, issue.grid_id)
