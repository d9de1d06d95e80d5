"""Open311 GeoReport v2 at /open311/v2, in JSON and XML, as the specification says.

Services are the categories; requests are issues (channel `open311`); `api_key` is the
token of a resident or intake principal to post, and of any principal to read. Anyone
reads the requests filed through Open311, coarsened (domain.public); with an `api_key`,
also whole what that principal may see (docs/open311.md). Lists come from the views.
Errors use GeoReport's own format:
`[{"code": 400, "description": "…"}]` / `<errors><error>…</error></errors>`.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from typing import Any, Literal
from uuid import UUID

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel
from starlette.exceptions import HTTPException

from api import georeport
from api.answers import Open311Created, Open311Request, Open311Service, Open311ServiceDefinition
from api.deps import services
from api.errors import status_of
from domain.errors import DomainError
from domain.principals import Principal, Role
from domain.public import is_public
from projections.open311 import RequestQuery
from projections.records import utc

router = APIRouter(prefix="/open311/v2", tags=["open311"])
FORMATS = ("json", "xml")
Fmt = Literal["json", "xml"]
#: The most ids one `service_request_id` list may name.
MAX_REQUEST_IDS = 100
#: Characters XML 1.0 has no place for, even escaped (most C0 controls, lone
#: surrogates, U+FFFE/U+FFFF): old events may hold them; the feed shows U+FFFD instead.
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


class GeoReportError(BaseModel):
    code: int
    description: str


#: An XML answer, documented as XML: the root element GeoReport v2 names.
def _xml_doc(root: str) -> dict[str, Any]:
    return {"schema": {"type": "string", "xml": {"name": root}, "description": f"<{root}>…"}}


_ERR = {
    "model": list[GeoReportError],
    "description": "GeoReport v2 error list",
    "content": {"text/xml": _xml_doc("errors")},
}


def docs(model: Any, root: str, status: int = 200) -> dict[int | str, dict[str, Any]]:
    """Answers of one GeoReport call: `model` as JSON, `<root>` as XML, the error list."""
    ok = {
        "model": model,
        "description": "JSON (`.json`) or XML (`.xml`), as GeoReport v2 specifies",
        "content": {"text/xml": _xml_doc(root)},
    }
    return {status: ok, 400: _ERR, 403: _ERR, 404: _ERR}


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
            text = str(value).lower() if isinstance(value, bool) else str(value)
            parent.text = _NOT_XML.sub("\ufffd", text)

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


@router.get(
    "/services.{fmt}",
    responses=docs(list[Open311Service], "services"),
    summary="GeoReport: the service list (categories)",
)
def service_list(request: Request, fmt: Fmt) -> Response:
    cats = services(request).service.org().categories.values()
    return render("services", fmt, [_service(c) for c in cats])


@router.get(
    "/services/{code}.{fmt}",
    responses=docs(Open311ServiceDefinition, "service_definition"),
    summary="GeoReport: a service definition",
)
def service_definition(request: Request, code: str, fmt: Fmt) -> Response:
    if code not in services(request).service.org().categories:
        raise Open311Error(404, f"no service {code}", fmt)
    return render("definition", fmt, {"service_code": code, "attributes": []})


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


def _reader(request: Request, fmt: str) -> Principal | None:
    """Who reads: anyone, or with `api_key` the principal of that token."""
    key = request.query_params.get("api_key")
    if not key:
        return None
    p = services(request).tokens.principal(key)
    if p is None:
        raise Open311Error(403, "api_key is invalid", fmt)
    return p


def _request_ids(raw: str, fmt: str) -> list[str]:
    ids = [x.strip() for x in raw.split(",") if x.strip()]
    if len(ids) > MAX_REQUEST_IDS:
        raise Open311Error(
            400, f"service_request_id names at most {MAX_REQUEST_IDS} requests at once", fmt
        )
    valid = []
    for x in ids:
        try:
            valid.append(str(UUID(x)))
        except ValueError:
            continue  # no such request: nothing to list
    return valid


@router.get(
    "/requests.{fmt}",
    responses=docs(list[Open311Request], "service_requests"),
    summary="GeoReport: service requests (anyone: Open311 requests, coarsened; "
    "with api_key: also what that principal may see)",
)
def request_list(request: Request, fmt: Fmt) -> Response:
    q = request.query_params
    s = services(request)
    who = _reader(request, fmt)
    if q.get("service_request_id"):
        query = RequestQuery(ids=_request_ids(q["service_request_id"], fmt))
    else:
        statuses = set(q["status"].split(",")) if q.get("status") else None
        if statuses and not statuses <= {"open", "closed"}:
            raise Open311Error(400, "status is open or closed", fmt)
        end = _date(q.get("end_date"), "end_date", fmt) or s.service.clock()
        try:
            start = _date(q.get("start_date"), "start_date", fmt) or end - timedelta(days=90)
            bounds = utc(start), utc(end)
        except (OverflowError, ValueError):
            raise Open311Error(400, "dates lie between the years 2 and 9998", fmt) from None
        query = RequestQuery(
            categories=set(q["service_code"].split(",")) if q.get("service_code") else None,
            is_open=None if statuses is None or len(statuses) == 2 else "open" in statuses,
            reported_from=bounds[0],
            reported_to=bounds[1],
        )
    org = s.service.org()
    rows = s.views.open311_requests(who, query)
    items = [georeport.request(georeport.from_view(r), org, r["whole"]) for r in rows]
    return render("requests", fmt, items)


@router.get(
    "/requests/{request_id}.{fmt}",
    responses=docs(list[Open311Request], "service_requests"),
    summary="GeoReport: one service request",
)
def request_one(request: Request, request_id: str, fmt: Fmt) -> Response:
    svc = services(request).service
    who = _reader(request, fmt)
    try:
        issue = svc.get(UUID(request_id))
    except (ValueError, DomainError):
        raise Open311Error(404, f"no service request {request_id}", fmt) from None
    whole = who is not None and svc.may_see(who, issue)
    if not (whole or is_public(issue.channel)):
        raise Open311Error(404, f"no service request {request_id}", fmt)
    shown = georeport.request(georeport.from_issue(issue), svc.org(), whole)
    return render("requests", fmt, [shown])


@router.post(
    "/requests.{fmt}",
    responses=docs(list[Open311Created], "service_requests"),
    summary="GeoReport: create a service request (form-encoded)",
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
    key = f.get("api_key") or request.query_params.get("api_key")
    p = s.tokens.principal(key) if key else None
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
