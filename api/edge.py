"""The edge of the service, before any route, dependency or token lookup runs.

- Bodies stop at their limit: a `Content-Length` over it is refused at once, and the
  ASGI receive channel itself counts what arrives, so a chunked body (no length given)
  is cut off at the limit too, whatever reads it. Both answer 413 `payload_too_large`.
- An answer to a request with `Authorization` varies by it (`Vary: Authorization`):
  what a caller sees depends on who they are, so a shared cache must not serve one
  caller's answer to another (RFC 9110 §12.5.5).
- Every answer carries the browser headers: `nosniff`, no framing, no referrer, and a
  Content-Security-Policy (the console's own policy is set by its route).

Plain ASGI, like `api.ops.Observe`: no task or stream per request.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.middleware.cors import CORSMiddleware
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.deps import MAX_BODY
from api.errors import body
from api.intake import MAX_IMPORT
from api.open311 import render

MULTIPART_SLACK = 64 << 10  # a multipart body's boundaries and part headers

#: a JSON answer is never a page: nothing in it may run, load or be framed
API_POLICY = "default-src 'none'; frame-ancestors 'none'"
#: FastAPI's interactive docs load their scripts from a CDN and run one inline
DOCS_POLICY = "frame-ancestors 'none'"
DOCS = ("/docs", "/redoc")
HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
]


class BodyTooLarge(HTTPException):
    """Raised by the receive channel, wherever the body is read (FastAPI passes HTTP
    exceptions through); answered by `refusal`."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"bodies here are limited to {limit} bytes")
        self.limit = limit


def refusal(path: str, limit: int) -> Response:
    """413 `payload_too_large` (GeoReport's error list under /open311); the connection
    is closed after it, so the rest of the body is never read."""
    message = f"bodies here are limited to {limit} bytes"
    response: Response
    if path.startswith("/open311/"):
        fmt = "xml" if path.endswith(".xml") else "json"
        response = render("errors", fmt, [{"code": 413, "description": message}], 413)
    else:
        response = JSONResponse(body("payload_too_large", message), 413)
    response.headers["Connection"] = "close"
    return response


def vary_by_authorization(headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    named = b", ".join(v for k, v in headers if k.lower() == b"vary")
    fields = {f.strip().lower() for f in named.split(b",") if f.strip()}
    if b"authorization" in fields or b"*" in fields:
        return headers
    value = named + b", Authorization" if named else b"Authorization"
    return [(k, v) for k, v in headers if k.lower() != b"vary"] + [(b"vary", value)]


#: what a browser app on an allowed origin may send and read (RFC 9110 conditional
#: requests, idempotency, the log position, paging links)
CORS_REQUEST_HEADERS = [
    "Authorization",
    "Content-Type",
    "If-Match",
    "If-None-Match",
    "Idempotency-Key",
]
CORS_EXPOSED_HEADERS = ["ETag", "Location", "Link", "Retry-After", "X-Log-Position"]


def install_cors(app: FastAPI, allowed: tuple[str, ...]) -> None:
    """CORS for the configured origins only (`GRIDFLOW_CORS_ORIGINS`, none by default):
    preflights answered, the answers' headers readable. Tokens travel in
    `Authorization`, never cookies: no credentials mode."""
    if allowed:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(allowed),
            allow_methods=["GET", "POST", "PUT", "DELETE"],
            allow_headers=CORS_REQUEST_HEADERS,
            expose_headers=CORS_EXPOSED_HEADERS,
            max_age=600,
        )


def install(app: FastAPI, evidence_max_bytes: int) -> None:
    app.add_middleware(Edge, evidence_max_bytes=evidence_max_bytes)

    @app.exception_handler(BodyTooLarge)
    async def _too_large(request: Request, exc: BodyTooLarge) -> Response:
        return refusal(request.url.path, exc.limit)


class Edge:
    def __init__(self, app: ASGIApp, evidence_max_bytes: int = 10 << 20) -> None:
        self.app = app
        self.evidence_limit = evidence_max_bytes + MULTIPART_SLACK

    def limit(self, path: str) -> int:
        if path.startswith("/intake/"):
            return MAX_IMPORT
        if path.endswith("/evidence"):
            return self.evidence_limit
        return MAX_BODY

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        limit = self.limit(path)
        started = False
        policy = DOCS_POLICY if path.startswith(DOCS) else API_POLICY
        authorized = any(name.lower() == b"authorization" for name, _ in scope["headers"])

        async def send_secured(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                extra = [h for h in HEADERS if h[0] not in present]
                if b"content-security-policy" not in present:
                    extra.append((b"content-security-policy", policy.encode()))
                if authorized:
                    headers = vary_by_authorization(headers)
                message["headers"] = headers + extra
            await send(message)

        length = Headers(scope=scope).get("content-length")
        if length is not None and (not length.isdigit() or int(length) > limit):
            await refusal(path, limit)(scope, receive, send_secured)
            return
        received, over = 0, False

        async def receive_at_most() -> Message:
            nonlocal received, over
            if over:  # whoever reads on after the refusal hears that the client left
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    over = True
                    raise BodyTooLarge(limit)
            return message

        try:
            await self.app(scope, receive_at_most, send_secured)
        except BodyTooLarge:
            if started:
                raise
            await refusal(path, limit)(scope, receive, send_secured)
