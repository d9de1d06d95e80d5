"""The OpenAPI document as generated clients need it: operation ids a person would
write, security schemes (a bearer token; Open311's `api_key`), request bodies FastAPI
cannot see (Open311's form, the organisation file), Open311's answers as JSON and XML.
Checked by `tests/e2e/test_openapi_clients.py` with openapi-python-client and Redocly."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute
from pydantic import BaseModel, TypeAdapter

from api.answers import Open311RequestForm, OrganisationFile
from api.deps import BEARER as BEARER_SCHEME
from api.deps import principal

#: Operation ids that the function's name would not make clear or unique.
NAMES = {
    ("GET", "/issues/{issue_id}"): "get_issue",
    ("GET", "/issues/{issue_id}/history"): "issue_history",
    ("GET", "/evidence/{evidence_id}"): "read_evidence",
    ("GET", "/evidence/{evidence_id}/thumbnail"): "evidence_thumbnail",
    ("GET", "/evidence/{evidence_id}/info"): "evidence_info",
    ("POST", "/evidence"): "stage_evidence",
    ("POST", "/issues/{issue_id}/evidence"): "upload_evidence",
    ("GET", "/subscriptions"): "list_subscriptions",
    ("GET", "/workflow"): "get_workflow",
    ("POST", "/intake/hotline"): "import_hotline_tickets",
    ("POST", "/privacy/erasures"): "erase_personal_data",
}
#: Routers whose operations take their tag as a prefix (`supervision_rankings`).
PREFIXED = {
    "supervision": "supervision",
    "organisation": "org",
    "audit": "audit",
    "open311": "open311",
}
BEARER = BEARER_SCHEME.scheme_name  # "bearerAuth"
API_KEY = "open311ApiKey"


def operation_id(route: APIRoute) -> str:
    method = sorted(route.methods or {"GET"})[0]
    named = NAMES.get((method, route.path_format))
    if named:
        return named
    tag = str(route.tags[0]) if route.tags else ""
    prefix = PREFIXED.get(tag)
    return f"{prefix}_{route.name}" if prefix and not route.name.startswith(prefix) else route.name


def api_routes(routes: Any) -> list[APIRoute]:
    """Every route, also inside included routers (FastAPI keeps them whole)."""
    out: list[APIRoute] = []
    for r in routes:
        included = getattr(r, "original_router", None)
        if included is not None:
            out += api_routes(included.routes)
        elif isinstance(r, APIRoute):
            out.append(r)
    return out


def _authenticated(dependant: Dependant) -> bool:
    return any(d.call is principal or _authenticated(d) for d in dependant.dependencies)


def _components(doc: dict[str, Any], *models: type[BaseModel]) -> None:
    schemas = doc.setdefault("components", {}).setdefault("schemas", {})
    for model in models:
        schema = TypeAdapter(model).json_schema(ref_template="#/components/schemas/{model}")
        schemas.update(schema.pop("$defs", {}))
        schemas[model.__name__] = schema


def _ref(model: type[BaseModel]) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{model.__name__}"}


def _named_bodies(doc: dict[str, Any]) -> None:
    """Action bodies are written inline, titled (`BlowWhistleBody`): moved into the
    components under their title, so that generated clients name them so."""
    schemas = doc["components"]["schemas"]
    for item in doc["paths"].values():
        for op in item.values():
            media = op.get("requestBody", {}).get("content", {}).get("application/json")
            title = (media or {}).get("schema", {}).get("title", "")
            if title.endswith("Body") and title not in ("Body",):
                schemas[title] = media["schema"]
                media["schema"] = {"$ref": f"#/components/schemas/{title}"}


def document(app: FastAPI) -> dict[str, Any]:
    if app.openapi_schema:
        return app.openapi_schema
    doc = get_openapi(
        title=app.title,
        version=app.version,
        description=app.description,
        routes=app.routes,
        license_info={"name": "Apache-2.0", "identifier": "Apache-2.0"},
        servers=[{"url": "/", "description": "this service"}],
    )
    _components(doc, OrganisationFile, Open311RequestForm)
    # the bearer scheme is FastAPI's HTTPBearer (api.deps.BEARER); Open311's key is added
    doc["components"].setdefault("securitySchemes", {})[API_KEY] = {
        "type": "apiKey",
        "in": "query",
        "name": "api_key",
        "description": "Open311: a token, as GeoReport v2's `api_key`",
    }
    routes = {(m, r.path_format): r for r in api_routes(app.routes) for m in r.methods or ()}
    for path, item in doc["paths"].items():
        for method, op in item.items():
            route = routes.get((method.upper(), path))
            if path.startswith("/open311/"):
                posting = method == "post"
                op["security"] = [{API_KEY: []}] if posting else [{}, {API_KEY: []}]
            elif route is not None and _authenticated(route.dependant):
                op["security"] = [{BEARER: []}]
            else:
                op["security"] = []
    _named_bodies(doc)
    for item in doc["paths"].values():
        for op in item.values():
            if not any(str(code).startswith("4") for code in op["responses"]):
                op["responses"]["422"] = {  # api.guard answers it on every path
                    "description": "`validation_failed`: a control character in the query",
                    "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/Error"}}
                    },
                }
    org = doc["paths"]["/org"]["put"]
    org["requestBody"] = {
        "required": True,
        "content": {
            "application/json": {"schema": _ref(OrganisationFile)},
        },
    }
    create = doc["paths"]["/open311/v2/requests.{fmt}"]["post"]
    create["requestBody"] = {
        "required": True,
        "content": {"application/x-www-form-urlencoded": {"schema": _ref(Open311RequestForm)}},
    }
    app.openapi_schema = doc
    return doc


def install(app: FastAPI) -> None:
    app.openapi = lambda: document(app)  # type: ignore[method-assign]
