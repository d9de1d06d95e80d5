"""Open311 GeoReport v2 at /open311/v2, in JSON and XML, as the specification says.

Services are the categories; requests are issues (channel `open311`); `api_key` is the
token of a resident or intake principal. Errors use GeoReport's own format:
`[{"code": 400, "description": "…"}]` / `<errors><error>…</error></errors>`.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from typing import Any, Literal
from uuid import UUID

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel
from starlette.exceptions import HTTPException

from api.deps import services
from api.errors import status_of
from domain.deadlines import RESOLUTION_KIND, effective_due
from domain.errors import DomainError
from domain.issue import Issue
from domain.principals import Role
from domain.workflow import TERMINAL

router = APIRouter(prefix="/open311/v2", tags=["open311"])
FORMATS = ("json", "xml")
Fmt = Literal["json", "xml"]


class GeoReportError(BaseModel):
    code: int
    description: str


_ERR = {
    "model": list[GeoReportError],
    "description": "GeoReport v2 error list",
    "content": {"text/xml": {}},
}
_OK = {
    "description": "JSON or XML, per the extension",
    "content": {
        "application/json": {"schema": {"type": "array", "items": {"type": "object"}}},
        "text/xml": {},
    },
}
DOCS: dict[int | str, dict[str, Any]] = {200: _OK, 400: _ERR, 403: _ERR, 404: _ERR}
ROOTS = {
    "services": ("services", "service"),
    "requests": ("service_requests", "request"),
    "definition": ("service_definition", None),
    "errors": ("errors", "error"),
}


class Open311Error(Exception):
    def __init__(self, code: int, description: str, fmt: str = "json") -> None:
        super().__init__(description)
        self.code, self.description, self.fmt = code, description, fmt


def _xml(root: str, item: str | None, payload: Any) -> bytes:
    top = ET.Element(root)

    def fill(parent: ET.Element, value: Any) -> None:
        if isinstance(value, dict):
            for k, v in value.items():
                if isinstance(v, list):
                    holder = ET.SubElement(parent, k)
                    for entry in v:
                        fill(ET.SubElement(holder, k.rstrip("s")), entry)
                else:
                    fill(ET.SubElement(parent, k), v)
        elif value is not None:
            parent.text = str(value).lower() if isinstance(value, bool) else str(value)

    for entry in payload if isinstance(payload, list) else [payload]:
        fill(ET.SubElement(top, item) if item else top, entry)
    return b'<?xml version="1.0" encoding="utf-8"?>' + ET.tostring(top, encoding="utf-8")


def render(kind: str, fmt: str, payload: Any, status: int = 200) -> Response:
    if fmt == "xml":
        root, item = ROOTS[kind]
        return Response(_xml(root, item, payload), status, media_type="text/xml; charset=utf-8")
    return JSONResponse(payload, status)


def install(app: Any) -> None:
    @app.exception_handler(Open311Error)
    async def _open311(request: Request, exc: Open311Error) -> Response:
        return render(
            "errors",
            exc.fmt if exc.fmt in FORMATS else "json",
            [{"code": exc.code, "description": exc.description}],
            exc.code,
        )


def _service(cat: dict[str, Any]) -> dict[str, Any]:
    return {
        "service_code": cat["code"],
        "service_name": cat["name"],
        "description": cat["name"],
        "metadata": False,
        "type": "realtime",
        "keywords": cat["code"],
        "group": "grid",
    }


@router.get("/services.{fmt}", responses=DOCS, summary="GeoReport: the service list (categories)")
def service_list(request: Request, fmt: Fmt) -> Response:
    cats = services(request).service.org().categories.values()
    return render("services", fmt, [_service(c) for c in cats])


@router.get("/services/{code}.{fmt}", responses=DOCS, summary="GeoReport: a service definition")
def service_definition(request: Request, code: str, fmt: Fmt) -> Response:
    if code not in services(request).service.org().categories:
        raise Open311Error(404, f"no service {code}", fmt)
    return render("definition", fmt, {"service_code": code, "attributes": []})


def _time(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z") if value else None


def _request(issue: Issue, org: Any) -> dict[str, Any]:
    tier = issue.tier
    if tier == "hard":
        agency = ", ".join(org.departments.get(d, {}).get("name", d) for d in issue.departments)
    elif tier == "big":
        community = org.ancestor_of_kind(issue.grid_id, "community")
        agency = org.nodes.get(community, {}).get("name")
    else:
        agency = org.nodes.get(issue.grid_id, {}).get("name")
    expected = None
    if (tier and (d := issue.open_deadline(RESOLUTION_KIND[tier])) is not None) or (
        d := issue.open_deadline("triage")
    ) is not None:
        expected = effective_due(d)
    loc = issue.location or {}
    return {
        "service_request_id": str(issue.id),
        "status": "closed" if issue.state in TERMINAL else "open",
        "status_notes": issue.state + (f" ({tier} matter)" if tier else ""),
        "service_name": org.categories.get(issue.category, {}).get("name", issue.category),
        "service_code": issue.category,
        "description": issue.description,
        "agency_responsible": agency,
        "service_notice": None,
        "requested_datetime": _time(issue.reported_at),
        "updated_datetime": _time(issue.modified_on),
        "expected_datetime": _time(expected),
        "address": loc.get("address"),
        "address_id": None,
        "zipcode": None,
        "lat": loc.get("lat"),
        "long": loc.get("lon"),
        "media_url": None,
    }


def _date(value: str | None, name: str, fmt: str) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise Open311Error(
            400, f"{name} must be a W3C datetime, e.g. 2010-01-01T00:00:00Z", fmt
        ) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


@router.get("/requests.{fmt}", responses=DOCS, summary="GeoReport: service requests")
def request_list(request: Request, fmt: Fmt) -> Response:
    q = request.query_params
    svc = services(request).service
    org = svc.org()
    ids = q.get("service_request_id")
    if ids:
        found = []
        for raw in ids.split(","):
            try:
                found.append(svc.get(UUID(raw.strip())))
            except (ValueError, DomainError):
                continue
        return render("requests", fmt, [_request(i, org) for i in found])
    end = _date(q.get("end_date"), "end_date", fmt) or svc.clock()
    start = _date(q.get("start_date"), "start_date", fmt) or end - timedelta(days=90)
    codes = set(q["service_code"].split(",")) if q.get("service_code") else None
    statuses = set(q["status"].split(",")) if q.get("status") else None
    if statuses and not statuses <= {"open", "closed"}:
        raise Open311Error(400, "status is open or closed", fmt)
    items = []
    for issue in svc.recent_issues(start, end, limit=1000):
        row = _request(issue, org)
        if (codes is None or row["service_code"] in codes) and (
            statuses is None or row["status"] in statuses
        ):
            items.append(row)
    return render("requests", fmt, items)


@router.get(
    "/requests/{request_id}.{fmt}", responses=DOCS, summary="GeoReport: one service request"
)
def request_one(request: Request, request_id: str, fmt: Fmt) -> Response:
    svc = services(request).service
    try:
        issue = svc.get(UUID(request_id))
    except (ValueError, DomainError):
        raise Open311Error(404, f"no service request {request_id}", fmt) from None
    return render("requests", fmt, [_request(issue, svc.org())])


@router.post(
    "/requests.{fmt}", responses=DOCS, summary="GeoReport: create a service request (form-encoded)"
)
async def create_request(request: Request, fmt: Fmt) -> Response:
    try:
        form = await request.form()
    except HTTPException:  # the body is over its limit (`api.edge`)
        raise
    except Exception:  # a body that is not a form
        raise Open311Error(400, "the body must be form-encoded", fmt) from None
    f = {k: v for k, v in form.items() if isinstance(v, str)}
    s = services(request)
    p = s.tokens.principal(f.get("api_key", "")) if f.get("api_key") else None
    if p is None:
        raise Open311Error(403, "api_key is missing or invalid", fmt)
    if p.role not in (Role.RESIDENT, Role.INTAKE):
        raise Open311Error(403, "api_key must belong to a resident or an intake gateway", fmt)
    code = f.get("service_code")
    if not code:
        raise Open311Error(400, "service_code is required", fmt)
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
    grid = None
    if "lat" not in location and location.get("address"):
        grid = s.service.org().grid_for_address(location["address"])
        if grid is None:
            raise Open311Error(400, "address_string matches no grid; send lat and long", fmt)
    if not location:
        raise Open311Error(400, "a location is required: lat and long, or address_string", fmt)
    name = " ".join(x for x in (f.get("first_name"), f.get("last_name")) if x) or None
    reporter = {
        k: v
        for k, v in {"name": name, "phone": f.get("phone"), "email": f.get("email")}.items()
        if v
    }
    body: dict[str, Any] = {
        "category": code,
        "channel": "open311",
        "location": location,
        "description": f.get("description") or code,
        **({"grid_id": grid} if grid else {}),
        **({"reporter": reporter} if reporter else {}),
    }
    try:
        result = s.service.report(p, body)
    except DomainError as exc:
        fields = exc.details.get("fields", {})
        detail = "; ".join(f"{k}: {v}" for k, v in fields.items()) or exc.message
        raise Open311Error(status_of(exc) if status_of(exc) != 422 else 400, detail, fmt) from None
    return render(
        "requests",
        fmt,
        [
            {
                "service_request_id": str(result.issue.id),
                "service_notice": "received; the grid will triage it",
                "account_id": None,
            }
        ],
    )
