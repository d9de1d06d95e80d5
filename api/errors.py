"""The one place where errors become HTTP answers of the contract's shape:
`{"error": {"code", "message", "details"}}`."""

from __future__ import annotations

import logging
import sqlite3
import time
from typing import Any

from eventsourcing.persistence import OperationalError as StoreOperationalError
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from psycopg import OperationalError as PgOperationalError
from psycopg_pool import PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException

from domain import errors as E
from domain.actions import field_errors

log = logging.getLogger("gridflow.api")
STORE_BACKOFF_SECONDS = 2.0

#: What the store's drivers raise when it is away (503 `store_unavailable`).
STORE_ERRORS: tuple[type[Exception], ...] = (
    StoreOperationalError,
    PgOperationalError,
    PoolTimeout,
    sqlite3.OperationalError,
)

STATUS: dict[type[E.DomainError], int] = {
    E.IssueNotFound: 404,
    E.UnknownAction: 404,
    E.Forbidden: 403,
    E.ValidationFailed: 422,
    E.InvalidOrganisation: 422,
    E.TransitionNotAllowed: 409,
    E.VersionConflict: 409,
}


class ApiError(Exception):
    """An error raised by the HTTP layer itself (auth, parsing, idempotency)."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        headers: dict[str, str] | None = None,
        **details: Any,
    ) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.headers = headers or {}
        self.details = details


def allowed_methods(app: Any, path: str) -> list[str]:
    """Every method some route takes at `path` (routers included without a prefix, as
    `api.app` includes them; FastAPI keeps an included router's own routes)."""
    methods: set[str] = set()

    def walk(routes: list[Any]) -> None:
        for route in routes:
            included = getattr(route, "original_router", None)
            if included is not None:
                walk(included.routes)
                continue
            regex, allowed = getattr(route, "path_regex", None), getattr(route, "methods", None)
            if regex is not None and allowed and regex.match(path):
                methods.update(allowed)

    walk(app.router.routes)
    return sorted(methods)


def body(code: str, message: str, details: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "details": details or {}}}


def status_of(exc: E.DomainError) -> int:
    if isinstance(exc, E.VersionConflict) and exc.stale:
        return 412
    for cls in type(exc).__mro__:
        if cls in STATUS:
            return STATUS[cls]
    return 400


def domain_error_response(exc: E.DomainError) -> JSONResponse:
    return JSONResponse(body(exc.code, exc.message, exc.details), status_code=status_of(exc))


def install(app: FastAPI) -> None:
    @app.exception_handler(E.DomainError)
    async def _domain(request: Request, exc: E.DomainError) -> JSONResponse:
        return domain_error_response(exc)

    @app.exception_handler(ApiError)
    async def _api(request: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse(body(exc.code, exc.message, exc.details), exc.status, exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        fields: dict[str, str] = {}
        for err in exc.errors():
            loc = [str(p) for p in err.get("loc", ())]
            fields.setdefault(".".join(loc[1:] if len(loc) > 1 else loc) or "body", err["msg"])
        return JSONResponse(body("validation_failed", "invalid request", {"fields": fields}), 422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed", 413: "payload_too_large"}.get(
            exc.status_code, "http_error"
        )
        headers = dict(exc.headers or {})
        if exc.status_code == 405:  # every method of every route on this path (§15.5.6)
            headers["Allow"] = ", ".join(allowed_methods(request.app, request.url.path))
        return JSONResponse(body(code, str(exc.detail)), exc.status_code, headers)

    for store_error in STORE_ERRORS:

        @app.exception_handler(store_error)
        async def _store(request: Request, exc: Exception) -> JSONResponse:
            log.warning("store unavailable: %s", exc)
            # Answer the next requests at once while the store is away (see api/ops.py).
            request.app.state.store_down_until = time.monotonic() + STORE_BACKOFF_SECONDS
            return JSONResponse(
                body("store_unavailable", "the store is unavailable; retry shortly"),
                503,
                {"Retry-After": "2"},
            )

    @app.exception_handler(Exception)
    async def _last_resort(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return JSONResponse(body("internal_error", "an internal error was logged"), 500)


__all__ = ["ApiError", "domain_error_response", "field_errors", "install", "status_of"]
