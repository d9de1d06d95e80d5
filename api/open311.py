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
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel
from starlette.exceptions import HTTPException

from api import georeport
from api.answers import Open311Request, Open311Service, Open311ServiceDefinition
from api.deps import services
from domain.errors import DomainError
from domain.principals import Principal
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
    "discovery": ("discovery", None),
}
#: GeoReport v2: "start_date and end_date … may not span more than 90 days"
MAX_SPAN = timedelta(days=90)


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


def _format_of(path: str) -> str:
    return "xml" if path.endswith(".xml") else "json"


def install(app: Any) -> None:
    @app.exception_handler(Open311Error)
    async def _open311(request: Request, exc: Open311Error) -> Response:
        return render(
            "errors",
            exc.fmt if exc.fmt in FORMATS else "json",
            [{"code": exc.code, "description": exc.description}],
            exc.code,
        )

    # Under /open311 every error is GeoReport's: a format it does not serve (`.csv`), a
    # bad parameter, a path or method it does not have. Elsewhere, the service's own.
    validation = app.exception_handlers[RequestValidationError]
    http = app.exception_handlers[HTTPException]

    async def _invalid(request: Request, exc: Exception) -> Response:
        path = request.url.path
        if not path.startswith("/open311/"):
            return await validation(request, exc)
        problems = [
            f"{'.'.join(str(p) for p in e.get('loc', ())[1:])}: {e['msg']}"
            for e in getattr(exc, "errors", list)()
        ]
        if any(e.get("loc", ())[-1:] == ("fmt",) for e in getattr(exc, "errors", list)()):
            problems = ["the format must be json or xml"]
        return render(
            "errors", _format_of(path), [{"code": 400, "description": "; ".join(problems)}], 400
        )

    async def _http(request: Request, exc: Exception) -> Response:
        path = request.url.path
        if not path.startswith("/open311/") or not isinstance(exc, HTTPException):
            return await http(request, exc)
        answer = render(
            "errors",
            _format_of(path),
            [{"code": exc.status_code, "description": str(exc.detail)}],
            exc.status_code,
        )
        for k, v in (exc.headers or {}).items():
            answer.headers[k] = v
        return answer

    app.add_exception_handler(RequestValidationError, _invalid)
    app.add_exception_handler(HTTPException, _http)


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
            start = _date(q.get("start_date"), "start_date", fmt) or end - MAX_SPAN
            bounds = utc(start), utc(end)
        except (OverflowError, ValueError):
            raise Open311Error(400, "dates lie between the years 2 and 9998", fmt) from None
        if end - start > MAX_SPAN:
            raise Open311Error(400, "start_date and end_date may span at most 90 days", fmt)
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
