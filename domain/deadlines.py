"""Deadlines: limits, due times in working or wall-clock time, traffic lights.

Limits are written `30m`, `4h`, `2d` (wall clock) and `4wh`, `5wd` (working time).
A deadline is computed when its clock starts and recorded in the event that starts
it: due time, the 75% warning instant, the limit. Replay never consults a calendar.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from domain.calendar import PACKAGE_DATA_UNTIL, WorkingCalendar

DEADLINE_KINDS = (
    "triage",
    "small_resolution",
    "big_resolution",
    "hard_resolution",
    "department_acknowledge",
    "department_report_in",
    "verification",
    "callback",
    "escalation_decision",
    "flag_reply",
    "suspension_allowance",
)
RESOLUTION_KIND = {"small": "small_resolution", "big": "big_resolution", "hard": "hard_resolution"}

DEFAULT_LIMITS: dict[str, str] = {
    "triage": "2wh",
    "small_resolution": "1wd",
    "big_resolution": "5wd",
    "hard_resolution": "15wd",
    "department_acknowledge": "1wh",
    "department_acknowledge.urgent": "30m",
    "department_report_in": "3wd",
    "department_report_in.urgent": "30m",
    "department_report_in.standard": "3wd",
    "department_report_in.crucial": "5wd",
    "verification": "1wd",
    "callback": "1wd",
    "escalation_decision": "1wh",
    "flag_reply": "1wd",
    "suspension_allowance": "10wd",  # what is left of it is computed at each approval
}
WARN_FRACTION = 0.75

_LIMIT = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(m|h|d|wh|wd)\s*$")


@dataclass(frozen=True)
class Limit:
    amount: float
    unit: str  # m, h, d (wall clock) or wh, wd (working time)

    @property
    def working(self) -> bool:
        return self.unit in ("wh", "wd")

    def __str__(self) -> str:
        amount = int(self.amount) if self.amount == int(self.amount) else self.amount
        return f"{amount}{self.unit}"


#: The longest limit per unit: five years (a due time beyond that is a typing error, and
#: one past the year 9999 would stop every view that computes with it).
MAX_AMOUNT = {
    "m": 5 * 365 * 24 * 60,
    "h": 5 * 365 * 24,
    "d": 5 * 365,
    "wh": 5 * 250 * 8,
    "wd": 5 * 250,
}


def parse_limit(text: Any) -> Limit:
    match = _LIMIT.match(text) if isinstance(text, str) else None
    if not match or float(match.group(1)) <= 0:
        raise ValueError(f"{text!r} is not a limit such as 30m, 4h, 2d, 4wh or 5wd")
    amount, unit = float(match.group(1)), match.group(2)
    if unit == "wd" and amount != int(amount):
        raise ValueError(f"{text!r}: working days are whole days")
    if amount > MAX_AMOUNT[unit]:
        raise ValueError(f"{text!r}: limits are at most five years ({MAX_AMOUNT[unit]}{unit})")
    return Limit(amount, unit)


def due_at(start: datetime, limit: Limit, calendar: WorkingCalendar) -> datetime:
    if limit.unit == "m":
        return start + timedelta(minutes=limit.amount)
    if limit.unit == "h":
        return start + timedelta(hours=limit.amount)
    if limit.unit == "d":
        return start + timedelta(days=limit.amount)
    if limit.unit == "wh":
        return calendar.add_working_seconds(start, limit.amount * 3600)
    return calendar.add_working_days(start, int(limit.amount))


def warn_at(start: datetime, due: datetime, limit: Limit, calendar: WorkingCalendar) -> datetime:
    """The instant when 75% of the limit is used (yellow light)."""
    if not limit.working:
        return start + (due - start) * WARN_FRACTION
    total = calendar.working_seconds_between(start, due)
    return calendar.add_working_seconds(start, total * WARN_FRACTION)


class LimitPolicy:
    """Which limit applies: category's own, then configuration, then the defaults."""

    def __init__(self, overrides: Mapping[str, str] | None = None) -> None:
        self.limits = {**DEFAULT_LIMITS, **(overrides or {})}
        for key, value in self.limits.items():
            if key.split(".")[0] not in DEADLINE_KINDS:
                raise ValueError(f"unknown deadline kind {key!r}")
            parse_limit(value)

    def limit(
        self, kind: str, category_limits: Mapping[str, str], grade: str | None = None
    ) -> Limit:
        keys = [f"{kind}.{grade}", kind] if grade else [kind]
        for source in (category_limits, self.limits):
            for key in keys:
                if key in source:
                    return parse_limit(source[key])
        raise KeyError(kind)  # pragma: no cover - every kind has a default


