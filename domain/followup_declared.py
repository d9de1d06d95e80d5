"""The actions of follow-up (督办), exceptions with approval and callbacks' appeals,
declared as `domain.workflow` declares the others (docs/actions.md) and added to its
`DECLARED`."""

from __future__ import annotations

from collections.abc import Mapping

from domain import actions as A
from domain import approvals, callbacks, followups
from domain import summary as S
from domain.declare import Action, Labels, Move, Reach
from domain.issue import Issue
from domain.parties import HANDLERS, VERIFIERS
from domain.principals import Role
from domain.rules import (
    APPEAL_PENDING,
    APPEALABLE,
    CLEARABLE,
    ESCALATION_ASKED,
    EXTENSION_ASKED,
    FLAG_TARGET,
    FLAGGED,
    HARD_OR_FLAGGED,
    MAY_URGE,
    NO_ESCALATION_ASKED,
    NO_EXTENSION_ASKED,
    NOT_OWN_ESCALATION,
    NOT_OWN_EXTENSION,
    NOT_OWN_SUSPENSION,
    NOT_SUSPENDED_OR_ASKED,
    SUSPENSION_ASKED,
)
from domain.states import HANDLING_STATES, OPEN_STATES, STATES

R = Role
STAY = "="
#: Where an appeal and its decision may be taken: whatever became of the issue since.
AFTER_A_CALLBACK = (*OPEN_STATES, "closed")
APPEAL_JUDGES = frozenset({R.STREET_OFFICER, R.CITY_SUPERVISOR})
HANDLING = HANDLING_STATES
#: Who decides a suspension: those who may verify the tier, and a street officer (who
#: alone approves one past 10 working days suspended in all).
SUSPENSION_JUDGES = {tier: roles | {R.STREET_OFFICER} for tier, roles in VERIFIERS.items()}
#: Who decides an escalation request (grid leader or community staff).
ESCALATION_JUDGES = frozenset({R.GRID_LEADER, R.COMMUNITY_STAFF})


def _judges(roles: frozenset[Role] | Mapping[str, frozenset[Role]]) -> dict[Role, tuple[()]]:
    """Those who decide a request owe the decision: it waits in their queue."""
    if isinstance(roles, frozenset):
        return {r: () for r in roles}
    return {r: () for rs in roles.values() for r in rs}


EXCEPTIONS: tuple[Action, ...] = (
    Action(
        "suspend",
        moves=(Move(HANDLING, STAY),),
        roles=HANDLERS,
        data=A.Reasoned,
        event=Issue.Suspended,
        labels=Labels("申请挂起", "Ask to suspend"),
        decide=approvals.suspend,
        rules=(NOT_SUSPENDED_OR_ASKED,),
        fold=S.suspend,
        example={"reason": "waiting for access to the flat"},
    ),
    Action(
        "approve_suspension",
        moves=(Move(HANDLING, STAY),),
        roles=SUSPENSION_JUDGES,
        data=A.ActionData,
        event=Issue.SuspensionApproved,
        labels=Labels("批准挂起", "Approve the suspension"),
        decide=approvals.approve_suspension,
        rules=(SUSPENSION_ASKED, NOT_OWN_SUSPENSION),
        queue=_judges(SUSPENSION_JUDGES),
        fold=S.approve_suspension,
    ),
    Action(
        "deny_suspension",
        moves=(Move(HANDLING, STAY),),
        roles=SUSPENSION_JUDGES,
        data=approvals.Deny,
        event=Issue.SuspensionDenied,
        labels=Labels("驳回挂起", "Deny the suspension"),
        decide=approvals.deny,
        rules=(SUSPENSION_ASKED, NOT_OWN_SUSPENSION),
        fold=S.deny_suspension,
        example={"reason": "the flat is open in the mornings"},
    ),
    Action(
        "request_extension",
        moves=(Move(HANDLING, STAY),),
        roles=HANDLERS,
        data=approvals.RequestExtension,
        event=Issue.ExtensionRequested,
        labels=Labels("申请延期", "Ask for an extension"),
        decide=approvals.request_extension,
        rules=(NO_EXTENSION_ASKED,),
        fold=S.request_extension,
        example={"reason": "the part is on order", "extra": "3wd"},
    ),
    Action(
        "approve_extension",
        moves=(Move(HANDLING, STAY),),
        roles=VERIFIERS,
        data=A.ActionData,
        event=Issue.ExtensionApproved,
        labels=Labels("批准延期", "Approve the extension"),
        decide=approvals.approve_extension,
        rules=(EXTENSION_ASKED, NOT_OWN_EXTENSION),
        queue=_judges(VERIFIERS),
        fold=S.approve_extension,
    ),
    Action(
        "deny_extension",
        moves=(Move(HANDLING, STAY),),
        roles=VERIFIERS,
        data=approvals.Deny,
        event=Issue.ExtensionDenied,
        labels=Labels("驳回延期", "Deny the extension"),
        decide=approvals.deny,
        rules=(EXTENSION_ASKED, NOT_OWN_EXTENSION),
        fold=S.deny_extension,
        example={"reason": "no reason to wait"},
    ),
    Action(
        "request_escalation",
        moves=(Move(("on_spot",), STAY),),
        roles=frozenset({R.GRID_WORKER}),
        data=approvals.RequestEscalation,
        event=Issue.EscalationRequested,
        labels=Labels("申请上报", "Ask to escalate"),
        decide=approvals.request_escalation,
        rules=(NO_ESCALATION_ASKED,),
        fold=S.request_escalation,
        example={"reason": "the owners' committee must agree"},
    ),
    Action(
        "approve_escalation",
        moves=(Move(("on_spot",), "coordinating"),),
        roles=ESCALATION_JUDGES,
        data=approvals.ApproveEscalation,
        event=Issue.EscalationApproved,
        labels=Labels("同意上报", "Approve the escalation"),
        decide=approvals.approve_escalation,
        rules=(ESCALATION_ASKED, NOT_OWN_ESCALATION),
        queue=_judges(ESCALATION_JUDGES),
        fold=S.approve_escalation,
        example={"lead_party": "物业公司 property company"},
    ),
    Action(
        "deny_escalation",
        moves=(Move(("on_spot",), STAY),),
        roles=ESCALATION_JUDGES,
        data=approvals.Deny,
        event=Issue.EscalationDenied,
        labels=Labels("不予上报", "Deny the escalation"),
        decide=approvals.deny_escalation,
        rules=(ESCALATION_ASKED, NOT_OWN_ESCALATION),
        fold=S.deny_escalation,
        example={"reason": "a grid matter: call the property manager"},
    ),
)

