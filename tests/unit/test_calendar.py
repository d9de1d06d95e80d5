"""Working time: hours, lunch break, weekends, holidays, make-up days, fallback."""

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from domain.calendar import WorkingCalendar, parse_hours
from domain.deadlines import due_at, parse_limit

SH = ZoneInfo("Asia/Shanghai")
CAL = WorkingCalendar()  # 08:30-12:00, 13:30-17:30


def at(*args: int) -> datetime:
    return datetime(*args, tzinfo=SH)


def test_working_hours_run_over_the_evening_into_the_next_morning():
    assert CAL.add_working_seconds(at(2026, 9, 29, 16, 0), 2 * 3600) == at(2026, 9, 30, 9, 0)


def test_working_hours_skip_the_lunch_break():
    assert CAL.add_working_seconds(at(2026, 11, 23, 11, 30), 3600) == at(2026, 11, 23, 14, 0)


def test_a_start_outside_working_hours_waits_for_the_next_period():
    assert CAL.add_working_seconds(at(2026, 11, 23, 7, 0), 1800) == at(2026, 11, 23, 9, 0)


def test_national_day_holidays_are_skipped():
    # 30 Sep 17:00 + 1 working hour: half an hour that day, then 1–7 Oct are holidays.
    assert CAL.add_working_seconds(at(2026, 9, 30, 17, 0), 3600) == at(2026, 10, 8, 9, 0)


def test_a_make_up_working_day_counts():
    # Saturday 10 Oct 2026 is a make-up working day (调休).
    assert CAL.is_working_day(at(2026, 10, 10, 0, 0).date())
    assert CAL.add_working_days(at(2026, 10, 9, 10, 0), 1) == at(2026, 10, 10, 10, 0)


def test_working_days_end_at_the_same_local_time_after_the_weekend():
    assert CAL.add_working_days(at(2026, 11, 20, 15, 0), 1) == at(2026, 11, 23, 15, 0)
    assert CAL.add_working_days(at(2026, 11, 21, 11, 0), 5) == at(2026, 11, 27, 11, 0)


def test_beyond_the_holiday_data_only_weekends_are_days_off():
    new_year_2027 = at(2027, 1, 1, 0, 0).date()
    assert not CAL.covers(new_year_2027)
    assert CAL.is_working_day(new_year_2027)  # a holiday in fact, unknown to the data
    assert not CAL.is_working_day(at(2027, 1, 2, 0, 0).date())  # Saturday


def test_local_overrides_add_holidays_and_working_days():
    local = WorkingCalendar(
        extra_holidays=frozenset({at(2026, 11, 23, 0, 0).date()}),
        extra_workdays=frozenset({at(2026, 11, 22, 0, 0).date()}),
    )
    assert not local.is_working_day(at(2026, 11, 23, 0, 0).date())
    assert local.is_working_day(at(2026, 11, 22, 0, 0).date())


def test_urgent_limits_run_on_the_wall_clock_at_night_and_at_weekends():
    saturday_night = at(2026, 11, 21, 22, 0)
    assert due_at(saturday_night, parse_limit("30m"), CAL) == at(2026, 11, 21, 22, 30)


def test_working_seconds_between_counts_only_working_time():
    assert CAL.working_seconds_between(at(2026, 11, 20, 17, 0), at(2026, 11, 23, 9, 0)) == 3600


@pytest.mark.parametrize("bad", ["", "5", "m", "-1h", "2.5wd", "3x", None, 5])
def test_limits_refuse_what_they_cannot_read(bad: object) -> None:
    with pytest.raises(ValueError):
        parse_limit(bad)


def test_working_hours_that_overlap_are_refused():
    with pytest.raises(ValueError):
        parse_hours("08:00-12:00,11:00-14:00")
