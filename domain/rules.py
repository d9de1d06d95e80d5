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


def _not_resolver(issue: Issue, p: Principal) -> bool:
    return issue.resolver_id != p.id


NOT_RESOLVER = Rule(
    "not_resolver",
    "whoever resolved an issue never verifies it",
    _not_resolver,
    refuse=ResolverCannotVerify,
)


def _suspended(i: Issue, p: Principal) -> bool:
    return i.suspended_since is not None


SUSPENDED = Rule("suspended", "the issue is not suspended", _suspended)
DEPARTMENT_SUMMONED = Rule("department_summoned", "your department is not summoned", _summoned)


def _not_reported_in(i: Issue, p: Principal) -> bool:
    return i.departments[p.scope]["reported_in_at"] is None


NOT_REPORTED_IN = Rule(
    "not_reported_in",
    "your department has already reported in",
    _not_reported_in,
)


def _not_acknowledged(i: Issue, p: Principal) -> bool:
    return i.departments[p.scope]["acknowledged_at"] is None


NOT_ACKNOWLEDGED = Rule(
    "not_acknowledged",
    "your department has already acknowledged",
    _not_acknowledged,
)


def _callback_owed(i: Issue, p: Principal) -> bool:
    return i.open_deadline("callback") is not None


#: For queues: the callback (回访) is owed while its clock runs.
CALLBACK_OWED = Rule("callback_owed", "no callback is owed", _callback_owed)


def _flagged(i: Issue) -> bool:
    """Flagged for follow-up: a follow-up item not cleared (or a flag of old events)."""
    return bool(i.flags) or bool(open_items(i))


def _hard_or_flagged(i: Issue, p: Principal) -> bool:
    return i.tier == "hard" or _flagged(i)


#: For the city's queue: hard matters and issues flagged for follow-up (督办).
HARD_OR_FLAGGED = Rule("hard_or_flagged", "neither hard nor flagged", _hard_or_flagged)


def _is_flagged(i: Issue, p: Principal) -> bool:
    return _flagged(i)


FLAGGED = Rule("flagged", "not flagged for follow-up", _is_flagged)


def _flag_target(i: Issue, p: Principal) -> bool:
    return any(it["status"] == "open" and it["target"] == p.scope for it in i.followups)


#: reply_flag: a follow-up item waits for your reply
FLAG_TARGET = Rule(
    "flag_target",
    "no follow-up item waits for your reply",
    _flag_target,
)


def _clearable(i: Issue, p: Principal) -> bool:
    return any(may_clear(i, p, it) for it in i.followups)


#: clear_flag: an item answered (or on a closed issue) at your level or below
CLEARABLE = Rule(
    "clearable",
    "no follow-up item is yours to clear: not answered yet, or raised above you",
    _clearable,
)


def _may_urge(i: Issue, p: Principal) -> bool:
    return p.role is not Role.COMMUNITY_STAFF or (i.whistle_holder or {}).get("id") == p.id


#: urge: community staff urge only as the whistle holder (the departments they summoned)
MAY_URGE = Rule(
    "may_urge",
    "community staff urge the departments of a whistle they blew",
    _may_urge,
)


def _not_handler(i: Issue, p: Principal) -> bool:
    return p.id not in i.handled_by


#: Separation of duties: nobody who handled, resolved or verified an issue records its
#: callback (回访).
NOT_HANDLER = Rule(
    "not_handler",
    "whoever handled, resolved or verified an issue never records its callback",
    _not_handler,
    refuse=SeparationOfDuties,
)


def _callback_due(i: Issue, p: Principal) -> bool:
    return p.role in REPLACERS or hotline_desk(i, p) or i.open_deadline("callback") is not None


#: A callback is owed while its clock runs; street officers and city supervisors record
#: one only to replace the round's (and the hotline desk its own, on hotline issues).
CALLBACK_DUE = Rule(
    "callback_due",
    "no callback is owed in this closure round",
    _callback_due,
)


def _appealable(i: Issue, p: Principal) -> bool:
    return i.appeal is not None and i.appeal["status"] is None


APPEALABLE = Rule(
    "appealable",
    "no dissatisfied callback waits for an appeal",
    _appealable,
)


def _appeal_pending(i: Issue, p: Principal) -> bool:
    return i.appeal is not None and i.appeal["status"] == "pending"


APPEAL_PENDING = Rule(
    "appeal_pending",
    "no appeal against a callback waits for a decision",
    _appeal_pending,
)


def _open(i: Issue, kind: str) -> bool:
    asked = i.requests.get(kind)
    return asked is not None and asked["status"] == "open"


def _own(i: Issue, p: Principal, kind: str) -> bool:
    """`p` asked for the `kind` request that waits for a decision."""
    return _open(i, kind) and i.requests[kind]["by"] == p.id


# Written out rather than made by a function at import: mutation testing (docs/mutation.md)
# can only change what runs while the tests run.
def _suspension_asked(i: Issue, p: Principal) -> bool:
    return _open(i, "suspension")


SUSPENSION_ASKED = Rule(
    "suspension_asked",
    "no suspension request waits for a decision",
    _suspension_asked,
)


def _extension_asked(i: Issue, p: Principal) -> bool:
    return _open(i, "extension")


EXTENSION_ASKED = Rule(
    "extension_asked",
    "no extension request waits for a decision",
    _extension_asked,
)


def _escalation_asked(i: Issue, p: Principal) -> bool:
    return _open(i, "escalation")


