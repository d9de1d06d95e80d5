"""Working time: working hours, public holidays and make-up working days (调休).

China's official holidays and make-up days come from the `chinesecalendar` package
and, for the years it does not have yet, from the calendar file's `official` section
(the State Council's notice of each year, 国务院办公厅关于部分节假日安排的通知);
working hours and local overrides come from configuration, per jurisdiction. For dates
beyond that data the calendar falls back to weekends only and says so
(`WorkingCalendar.covers`, `data_until`, reported by `/readyz`); a missed working-time
deadline that falls due there is not recorded (domain.decide.miss_deadline).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import chinese_calendar

_OFFICIAL_HOLIDAYS: frozenset[date] = frozenset(chinese_calendar.holidays)
_OFFICIAL_WORKDAYS: frozenset[date] = frozenset(chinese_calendar.workdays)
DATA_YEARS: tuple[int, int] = (
    min(d.year for d in _OFFICIAL_HOLIDAYS),
    max(d.year for d in _OFFICIAL_HOLIDAYS),
)
#: The last day of the package's own data: later working-time due times were computed
#: from the calendar file's `official` years, or from weekends only.
PACKAGE_DATA_UNTIL = date(DATA_YEARS[1], 12, 31)
_MAX_DAYS = 3660  # no deadline runs ten years; a calendar with no working day fails loudly

DEFAULT_HOURS = "08:30-12:00,13:30-17:30"
DEFAULT_TIMEZONE = "Asia/Shanghai"


def parse_hours(spec: str) -> tuple[tuple[time, time], ...]:
    """`"08:30-12:00,13:30-17:30"` → working periods of a working day."""
    periods = []
    for part in spec.split(","):
        start_s, _, end_s = part.strip().partition("-")
        start, end = time.fromisoformat(start_s.strip()), time.fromisoformat(end_s.strip())
        if end <= start:
            raise ValueError(f"working period {part!r} ends before it starts")
        periods.append((start, end))
    periods.sort()
    for (_, a_end), (b_start, _) in itertools.pairwise(periods):
        if b_start < a_end:
            raise ValueError(f"working periods overlap in {spec!r}")
    if not periods:
        raise ValueError("no working period")
    return tuple(periods)


@dataclass(frozen=True)
class OfficialYears:
    """Official arrangements the package does not have yet, from the calendar file:
    `{"official": {"2027": {"holidays": [...], "workdays": [...]}}}`."""

    years: frozenset[int] = frozenset()
    holidays: frozenset[date] = frozenset()
    workdays: frozenset[date] = frozenset()

    @classmethod
    def from_config(cls, section: Mapping[str, Any]) -> OfficialYears:
        years, holidays, workdays = set(), set(), set()
        for year, entry in section.items():
            if not (str(year).isdigit() and isinstance(entry, Mapping)):
                raise ValueError(f"calendar file: official.{year}: a year with its days")
            if not entry.get("holidays") or "workdays" not in entry:
                raise ValueError(
                    f"calendar file: official.{year} needs `holidays` and `workdays` "
                    "(the make-up working days; [] when there are none)"
                )
            years.add(int(year))
            holidays |= {date.fromisoformat(d) for d in entry["holidays"]}
            workdays |= {date.fromisoformat(d) for d in entry["workdays"]}
        return cls(frozenset(years), frozenset(holidays), frozenset(workdays))


@dataclass(frozen=True)
class WorkingCalendar:
    timezone: str = DEFAULT_TIMEZONE
    hours: tuple[tuple[time, time], ...] = field(default_factory=lambda: parse_hours(DEFAULT_HOURS))
    extra_holidays: frozenset[date] = frozenset()
    extra_workdays: frozenset[date] = frozenset()
    #: the official arrangement of the years after the package's data (calendar file)
    official: OfficialYears = field(default_factory=OfficialYears)

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def data_until(self) -> date:
        """The last day whose official holidays and make-up days are known."""
        year = DATA_YEARS[1]
        while year + 1 in self.official.years:
            year += 1
        return date(year, 12, 31)

    def covers(self, day: date) -> bool:
        """Whether the official holiday data covers this day (else: weekends only)."""
        return DATA_YEARS[0] <= day.year and day <= self.data_until

    def is_working_day(self, day: date) -> bool:
        if day in self.extra_workdays:
            return True
        if day in self.extra_holidays:
            return False
        if day in self.official.holidays:
            return False
        if day in self.official.workdays:
            return True
        if DATA_YEARS[0] <= day.year <= DATA_YEARS[1]:
            if day in _OFFICIAL_HOLIDAYS:
                return False
            if day in _OFFICIAL_WORKDAYS:
                return True
        return day.weekday() < 5

    def _working_days_from(self, day: date) -> Iterator[date]:
        for i in range(_MAX_DAYS):
            d = day + timedelta(days=i)
            if self.is_working_day(d):
                yield d
        raise ValueError("the calendar has no working day in ten years")

    def _periods(self, day: date) -> Iterable[tuple[datetime, datetime]]:
        tz = self.tz
        for start, end in self.hours:
            yield datetime.combine(day, start, tz), datetime.combine(day, end, tz)

    def add_working_seconds(self, start: datetime, seconds: float) -> datetime:
        """The instant when `seconds` of working time have passed since `start`."""
        local = start.astimezone(self.tz)
        remaining = timedelta(seconds=seconds)
        for day in self._working_days_from(local.date()):
            for p_start, p_end in self._periods(day):
                begin = max(p_start, local)
                if begin >= p_end:
                    continue
                if begin + remaining <= p_end:
                    return (begin + remaining).astimezone(start.tzinfo)
                remaining -= p_end - begin
        raise AssertionError("unreachable")  # pragma: no cover

    def add_working_days(self, start: datetime, days: int) -> datetime:
        """The same local time on the `days`-th working day after the start's day."""
        local = start.astimezone(self.tz)
        working = self._working_days_from(local.date() + timedelta(days=1))
        day = local.date()
        for _ in range(days):
            day = next(working)
        end = datetime.combine(day, local.timetz().replace(tzinfo=None), self.tz)
        return end.astimezone(start.tzinfo)

    def working_seconds_between(self, a: datetime, b: datetime) -> float:
        if b <= a:
            return 0.0
        a_local, b_local = a.astimezone(self.tz), b.astimezone(self.tz)
        total = 0.0
        day = a_local.date()
        while day <= b_local.date():
            if self.is_working_day(day):
                for p_start, p_end in self._periods(day):
                    lo, hi = max(p_start, a_local), min(p_end, b_local)
                    if hi > lo:
                        total += (hi - lo).total_seconds()
            day += timedelta(days=1)
        return total


