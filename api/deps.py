"""What routes depend on: the services, the caller's principal, the parsed body."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.errors import ApiError
from domain.errors import ValidationFailed
from domain.inputs import as_utc, text_problems
from domain.principals import Principal
from domain.service import IssueService
from projections.audit import AuditLog
from projections.outbox import Outbox
from projections.reader import ViewReader
from projections.records import utc
from stores.evidence import Evidence
from stores.idempotency import IdempotencyStore
from stores.privacy import KeyVault
from stores.ratelimit import RateLimiter
from stores.tokens import TokenStore

MAX_BODY = 1 << 20  # 1 MiB: no action needs more; evidence has its own limit
#: Time filters outside these bounds cannot be compared with the views' times safely.
MIN_TIME = datetime(1900, 1, 1, tzinfo=UTC)
MAX_TIME = datetime(9000, 1, 1, tzinfo=UTC)
#: The largest log position or tree size a query may name (both stores' integers hold it).
MAX_POSITION = 2**53
MAX_DEPTH = 32  # the deepest request (an organisation file's boundary) needs eight


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
    #: web origins allowed to call from a browser (`GRIDFLOW_CORS_ORIGINS`); none: no CORS
    cors_origins: tuple[str, ...] = ()
    #: the most rows one hotline import takes (`GRIDFLOW_MAX_IMPORT_ROWS`)
    max_import_rows: int = 50_000


def services(request: Request) -> Services:
    svc: Services = request.app.state.services
    return svc


#: the bearer token (`Authorization: Bearer <token>`): FastAPI's own scheme, so that the
#: OpenAPI document declares it and /docs has its Authorize button. Its own 401 is off:
#: a missing or unknown token answers the contract's error body below.
BEARER = HTTPBearer(
    auto_error=False,
    scheme_name="bearerAuth",
    description="a token minted by `gridflow token create` (docs: Authentication)",
)


def principal(
    request: Request, credentials: HTTPAuthorizationCredentials | None = Depends(BEARER)
) -> Principal:
    """The caller, from `Authorization: Bearer <token>`; 401 otherwise."""
    token = credentials.credentials.strip() if credentials else ""
    if not token:
        raise ApiError(
            401,
            "unauthenticated",
            "send Authorization: Bearer <token>",
            {"WWW-Authenticate": "Bearer"},
        )
    p = services(request).tokens.principal(token)
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
    at = as_utc(value)
    if at is None or not MIN_TIME <= at <= MAX_TIME:
        raise ValidationFailed({name: "a time between the years 1900 and 9000"})
    return utc(at)


def parse_json(raw: bytes | str, *, check_text: bool = True) -> Any:
    """A JSON document a client sent: 400 `malformed_request` when it is not JSON, not
    valid Unicode (lone surrogates) or nested deeper than any request needs; 422 naming
    each string with a control character (see domain.inputs), unless the caller checks
    text itself (an import answers per row)."""
    try:
        document = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise ApiError(400, "malformed_request", f"the body is not JSON: {exc}") from None
    if _deeper_than(document, MAX_DEPTH):
        message = f"the body is nested deeper than {MAX_DEPTH} levels"
        raise ApiError(400, "malformed_request", message)
    problems = dict(text_problems(document)) if check_text else {}
    if problems:
        raise ValidationFailed(problems)
    return document


def _deeper_than(document: Any, limit: int) -> bool:
    level, todo = 0, [document]
    while todo:
        level += 1
        if level > limit:
            return True
        todo = [
            child
            for node in todo
            if isinstance(node, dict | list)
            for child in (node.values() if isinstance(node, dict) else node)
            if isinstance(child, dict | list)
        ]
    return False


async def json_body(request: Request) -> Any:
    """The request body as JSON (see `parse_json`); None when empty."""
    raw = await request.body()
    if len(raw) > MAX_BODY:  # a chunked body that gave no Content-Length
        raise ApiError(413, "payload_too_large", f"bodies are limited to {MAX_BODY} bytes")
    if not raw.strip():
        return None
    return parse_json(raw)
