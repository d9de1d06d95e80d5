"""Decoding stored events for projections, straight from their stored JSON.

Projections read many events; they decode the stored bytes into small records with
times as fixed-width UTC strings (which sort as they compare), and never build
aggregates.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
from eventsourcing.utils import TopicError, get_topic, resolve_topic

from domain.inputs import past_time_problem
from domain.issue import EVENT_CLASSES, Issue
from domain.organisation import Organisation

ACTION_BY_TOPIC = {get_topic(cls): action for action, cls in EVENT_CLASSES.items()}
ORG_TOPIC = get_topic(Organisation.Changed)


@functools.cache
def kind_of(topic: str) -> str | None:
    """What a stored topic records: an issue event's action, `ORG_TOPIC` for the
    organisation's changes, None for events projections ignore. A topic of a class
    that moved or was renamed since is found through the library's topic registry
    (`eventsourcing.utils.register_topic(old_topic, cls)`, where the class now lives)."""
    if topic in ACTION_BY_TOPIC or topic == ORG_TOPIC:
        return ACTION_BY_TOPIC.get(topic, ORG_TOPIC)
    try:
        cls = resolve_topic(topic)
    except TopicError:
        return None
    if cls is Organisation.Changed:
        return ORG_TOPIC
    if isinstance(cls, type) and issubclass(cls, Issue.Event) and cls.ACTION:
        return cls.ACTION
    return None


def action_of(topic: str) -> str | None:
    """The action of an issue event stored under `topic` (None: not an issue event)."""
    kind = kind_of(topic)
    return None if kind == ORG_TOPIC else kind


def utc(value: datetime) -> str:
    """A fixed-width UTC timestamp: lexical order is time order."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _time(marker: Any) -> Any:
    """A stored datetime marker as a fixed-width UTC string (fast path for UTC)."""
    if not isinstance(marker, dict) or marker.get("_type_") != "datetime_iso":
        return marker
    text: str = marker["_data_"]
    if text.endswith("+00:00"):
        body = text[:-6]
        return (body + ".000000Z") if len(body) == 19 else (body + "Z")
    return utc(datetime.fromisoformat(text))


_START_TIMES = ("started_at", "due_at", "warn_at")


def _without_nul(value: Any) -> Any:
    if isinstance(value, str):
        return value.replace("\x00", "")
    if isinstance(value, dict):
        return {_without_nul(k): _without_nul(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_without_nul(v) for v in value]
    return value


def _clean_occurred_at(data: dict[str, Any], recorded: str) -> None:
    """Drop a claimed time that the service refuses today (before 2000, more than a day
    after it was recorded, or not representable in UTC): recorded before the rule, it
    would stop every view that computes with it. The issue then counts from its report."""
    try:
        claimed = datetime.fromisoformat(str(data["occurred_at"]).replace("Z", "+00:00"))
        at = datetime.fromisoformat(recorded.replace("Z", "+00:00"))
        if past_time_problem(claimed, at) is None:
            return
    except (TypeError, ValueError):
        pass
    del data["occurred_at"]


@dataclass(frozen=True, slots=True)
class Record:
    position: int
    issue_id: str
    version: int
    action: str
    at: str
    actor: dict[str, str]
    data: dict[str, Any]
    facts: dict[str, Any]
    to_state: str
    tier: str | None
    starts: list[dict[str, Any]]
    ends: list[dict[str, Any]]


@dataclass(frozen=True, slots=True)
class OrgChange:
    position: int
    at: str
    nodes: list[dict[str, Any]]
    departments: list[dict[str, Any]]
    categories: list[dict[str, Any]]


def decode(notification: Any) -> Record | OrgChange | None:
    """A stored event as a record for projections; None for events they ignore."""
    kind = kind_of(notification.topic)
    if kind is None:
        return None
    action = None if kind == ORG_TOPIC else kind
    stored = notification.state
    raw: bytes = stored.encode() if isinstance(stored, str) else bytes(stored)
    state = orjson.loads(raw)
    if b"\\u0000" in raw:
        state = _without_nul(state)  # recorded before NUL was refused (views keep text)
    state["timestamp"] = _time(state["timestamp"])
    if action is not None:
        cls = EVENT_CLASSES[action]
        version = state.pop("class_version", 1)
        while version < getattr(cls, "class_version", 1):
            getattr(cls, f"upcast_v{version}_v{version + 1}")(state)
            version += 1
    else:
        return OrgChange(
            notification.id,
            state["timestamp"],
            state["nodes"],
            state["departments"],
            state["categories"],
        )
    for start in state["starts"]:
        for key in _START_TIMES:
            start[key] = _time(start[key])
    if "occurred_at" in state["data"]:
        _clean_occurred_at(state["data"], state["timestamp"])
    return Record(
        position=notification.id,
        issue_id=str(notification.originator_id),
        version=notification.originator_version,
        action=action,
        at=state["timestamp"],
        actor=state["actor"],
        data=state["data"],
        facts=state["facts"],
        to_state=state["to_state"],
        tier=state["tier"],
        starts=state["starts"],
        ends=state["ends"],
    )
