"""Rules beyond the transition table, each a named condition on the issue and the actor.

An action's declaration lists the rules that must hold for it (`Action.rules`) and those
that put the issue in a queue (`Action.queue_when`); the queues' SQL carries the same
rules by name (projections/queries.py), and a property test checks that both agree.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from domain.callbacks import REPLACERS, hotline_desk
from domain.declare import Rule
from domain.errors import ResolverCannotVerify, SeparationOfDuties
from domain.followups import may_clear, open_items
from domain.joint import pending_tasks, refuse_tasks, tasks_refusal
from domain.principals import Principal, Role

if TYPE_CHECKING:
    from domain.issue import Issue


def _summoned(issue: Issue, p: Principal) -> bool:
    dept = issue.departments.get(p.scope)
    return dept is not None and dept["released_at"] is None


NOT_RESOLVER = Rule(
    "not_resolver",
    "whoever resolved an issue never verifies it",
    lambda issue, p: issue.resolver_id != p.id,
    refuse=ResolverCannotVerify,
)
NOT_SUSPENDED = Rule(
    "not_suspended", "the issue is already suspended", lambda i, p: i.suspended_since is None
)
SUSPENDED = Rule(
    "suspended", "the issue is not suspended", lambda i, p: i.suspended_since is not None
)
DEPARTMENT_SUMMONED = Rule("department_summoned", "your department is not summoned", _summoned)
NOT_REPORTED_IN = Rule(
    "not_reported_in",
    "your department has already reported in",
    lambda i, p: i.departments[p.scope]["reported_in_at"] is None,
)
NOT_ACKNOWLEDGED = Rule(
    "not_acknowledged",
    "your department has already acknowledged",
    lambda i, p: i.departments[p.scope]["acknowledged_at"] is None,
)
#: For queues: the callback (回访) is owed while its clock runs.
CALLBACK_OWED = Rule(
    "callback_owed", "no callback is owed", lambda i, p: i.open_deadline("callback") is not None
)


def _flagged(i: Issue) -> bool:
    """Flagged for follow-up: a follow-up item not cleared (or a flag of old events)."""
    return bool(i.flags) or bool(open_items(i))


#: For the city's queue: hard matters and issues flagged for follow-up (督办).
HARD_OR_FLAGGED = Rule(
    "hard_or_flagged", "neither hard nor flagged", lambda i, p: i.tier == "hard" or _flagged(i)
)
FLAGGED = Rule("flagged", "not flagged for follow-up", lambda i, p: _flagged(i))
#: reply_flag: a follow-up item waits for your reply
FLAG_TARGET = Rule(
    "flag_target",
    "no follow-up item waits for your reply",
    lambda i, p: any(it["status"] == "open" and it["target"] == p.scope for it in i.followups),
)
#: clear_flag: an item answered (or on a closed issue) at your level or below
CLEARABLE = Rule(
    "clearable",
    "no follow-up item is yours to clear: not answered yet, or raised above you",
    lambda i, p: any(may_clear(i, p, it) for it in i.followups),
)
#: urge: community staff urge only as the whistle holder (the departments they summoned)
MAY_URGE = Rule(
    "may_urge",
    "community staff urge the departments of a whistle they blew",
    lambda i, p: p.role is not Role.COMMUNITY_STAFF or (i.whistle_holder or {}).get("id") == p.id,
)
#: Separation of duties: nobody who handled, resolved or verified an issue records its
#: callback (回访).
NOT_HANDLER = Rule(
    "not_handler",
    "whoever handled, resolved or verified an issue never records its callback",
    lambda i, p: p.id not in i.handled_by,
    refuse=SeparationOfDuties,
)
#: A callback is owed while its clock runs; street officers and city supervisors record
#: one only to replace the round's (and the hotline desk its own, on hotline issues).
CALLBACK_DUE = Rule(
    "callback_due",
    "no callback is owed in this closure round",
    lambda i, p: (
        p.role in REPLACERS or hotline_desk(i, p) or i.open_deadline("callback") is not None
    ),
)
APPEALABLE = Rule(
    "appealable",
    "no dissatisfied callback waits for an appeal",
    lambda i, p: i.appeal is not None and i.appeal["status"] is None,
)
APPEAL_PENDING = Rule(
    "appeal_pending",
    "no appeal against a callback waits for a decision",
    lambda i, p: i.appeal is not None and i.appeal["status"] == "pending",
)


def _open(i: Issue, kind: str) -> bool:
    asked = i.requests.get(kind)
    return asked is not None and asked["status"] == "open"


def _own(i: Issue, p: Principal, kind: str) -> bool:
    """`p` asked for the `kind` request that waits for a decision."""
    return _open(i, kind) and i.requests[kind]["by"] == p.id


# Written out rather than made by a function at import: mutation testing (docs/mutation.md)
# can only change what runs while the tests run.
SUSPENSION_ASKED = Rule(
    "suspension_asked",
    "no suspension request waits for a decision",
    lambda i, p: _open(i, "suspension"),
)
EXTENSION_ASKED = Rule(
    "extension_asked",
    "no extension request waits for a decision",
    lambda i, p: _open(i, "extension"),
)
ESCALATION_ASKED = Rule(
    "escalation_asked",
    "no escalation request waits for a decision",
    lambda i, p: _open(i, "escalation"),
)
NOT_OWN_SUSPENSION = Rule(
    "not_own_suspension",
    "nobody decides their own suspension request",
    lambda i, p: not _own(i, p, "suspension"),
    refuse=SeparationOfDuties,
)
NOT_OWN_EXTENSION = Rule(
    "not_own_extension",
    "nobody decides their own extension request",
    lambda i, p: not _own(i, p, "extension"),
    refuse=SeparationOfDuties,
)
NOT_OWN_ESCALATION = Rule(
    "not_own_escalation",
    "nobody decides their own escalation request",
    lambda i, p: not _own(i, p, "escalation"),
    refuse=SeparationOfDuties,
)
#: suspend: neither suspended nor asked to be
NOT_SUSPENDED_OR_ASKED = Rule(
    "not_suspended_or_asked",
    "the issue is suspended or its suspension waits for a decision",
    lambda i, p: i.suspended_since is None and not _open(i, "suspension"),
)
NO_EXTENSION_ASKED = Rule(
    "no_extension_asked",
    "an extension request waits for a decision",
    lambda i, p: not _open(i, "extension"),
)
NO_ESCALATION_ASKED = Rule(
    "no_escalation_asked",
    "an escalation request waits for a decision",
    lambda i, p: not _open(i, "escalation"),
)
# -- joint handling (domain.joint) ---------------------------------------------------


def _dept(issue: Issue, p: Principal) -> dict[str, object]:
    return issue.departments[p.scope]


REPORTED_IN = Rule(
    "reported_in",
    "your department has not reported in",
    lambda i, p: _dept(i, p)["reported_in_at"] is not None,
)
TASK_PENDING = Rule(
    "task_pending",
    "your department has no task left to complete",
    lambda i, p: bool(_dept(i, p).get("task")) and _dept(i, p).get("task_completed_at") is None,
)
NOT_CONTESTED = Rule(
    "not_contested",
    "your department has already contested this summons",
    lambda i, p: _dept(i, p).get("contest") is None,
)
#: A hard matter is resolved by the lead department's officer or the whistle holder,
#: never by another summoned department (spec/joint-handling.md).
LEAD_IF_DEPARTMENT = Rule(
    "lead_if_department",
    "only the lead department or the whistle holder resolves a joint matter",
    lambda i, p: (
        p.role is not Role.DEPARTMENT_OFFICER or (i.lead is not None and i.lead == p.scope)
    ),
)
TASKS_DONE = Rule(
    "tasks_done",
    "every department not released must complete its task first",
    lambda i, p: not pending_tasks(i),
    refuse=refuse_tasks,
    details=lambda i, p: tasks_refusal(i),
)
PRESENCE_UNPROVEN = Rule(
    "presence_unproven",
    "no department's presence waits for confirmation",
    lambda i, p: any(v.get("presence") == "unproven" for v in i.active_departments().values()),
)
#: A 12345 ticket whose place or category matched nothing waits for 分拨 (transfer).
UNPLACED = Rule("unplaced", "the issue is placed in a grid", lambda i, p: bool(i.unplaced))


def _hotline(issue: Issue, p: Principal) -> bool:
    channel: str = issue.channel
    return channel == "hotline"


HOTLINE_ISSUE = Rule("hotline_issue", "not a 12345 ticket", _hotline)
NO_RETURN_PENDING = Rule(
    "no_return_pending",
    "a return to the hotline already waits for approval",
    lambda i, p: i.return_request is None,
)
RETURN_PENDING = Rule(
    "return_pending",
    "no return to the hotline waits for approval",
    lambda i, p: i.return_request is not None,
)
HARD_MATTER = Rule(
    "hard_matter", "not a hard matter: no department took part", lambda i, p: i.tier == "hard"
)
CONTEST_PENDING = Rule(
    "contest_pending",
    "no department's contest of its summons waits for a decision",
    lambda i, p: any(v.get("contest") == "pending" for v in i.active_departments().values()),
)

RULES: dict[str, Rule] = {
    r.name: r
    for r in (
        SUSPENSION_ASKED,
        EXTENSION_ASKED,
        ESCALATION_ASKED,
        NOT_OWN_SUSPENSION,
        NOT_OWN_EXTENSION,
        NOT_OWN_ESCALATION,
        NOT_SUSPENDED_OR_ASKED,
        NO_EXTENSION_ASKED,
        NO_ESCALATION_ASKED,
        FLAG_TARGET,
        CLEARABLE,
        MAY_URGE,
        NOT_RESOLVER,
        NOT_SUSPENDED,
        SUSPENDED,
        DEPARTMENT_SUMMONED,
        NOT_REPORTED_IN,
        NOT_ACKNOWLEDGED,
        CALLBACK_OWED,
        HARD_OR_FLAGGED,
        FLAGGED,
        NOT_HANDLER,
        CALLBACK_DUE,
        APPEALABLE,
        APPEAL_PENDING,
        REPORTED_IN,
        TASK_PENDING,
        NOT_CONTESTED,
        LEAD_IF_DEPARTMENT,
        TASKS_DONE,
        PRESENCE_UNPROVEN,
        CONTEST_PENDING,
        HARD_MATTER,
        UNPLACED,
        HOTLINE_ISSUE,
        NO_RETURN_PENDING,
        RETURN_PENDING,
    )
}
