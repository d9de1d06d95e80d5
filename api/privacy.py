"""Erasure of a reporter's personal data on request (admins)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field, model_validator

from api.deps import Services, principal, services
from api.openapi import ERRORS
from domain.access import Capability, require
from domain.principals import Principal

router = APIRouter(prefix="/privacy", tags=["privacy"])


class Erasure(BaseModel):
    phone: Annotated[str, Field(max_length=40)] | None = None
    name: Annotated[str, Field(max_length=100)] | None = None
    email: Annotated[str, Field(max_length=200)] | None = None

    @model_validator(mode="after")
    def _one(self) -> Erasure:
        if not (self.phone or self.name or self.email):
            raise ValueError("give the phone, email or name the person reported with")
        return self


@router.post(
    "/erasures",
    responses=ERRORS,
    summary="Forget a reporter: their sealed contact details become unreadable",
)
def erase(
    body: Erasure, p: Principal = Depends(principal), s: Services = Depends(services)
) -> dict[str, Any]:
    require(p, Capability.ERASE_PERSONAL_DATA)
    erased = s.vault.erase(body.phone, body.name, body.email)
    return {"erased": erased}
