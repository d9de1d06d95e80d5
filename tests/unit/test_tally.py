"""The three rates' counting (domain/tally.py), folded without a database: each closure
round counts once, at the time that round was first judged, and nothing a caller can
record afterwards — calling again, calling late, being unreachable after a valid call —
moves the rates unless the work was done (docs/indicators.md)."""

from __future__ import annotations

from collections import Counter as Tally
from dataclasses import dataclass, field
from typing import Any

import pytest

from domain import tally

T1 = "2026-03-02T02:00:00.000000Z"
T2 = "2026-03-03T02:00:00.000000Z"
T3 = "2026-03-05T02:00:00.000000Z"
DUE = "2026-03-04T10:00:00.000000Z"

REACHED = {"outcome": "reached", "handler_contacted": True, "solved": True}
SATISFIED = {**REACHED, "satisfaction": "satisfied"}
DISSATISFIED = {**REACHED, "solved": False, "satisfaction": "dissatisfied"}
UNREACHED = {"outcome": "unreachable"}


@dataclass
class Event:
    """What the views fold of a recorded callback (domain.declare.Folded)."""

    data: dict[str, Any]
    facts: dict[str, Any] = field(default_factory=dict)
    at: str = T1
    action: str = "record_callback"
    actor: dict[str, str] = field(default_factory=dict)
    to_state: str = "closed"


class Counts:
    """A Counter that keeps each metric's total per day it was counted on."""

    def __init__(self) -> None:
        self.by_day: Tally[tuple[str, str]] = Tally()
        self.calls: list[tuple[str, str | None, int]] = []

    def __call__(self, metric: str, dept: str = "", at: str | None = None, n: int = 1) -> None:
        self.calls.append((metric, at, n))
        self.by_day[(metric, (at or "event")[:10])] += n

    def total(self, metric: str) -> int:
        return sum(n for (m, _), n in self.by_day.items() if m == metric)

    def on(self, metric: str, at: str) -> int:
        return self.by_day[(metric, at[:10])]

    def rates(self) -> dict[str, int]:
        """Every cb_* metric with a non-zero total."""
        metrics = {m for m, _ in self.by_day if m.startswith("cb_")}
        return {m: self.total(m) for m in sorted(metrics) if self.total(m)}


def valid(data: dict[str, Any], **more: Any) -> dict[str, Any]:
    return {"callback": {"valid": True, **more}}


def closed_row() -> dict[str, Any]:
    row: dict[str, Any] = {"contact": True}
    tally.new_round(row)
    return row


# -- what one valid callback adds -------------------------------------------------------


@pytest.mark.parametrize(
    ("answers", "expected"),
    [
        (
            SATISFIED,
            {"cb_valid", "cb_handler_known", "cb_handler_contacted", "cb_solved", "cb_satisfied"},
        ),
        (
            {**REACHED, "handler_contacted": False, "solved": False, "satisfaction": "basic"},
            {"cb_valid", "cb_handler_known", "cb_basic"},
        ),
        # the old shape did not ask whether the handler made contact: not in 响应率 at all
        (
            {"outcome": "reached", "handler_contacted": None, "solved": True, "satisfaction": None},
            {"cb_valid", "cb_solved"},
        ),
    ],
)
def test_a_valid_callback_adds_what_the_resident_answered(
    answers: dict[str, Any], expected: set[str]
) -> None:
    assert tally.contribution(answers) == dict.fromkeys(expected, 1)


def test_raw_counts_every_callback_and_only_reached_ones_count_answers() -> None:
    count = Counts()
    tally.raw(Event(UNREACHED), count)
    assert {m: count.total(m) for m in ("callbacks", "contacted", "solved")} == {
        "callbacks": 1,
        "contacted": 0,
        "solved": 0,
    }
    tally.raw(Event(DISSATISFIED), count)
    assert [count.total(m) for m in ("callbacks", "contacted", "solved", "reopens")] == [
        2,
        1,
        0,
        1,
    ]
    assert count.total("dissatisfied") == 1
    # the shape recorded before outcomes: contacted is what reached them
    tally.raw(Event({"contacted": True, "solved": True, "satisfaction": "satisfied"}), count)
    assert [count.total(m) for m in ("callbacks", "contacted", "solved", "satisfied")] == [
        3,
        2,
        1,
        1,
    ]


# -- a round counts once -------------------------------------------------------------------


def test_the_first_valid_callback_counts_on_its_day() -> None:
    row, count = closed_row(), Counts()
    tally.callback(row, Event(SATISFIED, valid(SATISFIED), at=T1), count)
    assert count.rates() == {
        "cb_handler_contacted": 1,
        "cb_handler_known": 1,
        "cb_satisfied": 1,
        "cb_solved": 1,
        "cb_valid": 1,
    }
    assert count.on("cb_valid", T1) == 1
    assert row["round"]["counted"] == {"at": T1, "contrib": tally.contribution(SATISFIED)}