def calendar_from_config(entry: Mapping[str, Any], base: WorkingCalendar) -> WorkingCalendar:
    """One jurisdiction's entry of the calendar file, over the default calendar."""
    return WorkingCalendar(
        official=base.official,
        timezone=entry.get("timezone", base.timezone),
        hours=parse_hours(entry["hours"]) if "hours" in entry else base.hours,
        extra_holidays=base.extra_holidays
        | {date.fromisoformat(d) for d in entry.get("holidays", [])},
        extra_workdays=base.extra_workdays
        | {date.fromisoformat(d) for d in entry.get("workdays", [])},
    )


@dataclass(frozen=True)
class Calendars:
    """The default calendar and per-jurisdiction overrides (by organisation node id)."""

    default: WorkingCalendar = field(default_factory=WorkingCalendar)
    by_node: Mapping[str, WorkingCalendar] = field(default_factory=dict)

    @classmethod
    def from_config(cls, document: Mapping[str, Any], default: WorkingCalendar) -> Calendars:
        official = OfficialYears.from_config(document.get("official", {}))
        base = calendar_from_config(
            document.get("default", {}), replace(default, official=official)
        )
        nodes = {
            k: calendar_from_config(v, base)
            for k, v in document.items()
            if k not in ("default", "official")
        }
        return cls(default=base, by_node=nodes)

    def for_chain(self, chain: Iterable[str]) -> WorkingCalendar:
        """The calendar of the nearest node in `chain` (nearest first) that has one."""
        return next((self.by_node[n] for n in chain if n in self.by_node), self.default)
