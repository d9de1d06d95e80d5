"""Service requests as GeoReport v2 shows them, from the views (lists) or an issue
(one request), with what the reader may see: whole, or coarsened (domain.public)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from domain.deadlines import RESOLUTION_KIND
from domain.issue import Issue
from domain.organisation import Org
from domain.public import coarse, road_name
from domain.workflow import TERMINAL


def time_text(value: datetime | str | None) -> str | None:
    """W3C time in UTC, whether from an issue (datetime) or a view (fixed-width text)."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _agency(org: Org, tier: str | None, grid_id: str, departments: list[str]) -> Any:
    if tier == "hard":
        return ", ".join(org.departments.get(d, {}).get("name", d) for d in departments)
    if tier == "big":
        community = org.ancestor_of_kind(grid_id, "community")
        return org.nodes.get(community or "", {}).get("name")
    return org.nodes.get(grid_id, {}).get("name")


def request(facts: Mapping[str, Any], org: Org, whole: bool) -> dict[str, Any]:
    """One request from an issue's facts: id, state, tier, grid_id, category,
    description, reported_at, updated_at, lat, lon, address, departments, expected."""
    tier = facts["tier"]
    lat, lon, address = facts["lat"], facts["lon"], facts["address"]
    if not whole:
        lat, lon, address = coarse(lat), coarse(lon), road_name(address)
    category = facts["category"]
    return {
        "service_request_id": facts["id"],
        "status": "closed" if facts["state"] in TERMINAL else "open",
        "status_notes": facts["state"] + (f" ({tier} matter)" if tier else ""),
        "service_name": org.categories.get(category, {}).get("name", category),
        "service_code": category,
        "description": facts["description"],
        "agency_responsible": _agency(org, tier, facts["grid_id"], facts["departments"]),
        "service_notice": None,
        "requested_datetime": time_text(facts["reported_at"]),
        # A closed request was last updated when it closed: later events (a callback, a
        # comment) do not move it (views built before this rule: the last event's time).
        "updated_datetime": time_text(facts.get("closed_at") or facts["updated_at"])
        if facts["state"] in TERMINAL
        else time_text(facts["updated_at"]),
        "expected_datetime": time_text(facts["expected"]),
        "address": address,
        "address_id": None,
        "zipcode": None,
        "lat": lat,
        "long": lon,
        "media_url": facts.get("media_url"),
    }


def from_issue(issue: Issue) -> dict[str, Any]:
    tier = issue.tier
    d = (issue.open_deadline(RESOLUTION_KIND[tier]) if tier else None) or issue.open_deadline(
        "triage"
    )
    loc = issue.location or {}
    return {
        "id": str(issue.id),
        "state": issue.state,
        "tier": tier,
        "grid_id": issue.grid_id,
        "category": issue.category,
        "description": issue.description,
        "reported_at": issue.reported_at,
        "updated_at": issue.modified_on,
        "closed_at": getattr(issue, "closed_at", None),
        "media_url": getattr(issue, "media_url", None),
        "lat": loc.get("lat"),
        "lon": loc.get("lon"),
        "address": loc.get("address"),
        "departments": list(issue.departments),
        "expected": d.effective_due if d is not None else None,
    }


def from_view(row: Mapping[str, Any]) -> dict[str, Any]:
    """A row of `projections.open311.requests` (its open deadlines by key)."""
    tier = row["tier"]
    open_ = row["deadlines"]
    d = (open_.get(RESOLUTION_KIND[tier]) if tier else None) or open_.get("triage")
    return {**row, "expected": d["effective_due_at"] if d else None}
