"""The workflow of `spec/workflow.md`, declared once.

The transition table is one module-level `transitions.Machine(model=None)`: the issue
aggregate asks it where an action may lead from a state and never attaches itself to
it. Who may take an action is declared beside it, per tier where the spec says so.
"""

from __future__ import annotations

from collections.abc import Mapping

from transitions import Machine

from domain.principals import Role

STATES = (
    "reported",
    "on_spot",
    "coordinating",
    "whistle_blown",
    "joint_handling",
    "resolved",
    "closed",
    "rejected",
    "merged",
)
TERMINAL = frozenset({"closed", "rejected", "merged"})
OPEN_STATES = tuple(s for s in STATES if s not in TERMINAL)
HANDLING_STATE = {"small": "on_spot", "big": "coordinating", "hard": "joint_handling"}
HANDLING_STATES = tuple(HANDLING_STATE.values())
TIERS = ("small", "big", "hard")
TIER_RANK = {None: 0, "small": 1, "big": 2, "hard": 3}

# (action, sources, destination, condition shown in the diagram). "=" stays put.
_TABLE: list[tuple[str, tuple[str, ...], str, str | None]] = [
    ("handle_on_spot", ("reported",), "on_spot", None),
    ("coordinate", ("reported", "on_spot"), "coordinating", None),
    ("blow_whistle", ("reported", "coordinating"), "whistle_blown", None),
    ("acknowledge", ("whistle_blown",), "=", None),
    ("report_in", ("whistle_blown",), "=", "others_pending"),
    ("report_in", ("whistle_blown",), "joint_handling", "last_to_report_in"),
    ("summon", ("whistle_blown", "joint_handling"), "whistle_blown", None),
    ("resolve", HANDLING_STATES, "resolved", None),
    ("verify", ("resolved",), "closed", None),
    ("rework", ("resolved",), "on_spot", "small"),
    ("rework", ("resolved",), "coordinating", "big"),
    ("rework", ("resolved",), "joint_handling", "hard"),
    ("record_callback", ("closed",), "=", "not_dissatisfied"),
    ("record_callback", ("closed",), "on_spot", "dissatisfied_small_first"),
    ("record_callback", ("closed",), "coordinating", "dissatisfied_big_or_small_again"),
    ("record_callback", ("closed",), "joint_handling", "dissatisfied_hard"),
    ("reject", ("reported",), "rejected", None),
    ("transfer", ("reported",), "=", None),
    ("release", ("whistle_blown",), "=", "others_pending"),
    ("release", ("whistle_blown",), "joint_handling", "rest_reported_in"),
    ("merge", ("reported", "on_spot", "coordinating"), "merged", None),
    ("urge", OPEN_STATES, "=", None),
    ("suspend", HANDLING_STATES, "=", None),
    ("resume", HANDLING_STATES, "=", None),
    ("comment", STATES, "=", None),
    ("miss_deadline", (*OPEN_STATES, "closed"), "=", None),
    ("miss_deadline", ("on_spot",), "coordinating", "small_resolution_missed"),
]

MACHINE = Machine(model=None, states=list(STATES), initial="reported", auto_transitions=False)
for _action, _sources, _dest, _cond in _TABLE:
    MACHINE.add_transition(_action, list(_sources), _dest, conditions=[_cond] if _cond else [])

ACTIONS: tuple[str, ...] = ("report", *dict.fromkeys(a for a, *_ in _TABLE))
#: Actions a client may request at `POST /issues/{id}/actions/{action}`.
CLIENT_ACTIONS = tuple(a for a in ACTIONS if a not in ("report", "miss_deadline"))


def destinations(action: str, state: str) -> set[str]:
    """Where `action` may lead from `state` (empty: not allowed there)."""
    if action not in MACHINE.events:
        return set()
    return {t.dest or state for t in MACHINE.get_transitions(action, state)}


def actions_from(state: str) -> list[str]:
    return [a for a in ACTIONS if destinations(a, state)]


R = Role
_SMALL_HANDLERS = frozenset({R.GRID_WORKER, R.GRID_LEADER})
_BIG_HANDLERS = frozenset({R.GRID_LEADER, R.COMMUNITY_STAFF})
_HARD_HANDLERS = frozenset({R.COMMUNITY_STAFF, R.STREET_OFFICER, R.DEPARTMENT_OFFICER})
HANDLERS: Mapping[str, frozenset[Role]] = {
    "small": _SMALL_HANDLERS,
    "big": _BIG_HANDLERS,
    "hard": _HARD_HANDLERS,
}
VERIFIERS: Mapping[str, frozenset[Role]] = {
    "small": frozenset({R.GRID_LEADER, R.COMMUNITY_STAFF}),
    "big": frozenset({R.COMMUNITY_STAFF, R.STREET_OFFICER}),
    "hard": frozenset({R.STREET_OFFICER, R.CITY_SUPERVISOR}),
}
_EVERYONE_BUT_AUDITORS = frozenset(Role) - {R.AUDITOR, R.SYSTEM}

#: Roles per action; a mapping by tier where the spec makes it depend on the tier.
ROLES: Mapping[str, frozenset[Role] | Mapping[str, frozenset[Role]]] = {
    "report": frozenset(
        {R.RESIDENT, R.BUILDING_HEAD, R.GRID_WORKER, R.GRID_LEADER, R.COMMUNITY_STAFF, R.INTAKE}
    ),
    "handle_on_spot": _SMALL_HANDLERS,
    "coordinate": _BIG_HANDLERS,
    "blow_whistle": frozenset({R.COMMUNITY_STAFF, R.STREET_OFFICER}),
    "acknowledge": frozenset({R.DEPARTMENT_OFFICER}),
    "report_in": frozenset({R.DEPARTMENT_OFFICER}),
    "summon": frozenset({R.COMMUNITY_STAFF, R.STREET_OFFICER}),
    "resolve": HANDLERS,
    "verify": VERIFIERS,
    "rework": VERIFIERS,
    "record_callback": frozenset({R.COMMUNITY_STAFF, R.RESIDENT}),
    "reject": frozenset({R.GRID_LEADER, R.COMMUNITY_STAFF}),
    "transfer": frozenset({R.GRID_LEADER, R.COMMUNITY_STAFF, R.STREET_OFFICER}),
    "release": frozenset({R.COMMUNITY_STAFF, R.STREET_OFFICER}),
    "merge": frozenset({R.GRID_LEADER, R.COMMUNITY_STAFF}),
    "urge": frozenset({R.CITY_SUPERVISOR, R.STREET_OFFICER}),
    "suspend": HANDLERS,
    "resume": HANDLERS,
    "comment": _EVERYONE_BUT_AUDITORS,
    "miss_deadline": frozenset({R.SYSTEM}),
}


def roles_for(action: str, tier: str | None) -> frozenset[Role]:
    """The roles that may take `action` on an issue of `tier`."""
    roles = ROLES[action]
    if isinstance(roles, frozenset):
        return roles
    if tier is None:
        return frozenset().union(*roles.values())
    return roles[tier]


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
