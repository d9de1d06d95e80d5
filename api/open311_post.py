"""Open311 GeoReport v2: `POST requests` (form-encoded, as the specification says) and
the discovery document. A retry with the same `Idempotency-Key` answers as the first
time and files nothing new (docs/open311.md)."""

from __future__ import annotations

import json
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from fastapi import Request
from fastapi.responses import Response
from starlette.exceptions import HTTPException

from api.answers import Open311Created
from api.deps import Services, services
from api.errors import status_of
from api.issues import request_hash
from api.open311 import Fmt, Open311Error, docs, render, router
from domain.errors import DomainError, VersionConflict
from domain.principals import Principal, Role
from domain.service import Result
from stores.idempotency import InFlight, Reservation, StoredAnswer

SPECIFICATION = "http://wiki.open311.org/GeoReport_v2"
FORM = "application/x-www-form-urlencoded"


async def _form(request: Request, fmt: str) -> dict[str, str]:
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind not in (FORM, "multipart/form-data"):
        raise Open311Error(400, f"the body must be form-encoded ({FORM})", fmt)
    try:
        form = await request.form()
    except HTTPException:  # the body is over its limit (`api.edge`)
        raise
    except ValueError:  # a body that is not a form (python-multipart's parse errors)
        raise Open311Error(400, "the body must be form-encoded", fmt) from None
    return {k: v for k, v in form.items() if isinstance(v, str)}


def _poster(s: Services, key: str | None, fmt: str) -> Principal:
    p = s.tokens.principal(key) if key else None
    if p is None:
        raise Open311Error(403, "api_key is missing or invalid", fmt)
    if p.role not in (Role.RESIDENT, Role.INTAKE):
        raise Open311Error(403, "api_key must belong to a resident or an intake gateway", fmt)
    return p


def report_body(s: Services, f: dict[str, str], fmt: str) -> dict[str, Any]:
    """The report a GeoReport request stands for; 404 for a service that is not there."""
    code = f.get("service_code")
    if not code:
        raise Open311Error(400, "service_code is required", fmt)
    if code not in s.service.org().categories:
        raise Open311Error(404, f"service_code {code} not found", fmt)
    location: dict[str, Any] = {}
    if f.get("lat") and f.get("long"):
        try:
            location = {
                "lat": float(f["lat"]),
                "lon": float(f["long"]),
                "crs": f.get("crs", "wgs84"),
            }
        except ValueError:
            raise Open311Error(400, "lat and long must be numbers", fmt) from None
    if f.get("address_string"):
        location["address"] = f["address_string"]
    if not location:
        raise Open311Error(400, "a location is required: lat and long, or address_string", fmt)
    name = " ".join(x for x in (f.get("first_name"), f.get("last_name")) if x) or None
    contact = {"name": name, "phone": f.get("phone"), "email": f.get("email")}
    reporter = {k: v for k, v in contact.items() if v}
    return {
        "category": code,
        "channel": "open311",
        "location": location,
        "description": f.get("description") or code,
        **({"reporter": reporter} if reporter else {}),
        **({"media_url": f["media_url"]} if f.get("media_url") else {}),
    }


def _file(
    s: Services, p: Principal, body: dict[str, Any], issue_id: UUID | None, fmt: str
) -> Result:
    try:
        return s.service.report(p, body, issue_id=issue_id)
    except VersionConflict:
        if issue_id is None:
            raise
        return s.service.as_reported(issue_id)  # recorded before a crash, answer not kept
    except DomainError as exc:
        fields = exc.details.get("fields", {})
        detail = "; ".join(f"{k}: {v}" for k, v in fields.items()) or exc.message
        status = status_of(exc)
        raise Open311Error(400 if status == 422 else status, detail, fmt) from None


def _created(result: Result) -> list[dict[str, Any]]:
    return [
        {
            "service_request_id": str(result.issue.id),
            "service_notice": "received; the grid will triage it",
            "account_id": None,
        }
    ]


@router.post(
    "/requests.{fmt}",
    responses=docs(list[Open311Created], "service_requests"),
    summary="GeoReport: create a service request (form-encoded)",
)
async def create_request(request: Request, fmt: Fmt) -> Response:
    f = await _form(request, fmt)
    s = services(request)
    p = _poster(s, f.get("api_key") or request.query_params.get("api_key"), fmt)
    body = report_body(s, f, fmt)
    key = request.headers.get("idempotency-key")
    if key is None:
        return render("requests", fmt, _created(_file(s, p, body, None, fmt)))
    if not 0 < len(key) <= 200:
        raise Open311Error(400, "Idempotency-Key is 1 to 200 characters", fmt)
    # Scoped to Open311 and to the format-free path: a retry in XML of a JSON post is
    # the same request.
    scoped = f"open311:{key}"
    digest = request_hash("POST", "/open311/v2/requests", body)
    held = s.idempotency.reserve(p.id, scoped, digest)
    if not isinstance(held, Reservation):
        if held.request_hash != digest:
            raise Open311Error(422, "this Idempotency-Key was used with a different request", fmt)
        if isinstance(held, InFlight):
            raise Open311Error(409, "a request with this Idempotency-Key is being handled", fmt)
        return render("requests", fmt, held.body, held.status)
    issue_id = uuid5(NAMESPACE_URL, f"gridflow:open311:{p.id}:{key}")
    kept = False
    try:
        payload = _created(_file(s, p, body, issue_id, fmt))
        s.idempotency.complete(held, StoredAnswer(digest, 200, json.loads(json.dumps(payload)), {}))
        kept = True
        return render("requests", fmt, payload)
    finally:
        if not kept:
            s.idempotency.release(held)


@router.get(
    "/discovery.{fmt}",
    responses=docs(dict[str, Any], "discovery"),
    summary="GeoReport: service discovery (the endpoint, its specification and formats)",
)
def discovery(request: Request, fmt: Fmt) -> Response:
    base = str(request.base_url).rstrip("/") + "/open311/v2"
    payload = {
        "changeset": "2026-11-29T00:00:00Z",
        "contact": "the operator of this gridflow service",
        "key_service": "api_key: a token minted by `gridflow token create` (resident or intake)",
        "endpoints": [
            {
                "specification": SPECIFICATION,
                "url": base,
                "changeset": "2026-11-29T00:00:00Z",
                "type": "production",
                "formats": ["application/json", "text/xml"],
            }
        ],
    }
    return render("discovery", fmt, payload)
