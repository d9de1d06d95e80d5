"""Response models of the HTTP contract, and how an issue is shown."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer, field_serializer

from domain import deadlines
from domain.issue import Issue


def _instant(value: datetime) -> str:
    """Every time the API answers in one form: UTC, microseconds, `Z` — fixed width, so
    that comparing two as strings compares them as times (the views' own form)."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


#: A time in an answer (docs/http.md: one timestamp format).
Instant = Annotated[datetime, PlainSerializer(_instant, return_type=str, when_used="json")]


class ErrorBody(BaseModel):
    code: str = Field(examples=["transition_not_allowed"])
    message: str = Field(examples=["verify is not allowed: the issue is on_spot"])
    details: dict[str, Any] = Field(
        default_factory=dict,
        examples=[{"state": "on_spot", "allowed_actions": ["resolve", "comment"]}],
    )


class Error(BaseModel):
    error: ErrorBody


class Deadline(BaseModel):
    kind: str = Field(examples=["small_resolution"])
    department_id: str | None = None
    limit: str = Field(examples=["1wd"])
    started_at: Instant
    due_at: Instant = Field(description="the original due time; it never moves")
    paused_seconds: float = Field(description="how far suspensions moved the due time")
    extended_seconds: float = Field(0.0, description="how far approved extensions moved it")
    extensions: int = Field(0, description="approved extensions of this deadline")
    effective_due_at: Instant
    status: Literal["open", "paused", "met", "missed", "cancelled"]
    light: Literal["green", "yellow", "red"]


class IssueDepartment(BaseModel):
    department_id: str
    summoned_at: Instant
    acknowledged_at: Instant | None
    reported_in_at: Instant | None
    released_at: Instant | None
    lead: bool = Field(False, description="the lead department (牵头)")
    task: str | None = Field(None, description="its part of the joint handling (分工)")
    presence: Literal["place", "confirmed", "unproven"] | None = Field(
        None,
        description="presence at 报到: proven by place (officer and photo within 300 m), "
        "confirmed by the whistle holder, or unproven",
    )
    task_completed_at: Instant | None = None
    task_result: str | None = None
    contest: Literal["pending", "upheld", "released"] | None = Field(
        None, description="the department's contest of its summons, and what became of it"
    )
    evaluation: dict[str, Any] | None = Field(
        None, description="the whistle holder's evaluation after closing"
    )


class SupervisionFlag(BaseModel):
    flagged: bool
    reasons: list[str] = Field(description="why the issue is followed up by the city (督办)")


class FollowupItem(BaseModel):
    """A follow-up item (督办件): who must answer, at which level, and what happened."""

    id: str = Field(examples=["f1"])
    level: Literal["community", "street", "city"]
    target: str = Field(description="the node or department that must answer")
    department: bool
    reason: str = Field(examples=["deadline_missed:department_acknowledge"])
    grade: str | None = None
    raised_by: str
    listed: bool = Field(description="挂牌督办: at the city, on the board until cleared")
    status: Literal["open", "replied", "cleared"]
    count: int = Field(description="how often its cause repeated")
    opened_at: Instant
    last_at: Instant
    steps: list[str] = Field(description="the levels it went through")
    replies: list[dict[str, Any]]
    reply_due_at: Instant | None = None


class Location(BaseModel):
    address: str | None = None
    lat: float | None = Field(None, description="WGS-84")
    lon: float | None = Field(None, description="WGS-84")


class IssueOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": []})

    id: str
    state: str = Field(examples=["whistle_blown"])
    tier: Literal["small", "big", "hard"] | None
    version: int
    grid_id: str | None = Field(
        description="null while a 12345 ticket waits for 分拨 (its place or category "
        "matched nothing): `node_id` says where"
    )
    node_id: str = Field(description="the grid, or the node where the issue waits")
    unplaced: list[str] = Field(
        default_factory=list, description="what a waiting ticket did not match"
    )
    hotline: dict[str, Any] | None = Field(
        None,
        description="a 12345 ticket's own facts: ticket_no, ticket_type, hotline_category, "
        "received_at, dispatched_at, due_at",
    )
    catalogue: dict[str, Any] | None = Field(
        None,
        description="the catalogue version the issue was reported (or placed) under and "
        "its category's rules then: close_conditions, photos_required, limits",
    )
    original_grid_id: str
    category: str
    description: str
    channel: str
    location: Location | None
    reporter: dict[str, Any] | None = Field(
        None, description="contact details: shown only within the issue's jurisdiction"
    )
    reported_at: Instant
    reported_by: dict[str, str]
    occurred_at: str | None
    deadlines: list[Deadline]
    departments: list[IssueDepartment]
    grade: str | None
    lead_department: str | None = Field(None, description="the whistle's lead department")
    meet_at: dict[str, Any] | None = Field(
        None, description="where (and when) the departments report in"
    )
    meetings: list[dict[str, Any]] = Field(default_factory=list, description="联席会议")
    coordination: dict[str, Any] | None
    resolution: str | None
    suspended_since: Instant | None
    supervision_flag: SupervisionFlag
    followups: list[FollowupItem] = Field(default_factory=list)
    requests: dict[str, dict[str, Any]] = Field(
        default_factory=dict,
        description="suspension, extension and escalation requests and their status",
    )
    merged_into: str | None
    duplicates: list[str]
    evidence: list[str]
    counts: dict[str, int] = Field(description="how often each action was taken (urges, …)")
    assignee: str | None = Field(
        None,
        description="who owns the current step (责任人): the actor of the last step that "
        "handled the issue, or whom the unit's leader named with `assign`",
    )
    allowed_actions: list[str] = Field(description="what the caller may do now")
    merge_candidates: list[dict[str, Any]] = Field(
        default_factory=list,
        description="open issues from other channels that are likely the same matter "
        "(hotline against patrol and residents: same grid and category, close in time "
        "and place), as the views see them now",
    )


class HistoryEntry(BaseModel):
    version: int
    action: str
    actor: dict[str, str]
    at: Instant
    from_state: str | None
    to_state: str
    data: dict[str, Any]
    from_tier: Literal["small", "big", "hard"] | None = None
    tier: Literal["small", "big", "hard"] | None = None
    facts: dict[str, Any] = Field(
        default_factory=dict,
        description="what the event recorded besides its data: the grid, channel and "
        "location of a report, the department that acted, the issue a merge attached, "
        "flags, paused clocks… (who reported shows as hidden without contact-detail rights)",
    )
    deadlines_started: list[dict[str, Any]] = Field(
        default_factory=list,
        description="clocks the event started: key, kind, department_id, limit, "
        "started_at, due_at, warn_at",
    )
    deadlines_ended: list[dict[str, Any]] = Field(
        default_factory=list, description="clocks the event ended: key and outcome"
    )

    @field_serializer("deadlines_started", "deadlines_ended", when_used="json")
    def _times(self, clocks: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [
            {k: _instant(v) if isinstance(v, datetime) else v for k, v in c.items()} for c in clocks
        ]


class History(BaseModel):
    issue_id: str
    events: list[HistoryEntry]


def deadline_out(d: deadlines.Deadline, now: datetime) -> dict[str, Any]:
    return {
        "kind": d.kind,
        "department_id": d.department_id,
        "limit": d.limit,
        "started_at": d.started_at,
        "due_at": d.due_at,
        "paused_seconds": d.paused_seconds,
        "extended_seconds": d.extended_seconds,
        "extensions": d.extensions,
        "effective_due_at": d.effective_due,
        "status": d.status,
        "light": d.light(now),
    }


def issue_out(
    issue: Issue,
    allowed: list[str],
    now: datetime,
    *,
    show_personal: bool,
    reporter: dict[str, Any] | None = None,
) -> dict[str, Any]:
    return {
        "id": str(issue.id),
        "state": issue.state,
        "tier": issue.tier,
        "version": issue.version,
        "grid_id": None if issue.unplaced else issue.grid_id,
        "node_id": issue.grid_id,
        "unplaced": issue.unplaced,
        "hotline": issue.hotline,
        "catalogue": issue.catalogue,
        "original_grid_id": issue.original_grid_id,
        "category": issue.category,
        "description": issue.description,
        "channel": issue.channel,
        "location": issue.location,
        "reporter": reporter if show_personal else None,
        "reported_at": issue.reported_at,
        "reported_by": issue.reported_by,
        "occurred_at": issue.occurred_at,
        "deadlines": [deadline_out(d, now) for d in issue.deadlines],
        "departments": list(issue.departments.values()),
        "grade": issue.grade,
        "lead_department": issue.lead,
        "meet_at": issue.meet_at,
        "meetings": issue.meetings,
        "coordination": issue.coordination,
        "resolution": issue.resolution,
        "suspended_since": issue.suspended_since,
        "supervision_flag": {
            "flagged": bool(issue.flags)
            or any(it["status"] != "cleared" for it in issue.followups),
            "reasons": [*issue.flags, *(it["reason"] for it in issue.followups)],
        },
        "followups": [_item_out(issue, it) for it in issue.followups],
        "requests": issue.requests,
        "merged_into": issue.merged_into,
        "duplicates": issue.duplicates,
        "evidence": issue.evidence,
        "counts": issue.counts,
        "assignee": issue.assignee,
        "allowed_actions": allowed,
    }


def _item_out(issue: Issue, item: dict[str, Any]) -> dict[str, Any]:
    reply = issue.open_deadline(f"flag_reply:{item['id']}")
    return {**item, "reply_due_at": reply.effective_due if reply else None}
