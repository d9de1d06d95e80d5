"""Refusals every request gets before any route runs: control characters in the path or
the query string (a NUL in a filter reaches PostgreSQL, which refuses it as text)."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl

from fastapi.responses import JSONResponse, Response
from starlette.types import Scope

from api import open311
from api.errors import body
from domain.inputs import text_problem


def refusal(scope: Scope) -> Response | None:
    """422 naming each query parameter that holds a control character; 404 for a path
    that holds one (no resource is named so). Under /open311 in GeoReport's format."""
    if text_problem(scope["path"]):
        return _answer(scope, 404, "not_found", "no such resource")
    query = scope.get("query_string", b"")
    if not query:
        return None
    try:
        pairs = parse_qsl(query.decode("utf-8"), keep_blank_values=True, errors="strict")
    except (UnicodeDecodeError, ValueError):
        return _answer(scope, 400, "malformed_request", "the query string is not UTF-8")
    fields = {
        name if not text_problem(name) else "query": problem
        for name, value in pairs
        if (problem := text_problem(name) or text_problem(value))
    }
    if fields:
        return _answer(scope, 422, "validation_failed", "invalid request", {"fields": fields})
    return None


def _answer(
    scope: Scope, status: int, code: str, message: str, details: dict[str, Any] | None = None
) -> Response:
    path: str = scope["path"]
    if path.startswith("/open311/"):
        fmt = "xml" if path.endswith(".xml") else "json"
        described = f"{message}: {details['fields']}" if details else message
        return open311.render(
            "errors",
            fmt,
            [{"code": status, "description": described}],
            400 if status == 422 else status,
        )
    return JSONResponse(body(code, message, details), status)
