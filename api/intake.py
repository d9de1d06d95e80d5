"""`POST /intake/hotline`: 12345 tickets in bulk, JSON array or CSV, row by row."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from datetime import timedelta
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from api.answers import HotlineReplies, ImportAnswer
from api.deps import Services, parse_json, principal, services
from api.errors import ApiError
from api.openapi import ERRORS
from domain import hotline as tickets
from domain.access import Capability, require
from domain.errors import DomainError, ValidationFailed
from domain.geo import to_wgs84
from domain.intake import (
    BadRow,
    Consult,
    Ticket,
    callback_body,
    parse_csv,
    ticket,
    ticket_issue_id,
)
from domain.principals import Principal
from projections.hotline_replies import replies

router = APIRouter(prefix="/intake", tags=["intake"])
MAX_IMPORT = 64 << 20  # 64 MiB: a city's day of tickets and then some
BATCH = 2000


# The report's fields as a hotline row names them, for the reasons of refused rows.
_ROW_FIELDS = {"description": "text", "occurred_at": "received_at", "reporter": "caller"}


def row_field(path: str) -> str:
    head, dot, rest = path.partition(".")
    return _ROW_FIELDS.get(head, head) + dot + rest


def run_import(
    s: Services, p: Principal, rows: list[Any], progress: Callable[[int, int], None] | None = None
) -> dict[str, Any]:
    """Import every row; a bad row never stops the good ones. Per row: created (with the
    issue id), duplicate (imported before, or `same_as_row` an earlier row of the file)
    or error (with the reason)."""
    results: list[dict[str, Any]] = []
    counts = {"created": 0, "duplicate": 0, "error": 0, "consult": 0, "merged": 0}
    position = None
    held: dict[UUID, int] = {}  # ticket (issue id) -> the row of this file holding it
    tz = s.service.context().calendar(p.scope).tz  # times without offset: the jurisdiction's
    for start in range(0, len(rows), BATCH):
        now = s.service.clock()
        chunk = rows[start : start + BATCH]
        parsed = [ticket(start + k + 1, raw, now, tz) for k, raw in enumerate(chunk)]
        repeated = {
            t.row: found
            for t in parsed
            if isinstance(t, Ticket) and (found := repeat(s, p, t)) is not None
        }
        fresh = [t for t in parsed if isinstance(t, Ticket) and t.row not in repeated]
        outcomes = report_once(s, p, fresh, held)
        for t in parsed:
            row: dict[str, Any]
            if isinstance(t, Consult):  # answered by the hotline itself: no issue
                row = {"row": t.row, "ticket_no": t.ticket_no, "status": "consult"}
            elif t.row in repeated:
                status, target, at = repeated[t.row]
                row = {"row": t.row, "ticket_no": t.ticket_no, "status": status}
                if target is not None:
                    row.update(issue_id=target, repeat_of=target)
                if isinstance(at, int):
                    position = max(position or 0, at)
                elif at is not None:
                    row["reason"] = at
            elif isinstance(t, BadRow):
                row = {
                    "row": t.row,
                    "ticket_no": t.ticket_no,
                    "status": "error",
                    "reason": t.reason,
                }
            else:
                status, value = outcomes[t.row]
                row = {
                    "row": t.row,
                    "ticket_no": t.ticket_no,
                    "status": status,
                    "issue_id": str(t.issue_id),
                }
                if status == "error":
                    fields = value.details.get("fields", {})
                    row["reason"] = (
                        "; ".join(f"{row_field(k)}: {v}" for k, v in fields.items())
                        or value.message
                    )
                    del row["issue_id"]
                elif status == "created":
                    position = max(position or 0, value.position)
                elif value is not None:
                    row["same_as_row"] = value
                    row["reason"] = f"ticket_no repeats row {value} of this file"
            counts[row["status"]] += 1
            results.append(row)
        if progress:
            progress(min(start + BATCH, len(rows)), len(rows))
    return {"counts": counts, "position": position, "rows": results}


def repeat(s: Services, p: Principal, t: Ticket) -> tuple[str, str | None, Any] | None:
    """A ticket about a matter closed within the last 30 days (same category, same matched
    address or within 100 m) is merged into it, which reopens (domain.hotline): ("merged",
    the issue, the log position); a ticket merged before is ("duplicate", the issue,
    None). None: the ticket is reported as a new issue."""
    if s.service.exists(t.issue_id):
        return None  # imported before as its own issue: report_once says so
    merged = s.views.merged_ticket(t.ticket_no)
    if merged is not None:
        return ("duplicate", merged, None)
    code = tickets.category_for(s.service.org(), str(t.report.get("category")))
    if code is None:
        return None
    place = t.report.get("location") or {}
    lat, lon = place.get("lat"), place.get("lon")
    if lat is not None and lon is not None:
        lat, lon = to_wgs84(lat, lon, place.get("crs") or "wgs84")
    since = s.service.clock() - timedelta(days=tickets.REPEAT_DAYS)
    target = tickets.repeat_target(s.views.closed_like(code, since), place.get("address"), lat, lon)
    if target is None:
        # The views may have folded this ticket's merge between the two reads above (the
        # matter it reopened is no longer closed): read again, on views at least as new.
        merged = s.views.merged_ticket(t.ticket_no)
        return None if merged is None else ("duplicate", merged, None)
    body = {"ticket_no": t.ticket_no, "hotline": t.report.get("hotline")}
    if t.report.get("reporter"):
        body["reporter"] = t.report["reporter"]
    try:
        done = s.service.act(UUID(target), "repeat_complaint", p, body)
    except DomainError as exc:  # reopened meanwhile, or out of the desk's reach
        if t.ticket_no in s.service.get(UUID(target)).repeats:  # the views had not seen it
            return ("duplicate", target, None)
        return ("error", None, exc.message)
    return ("merged", target, done.position)


def report_once(
    s: Services, p: Principal, tickets: list[Ticket], held: dict[UUID, int]
) -> dict[int, tuple[str, Any]]:
    """Each ticket of a file reported once. The first row of a ticket that is recorded
    (or found imported before) holds it, and a later row with it is ("duplicate", that
    row); a row refused by the checks holds nothing, so the next row with its number is
    tried in the next round. Outcomes by row."""
    outcomes: dict[int, tuple[str, Any]] = {}
    waiting = tickets
    while waiting:
        first: dict[UUID, Ticket] = {}
        later: list[Ticket] = []
        for t in waiting:
            if t.issue_id in held:
                outcomes[t.row] = ("duplicate", held[t.issue_id])
            elif t.issue_id in first:
                later.append(t)
            else:
                first[t.issue_id] = t
        done = s.service.report_many(p, [(t.issue_id, t.report) for t in first.values()])
        for t, outcome in zip(first.values(), done, strict=True):
            outcomes[t.row] = outcome
            if outcome[0] != "error":
                held[t.issue_id] = t.row
        waiting = later
    return outcomes


@router.post(
    "/hotline",
    responses={**ERRORS, 200: {"model": ImportAnswer}},
    summary="Import 12345 hotline tickets (JSON or CSV)",
    openapi_extra={
        "requestBody": {
            "content": {
                "application/json": {
                    "schema": {"type": "array", "items": {"type": "object"}},
                    "example": [
                        {
                            "ticket_no": "12345-20261123-0001",
                            "received_at": "2026-11-23T09:12:00+08:00",
                            "grid_id": "huancui-s1-c1-g1",
                            "category": "noise",
                            "text": "夜间施工噪音",
                            "caller": "13800000000",
                        }
                    ],
                },
                "text/csv": {"schema": {"type": "string"}},
            }
        }
    },
)
async def hotline(
    request: Request, p: Principal = Depends(principal), s: Services = Depends(services)
) -> Any:
    require(p, Capability.IMPORT_TICKETS)  # before a byte of the body is read
    raw = await request.body()  # at most MAX_IMPORT bytes: `api.edge` stops the rest
    try:
        text = raw.decode("utf-8")
        if "csv" in request.headers.get("content-type", ""):
            rows: Any = parse_csv(text)
        else:
            rows = parse_json(raw, check_text=False)
    except (UnicodeDecodeError, ValueError) as exc:
        raise ApiError(400, "malformed_request", f"not a JSON array or a CSV: {exc}") from None
    if not isinstance(rows, list):
        raise ApiError(
            422,
            "validation_failed",
            "a JSON array of tickets",
            fields={"body": "a JSON array of tickets"},
        )
    if len(rows) > (most := s.max_import_rows):
        raise ValidationFailed(
            {"body": f"{len(rows)} rows: an import takes at most {most} (split the file)"}
        )
    result = await run_in_threadpool(run_import, s, p, rows)
    headers = {"X-Log-Position": str(result["position"])} if result["position"] else {}
    return JSONResponse(result, headers=headers)


@router.get(
    "/hotline/replies",
    responses={
        **ERRORS,
        200: {
            "model": HotlineReplies,
            "content": {"text/csv": {"schema": {"type": "string"}}},
            "description": "the replies; with `format=csv` as CSV (`X-Next-Position`)",
        },
    },
    summary="Results back to the 12345 hotline (回单): closed and returned tickets",
)
def hotline_replies(
    p: Principal = Depends(principal),
    s: Services = Depends(services),
    since: Annotated[int, Query(ge=0, description="a log position (the last `next`)")] = 0,
    limit: Annotated[int, Query(ge=1, le=5000)] = 500,
    format: Literal["json", "csv"] = "json",
) -> Any:
    require(p, Capability.IMPORT_TICKETS)
    found = replies(s.service.app.recorder, since, limit)
    if format == "json":
        return found
    out = io.StringIO()
    columns = ("position", "ticket_no", "issue_id", "result", "text", "at")
    writer = csv.DictWriter(out, columns, extrasaction="ignore")
    writer.writeheader()
    writer.writerows(found["items"])
    return Response(
        out.getvalue(), media_type="text/csv", headers={"X-Next-Position": str(found["next"])}
    )


@router.post(
    "/hotline/callbacks",
    responses={**ERRORS, 200: {"model": ImportAnswer}},
    summary="The hotline's own callbacks (回访), imported (JSON array or CSV)",
)
async def hotline_callbacks(
    request: Request, p: Principal = Depends(principal), s: Services = Depends(services)
) -> Any:
    require(p, Capability.IMPORT_TICKETS)
    raw = await request.body()
    try:
        text = raw.decode("utf-8")
        if "csv" in request.headers.get("content-type", ""):
            rows: Any = parse_csv(text)
        else:
            rows = parse_json(raw, check_text=False)
    except (UnicodeDecodeError, ValueError) as exc:
        raise ApiError(400, "malformed_request", f"not a JSON array or a CSV: {exc}") from None
    if not isinstance(rows, list):
        raise ValidationFailed({"body": "a JSON array of callbacks"})
    if len(rows) > (most := s.max_import_rows):
        raise ValidationFailed({"body": f"{len(rows)} rows: at most {most}"})
    result = await run_in_threadpool(import_callbacks, s, p, rows)
    headers = {"X-Log-Position": str(result["position"])} if result["position"] else {}
    return JSONResponse(result, headers=headers)


def import_callbacks(s: Services, p: Principal, rows: list[Any]) -> dict[str, Any]:
    """Each row a callback recorded by the hotline desk on its ticket's issue (as the
    hotline's callback, it takes precedence over the unit's: domain.callbacks)."""
    results: list[dict[str, Any]] = []
    counts = {"recorded": 0, "error": 0}
    position = None
    for n, raw in enumerate(rows, 1):
        no = str(raw.get("ticket_no", "")).strip() if isinstance(raw, dict) else ""
        row: dict[str, Any] = {"row": n, "ticket_no": no or None}
        try:
            if not no:
                raise ValidationFailed({"ticket_no": "required"})
            done = s.service.act(ticket_issue_id(no), "record_callback", p, callback_body(raw))
            row.update(status="recorded", issue_id=str(done.issue.id))
            position = max(position or 0, done.position)
        except DomainError as exc:
            fields = exc.details.get("fields", {})
            reason = "; ".join(f"{k}: {v}" for k, v in fields.items()) or exc.message
            row.update(status="error", code=exc.code, reason=reason)
        counts[row["status"]] += 1
        results.append(row)
    return {"counts": counts, "position": position, "rows": results}
