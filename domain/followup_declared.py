"""The actions of follow-up (督办), exceptions with approval and callbacks' appeals,
declared as `domain.workflow` declares the others (docs/actions.md) and added to its
`DECLARED`."""

from __future__ import annotations

from domain import callbacks
from domain import summary as S
from domain.declare import Action, Labels, Move
from domain.issue import Issue
from domain.parties import HANDLERS
from domain.principals import Role
from domain.rules import APPEAL_PENDING, APPEALABLE
from domain.states import OPEN_STATES

R = Role
STAY = "="
#: Where an appeal and its decision may be taken: whatever became of the issue since.
AFTER_A_CALLBACK = (*OPEN_STATES, "closed")
APPEAL_JUDGES = frozenset({R.STREET_OFFICER, R.CITY_SUPERVISOR})

FOLLOWUP: tuple[Action, ...] = (
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
