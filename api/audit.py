"""Audit: the whole log with leaf hashes, chain verification, signed checkpoints,
Merkle proofs (docs/audit.md). For auditors, city supervisors and admins."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response

from api import paging
from api.answers import (
    Checkpoints,
    ConsistencyProof,
    InclusionProof,
    Leaves,
    Verification,
)
from api.deps import MAX_POSITION, Services, principal, services, utc_param
from api.errors import ApiError
from api.openapi import ERRORS
from domain.access import Capability, may_read_stored_events, require
from domain.errors import ValidationFailed
from domain.principals import Principal
from projections import audit_read

router = APIRouter(prefix="/audit", tags=["audit"])


def auditor(p: Principal = Depends(principal), s: Services = Depends(services)) -> Services:
    require(p, Capability.AUDIT)
    return s


@router.get("/events", responses=ERRORS, summary="The log in order, with leaf hashes")
def events(
    request: Request,
    response: Response,
    s: Services = Depends(auditor),
    p: Principal = Depends(principal),
    after: Annotated[
        int | None, Query(ge=0, le=MAX_POSITION, description="the old cursor: a log position")
    ] = None,
    cursor: Annotated[str | None, Query(max_length=200, description="`next_cursor`")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    actor: Annotated[str | None, Query(max_length=200)] = None,
    node: Annotated[str | None, Query(max_length=200)] = None,
    department: Annotated[str | None, Query(max_length=200)] = None,
    issue: Annotated[str | None, Query(max_length=64)] = None,
    from_: Annotated[datetime | None, Query(alias="from")] = None,
    to: datetime | None = None,
) -> dict[str, Any]:
    grids = None
    if node is not None:
        org = s.service.org()
        if node not in org.nodes:
            raise ValidationFailed({"node": f"no node {node!r}"})
        grids = sorted(g for g in org.grids() if org.covers(node, g))
    if after is not None and cursor is not None:
        raise ValidationFailed({"cursor": "give cursor or after, not both"})
    start = after or 0
    if cursor is not None:
        (position,) = paging.decode("audit-events", cursor)
        if not isinstance(position, int):
            raise ValidationFailed({"cursor": "not a cursor of this list"})
        start = position
    items = audit_read.trail(
        s.audit,
        after=start,
        limit=limit,
        actor=actor,
        grids=grids,
        department=department,
        issue=issue,
        start=utc_param(from_, "from"),
        end=utc_param(to, "to"),
        stored=may_read_stored_events(p),
    )
    next_after = items[-1]["position"] if len(items) == limit else None
    next_cursor = None if next_after is None else paging.encode("audit-events", [next_after])
    paging.link_next(request, response, next_cursor)
    return {"items": items, "next_cursor": next_cursor, "next_after": next_after}


@router.get(
    "/verify",
    response_model=Verification,
    responses=ERRORS,
    summary="Recompute the chain over the stored log",
)
def verify(s: Services = Depends(auditor)) -> dict[str, Any]:
    return audit_read.verify(s.audit)


@router.get(
    "/checkpoints",
    response_model=Checkpoints,
    responses=ERRORS,
    summary="Signed checkpoints and the public key",
)
def checkpoints(s: Services = Depends(auditor)) -> dict[str, Any]:
    return audit_read.checkpoints(s.audit)


@router.get(
    "/leaves",
    response_model=Leaves,
    responses=ERRORS,
    summary="Leaves of the Merkle tree with their input bytes, for recomputing roots",
)
def leaves(
    p: Principal = Depends(principal),
    s: Services = Depends(auditor),
    start: Annotated[int, Query(ge=0, le=MAX_POSITION)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> dict[str, Any]:
    require(p, Capability.READ_STORED_EVENTS)  # the bytes hold reporters' sealed details
    return audit_read.leaves(s.audit, start, limit)


@router.get(
    "/proofs/inclusion",
    response_model=InclusionProof,
    responses=ERRORS,
    summary="Merkle inclusion proof (RFC 6962)",
)
def inclusion(
    position: Annotated[int, Query(ge=1, le=MAX_POSITION)],
    tree_size: Annotated[int, Query(ge=1, le=MAX_POSITION)],
    s: Services = Depends(auditor),
) -> dict[str, Any]:
    try:
        return audit_read.inclusion(s.audit, position, tree_size)
    except LookupError as exc:
        raise ApiError(404, "not_in_tree", str(exc)) from None


@router.get(
    "/proofs/consistency",
    response_model=ConsistencyProof,
    responses=ERRORS,
    summary="Merkle consistency proof between two tree sizes (RFC 6962)",
)
def consistency(
    from_: Annotated[int, Query(alias="from", ge=1, le=MAX_POSITION)],
    to: Annotated[int, Query(ge=1, le=MAX_POSITION)],
    s: Services = Depends(auditor),
) -> dict[str, Any]:
    try:
        return audit_read.consistency(s.audit, from_, to)
    except LookupError as exc:
        raise ApiError(404, "not_in_tree", str(exc)) from None
