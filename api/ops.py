"""Operations: liveness, readiness, Prometheus metrics, request ids and logs."""

from __future__ import annotations

import json
import logging
import time
import uuid
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
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.deps import services
from api.errors import body
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


class Observe:
    """Request id, the store-down short cut, access log (JSON lines) and
    metrics, as plain ASGI: Starlette's `BaseHTTPMiddleware` costs a task and a memory
    stream per request, a tenth of a cheap request's time."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        rid = headers.get("x-request-id") or uuid.uuid4().hex
        state = scope.setdefault("state", {})
        state["request_id"] = rid
        started = time.perf_counter()
        status = 500

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", []), (b"x-request-id", rid.encode())]
            await send(message)

        refusal = self._refusal(scope, headers)
        try:
            await (refusal or self.app)(scope, receive, sending)
        finally:
            self._observe(scope, status, time.perf_counter() - started, rid)

    @staticmethod
    def _refusal(scope: Scope, headers: Headers) -> JSONResponse | None:
        path: str = scope["path"]
        down_until = getattr(scope["app"].state, "store_down_until", 0.0)
        if time.monotonic() < down_until and path not in ("/healthz", "/metrics"):
            # the store failed a moment ago: do not hold this request for the library's retries
            return JSONResponse(
                body("store_unavailable", "the store is unavailable; retry shortly"),
                503,
                {"Retry-After": "2"},
            )
        return None  # bodies are limited by `api.edge.Edge`

    @staticmethod
    def _observe(scope: Scope, status: int, elapsed: float, rid: str) -> None:
        route = getattr(scope.get("route"), "path", "unmatched")
        method = scope["method"]
        metrics: Metrics = scope["app"].state.metrics
        outcome = "ok" if status < 400 else ("client_error" if status < 500 else "server_error")
        metrics.requests.labels(method, route, str(status)).inc()
        metrics.latency.labels(method, route, outcome).observe(elapsed)
        if route.endswith("/actions/{action}"):
            action = scope.get("path_params", {}).get("action", "?")
            metrics.actions.labels(action if len(action) < 40 else "?", outcome).inc()
        if log.isEnabledFor(logging.INFO):
            principal = scope["state"].get("principal")
            log.info(
                json.dumps(
                    {
                        "request_id": rid,
                        "method": method,
                        "path": scope["path"],
                        "route": route,
                        "status": status,
                        "ms": round(elapsed * 1000, 2),
                        "principal": principal.id if principal else None,
                    }
                )
            )


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
