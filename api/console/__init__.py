"""The web console: a small Alpine.js app served by the service itself, assets shipped
in the project (no CDN: deployments are often on closed networks)."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, FastAPI
from fastapi.responses import FileResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles

STATIC = Path(__file__).parent / "static"
router = APIRouter(include_in_schema=False)
#: Scripts, styles, images and calls from the service itself only; nothing inline, no
#: framing, no plugins. Alpine.js (the standard build) evaluates its `x-` expressions
#: with `new Function`, hence 'unsafe-eval'; no page markup is ever built from data
#: (`x-text`, never `x-html`), so no attacker-written expression reaches it.
#: Thumbnails are shown from `blob:` URLs (fetched with the token).
POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self' 'unsafe-eval'",
        "style-src 'self'",
        "img-src 'self' blob:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)
HEADERS = {
    "Cache-Control": "no-cache",
    "Content-Security-Policy": POLICY,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


@router.get("/")
def root() -> RedirectResponse:
    return RedirectResponse("/console")


@router.get("/console")
def console() -> FileResponse:
    return FileResponse(STATIC / "index.html", headers=HEADERS)


def install(app: FastAPI) -> None:
    app.include_router(router)
    app.mount("/console/static", StaticFiles(directory=STATIC), name="console-static")
