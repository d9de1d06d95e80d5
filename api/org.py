"""The organisation: nodes, departments, categories."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel

from api.answers import OrgLoaded
from api.deps import Services, json_body, principal, services
from api.errors import ApiError
from api.openapi import ERRORS
from domain.access import Capability, require
from domain.principals import Principal

router = APIRouter(prefix="/org", tags=["organisation"])


class Node(BaseModel):
    id: str
    name: str
    kind: Literal["city", "district", "street", "community", "grid"]
    parent: str | None
    children: list[str] = []
    boundary: dict[str, Any] | None = None


class OrgDepartment(BaseModel):
    id: str
    name: str
    node: str | None


class Category(BaseModel):
    code: str
    name: str
    limits: dict[str, str]


def _node(s: Services, node: dict[str, Any]) -> Node:
    org = s.service.org()
    children = [n for n, v in org.nodes.items() if v["parent"] == node["id"]]
    fields = {k: node.get(k) for k in ("id", "name", "kind", "parent", "boundary")}
    return Node.model_validate({**fields, "children": children})


@router.get("/nodes", response_model=list[Node], responses=ERRORS)
def nodes(
    p: Principal = Depends(principal),
    s: Services = Depends(services),
    kind: Annotated[
        Literal["city", "district", "street", "community", "grid"] | None, Query()
    ] = None,
    parent: Annotated[str | None, Query(max_length=200)] = None,
) -> list[Node]:
    org = s.service.org()
    return [
        _node(s, n)
        for n in org.nodes.values()
        if (kind is None or n["kind"] == kind) and (parent is None or n["parent"] == parent)
    ]


@router.get("/nodes/{node_id}", response_model=Node, responses=ERRORS)
def node(node_id: str, p: Principal = Depends(principal), s: Services = Depends(services)) -> Node:
    found = s.service.org().nodes.get(node_id)
    if found is None:
        raise ApiError(404, "node_not_found", f"no node {node_id}")
    return _node(s, found)


@router.get("/departments", response_model=list[OrgDepartment], responses=ERRORS)
def departments(p: Principal = Depends(principal), s: Services = Depends(services)) -> list[Any]:
    return list(s.service.org().departments.values())


@router.get("/categories", response_model=list[Category], responses=ERRORS)
def categories(p: Principal = Depends(principal), s: Services = Depends(services)) -> list[Any]:
    return list(s.service.org().categories.values())


@router.put(
    "",
    response_model=OrgLoaded,
    responses=ERRORS,
    summary="Load or update the organisation (admin)",
)
def load(
    body: Any = Depends(json_body),
    p: Principal = Depends(principal),
    s: Services = Depends(services),
) -> dict[str, Any]:
    require(p, Capability.MANAGE_ORGANISATION)
    position = s.service.load_org(body if body is not None else {})
    return {"changed": position is not None, "position": position}
