"""Operations: liveness, readiness, Prometheus metrics, request ids and logs."""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import date
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse, PlainTextResponse
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)

from api.deps import MAX_BODY, services
from api.intake import MAX_IMPORT
from domain.calendar import DATA_YEARS, WorkingCalendar

router = APIRouter(tags=["operations"])
log = logging.getLogger("gridflow.access")


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "gridflow_http_requests_total",
            "HTTP requests",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "gridflow_http_request_duration_seconds",
            "HTTP latency",
            ["method", "route", "outcome"],
            registry=self.registry,
            buckets=(0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5),
        )
        self.actions = Counter(
            "gridflow_actions_total",
            "workflow actions taken",
            ["action", "outcome"],
            registry=self.registry,
        )


def _route(request: Request) -> str:
    route = request.scope.get("route")
    return getattr(route, "path", "unmatched")


async def middleware(
    request: Request, call_next: Callable[[Request], Awaitable[Response]]
) -> Response:
    """Request id, body size limit, access log (JSON lines) and metrics."""
    rid = request.headers.get("x-request-id") or uuid.uuid4().hex
    request.state.request_id = rid
    started = time.perf_counter()
    length = request.headers.get("content-length")
    path = request.url.path
    limit = MAX_IMPORT if path.startswith("/intake/") or path.endswith("/evidence") else MAX_BODY
    if time.monotonic() < getattr(request.app.state, "store_down_until", 0.0) and (
        path not in ("/healthz", "/metrics")
    ):  # the store failed a moment ago: do not hold this request for the library's retries
        response: Response = JSONResponse(
            {
                "error": {
                    "code": "store_unavailable",
                    "details": {},
                    "message": "the store is unavailable; retry shortly",
                }
            },
            503,
            {"Retry-After": "2"},
        )
    elif length is not None and (not length.isdigit() or int(length) > limit):
        response = JSONResponse(
            {
                "error": {
                    "code": "payload_too_large",
                    "message": f"bodies are limited to {MAX_BODY} bytes",
                    "details": {},
                }
            },
            413,
        )
    else:
        response = await call_next(request)
    elapsed = time.perf_counter() - started
    route = _route(request)
    metrics: Metrics = request.app.state.metrics
    outcome = (
        "ok"
        if response.status_code < 400
        else ("client_error" if response.status_code < 500 else "server_error")
    )
    metrics.requests.labels(request.method, route, str(response.status_code)).inc()
    metrics.latency.labels(request.method, route, outcome).observe(elapsed)
    if route.endswith("/actions/{action}"):
        action = request.path_params.get("action", "?")
        metrics.actions.labels(action if len(action) < 40 else "?", outcome).inc()
    response.headers["X-Request-ID"] = rid
    principal = getattr(request.state, "principal", None)
    log.info(
        json.dumps(
            {
                "request_id": rid,
                "method": request.method,
                "path": request.url.path,
                "route": route,
                "status": response.status_code,
                "ms": round(elapsed * 1000, 2),
                "principal": principal.id if principal else None,
            }
        )
    )
    return response


@router.get("/healthz", summary="The process is up")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get(
    "/readyz",
    summary="The store answers; views' lag; calendar coverage",
    responses={503: {"description": "not ready (with Retry-After)"}},
)
def readyz(request: Request) -> JSONResponse:
    s = services(request)
    checks: dict[str, Any] = {}
    ok = True
    try:
        checks["store"] = {"ok": True, "head": s.service.head()}
    except Exception as exc:  # any failure to reach the store means not ready
        ok = False
        checks["store"] = {"ok": False, "error": exc.__class__.__name__}
    for name, check in s.readiness.items():
        checks[name] = check()
    today = date.today()
    checks["calendar"] = {
        "holiday_data_years": list(DATA_YEARS),
        "covers_this_year": WorkingCalendar.covers(today),
        "note": None
        if WorkingCalendar.covers(date(today.year + 1, 1, 1))
        else f"official holidays are known up to {DATA_YEARS[1]}; later dates count weekends only",
    }
    return JSONResponse(
        {"ready": ok, "checks": checks}, 200 if ok else 503, {} if ok else {"Retry-After": "2"}
    )


@router.get(
    "/metrics",
    summary="Prometheus metrics",
    response_class=PlainTextResponse,
    responses={200: {"content": {"text/plain": {}}}},
)
def metrics(request: Request) -> Response:
    registry = request.app.state.metrics.registry
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