ESCALATION_ASKED = Rule(
    "escalation_asked",
    "no escalation request waits for a decision",
    _escalation_asked,
)


def _not_own_suspension(i: Issue, p: Principal) -> bool:
    return not _own(i, p, "suspension")


NOT_OWN_SUSPENSION = Rule(
    "not_own_suspension",
    "nobody decides their own suspension request",
    _not_own_suspension,
    refuse=SeparationOfDuties,
)


def _not_own_extension(i: Issue, p: Principal) -> bool:
    return not _own(i, p, "extension")


NOT_OWN_EXTENSION = Rule(
    "not_own_extension",
    "nobody decides their own extension request",
    _not_own_extension,
    refuse=SeparationOfDuties,
)


def _not_own_escalation(i: Issue, p: Principal) -> bool:
    return not _own(i, p, "escalation")


NOT_OWN_ESCALATION = Rule(
    "not_own_escalation",
    "nobody decides their own escalation request",
    _not_own_escalation,
    refuse=SeparationOfDuties,
)


def _not_suspended_or_asked(i: Issue, p: Principal) -> bool:
    return i.suspended_since is None and not _open(i, "suspension")


#: suspend: neither suspended nor asked to be
NOT_SUSPENDED_OR_ASKED = Rule(
    "not_suspended_or_asked",
    "the issue is suspended or its suspension waits for a decision",
    _not_suspended_or_asked,
)


def _no_extension_asked(i: Issue, p: Principal) -> bool:
    return not _open(i, "extension")


NO_EXTENSION_ASKED = Rule(
    "no_extension_asked",
    "an extension request waits for a decision",
    _no_extension_asked,
)


def _no_escalation_asked(i: Issue, p: Principal) -> bool:
    return not _open(i, "escalation")


NO_ESCALATION_ASKED = Rule(
    "no_escalation_asked",
    "an escalation request waits for a decision",
    _no_escalation_asked,
)
# -- joint handling (domain.joint) ---------------------------------------------------


def _dept(issue: Issue, p: Principal) -> dict[str, object]:
    return issue.departments[p.scope]


def _reported_in(i: Issue, p: Principal) -> bool:
    return _dept(i, p)["reported_in_at"] is not None


REPORTED_IN = Rule(
    "reported_in",
    "your department has not reported in",
    _reported_in,
)


def _task_pending(i: Issue, p: Principal) -> bool:
    return bool(_dept(i, p).get("task")) and _dept(i, p).get("task_completed_at") is None


TASK_PENDING = Rule(
    "task_pending",
    "your department has no task left to complete",
    _task_pending,
)


def _not_contested(i: Issue, p: Principal) -> bool:
    return _dept(i, p).get("contest") is None


NOT_CONTESTED = Rule(
    "not_contested",
    "your department has already contested this summons",
    _not_contested,
)


def _lead_if_department(i: Issue, p: Principal) -> bool:
    return p.role is not Role.DEPARTMENT_OFFICER or (i.lead is not None and i.lead == p.scope)


#: A hard matter is resolved by the lead department's officer or the whistle holder,
#: never by another summoned department (spec/joint-handling.md).
LEAD_IF_DEPARTMENT = Rule(
    "lead_if_department",
    "only the lead department or the whistle holder resolves a joint matter",
    _lead_if_department,
)


def _tasks_done(i: Issue, p: Principal) -> bool:
    return not pending_tasks(i)


def _tasks_done_details(i: Issue, p: Principal) -> dict[str, object]:
    return tasks_refusal(i)


TASKS_DONE = Rule(
    "tasks_done",
    "every department not released must complete its task first",
    _tasks_done,
    refuse=refuse_tasks,
    details=_tasks_done_details,
)


def _presence_unproven(i: Issue, p: Principal) -> bool:
    return any(v.get("presence") == "unproven" for v in i.active_departments().values())


PRESENCE_UNPROVEN = Rule(
    "presence_unproven",
    "no department's presence waits for confirmation",
    _presence_unproven,
)


def _unplaced(i: Issue, p: Principal) -> bool:
    return bool(i.unplaced)


#: A 12345 ticket whose place or category matched nothing waits for 分拨 (transfer).
UNPLACED = Rule("unplaced", "the issue is placed in a grid", _unplaced)


def _hotline(issue: Issue, p: Principal) -> bool:
    channel: str = issue.channel
    return channel == "hotline"


HOTLINE_ISSUE = Rule("hotline_issue", "not a 12345 ticket", _hotline)


def _no_return_pending(i: Issue, p: Principal) -> bool:
    return i.return_request is None


NO_RETURN_PENDING = Rule(
    "no_return_pending",
    "a return to the hotline already waits for approval",
    _no_return_pending,
)


def _return_pending(i: Issue, p: Principal) -> bool:
    return i.return_request is not None


RETURN_PENDING = Rule(
    "return_pending",
    "no return to the hotline waits for approval",
    _return_pending,
)


def _hard_matter(i: Issue, p: Principal) -> bool:
    return i.tier == "hard"


HARD_MATTER = Rule("hard_matter", "not a hard matter: no department took part", _hard_matter)


def _contest_pending(i: Issue, p: Principal) -> bool:
    return any(v.get("contest") == "pending" for v in i.active_departments().values())


CONTEST_PENDING = Rule(
    "contest_pending",
    "no department's contest of its summons waits for a decision",
    _contest_pending,
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
