"""`GET /workflow`: the declared workflow as clients need it — each action's labels and
its form, derived from its data schema (the console builds its forms from this)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel

from domain.declare import Action
from domain.states import STATES, TIERS
from domain.workflow import DECLARED

router = APIRouter(tags=["workflow"])

#: Fields every form shows on its own (the note), or that no form asks for.
_NOT_IN_FORMS = {"note", "location"}


class FormField(BaseModel):
    name: str
    #: text, textarea, checkbox, yesno (a yes/no answer nobody gave yet), select, list,
    #: number (an integer within minimum..maximum), datetime, checklist (an object of
    #: booleans: one checkbox per key the issue offers), or a widget: departments, photo, …
    type: str
    required: bool
    options: list[str] | None = None
    #: the bounds of a number
    minimum: int | None = None
    maximum: int | None = None
    #: what the form shows chosen at first; None: nothing (the person chooses)
    default: Any = None


class ActionForm(BaseModel):
    name: str
    labels: dict[str, str]
    fields: list[FormField]


class Workflow(BaseModel):
    states: list[str]
    tiers: list[str]
    actions: list[ActionForm]


def form(a: Action) -> list[FormField]:
    """The form of an action, from its data's JSON schema (widgets where declared)."""
    schema = a.data.model_json_schema()
    required = set(schema.get("required", []))
    fields = []
    for name, prop in schema.get("properties", {}).items():
        if name in _NOT_IN_FORMS or prop.get("deprecated"):
            continue  # old shapes stay accepted, but no form asks for them
        variant = next((v for v in prop.get("anyOf", [prop]) if v.get("type") != "null"), prop)
        options = None
        default = prop.get("default")
        if "x-widget" in prop:
            kind = prop["x-widget"]
        elif "enum" in variant:
            kind = "select"
            options = sorted(variant["enum"], key=lambda o: o != default)
        elif variant.get("type") == "boolean":
            kind = "checkbox" if default is not None else "yesno"
            options = None if default is not None else ["yes", "no"]
        elif variant.get("type") == "integer":
            kind = "number"
        elif variant.get("type") == "string" and variant.get("format") == "date-time":
            kind = "datetime"
        elif variant.get("type") == "string":
            kind = "textarea" if variant.get("maxLength", 0) > 200 else "text"
        elif variant.get("type") == "object" and variant.get("additionalProperties") == {
            "type": "boolean"
        }:
            kind = "checklist"
        else:
            continue  # any other object: no form asks for it
        fields.append(
            FormField(
                name=name,
                type=kind,
                required=name in required,
                options=options,
                default=default if kind in ("select", "checkbox") else None,
                minimum=variant.get("minimum") if kind == "number" else None,
                maximum=variant.get("maximum") if kind == "number" else None,
            )
        )
    return sorted(fields, key=lambda f: f.type == "photo")  # the photo last, as on paper


def workflow(declared: tuple[Action, ...] = DECLARED) -> Workflow:
    return Workflow(
        states=[str(s) for s in STATES],
        tiers=[str(t) for t in TIERS],
        actions=[
            ActionForm(name=a.name, labels={"zh": a.labels.zh, "en": a.labels.en}, fields=form(a))
            for a in declared
        ],
    )


@router.get("/workflow", response_model=Workflow, summary="The workflow's actions and their forms")
def get_workflow() -> Any:
    return _WORKFLOW


_WORKFLOW = workflow()