def test_a_second_valid_callback_of_the_round_changes_no_rate() -> None:
    """Gaming: call a dissatisfied resident again until they say satisfied."""
    row, count = closed_row(), Counts()
    tally.callback(row, Event(DISSATISFIED, valid(DISSATISFIED), at=T1), count)
    before = count.rates()
    tally.callback(row, Event(SATISFIED, valid(SATISFIED), at=T2), count)
    assert count.rates() == {**before, "cb_late": 1}
    assert count.total("cb_satisfied") == 0


def test_a_replacement_moves_the_round_on_the_day_it_was_first_counted() -> None:
    """A street officer's or supervisor's replacement: the old answer leaves the rates
    and the new one takes its place on the original day, never a second count."""
    row, count = closed_row(), Counts()
    tally.callback(row, Event(DISSATISFIED, valid(DISSATISFIED), at=T1), count)
    tally.callback(row, Event(SATISFIED, valid(SATISFIED, replaces=3), at=T3), count)
    assert count.rates() == {
        "cb_handler_contacted": 1,
        "cb_handler_known": 1,
        "cb_replaced": 1,
        "cb_satisfied": 1,
        "cb_solved": 1,
        "cb_valid": 1,
    }
    assert count.on("cb_valid", T1) == 1 and count.on("cb_valid", T3) == 0
    assert count.on("cb_satisfied", T1) == 1
    assert row["round"]["counted"]["at"] == T1


def test_a_replacement_after_the_deadline_judged_the_round_replaces_not_called() -> None:
    row, count = closed_row(), Counts()
    tally.callback_missed(row, DUE, count)
    tally.callback(row, Event(SATISFIED, valid(SATISFIED, replaces=None), at=T3), count)
    assert count.total("cb_not_called") == 0
    assert count.total("cb_valid") == 1 and count.on("cb_valid", DUE) == 1
    assert count.total("cb_satisfied") == 1


def test_events_recorded_before_rounds_the_first_reached_callback_is_the_valid_one() -> None:
    row, count = {"contact": True}, Counts()  # no round opened: a log from before rounds
    tally.callback(row, Event({"contacted": False}), count)
    tally.callback(
        row, Event({"contacted": True, "solved": True, "satisfaction": "satisfied"}, at=T2), count
    )
    tally.callback(
        row,
        Event({"contacted": True, "solved": False, "satisfaction": "dissatisfied"}, at=T3),
        count,
    )
    assert count.total("cb_valid") == 1 and count.on("cb_valid", T2) == 1
    assert count.total("cb_satisfied") == 1 and count.total("cb_dissatisfied") == 0
    assert count.total("cb_late") == 0  # not the round's valid one: not even late
    assert count.total("callbacks") == 3  # the raw counts keep every one


# -- unreachable, and the deadline ---------------------------------------------------------


def test_a_round_closed_as_unreachable_counts_apart_once() -> None:
    row, count = closed_row(), Counts()
    tally.callback(row, Event(UNREACHED, {"callback": {"valid": False}}), count)
    assert count.rates() == {}
    closing = {"callback": {"valid": False, "closes": "unreachable"}}
    tally.callback(row, Event(UNREACHED, closing, at=T2), count)
    tally.callback(row, Event(UNREACHED, closing, at=T3), count)
    assert count.rates() == {"cb_unreachable": 1}
    assert count.on("cb_unreachable", T2) == 1


def test_unreachable_after_a_valid_callback_takes_nothing_back() -> None:
    row, count = closed_row(), Counts()
    tally.callback(row, Event(SATISFIED, valid(SATISFIED)), count)
    before = count.rates()
    closing = {"callback": {"valid": False, "closes": "unreachable"}}
    tally.callback(row, Event(UNREACHED, closing, at=T2), count)
    assert count.rates() == before


def test_not_calling_is_judged_at_the_deadline_and_never_helps() -> None:
    """Gaming: leave an unhappy resident uncalled. The round counts as reached-nobody:
    in the denominator of every rate, in no numerator."""
    row, count = closed_row(), Counts()
    tally.callback_missed(row, DUE, count)
    assert count.rates() == {"cb_handler_known": 1, "cb_not_called": 1, "cb_valid": 1}
    assert count.on("cb_valid", DUE) == 1
    # a callback after the deadline does not undo it, nor count again
    tally.callback(row, Event(SATISFIED, valid(SATISFIED), at=T3), count)
    assert count.rates() == {
        "cb_handler_known": 1,
        "cb_late": 1,
        "cb_not_called": 1,
        "cb_valid": 1,
    }
    tally.callback_missed(row, DUE, count)  # a second judgement: nothing
    assert count.total("cb_not_called") == 1