#: Who answers a follow-up item aimed at their node or department.
ANSWERERS = frozenset(
    {R.GRID_WORKER, R.GRID_LEADER, R.COMMUNITY_STAFF, R.STREET_OFFICER, R.DEPARTMENT_OFFICER}
)
CLEARERS = frozenset({R.COMMUNITY_STAFF, R.STREET_OFFICER, R.CITY_SUPERVISOR})

LADDER: tuple[Action, ...] = (
    Action(
        "urge",
        moves=(Move(OPEN_STATES, STAY),),
        roles=frozenset({R.CITY_SUPERVISOR, R.STREET_OFFICER, R.COMMUNITY_STAFF}),
        data=followups.Urge,
        event=Issue.Urged,
        labels=Labels("催办", "Urge"),
        decide=followups.urge,
        rules=(MAY_URGE,),
        queue={R.STREET_OFFICER: (FLAGGED,), R.CITY_SUPERVISOR: (HARD_OR_FLAGGED,)},
        fold=S.urge,
        example={"message": "please report in today", "target": "housing", "grade": "supervise"},
    ),
    Action(
        "flag",
        moves=(Move(OPEN_STATES, STAY),),
        roles=frozenset({R.CITY_SUPERVISOR, R.STREET_OFFICER}),
        data=followups.Flag,
        event=Issue.Flagged,
        labels=Labels("督办", "Open a follow-up item"),
        decide=followups.flag,
        example={"message": "explain the delay by Friday"},
    ),
    Action(
        "reply_flag",
        moves=(Move(STATES, STAY),),
        roles=ANSWERERS,
        data=followups.ReplyFlag,
        event=Issue.FlagReplied,
        labels=Labels("督办回复", "Reply to the follow-up"),
        decide=followups.reply_flag,
        rules=(FLAG_TARGET,),
        reach=Reach.ANY_PART,
        queue={r: () for r in ANSWERERS},
        example={"text": "the crew is booked for Thursday"},
    ),
    Action(
        "clear_flag",
        moves=(Move(STATES, STAY),),
        roles=CLEARERS,
        data=followups.ClearFlag,
        event=Issue.FlagCleared,
        labels=Labels("销号", "Clear the follow-up"),
        decide=followups.clear_flag,
        rules=(CLEARABLE,),
        queue={r: () for r in CLEARERS},
        example={"note": "answered and checked"},
    ),
    Action(
        "raise_patrol_miss",
        moves=(Move(STATES, STAY),),
        roles=frozenset({R.SYSTEM}),
        data=followups.PatrolMiss,
        event=Issue.PatrolMissRaised,
        labels=Labels("漏报督办", "Patrol-miss follow-up"),
        decide=followups.raise_patrol_miss,
        client=False,  # the patrol-miss worker's (workers/patrol_misses.py)
    ),
)

FOLLOWUP: tuple[Action, ...] = (
    *EXCEPTIONS,
    *LADDER,
    Action(
        "appeal_callback",
        moves=(Move(AFTER_A_CALLBACK, STAY),),
        roles=HANDLERS,
        data=callbacks.AppealCallback,
        event=Issue.CallbackAppealed,
        labels=Labels("回访申诉", "Appeal a callback"),
        decide=callbacks.appeal_callback,
        rules=(APPEALABLE,),
        fold=S.appeal_callback,
        example={"reason": "the resident asks for what no unit may grant (不合理诉求)"},
    ),
    Action(
        "uphold_appeal",
        moves=(Move(AFTER_A_CALLBACK, STAY),),
        roles=APPEAL_JUDGES,
        data=callbacks.DecideAppeal,
        event=Issue.AppealUpheld,
        labels=Labels("申诉成立", "Uphold the appeal"),
        decide=callbacks.decide_appeal,
        rules=(APPEAL_PENDING,),
        queue={R.STREET_OFFICER: (), R.CITY_SUPERVISOR: ()},
        fold=S.uphold_appeal,
        example={"reason": "the demand is outside any unit's remit"},
    ),
    Action(
        "reject_appeal",
        moves=(Move(AFTER_A_CALLBACK, STAY),),
        roles=APPEAL_JUDGES,
        data=callbacks.DecideAppeal,
        event=Issue.AppealRejected,
        labels=Labels("申诉驳回", "Reject the appeal"),
        decide=callbacks.decide_appeal,
        rules=(APPEAL_PENDING,),
        fold=S.reject_appeal,
        example={"reason": "the resident's demand is reasonable"},
    ),
)
