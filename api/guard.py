"""Refusals every request gets before any route runs: control characters in the path or
the query string (a NUL in a filter reaches PostgreSQL, which refuses it as text)."""

from __future__ import annotations

from urllib.parse import parse_qsl

from fastapi.responses import JSONResponse
from starlette.types import Scope

from api.errors import body
from domain.inputs import text_problem


def refusal(scope: Scope) -> JSONResponse | None:
    """422 naming each query parameter that holds a control character; 404 for a path
    that holds one (no resource is named so)."""
    if text_problem(scope["path"]):
        return JSONResponse(body("not_found", "no such resource"), 404)
    query = scope.get("query_string", b"")
    if not query:
        return None
    try:
        pairs = parse_qsl(query.decode("utf-8"), keep_blank_values=True, errors="strict")
    except (UnicodeDecodeError, ValueError):
        return JSONResponse(body("malformed_request", "the query string is not UTF-8"), 400)
    fields = {
        name if not text_problem(name) else "query": problem
        for name, value in pairs
        if (problem := text_problem(name) or text_problem(value))
    }
    if fields:
        return JSONResponse(
            body("validation_failed", "invalid request", {"fields": fields}), status_code=422
        )
    return None
