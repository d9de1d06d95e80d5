"""The actions of joint handling (吹哨报到, spec/joint-handling.md), declared as
`domain.workflow` declares the others (docs/actions.md) and added to its `DECLARED`."""

from __future__ import annotations

from domain import hotline, joint
from domain import summary as S
from domain.declare import Action, Labels, Move
from domain.issue import Issue
from domain.parties import WHISTLE_HOLDERS
from domain.principals import Role
from domain.rules import (
    CONTEST_PENDING,
    DEPARTMENT_SUMMONED,
    HARD_MATTER,
    HOTLINE_ISSUE,
    NO_RETURN_PENDING,
    NOT_CONTESTED,
    NOT_REPORTED_IN,
    PRESENCE_UNPROVEN,
    REPORTED_IN,
    RETURN_PENDING,
    TASK_PENDING,
)

R = Role
STAY = "="
JOINT_STATES = ("whistle_blown", "joint_handling")
DEPARTMENT = frozenset({R.DEPARTMENT_OFFICER})

JOINT: tuple[Action, ...] = (
    Action(
        "confirm_presence",
        moves=(Move(JOINT_STATES, STAY),),
        roles=WHISTLE_HOLDERS,
        data=joint.ConfirmPresence,
        event=Issue.PresenceConfirmed,
        labels=Labels("确认到场", "Confirm presence"),
        decide=joint.confirm_presence,
        rules=(PRESENCE_UNPROVEN,),
        fold=S.confirm_presence,
        example={"department_id": "water"},
    ),
    Action(
        "complete_task",
        moves=(Move(JOINT_STATES, STAY),),
        roles=DEPARTMENT,
        data=joint.CompleteTask,
        event=Issue.TaskCompleted,
        labels=Labels("完成分工", "Complete the task"),
        decide=joint.complete_task,
        rules=(DEPARTMENT_SUMMONED, REPORTED_IN, TASK_PENDING),
        queue={R.DEPARTMENT_OFFICER: ()},
        fold=S.complete_task,
        example={"department_id": "water", "result": "main shut off and repaired"},
    ),
    Action(
        "record_meeting",
        moves=(Move(JOINT_STATES, STAY),),
        roles=WHISTLE_HOLDERS,
        data=joint.RecordMeeting,
        event=Issue.MeetingRecorded,
        labels=Labels("联席会议", "Record a joint meeting"),
        decide=joint.record_meeting,
        fold=S.record_meeting,
        example={
            "held_at": "2026-11-23T10:00:00+08:00",
            "attendees": ["water", "roads", "community"],
            "decisions": "water repairs the main; roads resurface by Friday",
        },
    ),
    Action(
        "evaluate_department",
        moves=(Move(("closed",), STAY),),
        roles=WHISTLE_HOLDERS,
        data=joint.EvaluateDepartment,
        event=Issue.DepartmentEvaluated,
        labels=Labels("部门评价", "Evaluate a department"),
        decide=joint.evaluate_department,
        rules=(HARD_MATTER,),
        fold=S.evaluate_department,
        example={
            "department_id": "water",
            "timeliness": 5,
            "attendee_level": "leader",
            "cooperation": 4,
            "result": 5,
        },
    ),
    Action(
        "contest_summons",
        moves=(Move(("whistle_blown",), STAY),),
        roles=DEPARTMENT,
        data=joint.ContestSummons,
        event=Issue.SummonsContested,
        labels=Labels("异议", "Contest the summons"),
        decide=joint.contest_summons,
        rules=(DEPARTMENT_SUMMONED, NOT_REPORTED_IN, NOT_CONTESTED),
        fold=S.contest_summons,
        example={"reason": "the road surface is the district's, not ours"},
    ),
    Action(
        "uphold_summons",
        moves=(Move(("whistle_blown",), STAY),),
        roles=WHISTLE_HOLDERS,
        data=joint.UpholdSummons,
        event=Issue.SummonsUpheld,
        labels=Labels("维持派遣", "Uphold the summons"),
        decide=joint.uphold_summons,
        rules=(CONTEST_PENDING,),
        queue={R.COMMUNITY_STAFF: (), R.STREET_OFFICER: ()},
        fold=S.uphold_summons,
        example={"department_id": "roads", "reason": "the pipe runs under your road"},
    ),
    # 12345 both ways: a ticket the unit returns to the hotline (退单), approved by the street
    Action(
        "return_to_hotline",
        moves=(Move(("reported",), STAY),),
        roles=frozenset({R.GRID_LEADER, R.COMMUNITY_STAFF}),
        data=hotline.ReturnToHotline,
        event=Issue.ReturnRequested,
        labels=Labels("退单", "Return to the hotline"),
        decide=hotline.return_to_hotline,
        rules=(HOTLINE_ISSUE, NO_RETURN_PENDING),
        fold=S.return_to_hotline,
        example={"reason": "a matter for the utility company, not the community"},
    ),
    Action(
        "approve_return",
        moves=(Move(("reported",), "rejected"),),
        roles=frozenset({R.STREET_OFFICER}),
        data=hotline.ApproveReturn,
        event=Issue.ReturnApproved,
        labels=Labels("同意退单", "Approve the return"),
        decide=hotline.approve_return,
        rules=(HOTLINE_ISSUE, RETURN_PENDING),
        queue={R.STREET_OFFICER: ()},
        fold=S.approve_return,
        example={"note": "agreed: the utility's matter"},
    ),
    Action(
        "repeat_complaint",
        moves=(
            Move(("closed",), "on_spot", "small_first"),
            Move(("closed",), "coordinating", "big_or_small_again"),
            Move(("closed",), "joint_handling", "hard"),
        ),
        roles=frozenset({R.INTAKE}),
        data=hotline.RepeatComplaint,
        event=Issue.RepeatComplained,
        labels=Labels("重复投诉", "Repeat complaint"),
        decide=hotline.repeat_complaint,
        fold=S.repeat_complaint,
        client=False,  # the hotline import's (POST /intake/hotline)
    ),
)
