"""Typed answers for the OpenAPI document (and so for generated clients): the
organisation file, the follow-up board, the audit log's proofs, Open311's documents.
Each keeps fields it does not name (`extra="allow"`), so a field added later reaches
clients before its model does."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class Open(BaseModel):
    model_config = ConfigDict(extra="allow")


# -- organisation ------------------------------------------------------------------------


class OrgFileNode(Open):
    id: str
    name: str
    kind: Literal["city", "district", "street", "community", "grid"]
    parent: str | None = None
    boundary: dict[str, Any] | None = Field(None, description="GeoJSON Polygon (WGS-84)")
    addresses: list[str] | None = Field(None, description="addresses that resolve to this grid")


class OrgFileDepartment(Open):
    id: str
    name: str
    node: str | None = None


class OrgFileCategory(Open):
    code: str
    name: str
    limits: dict[str, str] = Field(default_factory=dict, examples=[{"small_resolution": "4h"}])


class OrganisationFile(Open):
    """The organisation as `gridflow org load` takes it (docs: the HTTP contract)."""

    nodes: list[OrgFileNode]
    departments: list[OrgFileDepartment] = []
    categories: list[OrgFileCategory] = []


class OrgLoaded(Open):
    changed: bool = Field(description="false when the file changed nothing")
    position: int | None = Field(description="the log position of the change, if any")


# -- supervision -------------------------------------------------------------------------


class BoardItem(Open):
    id: str
    state: str
    tier: str | None
    grid_id: str
    category: str
    description: str
    reported_at: str
    urges: int
    flagged: bool
    age_seconds: int
    departments: list[dict[str, Any]]
    open_deadlines: list[dict[str, Any]]


class Board(Open):
    """The city follow-up board (市级跟踪督办)."""

    node: str
    items: list[BoardItem]
    next_cursor: str | None = Field(None, description="the next page's cursor (with `limit`)")


class Me(Open):
    id: str
    role: str
    scope: str
    scope_name: str | None = None
    scope_kind: str | None = None


class Readiness(Open):
    ready: bool = Field(description="false while the store does not answer or the views stall")
    checks: dict[str, Any] = Field(
        description="each check by name: `store` (`ok`, `head`), the views' lag "
        "(`position`, `head`, `lag`, `stalled_seconds`, `ok`), `calendar` (the holiday "
        "data's reach)"
    )


# -- intake ------------------------------------------------------------------------------


class ImportRow(Open):
    row: int = Field(description="the row's number in the file, from 1")
    ticket_no: str | None
    status: Literal["created", "duplicate", "merged", "consult", "error", "recorded"]
    issue_id: str | None = None
    repeat_of: str | None = Field(None, description="the closed issue a repeat reopened")
    same_as_row: int | None = Field(None, description="the earlier row this one repeats")
    code: str | None = None
    reason: str | None = None


class ImportAnswer(Open):
    counts: dict[str, int] = Field(description="rows by status")
    position: int | None = Field(description="the log position of the last row recorded")
    rows: list[ImportRow]


class HotlineReply(Open):
    position: int
    ticket_no: str
    issue_id: str
    result: str
    text: str | None
    at: str
    by: dict[str, Any]


class HotlineReplies(Open):
    items: list[HotlineReply]
    next: int = Field(description="the position to ask from next (`since`)")


# -- audit -------------------------------------------------------------------------------


class Verification(Open):
    ok: bool
    checked: int
    first_bad_position: int | None
    head: str | None
    tree_size: int
    missing_checkpoint: int | None


class Checkpoint(Open):
    tree_size: int
    root_hash: str = Field(description="base64")
    time: str
    note: str = Field(description="the signed note (C2SP tlog-checkpoint)")


class Checkpoints(Open):
    format: str
    origin: str
    public_key: str
    verifier_key: str
    checkpoints: list[Checkpoint]


class InclusionProof(Open):
    position: int
    leaf_index: int
    tree_size: int
    leaf_hash: str
    root_hash: str = Field(description="hex: the root of the tree of `tree_size` entries")
    audit_path: list[str]
    leaf_hash_base64: str
    root_hash_base64: str
    audit_path_base64: list[str]


class ConsistencyProof(Open):
    from_: int = Field(alias="from")
    to: int
    old_root: str
    new_root: str
    proof: list[str]
    old_root_base64: str
    new_root_base64: str
    proof_base64: list[str]


class Leaf(Open):
    index: int
    position: int
    leaf_input: str = Field(description="base64: the bytes hashed as SHA-256(0x00 || input)")
    leaf_hash: str


class Leaves(Open):
    tree_size: int
    items: list[Leaf]
    next_start: int | None


# -- Open311 GeoReport v2 ----------------------------------------------------------------


class Open311Service(Open):
    service_code: str
    service_name: str
    description: str
    metadata: bool
    type: str
    keywords: str
    group: str


class Open311ServiceDefinition(Open):
    service_code: str
    attributes: list[dict[str, Any]]


class Open311Request(Open):
    service_request_id: str
    status: Literal["open", "closed"]
    status_notes: str | None = None
    service_name: str | None = None
    service_code: str
    description: str | None = None
    agency_responsible: str | None = None
    service_notice: str | None = None
    requested_datetime: str | None = None
    updated_datetime: str | None = None
    expected_datetime: str | None = None
    address: str | None = None
    address_id: str | None = None
    zipcode: str | None = None
    lat: float | None = None
    long: float | None = None
    media_url: str | None = None


class Open311Created(Open):
    service_request_id: str | None = None
    token: str | None = None
    service_notice: str | None = None
    account_id: str | None = None


class Open311RequestForm(BaseModel):
    """POST requests: form-encoded, as GeoReport v2 says (`api_key` may also be a query
    parameter)."""

    api_key: str | None = Field(None, description="a resident's or an intake gateway's token")
    service_code: str
    lat: float | None = None
    long: float | None = None
    address_string: str | None = None
    address_id: str | None = None
    email: str | None = None
    device_id: str | None = None
    account_id: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    phone: str | None = None
    description: str | None = None
    media_url: str | None = None
