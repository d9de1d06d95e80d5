"""What routes depend on: the services, the caller's principal, the parsed body."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from fastapi import Request

from api.errors import ApiError
from domain.errors import ValidationFailed
from domain.principals import Principal
from domain.service import IssueService
from projections.audit import AuditLog
from projections.evidence import Evidence
from projections.idempotency import IdempotencyStore
from projections.outbox import Outbox
from projections.privacy import KeyVault
from projections.ratelimit import RateLimiter
from projections.reader import ViewReader
from projections.records import utc
from projections.tokens import TokenStore

MAX_BODY = 1 << 20  # 1 MiB: no action needs more; evidence has its own limit


@dataclass
class Services:
    service: IssueService
    tokens: TokenStore
    idempotency: IdempotencyStore
    views: ViewReader
    audit: AuditLog
    vault: KeyVault
    evidence: Evidence
    outbox: Outbox
    #: extra readiness checks by name (views' lag, …), each answering a JSON-able value
    readiness: dict[str, Callable[[], Any]] = field(default_factory=dict)
    #: requests per minute per principal (`GRIDFLOW_RATE_LIMIT`); None: no limit
    limiter: RateLimiter | None = None


def services(request: Request) -> Services:
    svc: Services = request.app.state.services
    return svc


def principal(request: Request) -> Principal:
    """The caller, from `Authorization: Bearer <token>`; 401 otherwise."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ApiError(
            401,
            "unauthenticated",
            "send Authorization: Bearer <token>",
            {"WWW-Authenticate": "Bearer"},
        )
    p = services(request).tokens.principal(token.strip())
    if p is None:
        raise ApiError(
            401,
            "unauthenticated",
            "unknown, expired or revoked token",
            {"WWW-Authenticate": "Bearer"},
        )
    request.state.principal = p
    limiter = services(request).limiter
    if limiter is not None and (wait := limiter.hit(p.id)) is not None:
        message = f"more than {limiter.limit} requests a minute; retry in {wait} s"
        raise ApiError(429, "rate_limited", message, {"Retry-After": str(wait)})
    return p


def utc_param(value: datetime | None, name: str) -> str | None:
    """A time parameter as the views store times (fixed-width UTC); it needs an offset."""
    if value is None:
        return None
    if value.tzinfo is None:
        raise ValidationFailed({name: "needs a UTC offset"})
    return utc(value)


async def json_body(request: Request) -> Any:
    """The request body as JSON; 400 `malformed_request` when it is not JSON."""
    raw = await request.body()
    if len(raw) > MAX_BODY:  # a chunked body that gave no Content-Length
        raise ApiError(413, "payload_too_large", f"bodies are limited to {MAX_BODY} bytes")
    if not raw.strip():
        return None
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ApiError(400, "malformed_request", f"the body is not JSON: {exc}") from None
