"""The spec's default limits, limit parsing, the 75% warning and the traffic lights at
their edges, and the pause in each kind of time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from domain.calendar import OfficialYears, WorkingCalendar
from domain.deadlines import Deadline, Limit, LimitPolicy, due_at, parse_limit, warn_at
from tests.unit.test_clocks import sh

# spec/workflow.md, "Deadlines": kind (and grade) -> default limit
SPEC_DEFAULTS = {
    ("triage", None): "2wh",
    ("small_resolution", None): "1wd",
    ("big_resolution", None): "5wd",
    ("hard_resolution", None): "15wd",
    ("department_acknowledge", None): "1wh",
    ("department_acknowledge", "standard"): "1wh",
    ("department_acknowledge", "crucial"): "1wh",
    ("department_acknowledge", "urgent"): "30m",
    ("department_report_in", "urgent"): "30m",
    ("department_report_in", "standard"): "3wd",
    ("department_report_in", "crucial"): "5wd",
    ("verification", None): "1wd",
    ("callback", None): "1wd",
}
CAL = WorkingCalendar()
US = timedelta(microseconds=1)


@pytest.mark.parametrize(("kind", "grade"), list(SPEC_DEFAULTS))
def test_the_default_limits_are_the_specs(kind: str, grade: str | None) -> None:
    assert str(LimitPolicy().limit(kind, {}, grade)) == SPEC_DEFAULTS[(kind, grade)]


def test_a_category_limit_beats_configuration_which_beats_the_default() -> None:
    policy = LimitPolicy({"small_resolution": "2wd", "department_report_in.urgent": "20m"})
    assert str(policy.limit("small_resolution", {})) == "2wd"
    assert str(policy.limit("small_resolution", {"small_resolution": "4h"})) == "4h"
    assert str(policy.limit("department_report_in", {}, "urgent")) == "20m"
    assert str(policy.limit("department_report_in", {}, "crucial")) == "5wd"
    assert str(policy.limit("triage", {})) == "2wh"
    with pytest.raises(ValueError, match="unknown deadline kind 'lunch'"):
        LimitPolicy({"lunch": "1h"})


@pytest.mark.parametrize(
    ("text", "limit"),
    [("30m", Limit(30, "m")), ("4h", Limit(4, "h")), ("2d", Limit(2, "d")),
     ("1.5wh", Limit(1.5, "wh")), (" 5wd ", Limit(5, "wd"))],
)  # fmt: skip
def test_limits_are_read_as_written(text: str, limit: Limit) -> None:
    assert parse_limit(text) == limit
    assert limit.working == limit.unit.startswith("w")


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", "is not a limit"),
        ("0h", "is not a limit"),
        ("-1h", "is not a limit"),
        ("5 days", "is not a limit"),
        (5, "is not a limit"),
        ("1.5wd", "working days are whole days"),
        ("1826d", "at most five years (1825d)"),
        ("10001wh", "at most five years (10000wh)"),
    ],
)
def test_bad_limits_are_refused_saying_why(text: object, problem: str) -> None:
    with pytest.raises(ValueError, match=problem.replace("(", r"\(").replace(")", r"\)")):
        parse_limit(text)


def test_the_longest_limits_are_accepted() -> None:
    assert parse_limit("1825d") == Limit(1825, "d")
    assert parse_limit("10000wh") == Limit(10000, "wh")
    assert str(Limit(1.5, "wh")) == "1.5wh" and str(Limit(2.0, "wd")) == "2wd"


def test_wall_clock_limits_count_every_minute_and_warn_at_75_percent() -> None:
    start = sh(27, 16)  # Friday 16:00
    for text, due in (("30m", sh(27, 16, 30)), ("4h", sh(27, 20)), ("2d", sh(29, 16))):
        limit = parse_limit(text)
        assert due_at(start, limit, CAL) == due
        assert warn_at(start, due, limit, CAL) == start + (due - start) * 3 / 4


def test_working_time_skips_nights_weekends_and_lunch() -> None:
    start = sh(27, 16)  # Friday 16:00: 1.5 working hours left that day
    assert due_at(start, parse_limit("2wh"), CAL) == sh(30, 9)  # Monday 09:00
    assert due_at(start, parse_limit("1wd"), CAL) == sh(30, 16)
    assert due_at(sh(23, 11), parse_limit("2wh"), CAL) == sh(23, 14, 30)  # over lunch
    # the warning in working time: 1.5 of 2 working hours, Friday 16:00 -> 17:30
    assert warn_at(start, sh(30, 9), parse_limit("2wh"), CAL) == sh(27, 17, 30)


def clock(**kw: object) -> Deadline:
    d = Deadline(
        key="triage",
        kind="triage",
        department_id=None,
        limit="4h",
        started_at=sh(23, 9),
        due_at=sh(23, 13),
        warn_at=sh(23, 12),
    )
    for k, v in kw.items():
        setattr(d, k, v)
    return d


def test_lights_change_exactly_at_the_warning_and_the_due_time() -> None:
    d = clock()
    assert d.light(sh(23, 12) - US) == "green"
    assert d.light(sh(23, 12)) == "yellow"
    assert d.light(sh(23, 13) - US) == "yellow"
    assert d.light(sh(23, 13)) == "red"
    assert d.status == "open"


def test_paused_time_moves_both_edges_and_a_paused_clock_shows_where_it_stopped() -> None:
    d = clock(paused_seconds=3600.0)
    assert d.effective_due == sh(23, 14)
    assert d.light(sh(23, 13) - US) == "green"
    assert d.light(sh(23, 13)) == "yellow"
    assert d.light(sh(23, 14) - US) == "yellow"
    assert d.light(sh(23, 14)) == "red"
    paused = clock(paused_since=sh(23, 11, 59))
    assert paused.status == "paused"
    assert paused.light(sh(25, 9)) == "green"  # days later: stopped before the warning
    assert clock(paused_since=sh(23, 12)).light(sh(25, 9)) == "yellow"


def test_ended_clocks_show_their_outcome() -> None:
    late = sh(24, 9)
    assert clock(ended_at=sh(23, 10), outcome="met").light(late) == "green"
    assert clock(ended_at=sh(23, 10), outcome="met").status == "met"
    assert clock(ended_at=sh(23, 10), outcome=None).status == "met"
    assert clock(ended_at=sh(23, 10), outcome="cancelled").light(late) == "green"
    missed = clock(missed=True)
    assert (missed.status, missed.light(sh(23, 9))) == ("missed", "red")
    assert clock(missed=True, ended_at=sh(23, 14), outcome="cancelled").status == "missed"


def test_a_wall_clock_pause_credits_its_length_until_the_due_time_only() -> None:
    d = clock(paused_since=sh(23, 10))
    assert d.paused_seconds_at(sh(23, 12), CAL) == 7200  # two hours paused
    assert d.paused_seconds_at(sh(23, 9), CAL) == 0  # never less than nothing
    after_due = clock(paused_since=sh(23, 14))
    assert after_due.paused_seconds_at(sh(23, 18), CAL) == 0  # already late: no credit
    assert clock(paused_seconds=60.0).paused_seconds_at(sh(23, 18), CAL) == 60


def test_a_working_time_pause_credits_working_time() -> None:
    d = clock(limit="1wd", due_at=sh(24, 9), warn_at=sh(23, 16, 7, 30), paused_since=sh(23, 16))
    # paused Monday 16:00 (2 working hours left: 16:00-17:30 and Tuesday 08:30-09:00)
    # until Tuesday 10:00: due Tuesday 12:00
    shift = d.paused_seconds_at(sh(24, 10), CAL)
    assert d.due_at + timedelta(seconds=shift) == sh(24, 12)
    late = clock(limit="1wd", due_at=sh(24, 9), paused_since=sh(24, 10))
    assert late.paused_seconds_at(sh(25, 10), CAL) == 0  # paused after its due time


def test_a_pause_never_brings_a_night_due_time_forward() -> None:
    # coordinated on Friday 00:45 (outside working hours): 5 working days, due Friday
    # 00:45 a week later, which stands for Thursday 17:30 in working time
    d = clock(limit="5wd", started_at=sh(27, 0, 45), due_at=sh(4, 0, 45, month=12))
    d.paused_since = sh(28, 0, 45)  # suspended Saturday night, resumed Saturday morning
    assert d.paused_seconds_at(sh(28, 10), CAL) == 0  # no working time paused: no credit
    # paused until Monday 09:45: 1.25 working hours paused, due Friday 09:45
    monday = d.paused_seconds_at(sh(30, 9, 45), CAL)
    assert d.due_at + timedelta(seconds=monday) == sh(4, 9, 45, month=12)


def test_a_working_hours_pause_counts_working_hours_not_the_lunch_break() -> None:
    d = clock(limit="2wh", due_at=sh(23, 14), warn_at=sh(23, 13, 45), paused_since=sh(23, 11, 30))
    # paused Monday 11:30 with 1 working hour left (11:30-12:00, 13:30-14:00), resumed
    # Tuesday 09:00: due Tuesday 10:00 (in wall-clock time it would be 11:30)
    shift = d.paused_seconds_at(sh(24, 9), CAL)
    assert d.due_at + timedelta(seconds=shift) == sh(24, 10)


def test_the_last_half_second_of_a_clock_is_credited_too() -> None:
    d = clock(limit="2wh", due_at=sh(23, 11), paused_since=sh(23, 11) - timedelta(seconds=0.5))
    shift = d.paused_seconds_at(sh(23, 14), CAL)
    assert d.due_at + timedelta(seconds=shift) == sh(23, 14) + timedelta(seconds=0.5)


def test_a_clock_paused_at_its_due_time_is_credited_nothing() -> None:
    assert clock(paused_since=sh(23, 13)).paused_seconds_at(sh(23, 18), CAL) == 0
    assert clock(paused_since=sh(23, 13) - US).paused_seconds_at(sh(23, 18), CAL) > 0


OFFICIAL_2027 = OfficialYears.from_config(
    {"2027": {"holidays": ["2027-01-01", "2027-01-02", "2027-01-03"], "workdays": []}}
)


def test_a_miss_beyond_the_holiday_data_is_judged_on_the_calendar_as_it_is_now() -> None:
    # A working-time clock due on 1 January 2027 local time (31 December in UTC): beyond
    # the package's data, so judged again; with no 2027 data there is no judgement.
    d = clock(
        limit="2wh",
        started_at=sh(31, 16, month=12),
        due_at=sh(31, 16, month=12) + timedelta(hours=9),  # 01:00 local on 1 January
        paused_seconds=600.0,
    )
    assert d.judged_due(CAL) is None
    with_2027 = WorkingCalendar(official=OFFICIAL_2027)
    # computed again with 2027's holidays: 1.5 h left on 31 December, the rest after the
    # New Year holidays (Monday 4 January 08:30 + 0.5 h), plus the 10 paused minutes
    again = datetime(2027, 1, 4, 1, 0, tzinfo=UTC) + timedelta(minutes=10)
    assert d.judged_due(with_2027) == again
    wall = clock(due_at=sh(31, 16, month=12) + timedelta(hours=9))
    assert wall.judged_due(CAL) == wall.due_at  # wall-clock time needs no holiday data


def test_a_due_time_recomputed_into_a_year_without_data_has_no_judgement() -> None:
    # 1 January 2028 made a working day by the 2027 notice (an example, not the real one):
    # a 1wd clock started at 01:00 local on 31 December 2027 falls due at 01:00 local on
    # 1 January 2028 — still 31 December in UTC — a day the calendar file does not cover
    official = OfficialYears.from_config(
        {"2027": {"holidays": ["2027-01-01"], "workdays": ["2028-01-01"]}}
    )
    start = datetime(2027, 12, 30, 17, 0, tzinfo=UTC)
    d = clock(limit="1wd", started_at=start, due_at=start + timedelta(days=1))
    assert d.judged_due(WorkingCalendar(official=official)) is None
