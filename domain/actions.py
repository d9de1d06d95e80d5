"""The data each action takes, as pydantic models (one per action).

The same models validate commands from every entry point (HTTP, command line,
workers) and describe the request bodies in the OpenAPI document.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any, Literal, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from domain.errors import ValidationFailed
from domain.geo import CRS
from domain.inputs import clean_text, past_time_problem

_Clean = AfterValidator(clean_text)  # no control characters but tab and newline
Text = Annotated[str, Field(min_length=1, max_length=4000), _Clean]
Short = Annotated[str, Field(min_length=1, max_length=200), _Clean]
Long = Annotated[str, Field(max_length=4000), _Clean]
Line = Annotated[str, Field(max_length=200), _Clean]


def _evidence_id(value: str) -> str:
    if not re.fullmatch(r"[0-9a-f]{64}", value):
        raise ValueError("an evidence id is the file's SHA-256 in hex")
    return value


EvidenceId = Annotated[str, AfterValidator(_evidence_id)]


class Strict(BaseModel):
    """The data of an action: unknown fields refused, text trimmed."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class Location(Strict):
    address: Annotated[str, Field(max_length=500), _Clean] | None = None
    lat: Annotated[float, Field(ge=-90, le=90)] | None = None
    lon: Annotated[float, Field(ge=-180, le=180)] | None = None
    crs: CRS = Field(CRS.WGS84, description="coordinate system of lat/lon; stored as WGS-84")

    @model_validator(mode="after")
    def _both_or_neither(self) -> Location:
        if (self.lat is None) != (self.lon is None):
            raise ValueError("lat and lon go together")
        return self


class Reporter(Strict):
    """Contact details of whoever raised the matter: personal data."""

    name: Annotated[str, Field(max_length=100), _Clean] | None = None
    phone: Annotated[str, Field(max_length=40), _Clean] | None = None
    email: Line | None = None
    principal_id: Line | None = None


class ActionData(Strict):
    note: Long | None = None


def _widget(name: str) -> dict[str, Any]:
    """How a form shows a field, where its type does not say (the console's forms are
    derived from these schemas: api/workflow.py)."""
    return {"x-widget": name}


class WithEvidence(ActionData):
    evidence: Annotated[
        list[EvidenceId], Field(max_length=20, json_schema_extra=_widget("photo"))
    ] = []


class Report(WithEvidence):
    grid_id: Short | None = None
    category: Short
    description: Text
    location: Location | None = None
    channel: Literal["patrol", "resident", "hotline", "open311"] | None = None
    reporter: Reporter | None = None
    occurred_at: datetime | None = None
    settled_on_spot: bool = False
    resolution: Text | None = None
    #: a 12345 ticket's own facts (intake only; domain.hotline.HotlineTicket)
    hotline: dict[str, Any] | None = None
    #: with `settled_on_spot`: the category's close conditions, confirmed
    checklist: Checklist | None = None
    media_url: Annotated[str, Field(max_length=2000, pattern=r"^https?://\S+$")] | None = Field(
        None, description="a picture of the matter kept elsewhere (Open311's media_url)"
    )

    @model_validator(mode="after")
    def _checks(self) -> Report:
        located = self.location is not None and (
            self.location.lat is not None or self.location.address
        )
        if self.grid_id is None and not located:
            raise ValueError(
                "give grid_id, or a location: lat/lon inside a grid's boundary or a known address"
            )
        if self.settled_on_spot and not self.resolution:
            raise ValueError("settled_on_spot needs a resolution")
        return self

    @field_validator("occurred_at")
    @classmethod
    def _a_past_time(cls, value: datetime | None) -> datetime | None:
        if value is not None and (problem := past_time_problem(value)):
            raise ValueError(problem)
        return value


class Coordinate(ActionData):
    lead_party: Short
    parties: Annotated[list[Short], Field(max_length=50, json_schema_extra=_widget("list"))] = []


class DepartmentTask(Strict):
    """A summoned department, with its task (分工) and whether it leads (牵头)."""

    department_id: Short
    task: Long | None = None
    lead: bool = False


class MeetAt(Location):
    """Where and when the departments report in (default: the issue's place)."""

    at: datetime | None = None


#: Each department an id (the old shape: the first leads, no tasks) or with its task.
Departments = Annotated[
    list[Short | DepartmentTask],
    Field(min_length=1, max_length=50, json_schema_extra=_widget("departments")),
]


class BlowWhistle(ActionData):
    departments: Departments
    grade: Literal["urgent", "standard", "crucial"] = "standard"
    meet_at: MeetAt | None = None


class Summon(ActionData):
    departments: Departments


class ReportIn(WithEvidence):
    location: Location | None = None


#: Each close condition (结案条件) of the issue's category, confirmed (catalogue).
Checklist = Annotated[dict[Short, bool], Field(max_length=50)]


class Resolve(WithEvidence):
    resolution: Text
    checklist: Checklist | None = None


class Verify(WithEvidence):
    checklist: Checklist | None = None


class Reasoned(ActionData):
    reason: Text


class RecordCallback(ActionData):
    contacted: bool
    solved: bool | None = None
    satisfaction: Literal["satisfied", "basically_satisfied", "dissatisfied"] | None = None
    comment: Long | None = None

    @model_validator(mode="after")
    def _contacted_needs_answers(self) -> RecordCallback:
        if self.contacted and (self.solved is None or self.satisfaction is None):
            raise ValueError("a callback that reached the resident records solved and satisfaction")
        if not self.contacted and (self.solved is not None or self.satisfaction is not None):
            raise ValueError("a callback that did not reach the resident records no answers")
        return self


class Merge(ActionData):
    duplicate_of: Annotated[Short, Field(json_schema_extra=_widget("issue"))]


class Transfer(ActionData):
    grid_id: Annotated[Short, Field(json_schema_extra=_widget("grid"))]
    reason: Text
    #: 分拨 of a ticket whose category the catalogue did not know: the category too
    category: Short | None = None


class Release(ActionData):
    department_id: Annotated[Short, Field(json_schema_extra=_widget("summoned"))]
    reason: Text


class Comment(ActionData):
    text: Text


class MissDeadline(ActionData):
    deadline: Short


Data = TypeVar("Data", bound=BaseModel)


def field_errors(exc: ValidationError) -> dict[str, str]:
    fields: dict[str, str] = {}
    for err in exc.errors():
        path = ".".join(str(p) for p in err["loc"]) or "body"
        fields.setdefault(path, err["msg"])
    return fields


def parse(schema: type[Data], data: Any) -> Data:
    """Validate an action's data; ValidationFailed lists every bad field."""
    if isinstance(data, schema):
        return data
    try:
        return schema.model_validate(data if data is not None else {})
    except ValidationError as exc:
        raise ValidationFailed(field_errors(exc)) from None
