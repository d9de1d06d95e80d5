"""The workflow of `spec/workflow.md`: every action of an issue, declared once.

Each declaration (`domain.declare.Action`) gives the action's moves, roles (per tier
where the spec says so), reach, data, decision, event, rules, queues, view fold, labels
and an example. Everything else is derived from this table: the transition table (one
module-level `transitions.Machine(model=None)`, which the aggregate asks and never
attaches itself to), the OpenAPI document, the console's forms, the queues' SQL and the
diagram. docs/actions.md says how to add an action.
"""

from __future__ import annotations

from transitions import Machine

from domain import actions as A
from domain import callbacks, decide
from domain import summary as S
from domain.declare import Action, Labels, Move, Reach
from domain.followup_declared import FOLLOWUP
from domain.issue import Issue
from domain.joint_declared import JOINT
from domain.owners_declared import OWNERS
from domain.parties import (
    BIG_HANDLERS,
    EVERYONE_BUT_AUDITORS,
    HANDLERS,
    REPORTERS,
    SMALL_HANDLERS,
    VERIFIERS,
    WHISTLE_HOLDERS,
)
from domain.principals import Role
from domain.rules import (
    CALLBACK_DUE,
    CALLBACK_OWED,
    DEPARTMENT_SUMMONED,
    LEAD_IF_DEPARTMENT,
    NOT_ACKNOWLEDGED,
    NOT_HANDLER,
    NOT_REPORTED_IN,
    NOT_RESOLVER,
    SUSPENDED,
    TASKS_DONE,
    UNPLACED,
)
from domain.states import (
    HANDLING_STATE,
    HANDLING_STATES,
    OPEN_STATES,
    STATES,
    TERMINAL,
    TIER_RANK,
    TIERS,
)

__all__ = [
    "ACTIONS",
    "CLIENT_ACTIONS",
    "DECLARED",
    "HANDLING_STATE",
    "HANDLING_STATES",
    "MACHINE",
    "OPEN_STATES",
    "STATES",
    "TERMINAL",
    "TIERS",
    "TIER_RANK",
    "destinations",
    "mermaid",
]

R = Role
HANDLING = HANDLING_STATES
STAY = "="


def _q(*roles: Role) -> dict[Role, tuple[()]]:
    """Queues of these roles, on no further condition."""
    return {r: () for r in roles}


