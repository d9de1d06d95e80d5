"""Operations: liveness, readiness, Prometheus metrics, request ids and logs."""

from __future__ import annotations

import json
import logging
import os
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse, PlainTextResponse
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api import guard
from api.answers import Readiness
from api.deps import services
from api.errors import STORE_ERRORS, body
from domain.calendar import DATA_YEARS, WorkingCalendar
from domain.workflow import ACTIONS

router = APIRouter(tags=["operations"])
log = logging.getLogger("gridflow.access")
CALENDAR_WARNING_DAYS = 60
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def multiprocess_dir() -> str | None:
    """Where the processes of `serve --workers N` keep their counters (set by `serve`)."""
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        #: what every process reads from the store at a scrape (the same in each)
        self.shared: list[Collector] = []
        if multiprocess_dir() is None:  # one process: its own CPU, memory, files
            ProcessCollector(registry=self.registry)
            PlatformCollector(registry=self.registry)
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

    def share(self, collector: Collector) -> None:
        self.registry.register(collector)
        self.shared.append(collector)

    def scrape(self) -> bytes:
        """The text format: this process's registry; under `--workers N`, every
        process's counters summed (prometheus_client's multiprocess mode) and the store's
        figures once."""
        directory = multiprocess_dir()
        if directory is None:
            return bytes(generate_latest(self.registry))
        merged = CollectorRegistry()
        MultiProcessCollector(merged, path=directory)
        for collector in self.shared:
            merged.register(collector)
        return bytes(generate_latest(merged))


class Backlogs(Collector):
    """How far the workers are behind the log, read from the store at each scrape:
    the views (positions), the audit chain (positions), webhook deliveries (pending)."""

    def __init__(
        self,
        head: Callable[[], int],
        views: Callable[[], int],
        audit: Callable[[], int],
        outbox: Callable[[], int],
    ) -> None:
        self.head, self.views, self.audit, self.outbox = head, views, audit, outbox

    def collect(self) -> Iterator[GaugeMetricFamily]:
        head = self.head()
        yield GaugeMetricFamily(
            "gridflow_log_head_position", "the log's newest position", value=head
        )
        yield GaugeMetricFamily(
            "gridflow_projection_lag_positions",
            "log positions the views have not folded yet",
            value=max(0, head - self.views()),
        )
        yield GaugeMetricFamily(
            "gridflow_audit_lag_positions",
            "log positions the audit chain has not hashed yet",
            value=max(0, head - self.audit()),
        )
        yield GaugeMetricFamily(
            "gridflow_outbox_backlog",
            "webhook deliveries not yet acknowledged",
            value=self.outbox(),
        )


class Quarantined(Collector):
    """`gridflow_quarantined_events{projection}`: events each projection set aside, read
    from the store at each scrape (every process shows the same count)."""

    def __init__(self, counts: Callable[[], dict[str, int]]) -> None:
        self.counts = counts

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily(
            "gridflow_quarantined_events",
            "events a projection could not fold and set aside",
            labels=["projection"],
        )
        for projection, n in self.counts().items():
            family.add_metric([projection], n)
        yield family


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

        refusal = self._refusal(scope, headers) or guard.refusal(scope)
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
        # Every label value comes from a fixed set: a client's method or action name
        # must not mint a new time series per request (/metrics would grow without bound).
        method = scope["method"] if scope["method"] in _METHODS else "other"
        metrics: Metrics = scope["app"].state.metrics
        outcome = "ok" if status < 400 else ("client_error" if status < 500 else "server_error")
        metrics.requests.labels(method, route, str(status)).inc()
        metrics.latency.labels(method, route, outcome).observe(elapsed)
        if route.endswith("/actions/{action}"):
            action = scope.get("path_params", {}).get("action")
            metrics.actions.labels(action if action in ACTIONS else "unknown", outcome).inc()
        if log.isEnabledFor(logging.INFO):
            principal = scope["state"].get("principal")
            log.info(
                json.dumps(
                    {
                        "request_id": rid,
                        "method": scope["method"],
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
    responses={
        200: {"model": Readiness},
        503: {"model": Readiness, "description": "not ready (with Retry-After)"},
    },
)
def readyz(request: Request) -> JSONResponse:
    s = services(request)
    checks: dict[str, Any] = {}
    ok = True
    try:
        checks["store"] = {"ok": True, "head": s.service.head()}
    except STORE_ERRORS as exc:  # the store does not answer: not ready
        ok = False
        checks["store"] = {"ok": False, "error": exc.__class__.__name__}
    for name, check in s.readiness.items():
        checks[name] = check()
        ok = ok and not (isinstance(checks[name], dict) and checks[name].get("ok") is False)
    checks["calendar"] = calendar_check(s.service.policy.calendars.default, s.service.clock())
    return JSONResponse(
        {"ready": ok, "checks": checks}, 200 if ok else 503, {} if ok else {"Retry-After": "2"}
    )


def calendar_check(cal: WorkingCalendar, now: datetime) -> dict[str, Any]:
    """How far the official holiday data reaches; a note from 60 days before it ends
    (a warning only: readiness does not depend on it)."""
    today = now.astimezone(cal.tz).date()
    until = cal.data_until
    left = (until - today).days
    note = None
    if left <= CALENDAR_WARNING_DAYS:
        note = (
            f"official holidays and make-up working days (调休) are known up to {until}; "
            f"{'from then on' if left >= 0 else 'since then'} working-time deadlines count "
            f"weekends only and their misses are not recorded: add {until.year + 1} to the "
            "calendar file's `official` section (docs/deployment.md)"
        )
    return {
        "holiday_data_years": [DATA_YEARS[0], until.year],
        "data_until": until.isoformat(),
        "days_left": left,
        "covers_this_year": cal.covers(today),
        "note": note,
    }


@router.get(
    "/metrics",
    summary="Prometheus metrics",
    response_class=PlainTextResponse,
    responses={200: {"content": {"text/plain": {}}}},
)
def metrics(request: Request) -> Response:
    return Response(request.app.state.metrics.scrape(), media_type=CONTENT_TYPE_LATEST)
