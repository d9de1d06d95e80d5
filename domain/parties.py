"""Who takes part in an issue's steps, by role: the sets the declarations are written in
(`domain.workflow` and the modules that declare more actions)."""

from __future__ import annotations

from collections.abc import Mapping

from domain.principals import Role

R = Role
SMALL_HANDLERS = frozenset({R.GRID_WORKER, R.GRID_LEADER})
BIG_HANDLERS = frozenset({R.GRID_LEADER, R.COMMUNITY_STAFF})
HARD_HANDLERS = frozenset({R.COMMUNITY_STAFF, R.STREET_OFFICER, R.DEPARTMENT_OFFICER})
HANDLERS: Mapping[str, frozenset[Role]] = {
    "small": SMALL_HANDLERS,
    "big": BIG_HANDLERS,
    "hard": HARD_HANDLERS,
}
VERIFIERS: Mapping[str, frozenset[Role]] = {
    "small": frozenset({R.GRID_LEADER, R.COMMUNITY_STAFF}),
    "big": frozenset({R.COMMUNITY_STAFF, R.STREET_OFFICER}),
    "hard": frozenset({R.STREET_OFFICER, R.CITY_SUPERVISOR}),
}
WHISTLE_HOLDERS = frozenset({R.COMMUNITY_STAFF, R.STREET_OFFICER})
EVERYONE_BUT_AUDITORS = frozenset(Role) - {R.AUDITOR, R.SYSTEM}
REPORTERS = frozenset(
    {R.RESIDENT, R.BUILDING_HEAD, R.GRID_WORKER, R.GRID_LEADER, R.COMMUNITY_STAFF, R.INTAKE}
)
