"""Lists and supervision, read from the views built from the log.

Every read here takes `?after=<position>` (from a write's `X-Log-Position`) and waits
up to five seconds for the views to include it: 503 `views_behind` otherwise.
"""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from api import paging
from api.answers import Board, Me
from api.deps import MAX_POSITION, Services, principal, services, utc_param
from api.errors import ApiError
from api.openapi import ERRORS
from domain import reports
from domain.access import Capability, require, supervision_node
from domain.errors import ValidationFailed
from domain.principals import Principal
from projections import monthly
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


#: Supervision lists: everything without `limit` (as before), else pages of it.
PageLimit = Annotated[int | None, Query(ge=1, le=500, description="a page of at most this many")]
PageCursor = Annotated[
    str | None, Query(max_length=500, description="`next_cursor` of the page before")
]


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
    request: Request,
    response: Response,
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
    found = s.views.issues(p, q, s.service.clock())
    paging.link_next(request, response, found["next_cursor"])
    return found


@router.get(
    "/me/queue",
    response_model=IssueList,
    responses=ERRORS,
    summary="What the caller can act on now, most urgent first",
)
def my_queue(
    request: Request,
    response: Response,
    p: Principal = Depends(principal),
    s: Services = Depends(services),
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
    category: Annotated[str | None, Query(max_length=200)] = None,
    after: After = None,
) -> Any:
    caught_up(s, after)
    q = ListQuery(limit=limit, cursor=_cursor(cursor), category=category)
    found = s.views.queue(p, q, s.service.clock())
    paging.link_next(request, response, found["next_cursor"])
    return found


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
    response_model=Board,
    responses=ERRORS,
    summary="The city follow-up board: open hard matters and flagged issues",
)
def escalations(
    request: Request,
    response: Response,
    p: Principal = Depends(principal),
    s: Services = Depends(services),
    node: NodeQuery = None,
    level: Literal["community", "street", "city"] | None = None,
    limit: PageLimit = None,
    cursor: PageCursor = None,
    after: After = None,
) -> dict[str, Any]:
    caught_up(s, after)
    board = s.views.escalations(_supervisor(p, s, node), s.service.clock(), level)
    items, board["next_cursor"] = paging.page(
        "escalations", board["items"], lambda i: [i["reported_at"], i["id"]], limit, cursor
    )
    paging.link_next(request, response, board["next_cursor"])
    return {**board, "items": items}


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


MONTH = r"^(19|[2-8][0-9])[0-9]{2}-(0[1-9]|1[0-2])$"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
Month = Annotated[
    str | None,
    Query(
        pattern=MONTH,
        description="a local month, YYYY-MM (default: this month)",
    ),
]


@supervision.get(
    "/hotspots",
    responses=ERRORS,
    summary="Hot spots: counts by category with the change on the previous month, "
    "repeat and dissatisfaction rates",
)
def hotspots(
    p: Principal = Depends(principal),
    s: Services = Depends(services),
    node: NodeQuery = None,
    month: Month = None,
    after: After = None,
) -> dict[str, Any]:
    caught_up(s, after)
    return s.views.hotspots(_supervisor(p, s, node), month, s.service.clock())


@supervision.get(
    "/reports/monthly",
    responses={
        **ERRORS,
        200: {
            "description": "the report: JSON, or as a file with `format=csv` or `xlsx`",
            "content": {
                "application/json": {"schema": {"type": "object", "additionalProperties": True}},
                "text/csv": {"schema": {"type": "string"}},
                XLSX: {"schema": {"type": "string", "format": "binary"}},
            },
        },
    },
    summary="The frozen monthly report (通报): computed once, three working days after the "
    "month, and read as stored ever after",
)
def monthly_report(
    p: Principal = Depends(principal),
    s: Services = Depends(services),
    node: NodeQuery = None,
    # None, not "": a default the pattern refuses makes the OpenAPI document invalid.
    month: Annotated[str | None, Query(pattern=MONTH, description="a local month, YYYY-MM")] = None,
    format: Literal["json", "csv", "xlsx"] = "json",
    after: After = None,
) -> Response:
    caught_up(s, after)
    target = _supervisor(p, s, node)
    if not month:
        raise ValidationFailed({"month": "required: a local month, YYYY-MM"})
    report = reports.monthly(
        s.service, target, month, lambda: s.views.monthly(target, month, s.service.clock())
    )
    name = f"gridflow-{target}-{month}"
    if format == "csv":
        return Response(
            monthly.render_csv(report),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
        )
    if format == "xlsx":
        return Response(
            monthly.render_xlsx(report),
            media_type=XLSX,
            headers={"Content-Disposition": f'attachment; filename="{name}.xlsx"'},
        )
    return JSONResponse(report)


@supervision.get(
    "/people",
    responses=ERRORS,
    summary="Per-person figures of grid staff: found, late entries, settled on the spot, "
    "reworked, on time, assigned",
)
def people(
    p: Principal = Depends(principal),
    s: Services = Depends(services),
    node: NodeQuery = None,
    from_: Annotated[date | None, Query(alias="from")] = None,
    to: date | None = None,
    after: After = None,
) -> dict[str, Any]:
    caught_up(s, after)
    return s.views.people(_supervisor(p, s, node), from_, to, s.service.clock())


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
    request: Request,
    response: Response,
    p: Principal = Depends(principal),
    s: Services = Depends(services),
    node: NodeQuery = None,
    limit: PageLimit = None,
    cursor: PageCursor = None,
    after: After = None,
) -> dict[str, Any]:
    caught_up(s, after)
    everything = s.views.merge_proposals(_supervisor(p, s, node))
    items, next_cursor = paging.page(
        "merge-proposals", everything, lambda i: [json.dumps(i, sort_keys=True)], limit, cursor
    )
    paging.link_next(request, response, next_cursor)
    return {"items": items, "next_cursor": next_cursor}


@router.get("/me", response_model=Me, responses=ERRORS, summary="Who the token stands for")
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
