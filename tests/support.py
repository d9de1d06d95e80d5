"""Shared test helpers: a small organisation, principals, a service on a fixed clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

from domain.principals import Principal, Role
from domain.service import IssueService
from gridflow.container import issue_service
from gridflow.settings import Settings


def subject_key_env(url: str) -> dict[str, str]:
    """For a `gridflow` process a test starts beside its own containers on PostgreSQL:
    the subject key those fall back to when built from `Settings` without one
    (`./gridflow-subject.key`), so that both make the same subjects. On SQLite both find
    the key beside the file (gridflow/container.py)."""
    if url.startswith("sqlite"):
        return {}
    return {"GRIDFLOW_SUBJECT_KEY_FILE": str(Path("gridflow-subject.key").resolve())}


def process_env(url: str, home: Path) -> dict[str, str]:
    """What a `gridflow` process a test starts needs besides the store: on PostgreSQL the
    shared configuration (audit key, evidence directory) and the subject key that the
    test's own containers use."""
    env = {"GRIDFLOW_DATABASE_URL": url}
    if url.startswith("sqlite"):
        return env
    return {
        **env,
        "GRIDFLOW_AUDIT_KEY_FILE": str(home / "audit.key"),
        "GRIDFLOW_EVIDENCE_DIR": str(home / "evidence"),
        "GRIDFLOW_AUDIT_ORIGIN": "gridflow",  # a new PostgreSQL log must be named
        **subject_key_env(url),
    }


# Monday 2026-11-23 09:00 in Shanghai: the start of a working day.
MONDAY_9 = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)

ORG: dict[str, Any] = {
    "nodes": [
        {"id": "c1", "name": "City", "kind": "city", "parent": None},
        {"id": "d1", "name": "District", "kind": "district", "parent": "c1"},
        {"id": "s1", "name": "Street 1", "kind": "street", "parent": "d1"},
        {"id": "s2", "name": "Street 2", "kind": "street", "parent": "d1"},
        {"id": "m1", "name": "Community 1", "kind": "community", "parent": "s1"},
        {"id": "m2", "name": "Community 2", "kind": "community", "parent": "s2"},
        {
            "id": "g1",
            "name": "Grid 1",
            "kind": "grid",
            "parent": "m1",
            "boundary": {
                "type": "Polygon",
                "coordinates": [
                    [
                        [122.10, 37.50],
                        [122.11, 37.50],
                        [122.11, 37.51],
                        [122.10, 37.51],
                        [122.10, 37.50],
                    ]
                ],
            },
        },
        {
            "id": "g2",
            "name": "Grid 2",
            "kind": "grid",
            "parent": "m1",
            "addresses": ["幸福路1号", "幸福路3号"],
        },
        {"id": "g3", "name": "Grid 3", "kind": "grid", "parent": "m2"},
    ],
    "departments": [
        {"id": "housing", "name": "Housing bureau", "node": "d1"},
        {"id": "water", "name": "Water utility", "node": "d1"},
        {"id": "police", "name": "Police", "node": "d1"},
    ],
    "categories": [
        {"code": "sanitation", "name": "Exposed rubbish", "limits": {}},
        {"code": "road", "name": "Damaged road", "limits": {"small_resolution": "4h"}},
    ],
}


class Clock:
    def __init__(self, now: datetime = MONDAY_9) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kw: float) -> datetime:
        self.now += timedelta(**kw)
        return self.now


def P(role: str, scope: str, pid: str | None = None) -> Principal:
    return Principal(pid or f"{role}@{scope}", Role(role), scope)


# Principals inside the jurisdiction of grid g1.
WORKER = P("grid_worker", "g1")
WORKER2 = P("grid_worker", "g1", "second-worker")
LEADER = P("grid_leader", "g1")
STAFF = P("community_staff", "m1")
STREET = P("street_officer", "s1")
HOUSING = P("department_officer", "housing")
WATER = P("department_officer", "water")
POLICE = P("department_officer", "police")
SUPERVISOR = P("city_supervisor", "c1")
AUDITOR = P("auditor", "c1")
RESIDENT = P("resident", "m1", "resident-1")
SYSTEM = P("system", "*", "system")


#: A resident's contact details given with a report: someone to call back (回访).
CALLER = {"name": "Li", "phone": "13800000001"}


def make_service(url: str = "memory://", clock: Clock | None = None) -> IssueService:
    svc = issue_service(Settings(database_url=url), clock or Clock())
    svc.load_org(ORG)
    return svc


def report(svc: IssueService, p: Principal = WORKER, **data: Any) -> UUID:
    body = {"grid_id": "g1", "category": "sanitation", "description": "rubbish at gate 2"}
    return svc.report(p, {**body, **data}).issue.id


def walk_to(svc: IssueService, state: str, p: Principal = WORKER) -> UUID:
    """A fresh issue walked into `state` by the usual path (with a reporter to call back)."""
    i = report(svc, p, reporter=CALLER)
    paths: dict[str, list[tuple[str, Principal, dict[str, Any]]]] = {
        "reported": [],
        "on_spot": [("handle_on_spot", WORKER, {})],
        "coordinating": [("coordinate", STAFF, {"lead_party": "property company"})],
        "whistle_blown": [("blow_whistle", STAFF, {"departments": ["housing", "water"]})],
        "joint_handling": [
            ("blow_whistle", STAFF, {"departments": ["housing"]}),
            ("report_in", HOUSING, {}),
        ],
        "resolved": [("handle_on_spot", WORKER, {}), ("resolve", WORKER, {"resolution": "done"})],
        "closed": [
            ("handle_on_spot", WORKER, {}),
            ("resolve", WORKER, {"resolution": "done"}),
            ("verify", LEADER, {}),
        ],
        "rejected": [("reject", LEADER, {"reason": "not a grid matter"})],
        "merged": [],
    }
    if state == "merged":
        target = report(svc, p)
        svc.act(i, "merge", LEADER, {"duplicate_of": str(target)})
    for action, actor, data in paths[state]:
        svc.act(i, action, actor, data)
    return i
