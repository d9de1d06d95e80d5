"""`POST /intake/hotline`: 12345 tickets in bulk, JSON array or CSV, row by row."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from api.deps import Services, principal, services
from api.errors import ApiError
from api.openapi import ERRORS
from domain.errors import ValidationFailed
from domain.intake import BadRow, Ticket, parse_csv, ticket
from domain.principals import Principal, Role

router = APIRouter(prefix="/intake", tags=["intake"])
MAX_IMPORT = 64 << 20  # 64 MiB: a city's day of tickets and then some
BATCH = 2000


def run_import(
    s: Services, p: Principal, rows: list[Any], progress: Callable[[int, int], None] | None = None
) -> dict[str, Any]:
    """Import every row; a bad row never stops the good ones. Per row: created (with the
    issue id), duplicate (already imported) or error (with the reason)."""
    results: list[dict[str, Any]] = []
    counts = {"created": 0, "duplicate": 0, "error": 0}
    position = None
    for start in range(0, len(rows), BATCH):
        parsed = [ticket(start + k + 1, raw) for k, raw in enumerate(rows[start : start + BATCH])]
        good = [t for t in parsed if isinstance(t, Ticket)]
        outcomes = dict(
            zip(
                (t.row for t in good),
                s.service.report_many(p, [(t.issue_id, t.report) for t in good]),
                strict=True,
            )
        )
        for t in parsed:
            row: dict[str, Any]
            if isinstance(t, BadRow):
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
                        "; ".join(f"{k}: {v}" for k, v in fields.items()) or value.message
                    )
                    del row["issue_id"]
                elif status == "created":
                    position = max(position or 0, value.position)
            counts[row["status"]] += 1
            results.append(row)
        if progress:
            progress(min(start + BATCH, len(rows)), len(rows))
    return {"counts": counts, "position": position, "rows": results}


@router.post(
    "/hotline",
    responses=ERRORS,
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
    s.service.require_role(p, Role.INTAKE, Role.ADMIN)  # before a byte of the body is read
    raw = await request.body()  # at most MAX_IMPORT bytes: `api.edge` stops the rest
    try:
        text = raw.decode("utf-8")
        if "csv" in request.headers.get("content-type", ""):
            rows: Any = parse_csv(text)
        else:
            rows = json.loads(text)
    except (UnicodeDecodeError, ValueError) as exc:
        raise ApiError(400, "malformed_request", f"not a JSON array or a CSV: {exc}") from None
    if not isinstance(rows, list):
        raise ApiError(
            422,
            "validation_failed",
            "a JSON array of tickets",
            fields={"body": "a JSON array of tickets"},
        )
    if len(rows) > (most := s.service.settings.max_import_rows):
        raise ValidationFailed(
            {"body": f"{len(rows)} rows: an import takes at most {most} (split the file)"}
        )
    result = await run_in_threadpool(run_import, s, p, rows)
    headers = {"X-Log-Position": str(result["position"])} if result["position"] else {}
    return JSONResponse(result, headers=headers)
