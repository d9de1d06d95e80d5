"""12345 hotline tickets: rows of a bulk import turned into `report` data.

A row has `ticket_no`, `received_at`, one of `grid_id`, `address` or `lat` + `lon`
(with `crs`: wgs84, gcj02 or bd09), `category`, `text`, and optionally `caller`
(personal data: a phone number, or `{name, phone}`). The issue's id is derived from the
ticket number, so a ticket already imported is recognised and never imported twice.
"""

from __future__ import annotations

import csv
import io
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from domain.hotline import TICKET_TYPES
from domain.inputs import past_time_problem

MAX_TICKET_NO = 200
_FIELD_LIMIT = threading.Lock()


def ticket_issue_id(ticket_no: str) -> UUID:
    return uuid5(NAMESPACE_URL, f"gridflow:hotline:{ticket_no}")


@dataclass(frozen=True)
class Ticket:
    row: int
    ticket_no: str
    issue_id: UUID
    report: dict[str, Any]


@dataclass(frozen=True)
class Consult:
    """A 咨询 ticket the hotline answered itself (never dispatched): recorded in the
    import's answer and counted, but no issue."""

    row: int
    ticket_no: str


@dataclass(frozen=True)
class BadRow:
    row: int
    ticket_no: str | None
    reason: str


def parse_csv(text: str) -> list[dict[str, Any]]:
    """UTF-8 CSV with a header row → row dicts; ValueError when it is not CSV.

    A field may be as long as the whole text: the rows' checks then answer a field that
    is too long for what it holds as that row's error, instead of the csv module
    refusing the file at its 128 KiB limit."""
    _allow_fields_of(len(text))
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    try:
        if not reader.fieldnames or "ticket_no" not in reader.fieldnames:
            raise ValueError("a CSV header row with ticket_no, received_at, category, text, …")
        return [
            {k: v for k, v in row.items() if k is not None and v not in (None, "")}
            for row in reader
        ]
    except csv.Error as exc:  # the file is not CSV the module can read: say where
        raise ValueError(f"line {reader.line_num}: {exc}") from None


def _allow_fields_of(size: int) -> None:
    """The csv module's field limit is one for the process: only ever raised (under a
    lock), so that no parse in another thread sees it lowered under it."""
    with _FIELD_LIMIT:
        if csv.field_size_limit() <= size:
            csv.field_size_limit(size + 1)


def _number(value: Any, name: str) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number") from None


def _time(raw: Any, name: str, tz: tzinfo, now: datetime | None) -> datetime | None:
    """A row's time: RFC 3339; without an offset, local time of the jurisdiction."""
    value = raw.get(name)
    if value in (None, ""):
        return None
    if not isinstance(value, str):
        raise ValueError(f"{name} must be a date and time")
    try:
        when = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"{name} is not a date and time (RFC 3339)") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=tz)
    if name != "due_at" and (problem := past_time_problem(when, now)):
        raise ValueError(f"{name} {problem}")
    return when


def ticket(
    row: int, raw: Any, now: datetime | None = None, tz: tzinfo = UTC
) -> Ticket | Consult | BadRow:
    """One row, checked for shape; the domain checks the rest when it reports. Times
    without an offset are read in `tz` (the jurisdiction's zone)."""
    if not isinstance(raw, dict):
        return BadRow(row, None, "a row is an object with the ticket's fields")
    no = raw.get("ticket_no")
    if not isinstance(no, str | int) or not str(no).strip():
        return BadRow(row, None, "ticket_no is required")
    no = str(no).strip()
    if len(no) > MAX_TICKET_NO:
        return BadRow(row, None, f"ticket_no is longer than {MAX_TICKET_NO} characters")
    try:
        when = _time(raw, "received_at", tz, now)
        if when is None:
            raise ValueError("received_at is required (RFC 3339; without an offset: local)")
        kind = raw.get("ticket_type")
        if kind is not None and kind not in TICKET_TYPES:
            raise ValueError(f"ticket_type is one of {', '.join(TICKET_TYPES)}")
        dispatched, due = _time(raw, "dispatched_at", tz, now), _time(raw, "due_at", tz, now)
        if kind == "consult" and dispatched is None:
            return Consult(row, no)
        hot: dict[str, Any] = {"ticket_no": no, "received_at": when.isoformat()}
        if kind is not None:
            hot["ticket_type"] = kind
        if isinstance(raw.get("category"), str):
            hot["hotline_category"] = raw["category"]
        if dispatched is not None:
            hot["dispatched_at"] = dispatched.isoformat()
        if due is not None:
            hot["due_at"] = due.isoformat()
        body: dict[str, Any] = {
            "hotline": hot,
            "category": raw.get("category"),
            "description": raw.get("text"),
            "channel": "hotline",
            "occurred_at": when.isoformat(),
        }
        if raw.get("grid_id"):
            body["grid_id"] = raw["grid_id"]
        location: dict[str, Any] = {}
        if raw.get("lat") not in (None, "") or raw.get("lon") not in (None, ""):
            location = {
                "lat": _number(raw.get("lat"), "lat"),
                "lon": _number(raw.get("lon"), "lon"),
                "crs": raw.get("crs") or "wgs84",
            }
        if raw.get("address"):
            location["address"] = raw["address"]
        if location:
            body["location"] = location
        caller = raw.get("caller")
        if isinstance(caller, str) and caller.strip():
            body["reporter"] = {"phone": caller.strip()}
        elif isinstance(caller, dict):
            body["reporter"] = caller
    except ValueError as exc:
        return BadRow(row, no, str(exc))
    return Ticket(row, no, ticket_issue_id(no), body)


_YES = {"true", "1", "yes", "y", "是"}
_NO = {"false", "0", "no", "n", "否"}


def _flag(value: Any) -> Any:
    """A yes/no of a CSV row (true/false, 1/0, yes/no, 是/否) as a bool; else as given."""
    if isinstance(value, str):
        low = value.strip().lower()
        if low in _YES:
            return True
        if low in _NO:
            return False
    return value


def callback_body(raw: Any) -> dict[str, Any]:
    """A row of the hotline's callbacks (`ticket_no, called_at, outcome, handler_contacted,
    solved, satisfaction, reason`) as `record_callback` data, by phone; when the hotline
    called is kept in the note."""
    if not isinstance(raw, dict):
        return {}
    body: dict[str, Any] = {"via": "phone"}
    for key in ("outcome", "satisfaction", "reason"):
        if raw.get(key) not in (None, ""):
            body[key] = raw[key]
    for key in ("handler_contacted", "solved"):
        if raw.get(key) not in (None, ""):
            body[key] = _flag(raw[key])
    if raw.get("called_at"):
        body["note"] = f"12345 callback at {raw['called_at']}"
    return body
