"""Who may see an issue, whose jurisdiction an action falls in, and who may use the
service's other capabilities (supervision, audit, intake, …). Routes ask here; none
keeps a rule of its own."""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum
from typing import TYPE_CHECKING

from domain.declare import Action, Reach
from domain.errors import ForbiddenRole, OutsideJurisdiction, ValidationFailed
from domain.hotline import hides_caller
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


#: Who records callbacks as their work (the callback desk), and so sees whom to call;
#: street officers and city supervisors who replace one see them as any step's taker.
CALLBACK_DESK = frozenset({Role.COMMUNITY_STAFF})
#: Actions that do not need the reporter reached: taking one gives no contact details.
_NO_CONTACT_NEEDED = frozenset(
    {
        "comment",
        "urge",
        "record_callback",
        "appeal_callback",
        "uphold_appeal",
        "reject_appeal",
        "approve_suspension",
        "deny_suspension",
        "request_extension",
        "approve_extension",
        "deny_extension",
        "deny_escalation",
        "flag",
        "reply_flag",
        "clear_flag",
        "assign",  # naming who owns the step needs nobody reached
        "transfer",  # 分拨 places the matter, it never calls anyone
    }
)


def may_see_personal(p: Principal, issue: Issue, org: Org) -> bool:
    """Reporters' contact details: for the reporter (and whoever recorded the report:
    a building head, a grid worker, intake for the tickets it imported), those whose
    role may act on the issue now within their jurisdiction, whoever may record its
    callback, and auditors. Seeing the issue is not enough: a building head or
    city-scope intake sees many issues, not the people behind them."""
    if hides_caller(issue.hotline):  # 举报: the caller is shown to intake and auditors only
        return p.role in (Role.AUDITOR, Role.INTAKE)
    if p.role is Role.AUDITOR or p.id in (issue.reporter_principal, issue.reported_by.get("id")):
        return True
    if p.role is Role.RESIDENT:
        return False
    callback = ACTION["record_callback"]
    if p.role in CALLBACK_DESK and in_jurisdiction(callback, p, issue, org):
        return True
    return bool(set(issue.allowed_actions(p, org)) - _NO_CONTACT_NEEDED)


def may_read_stored_events(p: Principal) -> bool:
    """Events as stored — a reporter's sealed details and the subject beside them, which
    in events of older code is a reversible hash of the phone — are for auditors."""
    return p.role in CAPABILITIES[Capability.READ_STORED_EVENTS]


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


R = Role


class Capability(StrEnum):
    SUPERVISE = "supervise"  # the supervision views of a node
    AUDIT = "audit"  # the log, the chain, checkpoints and proofs
    IMPORT_TICKETS = "import_tickets"  # 12345 bulk intake
    MANAGE_ORGANISATION = "manage_organisation"
    ERASE_PERSONAL_DATA = "erase_personal_data"
    SUBSCRIBE = "subscribe"  # webhooks
    STAGE_EVIDENCE = "stage_evidence"  # a photo uploaded before its report
    READ_STORED_EVENTS = "read_stored_events"  # the log's bytes as hashed (audit leaves)


CAPABILITIES: dict[Capability, frozenset[Role]] = {
    Capability.SUPERVISE: frozenset(
        {
            R.CITY_SUPERVISOR,
            R.STREET_OFFICER,
            R.COMMUNITY_STAFF,
            R.AUDITOR,
            R.ADMIN,
            R.GRID_LEADER,
        }
    ),
    Capability.AUDIT: frozenset({R.AUDITOR, R.CITY_SUPERVISOR, R.ADMIN}),
    Capability.IMPORT_TICKETS: frozenset({R.INTAKE, R.ADMIN}),
    Capability.MANAGE_ORGANISATION: frozenset({R.ADMIN}),
    Capability.ERASE_PERSONAL_DATA: frozenset({R.ADMIN}),
    Capability.SUBSCRIBE: frozenset(Role) - {R.RESIDENT, R.AUDITOR, R.SYSTEM},
    Capability.STAGE_EVIDENCE: ACTION["report"].roles_for(None),
    Capability.READ_STORED_EVENTS: frozenset({R.AUDITOR}),
}
#: Supervision of any node, whatever the principal's own scope.
_SUPERVISE_ANYWHERE = frozenset({R.CITY_SUPERVISOR, R.AUDITOR, R.ADMIN})


def require(p: Principal, capability: Capability) -> None:
    """403 `forbidden_role` unless `p`'s role has the capability."""
    if p.role not in CAPABILITIES[capability]:
        raise ForbiddenRole(f"a {p.role} may not {capability.value.replace('_', ' ')}", role=p.role)


def supervision_node(p: Principal, org: Org, node: str | None) -> str:
    """The node whose supervision views `p` asks for (default: the city): a supervisor's
    own node or one below it; anywhere for city supervisors, auditors and admins."""
    require(p, Capability.SUPERVISE)
    city = next((n for n, v in org.nodes.items() if v["kind"] == "city"), p.scope)
    target = node or city
    if target not in org.nodes:
        raise ValidationFailed({"node": f"no node {target!r}"})
    if p.role not in _SUPERVISE_ANYWHERE and not org.covers(p.scope, target):
        raise OutsideJurisdiction(f"{target} is outside your jurisdiction")
    return target


def check_subscription(
    p: Principal,
    org: Org,
    actions: Iterable[str],
    nodes: list[str],
    departments: list[str],
    problems: dict[str, str] | None = None,
) -> None:
    """A webhook filter names what exists (422 otherwise), and nobody is told about
    what they may not see: a department officer subscribes to their department, other
    staff to nodes within their scope (403 `outside_jurisdiction`). `problems`: those
    found elsewhere (the target URL), listed with the filter's."""
    require(p, Capability.SUBSCRIBE)
    bad = {
        f"filter.actions.{i}": "no such action" for i, a in enumerate(actions) if a not in ACTION
    }
    bad |= {f"filter.nodes.{i}": "no such node" for i, n in enumerate(nodes) if n not in org.nodes}
    bad |= {
        f"filter.departments.{i}": "no such department"
        for i, d in enumerate(departments)
        if d not in org.departments
    }
    bad |= problems or {}  # the target's own, found by the adapter that delivers
    if bad:
        raise ValidationFailed(bad)
    if p.role in SEE_ALL:
        return
    if p.role is R.DEPARTMENT_OFFICER:
        if departments != [p.scope]:
            raise OutsideJurisdiction(
                f"a department officer subscribes to departments: [{p.scope!r}]"
            )
    elif not nodes or not all(org.covers(p.scope, n) for n in nodes):
        raise OutsideJurisdiction("filter.nodes must lie in your scope")
