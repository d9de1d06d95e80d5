"""Issues: report, read (now, at a version, as of a time), act, history."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any
from uuid import NAMESPACE_URL, UUID, uuid5

from fastapi import APIRouter, Depends, Header, Path, Query, Request, Response
from fastapi.responses import JSONResponse

from api import conditional
from api.deps import Services, json_body, principal, services
from api.errors import ApiError
from api.openapi import ERRORS, REPORT_BODY, action_body
from api.schemas import History, IssueOut, issue_out
from domain.access import may_see_personal
from domain.declare import Action
from domain.errors import IssueNotFound, ValidationFailed, VersionConflict
from domain.issue import Issue
from domain.principals import Principal
from domain.service import Result
from domain.workflow import CLIENT_ACTIONS, DECLARED
from stores.idempotency import InFlight, Reservation, StoredAnswer

router = APIRouter(tags=["issues"])
#: An issue's body differs by who asks (allowed actions, contact details) under one
#: entity tag, its version: caches must keep one per caller and ask again.
PRIVATE = {"Vary": "Authorization", "Cache-Control": "private, no-cache"}
Act = Callable[[], Response]

IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        max_length=200,
        description="a retry with the same key and body returns the first answer",
    ),
]


def parse_issue_id(issue_id: str) -> UUID:
    try:
        return UUID(issue_id)
    except ValueError:
        raise IssueNotFound(f"no issue {issue_id}") from None


def shown(s: Services, issue: Issue, p: Principal, now: Issue | None = None) -> dict[str, Any]:
    """The issue as `p` sees it; contact details by who `p` is to the issue `now` (an
    older version replayed shows them only to those who may see them today)."""
    personal = may_see_personal(p, now or issue, s.service.org())
    reporter = s.service.vault.open(issue.reporter) if personal else None
    out = issue_out(
        issue,
        s.service.allowed_actions(issue, p),
        s.service.clock(),
        show_personal=personal,
        reporter=reporter,
    )
    return out


def answer(s: Services, result: Result, p: Principal, status: int) -> Response:
    return Response(
        IssueOut.model_validate(shown(s, result.issue, p)).model_dump_json(),
        status,
        {
            "ETag": f'"{result.issue.version}"',
            **PRIVATE,
            "X-Log-Position": str(result.position),
            **({"Location": f"/issues/{result.issue.id}"} if status == 201 else {}),
        },
        "application/json",
    )


def request_hash(method: str, path: str, body: Any) -> str:
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(f"{method} {path}\n{canonical}".encode()).hexdigest()


def idempotent(
    s: Services, p: Principal, key: str | None, request: Request, body: Any, run: Act
) -> Response:
    """`run()` once per `Idempotency-Key`: the key is reserved first, so of requests sent
    together with it one acts; the others get 409 `request_in_progress` while it does,
    its answer after, or 422 if they carry another body."""
    if key is None:
        return run()
    digest = request_hash(request.method, request.url.path, body)
    held = s.idempotency.reserve(p.id, key, digest)
    if not isinstance(held, Reservation):
        if held.request_hash != digest:
            raise ApiError(
                422,
                "idempotency_key_reused",
                "this Idempotency-Key was used with a different request",
            )
        if isinstance(held, InFlight):
            raise ApiError(
                409,
                "request_in_progress",
                "a request with this Idempotency-Key is being handled; retry shortly",
                {"Retry-After": "1"},
            )
        return JSONResponse(held.body, held.status, held.headers)
    kept = False
    try:
        resp = run()
        headers = {
            k: resp.headers[k] for k in ("etag", "x-log-position", "location") if k in resp.headers
        }
        first = StoredAnswer(digest, resp.status_code, json.loads(bytes(resp.body)), headers)
        s.idempotency.complete(held, first)
        kept = True
        return resp
    finally:
        if not kept:  # refused or failed: a retry may act
            s.idempotency.release(held)


@router.post(
    "/issues",
    status_code=201,
    response_model=IssueOut,
    responses={**ERRORS, 201: {"description": "the issue as reported"}},
    openapi_extra=REPORT_BODY,
    summary="Report an issue (`report`)",
)
def report(
    request: Request,
    body: Any = Depends(json_body),
    p: Principal = Depends(principal),
    s: Services = Depends(services),
    idempotency_key: IdempotencyKey = None,
) -> Response:
    issue_id = (
        uuid5(NAMESPACE_URL, f"gridflow:report:{p.id}:{idempotency_key}")
        if idempotency_key
        else None
    )

    def run() -> Response:
        try:
            result = s.service.report(p, body, issue_id=issue_id)
        except VersionConflict:
            if issue_id is None:
                raise
            # Recorded before a crash, answer never kept: answer from the log.
            result = s.service.as_reported(issue_id)
        return answer(s, result, p, 201)

    return idempotent(s, p, idempotency_key, request, body, run)


@router.get(
    "/issues/{issue_id}",
    response_model=IssueOut,
    responses=ERRORS,
    summary="The issue now, or as it was at a version or a time",
)
def read(
    issue_id: str,
    p: Principal = Depends(principal),
    s: Services = Depends(services),
    version: Annotated[int | None, Query(ge=1, le=1_000_000)] = None,
    as_of: Annotated[datetime | None, Query(description="RFC 3339 with offset")] = None,
    if_none_match: Annotated[str | None, Header(alias="If-None-Match")] = None,
) -> Response:
    if version is not None and as_of is not None:
        raise ValidationFailed({"version": "give version or as_of, not both"})
    if as_of is not None and as_of.tzinfo is None:
        raise ValidationFailed({"as_of": "needs a UTC offset"})
    uid = parse_issue_id(issue_id)
    issue = s.service.get(uid, p, version=version, as_of=as_of)
    tag = {"ETag": f'"{issue.version}"', **PRIVATE}
    unchanged = if_none_match is not None and conditional.parse(
        if_none_match, "If-None-Match"
    ).matches_weakly(str(issue.version))
    if unchanged:
        return Response(status_code=304, headers=tag)
    past = version is not None or as_of is not None
    out = shown(s, issue, p, s.service.get(uid) if past else None)
    if version is None and as_of is None:  # likely duplicates, as the views see them now
        out["merge_candidates"] = s.views.merge_candidates(str(issue.id))
    return Response(
        IssueOut.model_validate(out).model_dump_json(), headers=tag, media_type="application/json"
    )


def expected_version(if_match: str | None, current: Callable[[], int]) -> int | None:
    """The version `If-Match` lets the action apply to (None: any). Of a list, the one
    the issue is at; no strong tag naming it (a weak tag never matches): 412."""
    if if_match is None:
        return None
    condition = conditional.parse(if_match, "If-Match")
    if condition.any:
        return None
    versions = condition.versions()
    if len(versions) == 1:
        return next(iter(versions))
    now = current()
    if now in versions:
        return now
    raise VersionConflict(
        f"the issue is at version {now}; If-Match names none it matches strongly",
        current_version=now,
        stale=True,
    )


ACTION_RESPONSES: dict[int | str, dict[str, Any]] = {
    **ERRORS,
    412: {"model": ERRORS[409]["model"], "description": "`If-Match` names an older version"},
}


# Every action has its own documented operation (below); this route takes them all,
# and answers 404 `unknown_action` for names the workflow does not have.
@router.post(
    "/issues/{issue_id}/actions/{action}",
    response_model=IssueOut,
    responses=ACTION_RESPONSES,
    include_in_schema=False,
)
def act(
    request: Request,
    issue_id: str,
    action: Annotated[str, Path(description=", ".join(CLIENT_ACTIONS))],
    body: Any = Depends(json_body),
    p: Principal = Depends(principal),
    s: Services = Depends(services),
    if_match: Annotated[str | None, Header(alias="If-Match")] = None,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    uid = parse_issue_id(issue_id)
    request_key = f"{p.id}:{idempotency_key}" if idempotency_key else None

    def run() -> Response:
        result = s.service.act(
            uid,
            action,
            p,
            body,
            expected_version=expected_version(if_match, lambda: s.service.get(uid, p).version),
            client=True,
            request_key=request_key,
        )
        return answer(s, result, p, 200)

    return idempotent(s, p, idempotency_key, request, body, run)


def _take(action: str) -> Callable[..., Response]:
    def take(
        request: Request,
        issue_id: str,
        body: Any = Depends(json_body),
        p: Principal = Depends(principal),
        s: Services = Depends(services),
        if_match: Annotated[str | None, Header(alias="If-Match")] = None,
        idempotency_key: IdempotencyKey = None,
    ) -> Response:
        return act(request, issue_id, action, body, p, s, if_match, idempotency_key)

    take.__name__ = action
    return take


def add_action_routes(target: APIRouter, declared: tuple[Action, ...]) -> None:
    """One documented operation per client action: its own path, operation id, summary
    and typed body (all from its declaration)."""
    for a in declared:
        if a.client:
            target.add_api_route(
                f"/issues/{{issue_id}}/actions/{a.name}",
                _take(a.name),
                methods=["POST"],
                response_model=IssueOut,
                responses=ACTION_RESPONSES,
                openapi_extra=action_body(a),
                summary=f"{a.labels.en} ({a.labels.zh})",
                operation_id=a.name,
            )


add_action_routes(router, DECLARED)


@router.get(
    "/issues/{issue_id}/history",
    response_model=History,
    responses=ERRORS,
    summary="Every event of the issue, in order, from the log",
)
def history(
    issue_id: str, p: Principal = Depends(principal), s: Services = Depends(services)
) -> History:
    uid = parse_issue_id(issue_id)
    return History.model_validate({"issue_id": str(uid), "events": s.service.history(uid, p)})
