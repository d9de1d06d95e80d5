"""OpenAPI pieces: each action's request body from its declaration (schema and example),
and the contract's error responses."""

from __future__ import annotations

from typing import Any

from pydantic import TypeAdapter

from api.schemas import Error
from domain.actions import Report
from domain.declare import Action

ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": Error, "description": "`malformed_request`: the body is not JSON"},
    401: {"model": Error, "description": "`unauthenticated`"},
    403: {"model": Error, "description": "`forbidden_role` / `outside_jurisdiction`"},
    404: {"model": Error, "description": "`issue_not_found` / `unknown_action`"},
    409: {
        "model": Error,
        "description": "`transition_not_allowed` / `version_conflict` / `request_in_progress` "
        "(a request with the same `Idempotency-Key` is being handled; with Retry-After)",
    },
    413: {"model": Error, "description": "`payload_too_large`: the body is over its limit"},
    422: {"model": Error, "description": "`validation_failed`: `details.fields` per field"},
    429: {"model": Error, "description": "`rate_limited`: too many requests, with Retry-After"},
    503: {"model": Error, "description": "`store_unavailable` / `views_behind`, with Retry-After"},
}


def _schema(model: Any) -> dict[str, Any]:
    schema: dict[str, Any] = TypeAdapter(model).json_schema(
        ref_template="#/components/schemas/{model}"
    )
    defs = schema.pop("$defs", {})
    return {**schema, "$defs": defs} if defs else schema


def _inline(schema: dict[str, Any]) -> dict[str, Any]:
    """Resolve local `$defs` so the body schema stands alone in the document."""
    defs = schema.pop("$defs", {})

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref", "")
            if ref.startswith("#/components/schemas/") and ref.split("/")[-1] in defs:
                return walk(dict(defs[ref.split("/")[-1]]))
            return {k: walk(v) for k, v in node.items()}
        if isinstance(node, list):
            return [walk(v) for v in node]
        return node

    out: dict[str, Any] = walk(schema)
    return out


def body_title(action: str) -> str:
    """`blow_whistle` → `BlowWhistleBody`: the class name a generated client gives it."""
    return "".join(part.title() for part in action.split("_")) + "Body"


REPORT_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {**_inline(_schema(Report)), "title": body_title("report")},
                "examples": {
                    "patrol": {
                        "value": {
                            "grid_id": "huancui-s1-c1-g1",
                            "category": "sanitation",
                            "description": "垃圾桶满溢 Overflowing bins",
                        }
                    },
                    "settled_on_spot": {
                        "value": {
                            "grid_id": "huancui-s1-c1-g1",
                            "category": "parking",
                            "description": "Car blocking the fire lane",
                            "settled_on_spot": True,
                            "resolution": "owner moved the car",
                        }
                    },
                    "by_coordinates": {
                        "value": {
                            "category": "road",
                            "description": "pothole",
                            "location": {"lat": 37.502, "lon": 122.122, "crs": "gcj02"},
                        }
                    },
                },
            }
        },
    }
}


def action_body(a: Action) -> dict[str, Any]:
    """The request body of one action, typed by its declared data, with its example."""
    media: dict[str, Any] = {"schema": {**_inline(_schema(a.data)), "title": body_title(a.name)}}
    if a.example:
        media["example"] = dict(a.example)
    return {
        "requestBody": {
            "required": False,
            "content": {"application/json": media},
            "description": f"the data of `{a.name}` ({a.labels.zh}); an empty body is {{}}",
        }
    }
