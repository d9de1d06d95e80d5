"""The actions of named owners (issue 14), declared as `domain.workflow` declares the
others (docs/actions.md) and added to its `DECLARED`."""

from __future__ import annotations

from domain import owners
from domain import summary as S
from domain.declare import Action, Labels, Move
from domain.issue import Issue
from domain.states import OPEN_STATES

STAY = "="

OWNERS: tuple[Action, ...] = (
    Action(
        "assign",
        moves=(Move(OPEN_STATES, STAY),),
        roles=owners.ASSIGNERS,
        data=owners.Assign,
        event=Issue.Assigned,
        labels=Labels("指定责任人", "Assign"),
        decide=owners.assign,
        fold=S.assign,
        example={"principal_id": "worker-li", "note": "Li knows the building"},
    ),
)
