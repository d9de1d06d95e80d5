"""The official holiday data ends (chinesecalendar knows up to 2026): the calendar
file's `official` years extend it, and no miss is recorded on a guessed due time."""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from api.ops import calendar_check
from domain.calendar import Calendars, WorkingCalendar
from domain.errors import BeyondHolidayData, TransitionNotAllowed
from domain.service import IssueService
from gridflow.container import issue_service
from gridflow.settings import Settings
from tests.support import ORG, SYSTEM, WORKER, Clock, report
from workers.deadlines import DeadlineWorker

SH = ZoneInfo("Asia/Shanghai")
# Example days for a year the package does not know: not the official arrangement.
YEAR_2027 = {
    "official": {
        "2027": {
            "holidays": ["2027-01-01", "2027-02-05", "2027-02-08", "2027-02-09"],
            "workdays": ["2027-02-20"],
        }
    }
}


def at(*args: int) -> datetime:
    return datetime(*args, tzinfo=SH)


def calendars(document: dict[str, Any]) -> Calendars:
    return Calendars.from_config(document, WorkingCalendar())


def test_the_calendar_file_adds_a_year_of_official_days():
    cal = calendars(YEAR_2027).default
    assert cal.data_until == date(2027, 12, 31) and cal.covers(date(2027, 6, 1))
    assert not cal.is_working_day(date(2027, 1, 1))  # a Friday, a holiday
    assert cal.is_working_day(date(2027, 2, 20))  # a Saturday, a make-up working day
    assert cal.is_working_day(date(2026, 10, 10))  # the package's 2026 still counts
    node = calendars({**YEAR_2027, "g1": {"hours": "09:00-17:00"}}).for_chain(["g1"])
    assert not node.is_working_day(date(2027, 1, 1))  # every jurisdiction gets the year
    assert WorkingCalendar().data_until == date(2026, 12, 31)


def test_a_year_without_its_make_up_days_is_refused():
    with pytest.raises(ValueError, match="workdays"):
        calendars({"official": {"2027": {"holidays": ["2027-01-01"]}}})


@pytest.mark.parametrize(
    ("today", "warns"),
    [
        (at(2026, 11, 29, 9, 0), True),  # today: 32 days left
        (at(2026, 11, 1, 9, 0), True),  # 60 days left
        (at(2026, 10, 31, 9, 0), False),  # 61 days left
        (at(2027, 1, 5, 9, 0), True),  # past the end
    ],
)
def test_readiness_warns_sixty_days_before_the_data_ends(today: datetime, warns: bool):
    check = calendar_check(WorkingCalendar(), today)
    assert check["data_until"] == "2026-12-31"
    assert (check["note"] is not None) is warns
    if warns:
        assert "2027" in check["note"] and "calendar file" in check["note"]


def test_readiness_stops_warning_once_the_next_year_is_configured():
    check = calendar_check(calendars(YEAR_2027).default, at(2026, 11, 29, 9, 0))
    assert check["note"] is None and check["data_until"] == "2027-12-31"


def on_spot_on_new_years_eve(document: dict[str, Any]) -> tuple[IssueService, Clock, Any]:
    """A small matter taken on the spot on Thursday 31 Dec 2026 at 10:00: one working
    day to resolve it, due on the first working day of 2027."""
    clock = Clock(at(2026, 12, 31, 10, 0))
    svc = issue_service(Settings(database_url="memory://", calendars=calendars(document)), clock)
    svc.load_org(ORG)
    issue = report(svc, WORKER)
    svc.act(issue, "handle_on_spot", WORKER, {})
    return svc, clock, issue


def test_no_miss_is_recorded_on_a_due_time_beyond_the_holiday_data():
    svc, clock, issue = on_spot_on_new_years_eve({})
    # Weekends only: due Friday 1 Jan 2027 at 10:00 — a public holiday in fact.
    clock.now = at(2027, 1, 1, 11, 0)
    with pytest.raises(BeyondHolidayData, match="2026-12-31") as refused:
        svc.act(issue, "miss_deadline", SYSTEM, {"deadline": "small_resolution"})
    assert refused.value.details == {"state": "on_spot", "allowed_actions": []}
    after = svc.get(issue)
    assert after.state == "on_spot"  # not escalated on a guess
    assert not after.open_deadline("small_resolution").missed


def test_with_the_year_configured_the_miss_is_recorded_when_really_due():
    svc, clock, issue = on_spot_on_new_years_eve(YEAR_2027)
    clock.now = at(2027, 1, 1, 11, 0)  # a holiday: the day does not count
    with pytest.raises(TransitionNotAllowed, match="not yet due"):
        svc.act(issue, "miss_deadline", SYSTEM, {"deadline": "small_resolution"})
    clock.now = at(2027, 1, 4, 10, 1)
    svc.act(issue, "miss_deadline", SYSTEM, {"deadline": "small_resolution"})
    assert svc.get(issue).state == "coordinating"


def test_a_year_added_after_the_clock_started_judges_the_miss_again():
    svc, clock, issue = on_spot_on_new_years_eve({})  # due time computed weekends only
    svc.policy = replace(svc.policy, calendars=calendars(YEAR_2027))  # restarted
    clock.now = at(2027, 1, 1, 11, 0)
    with pytest.raises(TransitionNotAllowed, match="not yet due"):
        svc.act(issue, "miss_deadline", SYSTEM, {"deadline": "small_resolution"})
    clock.now = at(2027, 1, 4, 10, 1)
    svc.act(issue, "miss_deadline", SYSTEM, {"deadline": "small_resolution"})
    assert svc.get(issue).state == "coordinating"


class DueViews:
    def __init__(self, due: list[tuple[str, str]]) -> None:
        self.due = due

    def due_deadlines(self, now: datetime) -> list[tuple[str, str]]:
        return self.due


def test_the_deadline_worker_holds_such_a_miss_and_says_so_once(
    caplog: pytest.LogCaptureFixture,
):
    svc, clock, issue = on_spot_on_new_years_eve({})
    clock.now = at(2027, 1, 1, 11, 0)
    worker = DeadlineWorker(svc, DueViews([(str(issue), "small_resolution")]))  # type: ignore[arg-type]
    with caplog.at_level(logging.WARNING, logger="gridflow.deadlines"):
        assert worker.run_once() == 0
        assert worker.run_once() == 0
    held = [r for r in caplog.records if "beyond the official holiday data" in r.getMessage()]
    assert len(held) == 1
    assert svc.get(issue).state == "on_spot"


def test_a_miss_beyond_the_package_data_is_judged_on_the_grids_own_calendar():
    # The 2027 notice from the calendar file, and community m1 off on Monday 4 January:
    # one working day from Thursday 31 December 10:00 ends on Tuesday 5 January 10:00.
    svc, clock, issue = on_spot_on_new_years_eve({**YEAR_2027, "m1": {"holidays": ["2027-01-04"]}})
    clock.now = at(2027, 1, 4, 11, 0)  # due on the default calendar, not on the grid's
    with pytest.raises(TransitionNotAllowed, match="not yet due"):
        svc.act(issue, "miss_deadline", SYSTEM, {"deadline": "small_resolution"})
    clock.now = at(2027, 1, 5, 10, 0)
    missed = svc.act(issue, "miss_deadline", SYSTEM, {"deadline": "small_resolution"}).issue
    assert missed.state == "coordinating"