DECLARED: tuple[Action, ...] = (
    Action(
        "report",
        moves=(Move((), "reported"),),
        roles=REPORTERS,
        data=A.Report,
        event=Issue.Reported,
        labels=Labels("上报", "Report"),
        fold=S.report,
        client=False,  # POST /issues
    ),
    Action(
        "handle_on_spot",
        moves=(Move(("reported",), "on_spot"),),
        roles=SMALL_HANDLERS,
        data=A.ActionData,
        event=Issue.HandledOnSpot,
        labels=Labels("即时处置", "Handle on the spot"),
        decide=decide.handle_on_spot,
        queue=_q(R.GRID_WORKER, R.GRID_LEADER),
        fold=S.handle_on_spot,
        example={"note": "on my way"},
    ),
    Action(
        "coordinate",
        moves=(Move(("reported", "on_spot"), "coordinating"),),
        roles=BIG_HANDLERS,
        data=A.Coordinate,
        event=Issue.Coordinated,
        labels=Labels("协调", "Coordinate"),
        decide=decide.coordinate,
        queue=_q(R.GRID_LEADER),
        fold=S.coordinate,
        example={
            "lead_party": "物业公司 property company",
            "parties": ["业委会 owners' committee"],
            "note": "meeting at 3pm",
        },
    ),
    Action(
        "blow_whistle",
        moves=(Move(("reported", "coordinating"), "whistle_blown"),),
        roles=WHISTLE_HOLDERS,
        data=A.BlowWhistle,
        event=Issue.WhistleBlown,
        labels=Labels("吹哨", "Blow the whistle"),
        decide=decide.blow_whistle,
        queue=_q(R.COMMUNITY_STAFF),
        fold=S.blow_whistle,
        example={"departments": ["housing", "water"], "grade": "urgent"},
    ),
    Action(
        "acknowledge",
        moves=(Move(("whistle_blown",), STAY),),
        roles=frozenset({R.DEPARTMENT_OFFICER}),
        data=A.ActionData,
        event=Issue.Acknowledged,
        labels=Labels("签收", "Acknowledge"),
        decide=decide.acknowledge,
        rules=(DEPARTMENT_SUMMONED, NOT_REPORTED_IN, NOT_ACKNOWLEDGED),
        queue=_q(R.DEPARTMENT_OFFICER),
        fold=S.acknowledge,
    ),
    Action(
        "report_in",
        moves=(
            Move(("whistle_blown",), STAY, "others_pending"),
            Move(("whistle_blown",), "joint_handling", "last_to_report_in"),
        ),
        roles=frozenset({R.DEPARTMENT_OFFICER}),
        data=A.ReportIn,
        event=Issue.ReportedIn,
        labels=Labels("报到", "Report in"),
        decide=decide.report_in,
        rules=(DEPARTMENT_SUMMONED, NOT_REPORTED_IN),
        queue=_q(R.DEPARTMENT_OFFICER),
        fold=S.report_in,
        example={"note": "on site", "location": {"lat": 37.5, "lon": 122.1}},
    ),
    Action(
        "summon",
        moves=(Move(("whistle_blown", "joint_handling"), "whistle_blown"),),
        roles=WHISTLE_HOLDERS,
        data=A.Summon,
        event=Issue.Summoned,
        labels=Labels("增派部门", "Summon more"),
        decide=decide.summon,
        queue=_q(R.COMMUNITY_STAFF, R.STREET_OFFICER),
        fold=S.summon,
        example={"departments": ["police"]},
    ),
    Action(
        "resolve",
        moves=(Move(HANDLING, "resolved"),),
        roles=HANDLERS,
        data=A.Resolve,
        event=Issue.Resolved,
        labels=Labels("办结", "Resolve"),
        decide=decide.resolve,
        rules=(LEAD_IF_DEPARTMENT, TASKS_DONE),
        queue=_q(
            R.GRID_WORKER, R.GRID_LEADER, R.COMMUNITY_STAFF, R.STREET_OFFICER, R.DEPARTMENT_OFFICER
        ),
        fold=S.resolve,
        example={"resolution": "bins emptied, area cleaned"},
    ),
    Action(
        "verify",
        moves=(Move(("resolved",), "closed"),),
        roles=VERIFIERS,
        data=A.Verify,
        event=Issue.Verified,
        labels=Labels("核查通过", "Verify"),
        decide=decide.verify,
        rules=(NOT_RESOLVER,),
        queue=_q(R.GRID_LEADER, R.COMMUNITY_STAFF, R.STREET_OFFICER),
        fold=S.verify,
        example={"note": "checked on site"},
    ),
    Action(
        "rework",
        moves=tuple(Move(("resolved",), HANDLING_STATE[t], t) for t in TIERS),
        roles=VERIFIERS,
        data=A.Reasoned,
        event=Issue.Reworked,
        labels=Labels("返工", "Rework"),
        decide=decide.rework,
        rules=(NOT_RESOLVER,),
        fold=S.rework,
        example={"reason": "rubbish still there"},
    ),
    Action(
        "record_callback",
        moves=(
            Move(("closed",), STAY, "not_dissatisfied"),
            Move(("closed",), "on_spot", "dissatisfied_small_first"),
            Move(("closed",), "coordinating", "dissatisfied_big_or_small_again"),
            Move(("closed",), "joint_handling", "dissatisfied_hard"),
        ),
        roles=frozenset(
            {R.COMMUNITY_STAFF, R.RESIDENT, R.INTAKE, R.STREET_OFFICER, R.CITY_SUPERVISOR}
        ),
        data=callbacks.RecordCallback,
        event=Issue.CallbackRecorded,
        labels=Labels("回访", "Record callback"),
        decide=callbacks.record_callback,
        rules=(CALLBACK_DUE, NOT_HANDLER),
        reach=Reach.NODE_OR_REPORTER,
        queue={R.COMMUNITY_STAFF: (CALLBACK_OWED,), R.RESIDENT: (CALLBACK_OWED,)},
        fold=S.record_callback,
        example={
            "outcome": "reached",
            "handler_contacted": True,
            "solved": True,
            "satisfaction": "satisfied",
            "via": "phone",
        },
    ),
    Action(
        "reject",
        moves=(Move(("reported",), "rejected"),),
        roles=frozenset({R.GRID_LEADER, R.COMMUNITY_STAFF}),
        data=A.Reasoned,
        event=Issue.Rejected,
        labels=Labels("退回", "Reject"),
        decide=decide.reject,
        example={"reason": "not a grid matter"},
    ),
    Action(
        "transfer",
        moves=(Move(("reported",), STAY),),
        roles=frozenset({R.GRID_LEADER, R.COMMUNITY_STAFF, R.STREET_OFFICER, R.INTAKE}),
        data=A.Transfer,
        event=Issue.Transferred,
        labels=Labels("转派", "Transfer"),
        decide=decide.transfer,
        queue={R.STREET_OFFICER: (UNPLACED,), R.INTAKE: (UNPLACED,)},  # 分拨 of tickets
        fold=S.transfer,
        example={"grid_id": "huancui-s1-c1-g2", "reason": "wrong grid"},
    ),
    Action(
        "release",
        moves=(
            Move(("whistle_blown",), STAY, "others_pending"),
            Move(("whistle_blown",), "joint_handling", "rest_reported_in"),
        ),
        roles=WHISTLE_HOLDERS,
        data=A.Release,
        event=Issue.Released,
        labels=Labels("免除部门", "Release a department"),
        decide=decide.release,
        fold=S.release,
        example={"department_id": "water", "reason": "not its remit"},
    ),
    Action(
        "merge",
        moves=(Move(("reported", "on_spot", "coordinating"), "merged"),),
        roles=frozenset({R.GRID_LEADER, R.COMMUNITY_STAFF}),
        data=A.Merge,
        event=Issue.Merged,
        labels=Labels("合并", "Merge"),
        decide=decide.merge,
        fold=S.merge,
        example={"duplicate_of": "6f1c2a9e-8d1b-4c7a-9a43-2b8f3f8e1d10"},
    ),
    Action(
        "resume",
        moves=(Move(HANDLING, STAY),),
        roles=HANDLERS,
        data=A.ActionData,
        event=Issue.Resumed,
        labels=Labels("恢复", "Resume"),
        decide=decide.resume,
        rules=(SUSPENDED,),
        fold=S.resume,
    ),
    Action(
        "comment",
        moves=(Move(STATES, STAY),),
        roles=EVERYONE_BUT_AUDITORS,
        data=A.Comment,
        event=Issue.Commented,
        labels=Labels("备注", "Comment"),
        decide=decide.comment,
        reach=Reach.ANY_PART,
        example={"text": "resident called again"},
    ),
    Action(
        "miss_deadline",
        moves=(
            Move((*OPEN_STATES, "closed"), STAY),
            Move(("on_spot",), "coordinating", "small_resolution_missed"),
        ),
        roles=frozenset({R.SYSTEM}),
        data=A.MissDeadline,
        event=Issue.DeadlineMissed,
        labels=Labels("超时", "Deadline missed"),
        decide=decide.miss_deadline,
        fold=S.miss_deadline,
        client=False,  # the deadline worker's
    ),
    *FOLLOWUP,  # follow-up, exceptions and callbacks (domain/followup_declared.py)
    *OWNERS,  # named owners (domain/owners_declared.py)
    *JOINT,  # joint handling: tasks, presence, meetings, evaluations (domain/joint_declared.py)
)

