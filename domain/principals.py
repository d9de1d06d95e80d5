"""Principals: who acts, in which role, over which jurisdiction (scope)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Role(StrEnum):
    RESIDENT = "resident"
    BUILDING_HEAD = "building_head"
    GRID_WORKER = "grid_worker"
    GRID_LEADER = "grid_leader"
    COMMUNITY_STAFF = "community_staff"
    STREET_OFFICER = "street_officer"
    DEPARTMENT_OFFICER = "department_officer"
    CITY_SUPERVISOR = "city_supervisor"
    AUDITOR = "auditor"
    INTAKE = "intake"
    ADMIN = "admin"
    SYSTEM = "system"


#: Roles that see every issue (auditors and supervisors follow up everything).
SEE_ALL = frozenset({Role.CITY_SUPERVISOR, Role.AUDITOR, Role.ADMIN, Role.SYSTEM})

#: Grid-level roles see the issues of their whole community (neighbouring grids),
#: so that duplicates can be merged; they act only inside their own grid.
GRID_LEVEL = frozenset({Role.GRID_WORKER, Role.GRID_LEADER})


@dataclass(frozen=True, slots=True)
class Principal:
    """A person or process acting on issues.

    `scope` is an organisation node id (the principal acts on that node and everything
    below it) or, for department officers, a department id.
    """

    id: str
    role: Role
    scope: str

    def as_actor(self) -> dict[str, str]:
        return {"id": self.id, "role": self.role.value}


SYSTEM = Principal(id="system", role=Role.SYSTEM, scope="*")