def new_deadline(
    kind: str,
    start: datetime,
    limit: Limit,
    calendar: WorkingCalendar,
    department_id: str | None = None,
) -> dict[str, Any]:
    """The record an event carries when a clock starts."""
    due = due_at(start, limit, calendar)
    return {
        "key": f"{kind}:{department_id}" if department_id else kind,
        "kind": kind,
        "department_id": department_id,
        "limit": str(limit),
        "started_at": start,
        "due_at": due,
        "warn_at": warn_at(start, due, limit, calendar),
    }


@dataclass
class Deadline:
    """A clock of the issue: started by an event (which carries its due and warning
    times), ended by a later one, paused while the issue is suspended. The original due
    time never moves; a suspension shows as `paused_seconds`."""

    key: str  # the kind, and the department for a department's clock
    kind: str
    department_id: str | None
    limit: str
    started_at: datetime
    due_at: datetime
    warn_at: datetime
    paused_seconds: float = 0.0
    paused_since: datetime | None = None
    #: time added by approved extensions (the original due time stays on record)
    extended_seconds: float = 0.0
    extensions: int = 0
    ended_at: datetime | None = None
    outcome: str | None = None  # met, missed or cancelled, once ended
    missed: bool = False  # a miss was recorded (miss_deadline)

    @classmethod
    def started(cls, start: Mapping[str, Any]) -> Deadline:
        """The clock an event's `starts` entry records."""
        return cls(
            key=start["key"],
            kind=start["kind"],
            department_id=start.get("department_id"),
            limit=start["limit"],
            started_at=start["started_at"],
            due_at=start["due_at"],
            warn_at=start["warn_at"],
        )

    @property
    def running(self) -> bool:
        return self.ended_at is None

    @property
    def effective_due(self) -> datetime:
        """The original due time plus the paused time and any approved extension."""
        return self.due_with(self.paused_seconds)

    def due_with(self, paused_seconds: float) -> datetime:
        """The due time moved by `paused_seconds` of pause and by the extensions."""
        return self.due_at + timedelta(seconds=paused_seconds + self.extended_seconds)

    @property
    def status(self) -> str:
        """open, paused, met, missed — or cancelled when its step was cut short."""
        if self.missed:
            return "missed"
        if self.ended_at is not None:
            return self.outcome or "met"
        return "paused" if self.paused_since is not None else "open"

    def light(self, now: datetime) -> str:
        """green, yellow (75% of the limit used) or red (passed)."""
        if self.status == "missed":
            return "red"
        if self.status in ("met", "cancelled"):
            return "green"
        shift = timedelta(seconds=self.paused_seconds + self.extended_seconds)
        at = self.paused_since or now
        if at >= self.due_at + shift:
            return "red"
        if at >= self.warn_at + shift:
            return "yellow"
        return "green"

    def paused_seconds_at(self, now: datetime, calendar: WorkingCalendar) -> float:
        """The paused time with a running pause counted up to `now`, in the deadline's own
        kind of time (working time for `wh`/`wd` limits): what `resume` credits, and what
        a step that ends while suspended is judged on."""
        since = self.paused_since
        if since is None:
            return self.paused_seconds
        due = self.effective_due
        if self.limit.endswith(("wh", "wd")):
            left = calendar.working_seconds_between(since, due)
            # A due time outside working hours (a clock started at night) lies after the
            # working time it stands for: a pause with no working time in it credits
            # nothing, never a negative pause that would bring the due time forward.
            new_due = max(calendar.add_working_seconds(now, left), due) if left > 0 else due
        else:
            new_due = due + max(now - since, timedelta(0)) if since < due else due
        return (new_due - self.due_at).total_seconds() - self.extended_seconds

    def judged_due(self, calendar: WorkingCalendar) -> datetime | None:
        """The due time a miss is judged against. A working-time due time after the
        holiday package's data was computed from the calendar file or from weekends only,
        so it is computed again with the calendar as it is now; when that calendar does
        not cover the day either, there is none: a miss there would be a guess."""
        due = self.effective_due
        if not self.limit.endswith(("wh", "wd")):
            return due
        if due.astimezone(calendar.tz).date() <= PACKAGE_DATA_UNTIL:
            return due
        again = due_at(self.started_at, parse_limit(self.limit), calendar)
        again += timedelta(seconds=self.paused_seconds + self.extended_seconds)
        return again if calendar.covers(again.astimezone(calendar.tz).date()) else None
