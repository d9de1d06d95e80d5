"""Webhook subscriptions: who is told what, and every delivery attempt."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, Field, HttpUrl, field_validator

from api.deps import Services, principal, services
from api.errors import ApiError
from api.openapi import ERRORS
from domain.access import check_subscription
from domain.principals import Principal, Role
from projections.webhooks import WHSEC, whsec_key

router = APIRouter(prefix="/subscriptions", tags=["notifications"])


class Filter(BaseModel):
    model_config = ConfigDict(extra="forbid")
    nodes: Annotated[list[str], Field(max_length=100)] = []
    departments: Annotated[list[str], Field(max_length=100)] = []
    actions: Annotated[list[str], Field(max_length=50)] = []
    deadline_warnings: bool = False
    hotline_replies: bool = Field(
        default=False,
        description="results back to the 12345 hotline (回单): a delivery of kind "
        "`hotline_reply` when a hotline issue closes or is returned",
    )


class NewSubscription(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url: HttpUrl
    secret: Annotated[
        str,
        Field(
            min_length=16,
            max_length=200,
            description="the HMAC-SHA256 key of the signatures: any string, or a Standard "
            "Webhooks secret `whsec_<base64 of 24 to 64 bytes>` (see docs/notifications.md)",
        ),
    ]
    filter: Filter = Filter()

    @field_validator("secret")
    @classmethod
    def _whsec(cls, secret: str) -> str:
        if secret.startswith(WHSEC) and whsec_key(secret) is None:
            raise ValueError("a whsec_ secret is whsec_ and the base64 of 24 to 64 bytes")
        return secret


@router.post("", status_code=201, responses=ERRORS, summary="Subscribe a webhook")
def subscribe(
    body: NewSubscription, p: Principal = Depends(principal), s: Services = Depends(services)
) -> dict[str, Any]:
    f = body.filter
    refused = s.outbox.targets.check_url(str(body.url))
    check_subscription(
        p,
        s.service.org(),
        f.actions,
        f.nodes,
        f.departments,
        {"url": refused} if refused is not None else None,
    )
    return s.outbox.subscribe(p.id, str(body.url), body.secret, f.model_dump())


def _owner(p: Principal) -> str | None:
    return None if p.role is Role.ADMIN else p.id


@router.get("", responses=ERRORS, summary="Your subscriptions")
def listing(p: Principal = Depends(principal), s: Services = Depends(services)) -> dict[str, Any]:
    return {"items": s.outbox.subscriptions(_owner(p))}


def _mine(s: Services, p: Principal, sub_id: str) -> None:
    if not any(x["id"] == sub_id for x in s.outbox.subscriptions(_owner(p))):
        raise ApiError(404, "subscription_not_found", f"no subscription {sub_id}")


@router.delete("/{sub_id}", status_code=204, responses=ERRORS, summary="Unsubscribe")
def unsubscribe(
    sub_id: str, p: Principal = Depends(principal), s: Services = Depends(services)
) -> None:
    _mine(s, p, sub_id)
    s.outbox.unsubscribe(sub_id, _owner(p))


@router.get(
    "/{sub_id}/deliveries",
    responses=ERRORS,
    summary="Every delivery and each attempt, newest first",
)
def deliveries(
    sub_id: str, p: Principal = Depends(principal), s: Services = Depends(services)
) -> dict[str, Any]:
    _mine(s, p, sub_id)
    return {"items": s.outbox.deliveries(sub_id)}