@pytest.mark.parametrize(
    "row",
    [
        {"contact": False, "round": {"valid": None, "counted": None}},  # nobody to call
        {"contact": True},  # no round (closed before rounds existed)
    ],
    ids=["nobody-to-call", "no-round"],
)
def test_the_deadline_counts_nothing_for_a_round_outside_the_rates(row: dict[str, Any]) -> None:
    count = Counts()
    tally.callback_missed(row, DUE, count)
    assert count.calls == []


def test_the_deadline_counts_nothing_after_a_valid_callback() -> None:
    row, count = closed_row(), Counts()
    tally.callback(row, Event(SATISFIED, valid(SATISFIED), at=T1), count)
    before = list(count.calls)
    tally.callback_missed(row, DUE, count)
    assert count.calls == before


# -- appeals -----------------------------------------------------------------------------


def test_an_upheld_appeal_is_counted_on_the_day_the_callback_was() -> None:
    row, count = closed_row(), Counts()
    tally.callback(row, Event(DISSATISFIED, valid(DISSATISFIED), at=T1), count)
    tally.appeal(row, "pending", count)
    assert count.total("cb_appeals_upheld") == 0
    tally.appeal(row, "upheld", count)
    assert count.on("cb_appeals_upheld", T1) == 1
    assert count.total("cb_dissatisfied") == 1  # stays on record


def test_a_rejected_appeal_counts_nothing() -> None:
    row, count = closed_row(), Counts()
    tally.callback(row, Event(DISSATISFIED, valid(DISSATISFIED), at=T1), count)
    tally.appeal(row, "rejected", count)
    assert count.total("cb_appeals_upheld") == 0
    assert row["appeal"]["status"] == "rejected"


def test_an_appeal_of_a_callback_that_counted_nothing_counts_nothing() -> None:
    """A dissatisfied callback after the round was judged changed no rate: upholding
    an appeal against it must not take anything out of 满意率 either."""
    row, count = closed_row(), Counts()
    tally.callback_missed(row, DUE, count)
    tally.callback(row, Event(DISSATISFIED, valid(DISSATISFIED), at=T3), count)
    tally.appeal(row, "upheld", count)
    assert count.total("cb_appeals_upheld") == 0


def test_an_appeal_without_a_dissatisfied_callback_changes_nothing() -> None:
    row, count = closed_row(), Counts()
    tally.callback(row, Event(SATISFIED, valid(SATISFIED)), count)
    before = list(count.calls)
    tally.appeal(row, "upheld", count)
    assert count.calls == before and "appeal" not in row


# -- what survived the first mutation run (docs/mutation.md) --------------------------------


def test_a_second_replacement_takes_back_the_first_not_the_original() -> None:
    row, count = closed_row(), Counts()
    tally.callback(row, Event(DISSATISFIED, valid(DISSATISFIED), at=T1), count)
    tally.callback(row, Event(SATISFIED, valid(SATISFIED, replaces=3), at=T2), count)
    basic = {**REACHED, "handler_contacted": False, "satisfaction": "basic"}
    tally.callback(row, Event(basic, valid(basic, replaces=4), at=T3), count)
    assert count.rates() == {
        "cb_basic": 1,
        "cb_handler_known": 1,
        "cb_replaced": 2,
        "cb_solved": 1,
        "cb_valid": 1,
    }
    assert count.on("cb_valid", T1) == 1


def test_replacing_a_round_closed_as_unreachable_moves_it_into_the_rates() -> None:
    """A supervisor who reaches the resident after all replaces the unreachable close:
    the round leaves 'unreachable' and counts as reached, on the day it was closed."""
    row, count = closed_row(), Counts()
    closing = {"callback": {"valid": False, "closes": "unreachable"}}
    tally.callback(row, Event(UNREACHED, closing, at=T2), count)
    tally.callback(row, Event(SATISFIED, valid(SATISFIED, replaces=None), at=T3), count)
    assert count.total("cb_unreachable") == 0
    assert count.total("cb_valid") == 1 and count.on("cb_valid", T2) == 1


def test_a_replacement_in_a_round_never_counted_counts_on_its_own_day() -> None:
    row, count = closed_row(), Counts()
    tally.callback(row, Event(SATISFIED, valid(SATISFIED, replaces=None), at=T3), count)
    assert count.on("cb_valid", T3) == 1 and count.total("cb_valid") == 1


def test_a_dissatisfied_valid_callback_opens_an_appeal_the_followup_view_lists() -> None:
    row, count = closed_row(), Counts()
    tally.callback(row, Event(DISSATISFIED, valid(DISSATISFIED), at=T1), count)
    # projections/followup_views.py lists it as an open appeal request
    assert row["appeal"] == {"status": None, "counted_at": T1}


def test_rows_folded_before_contact_was_kept_count_as_having_someone_to_call() -> None:
    row: dict[str, Any] = {}
    tally.new_round(row)
    count = Counts()
    tally.callback_missed(row, DUE, count)
    assert count.total("cb_not_called") == 1