ACTION: dict[str, Action] = {a.name: a for a in DECLARED}
ACTIONS: tuple[str, ...] = tuple(ACTION)
#: Actions a client may request at `POST /issues/{id}/actions/{action}`.
CLIENT_ACTIONS: tuple[str, ...] = tuple(a.name for a in DECLARED if a.client)


def build_machine(declared: tuple[Action, ...]) -> Machine:
    """The transition table of `declared` as one `transitions.Machine(model=None)`: states
    by their string values (given Enum members, `transitions` names them by their Python
    names); each move's condition is its name, shown in the diagram."""
    machine = Machine(
        model=None, states=[str(s) for s in STATES], initial="reported", auto_transitions=False
    )
    for a in declared:
        for m in a.moves:
            if m.sources:
                machine.add_transition(
                    a.name,
                    [str(s) for s in m.sources],
                    str(m.dest),
                    conditions=[m.when] if m.when else [],
                )
    return machine


MACHINE = build_machine(DECLARED)


def destinations(action: str, state: str) -> set[str]:
    """Where `action` may lead from `state` (empty: not allowed there)."""
    if action not in MACHINE.events:
        return set()
    return {t.dest or state for t in MACHINE.get_transitions(action, state)}


def mermaid() -> str:
    """The state diagram, generated from the table (mermaid stateDiagram-v2)."""
    lines = ["stateDiagram-v2", "    [*] --> reported: report"]
    for action, event in MACHINE.events.items():
        for source, transitions in event.transitions.items():
            for t in transitions:
                conds = ", ".join(str(c.func) for c in t.conditions)
                label = f"{action} [{conds}]" if conds else action
                lines.append(f"    {source} --> {t.dest or source}: {label}")
    for state in sorted(TERMINAL):
        lines.append(f"    {state} --> [*]")
    return "\n".join(lines) + "\n"
