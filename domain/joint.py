"""Joint handling (吹哨报到 as a whole sub-process): departments with tasks and one lead,
presence at 报到 proven by place or confirmed by the whistle holder, tasks completed,
joint meetings (联席会议), departments contesting a summons, and the whistle holder's
evaluation of how each department took part (spec/joint-handling.md).

The data each action takes, the decisions, and what the events change on the issue and
in the views' summary row. Every decision records what it decided in the event's facts,
so that replay and the views never decide again.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import Field

from domain.actions import (
    ActionData,
    DepartmentTask,
    Line,
    Location,
    MeetAt,
    Short,
    Text,
    WithEvidence,
)
from domain.context import Context, Decision
from domain.declare import Counter, Folded
from domain.errors import TransitionNotAllowed, ValidationFailed
from domain.geo import distance_m, to_wgs84
from domain.principals import Principal

if TYPE_CHECKING:
    from domain.issue import Issue

#: How near the issue's place (or the whistle's `meet_at`) an officer and the photo cited
#: with the report-in must both be for presence to count as proven (metres).
PRESENCE_RADIUS_M = 300.0

Row = dict[str, Any]


# -- data ---------------------------------------------------------------------------


def ids_of(departments: list[str | DepartmentTask]) -> list[str]:
    return [d if isinstance(d, str) else d.department_id for d in departments]


def tasks_of(departments: list[str | DepartmentTask]) -> dict[str, str]:
    return {
        d.department_id: d.task for d in departments if isinstance(d, DepartmentTask) and d.task
    }


def lead_of(departments: list[str | DepartmentTask]) -> tuple[str | None, list[str]]:
    """The lead department, and the problems with the leads named. A plain list of ids
    (the old shape) leads with its first."""
    named = [d.department_id for d in departments if isinstance(d, DepartmentTask) and d.lead]
    if len(named) > 1:
        return None, ["name one lead department"]
    if named:
        return named[0], []
    if len(departments) > 1 and any(isinstance(d, DepartmentTask) for d in departments):
        return None, ["with several departments and tasks, name the lead (lead: true)"]
    ids = ids_of(departments)
    return (ids[0] if ids else None), []


#: One of the departments summoned to the issue (the console offers those).
Summoned = Annotated[Short, Field(json_schema_extra={"x-widget": "summoned"})]


class ConfirmPresence(ActionData):
    department_id: Summoned


class CompleteTask(WithEvidence):
    #: the officer's own department (given or not)
    department_id: Short | None = None
    result: Text


class RecordMeeting(ActionData):
    held_at: datetime
    attendees: Annotated[
        list[Short], Field(min_length=1, max_length=100, json_schema_extra={"x-widget": "list"})
    ]
    decisions: Text


Rating = Annotated[int, Field(ge=1, le=5)]


class EvaluateDepartment(ActionData):
    department_id: Summoned
    timeliness: Rating
    attendee_level: Literal["leader", "staff"]
    cooperation: Rating
    result: Rating


class ContestSummons(ActionData):
    reason: Text


class UpholdSummons(ActionData):
    department_id: Summoned
    reason: Line | None = None


# -- decisions ----------------------------------------------------------------------


def _dump(data: ActionData) -> dict[str, Any]:
    return data.model_dump(mode="json", exclude_none=True)


def whistle_facts(
    issue: Issue, departments: list[str | DepartmentTask], meet_at: MeetAt | None, first: bool
) -> dict[str, Any]:
    """The lead, tasks and meeting place a whistle (or a summons) decides."""
    lead, problems = lead_of(departments)
    facts: dict[str, Any] = {"tasks": tasks_of(departments)}
    if first:
        if problems:
            raise ValidationFailed({"departments": problems[0]})
        facts["lead"] = lead
        place = None
        if meet_at is not None and meet_at.lat is not None and meet_at.lon is not None:
            lat, lon = to_wgs84(meet_at.lat, meet_at.lon, meet_at.crs)
            place = {"address": meet_at.address, "lat": lat, "lon": lon}
        elif meet_at is not None and meet_at.address:
            place = {"address": meet_at.address}
        elif issue.location:
            place = dict(issue.location)
        if meet_at is not None and meet_at.at is not None:
            place = {**(place or {}), "at": meet_at.at.isoformat()}
        facts["meet_at"] = place
    elif any(isinstance(d, DepartmentTask) and d.lead for d in departments):
        raise ValidationFailed({"departments": "the lead department is named by the whistle"})
    return facts


def presence(
    issue: Issue, p: Principal, location: Location | None, evidence: list[str], ctx: Context
) -> dict[str, Any]:
    """Whether a report-in proves the officer was there: their location and a photo cited
    with it (its EXIF position, read from the original bytes at upload) both within
    PRESENCE_RADIUS_M of the meeting place. Otherwise it is `unproven`."""
    place = issue.meet_at or issue.location or {}
    if "lat" not in place or location is None or location.lat is None or location.lon is None:
        return {"presence": "unproven"}
    lat, lon = to_wgs84(location.lat, location.lon, location.crs)
    officer = distance_m(lat, lon, place["lat"], place["lon"])
    photos = [
        distance_m(plat, plon, place["lat"], place["lon"])
        for plat, plon in ctx.photo_positions(evidence).values()
    ]
    facts: dict[str, Any] = {"distance_m": round(officer)}
    if photos:
        facts["photo_distance_m"] = round(min(photos))
    proven = officer <= PRESENCE_RADIUS_M and bool(photos) and min(photos) <= PRESENCE_RADIUS_M
    return {"presence": "place" if proven else "unproven", **facts}


def confirm_presence(
    issue: Issue, p: Principal, data: ConfirmPresence, ctx: Context, _: Any
) -> Decision:
    dept = issue.departments.get(data.department_id)
    if dept is None or dept["released_at"] is not None:
        raise ValidationFailed({"department_id": "not a summoned department"})
    if dept["reported_in_at"] is None:
        raise ValidationFailed({"department_id": "this department has not reported in"})
    if dept.get("presence") != "unproven":
        raise ValidationFailed({"department_id": "its presence is already proven"})
    return Decision(issue.state, issue.tier, _dump(data))


def complete_task(issue: Issue, p: Principal, data: CompleteTask, ctx: Context, _: Any) -> Decision:
    if data.department_id not in (None, p.scope):
        raise ValidationFailed(
            {"department_id": "an officer completes their own department's task"}
        )
    return Decision(issue.state, issue.tier, _dump(data), {"department_id": p.scope})


def pending_tasks(issue: Issue) -> list[str]:
    """Departments not released whose task is not completed (those without a task, as
    with a plain list of ids, have none to complete)."""
    return [
        k
        for k, v in issue.active_departments().items()
        if v.get("task") and v.get("task_completed_at") is None
    ]


def record_meeting(
    issue: Issue, p: Principal, data: RecordMeeting, ctx: Context, _: Any
) -> Decision:
    if data.held_at > ctx.now:
        raise ValidationFailed({"held_at": "a meeting is recorded once it was held"})
    return Decision(issue.state, issue.tier, _dump(data))


def evaluate_department(
    issue: Issue, p: Principal, data: EvaluateDepartment, ctx: Context, _: Any
) -> Decision:
    dept = issue.departments.get(data.department_id)
    if dept is None:
        raise ValidationFailed({"department_id": "not a department summoned to this issue"})
    if dept.get("evaluation") is not None:
        raise ValidationFailed({"department_id": "this department is already evaluated"})
    return Decision(issue.state, issue.tier, _dump(data))


def contest_summons(
    issue: Issue, p: Principal, data: ContestSummons, ctx: Context, _: Any
) -> Decision:
    return Decision(issue.state, issue.tier, _dump(data), {"department_id": p.scope})


def uphold_summons(
    issue: Issue, p: Principal, data: UpholdSummons, ctx: Context, _: Any
) -> Decision:
    dept = issue.departments.get(data.department_id)
    if dept is None or dept["released_at"] is not None or dept.get("contest") != "pending":
        raise ValidationFailed({"department_id": "no contest of this department waits"})
    return Decision(issue.state, issue.tier, _dump(data))


def tasks_refusal(issue: Issue) -> dict[str, Any]:
    return {"departments": pending_tasks(issue)}


def refuse_tasks(why: str) -> TransitionNotAllowed:
    from domain.errors import TasksIncomplete

    return TasksIncomplete(why)


# -- the issue (event effects: only assignment) ----------------------------------------


def summoned(issue: Issue, facts: dict[str, Any], departments: list[str]) -> None:
    if "lead" in facts or issue.lead is None:
        issue.lead = facts.get("lead", departments[0] if departments else None)
    if "meet_at" in facts:
        issue.meet_at = facts["meet_at"]
    tasks = facts.get("tasks", {})
    for dept in departments:
        issue.departments[dept].update(
            task=tasks.get(dept), lead=dept == issue.lead, presence=None, contest=None
        )


def department(issue: Issue, dept: str) -> dict[str, Any]:
    return issue.departments[dept]


# -- the views' summary row -----------------------------------------------------------


def fold_summoned(row: Row, e: Folded) -> None:
    lead = e.facts.get("lead")
    if e.action == "blow_whistle" and lead is None:  # a whistle recorded before the lead
        lead = e.data["departments"][0]
    if lead is not None:
        row["lead"] = lead
    tasks = e.facts.get("tasks", {})
    for dept in e.data["departments"]:
        row["departments"][dept].update(
            task=tasks.get(dept), lead=dept == row.get("lead"), presence=None, contest=None
        )


def fold_report_in(row: Row, e: Folded, count: Counter) -> None:
    dept = e.facts["department_id"]
    found = e.facts.get("presence")
    if found is None:  # a report-in recorded before presence was judged
        return
    row["departments"][dept]["presence"] = found
    count(f"presence_{found}", dept)


def confirm_presence_fold(row: Row, e: Folded, before: str, count: Counter) -> None:
    dept = e.data["department_id"]
    row["departments"][dept]["presence"] = "confirmed"
    count("presence_unproven", dept, n=-1)
    count("presence_confirmed", dept)


def complete_task_fold(row: Row, e: Folded, before: str, count: Counter) -> None:
    dept = e.facts["department_id"]
    row["departments"][dept]["task_completed_at"] = e.at
    count("tasks_completed", dept)


def record_meeting_fold(row: Row, e: Folded, before: str, count: Counter) -> None:
    row["meetings"] = row.get("meetings", 0) + 1
    count("joint_meetings")


def evaluate_department_fold(row: Row, e: Folded, before: str, count: Counter) -> None:
    d = e.data
    dept = d["department_id"]
    row["departments"][dept]["evaluation"] = {k: d[k] for k in EVALUATION}
    count("evaluations", dept)
    for k in ("timeliness", "cooperation", "result"):
        count(f"eval_{k}", dept, n=int(d[k]))
    if d["attendee_level"] == "leader":
        count("eval_leader", dept)


def contest_summons_fold(row: Row, e: Folded, before: str, count: Counter) -> None:
    dept = e.facts["department_id"]
    row["departments"][dept]["contest"] = "pending"
    count("contests", dept)


def uphold_summons_fold(row: Row, e: Folded, before: str, count: Counter) -> None:
    dept = e.data["department_id"]
    row["departments"][dept]["contest"] = "upheld"
    count("contests_upheld", dept)


def released(departments: dict[str, dict[str, Any]], dept: str) -> None:
    """A contested department that is released: its contest was granted."""
    if departments[dept].get("contest") == "pending":
        departments[dept]["contest"] = "released"


EVALUATION = ("timeliness", "attendee_level", "cooperation", "result")
