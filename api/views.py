"""Lists and supervision, read from the views built from the log.

Every read here takes `?after=<position>` (from a write's `X-Log-Position`) and waits
up to five seconds for the views to include it: 503 `views_behind` otherwise.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field

from api.deps import MAX_POSITION, Services, principal, services, utc_param
from api.errors import ApiError
from api.openapi import ERRORS
from domain.access import Capability, require, supervision_node
from domain.errors import ValidationFailed
from domain.principals import Principal
from projections.queries import ListQuery, decode_cursor
from projections.reader import FIRST_DAY, LAST_DAY, ViewsBehind

router = APIRouter(tags=["views"])
supervision = APIRouter(prefix="/supervision", tags=["supervision"])

NodeQuery = Annotated[str | None, Query(max_length=200, description="an organisation node id")]
After = Annotated[
    int | None,
    Query(ge=0, le=MAX_POSITION, description="wait until the views include this log position"),
]


class IssueSummary(BaseModel):
    id: str
    version: int
    state: str
    tier: str | None
    grid_id: str
    category: str
    channel: str
    description: str
    reported_at: str
    updated_at: str
    flagged: bool
    urges: int
    merged_into: str | None
    next_due_at: str | None
    light: Literal["green", "yellow", "red"] | None
    followups: list[dict[str, Any]] | None = Field(
        None,
        description="in the queue: the follow-up items (督办件) aimed at the caller's node or "
        "department and not cleared, with their level, steps and reply due time",
    )


class IssueList(BaseModel):
    items: list[IssueSummary]
    next_cursor: str | None


def caught_up(s: Services, after: int | None) -> None:
    if after is not None and after > (head := s.service.head()):
        raise ValidationFailed({"after": f"beyond the log's newest position ({head})"})
    try:
        s.views.wait_for(after)
    except ViewsBehind as exc:
        raise ApiError(
            503,
            "views_behind",
            str(exc),
            {"Retry-After": "1"},
            position=exc.position,
            wanted=exc.wanted,
        ) from None


def _cursor(cursor: str | None) -> str | None:
    if cursor is not None:
        try:
            decode_cursor(cursor)
        except ValueError:
            raise ValidationFailed({"cursor": "not a cursor of this list"}) from None
    return cursor


@router.get(
    "/issues",
    response_model=IssueList,
    responses=ERRORS,
    summary="Issues from the supervision views, newest first or most urgent first",
)
def list_issues(
    p: Principal = Depends(principal),
    s: Services = Depends(services),
    node: NodeQuery = None,
    department: Annotated[str | None, Query(max_length=200)] = None,
    state: Annotated[str | None, Query(max_length=40)] = None,
    tier: Literal["small", "big", "hard"] | None = None,
    category: Annotated[str | None, Query(max_length=200)] = None,
    channel: Annotated[str | None, Query(max_length=40)] = None,
    overdue: bool | None = None,
    flagged: bool | None = None,
    reported_after: datetime | None = None,
    reported_before: datetime | None = None,
    sort: Literal["newest", "urgency"] = "newest",
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
    after: After = None,
) -> Any:
    caught_up(s, after)
    q = ListQuery(
        node=node,
        department=department,
        state=state,
        tier=tier,
        category=category,
        channel=channel,
        overdue=overdue,
        flagged=flagged,
        reported_after=utc_param(reported_after, "reported_after"),
        reported_before=utc_param(reported_before, "reported_before"),
        sort=sort,
        limit=limit,
        cursor=_cursor(cursor),
    )
    return s.views.issues(p, q, s.service.clock())


@router.get(
    "/me/queue",
    response_model=IssueList,
    responses=ERRORS,
    summary="What the caller can act on now, most urgent first",
)
def my_queue(
    p: Principal = Depends(principal),
    s: Services = Depends(services),
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
    category: Annotated[str | None, Query(max_length=200)] = None,
    after: After = None,
) -> Any:
    caught_up(s, after)
    q = ListQuery(limit=limit, cursor=_cursor(cursor), category=category)
    return s.views.queue(p, q, s.service.clock())


def _supervisor(p: Principal, s: Services, node: str | None) -> str:
    return supervision_node(p, s.service.org(), node)


@supervision.get(
    "/summary", responses=ERRORS, summary="Counts by tier and state, deadline lights, indicators"
)
def summary(
    p: Principal = Depends(principal),
    s: Services = Depends(services),
    node: NodeQuery = None,
    from_: Annotated[date | None, Query(alias="from")] = None,
    to: date | None = None,
    after: After = None,
) -> dict[str, Any]:
    caught_up(s, after)
    return s.views.summary(_supervisor(p, s, node), from_, to, s.service.clock())


@supervision.get(
    "/escalations",
    responses=ERRORS,
    summary="The city follow-up board: open hard matters and flagged issues",
)
def escalations(
    p: Principal = Depends(principal),
    s: Services = Depends(services),
    node: NodeQuery = None,
    level: Literal["community", "street", "city"] | None = None,
    after: After = None,
) -> dict[str, Any]:
    caught_up(s, after)
    return s.views.escalations(_supervisor(p, s, node), s.service.clock(), level)


@supervision.get(
    "/rankings",
    responses=ERRORS,
    summary="Nodes or departments ranked by the configured composite score",
)
def rankings(
    p: Principal = Depends(principal),
    s: Services = Depends(services),
    level: Literal["grid", "community", "street", "district", "department"] = "community",
    from_: Annotated[date | None, Query(alias="from")] = None,
    to: date | None = None,
    after: After = None,
) -> dict[str, Any]:
    caught_up(s, after)
    require(p, Capability.SUPERVISE)
    return s.views.rankings(level, from_, to, s.service.clock())


@supervision.get(
    "/departments", responses=ERRORS, summary="Department acknowledge and report-in timeliness"
)
def departments(
    p: Principal = Depends(principal),
    s: Services = Depends(services),
    from_: Annotated[date | None, Query(alias="from")] = None,
    to: date | None = None,
    after: After = None,
) -> dict[str, Any]:
    caught_up(s, after)
    require(p, Capability.SUPERVISE)
    return s.views.departments(from_, to, s.service.clock())


@supervision.get(
    "/patrol-misses",
    responses=ERRORS,
    summary="Reverse comparison: hotline tickets the patrol missed, per grid and day",
)
def patrol_misses(
    p: Principal = Depends(principal),
    s: Services = Depends(services),
    node: NodeQuery = None,
    date_: Annotated[date | None, Query(alias="date", description="one local day")] = None,
    from_: Annotated[date | None, Query(alias="from")] = None,
    to: date | None = None,
    after: After = None,
) -> dict[str, Any]:
    caught_up(s, after)
    target = _supervisor(p, s, node)
    if date_ is not None:
        if not FIRST_DAY <= date_ < LAST_DAY:
            raise ValidationFailed({"date": "a day between the years 1900 and 9000"})
        from_, to = date_, date_ + timedelta(days=1)
    return s.views.patrol_misses(target, from_, to, s.service.clock())


@supervision.get(
    "/merge-proposals",
    responses=ERRORS,
    summary="Open hotline issues with likely duplicates from other channels",
)
def merge_proposals(
    p: Principal = Depends(principal),
    s: Services = Depends(services),
    node: NodeQuery = None,
    after: After = None,
) -> dict[str, Any]:
    caught_up(s, after)
    return {"items": s.views.merge_proposals(_supervisor(p, s, node))}


@router.get("/me", responses=ERRORS, summary="Who the token stands for")
def me(p: Principal = Depends(principal), s: Services = Depends(services)) -> dict[str, Any]:
    org = s.service.org()
    scope = org.nodes.get(p.scope) or org.departments.get(p.scope) or {}
    return {
        "id": p.id,
        "role": p.role.value,
        "scope": p.scope,
        "scope_name": scope.get("name", p.scope),
        "scope_kind": scope.get("kind", "department" if p.scope in org.departments else None),
    }


@supervision.get(
    "/trend",
    responses=ERRORS,
    summary="Per day: reported, triaged, whistles, closed, callbacks, misses",
)
def trend(
    p: Principal = Depends(principal),
    s: Services = Depends(services),
    node: NodeQuery = None,
    from_: Annotated[date | None, Query(alias="from")] = None,
    to: date | None = None,
) -> dict[str, Any]:
    return s.views.trend(_supervisor(p, s, node), from_, to, s.service.clock())
