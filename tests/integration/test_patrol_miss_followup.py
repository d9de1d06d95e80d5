"""A patrol-miss warning opens a follow-up item (spec/followup.md, reverse comparison,
last bullet): grid g1 misses 3 of 3 hotline tickets on Monday 2026-11-23 (no patrol
report at all: 3 ≥ `warn_min_tickets`, 1.0 ≥ `warn_rate`, so the rolling 7-day window
warns); g2 misses 2 of 2 (below 3 tickets: no warning). The worker opens one item for
g1 (reason `patrol_miss`, community level, on the newest missed ticket), shown on the
board and in g1's leader's queue; nothing for g2; nothing more on a second run; after
the item is cleared, only a later missed ticket opens a new one; never on a day beyond
the holiday data."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime
from typing import Any
from uuid import UUID

import pytest

from domain.errors import TransitionNotAllowed
from domain.principals import SYSTEM
from tests.http.support import Api, api
from tests.integration.test_reverse_comparison import SH, SUP, tickets
from tests.support import LEADER, STAFF, Clock
from workers.patrol_misses import PatrolMissWorker

D = date(2026, 11, 23)  # a Monday


def at(day: date, hh: int, mm: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hh, mm, tzinfo=SH)


def run(a: Api) -> int:
    """One pass of the worker on caught-up views; the views then see what it recorded."""
    a.container.engine.catch_up()
    n = PatrolMissWorker(a.container.service, a.container.views).run_once()
    a.container.engine.catch_up()
    return n


def items(a: Api) -> list[dict[str, Any]]:
    a.container.engine.catch_up()
    r = a.client.get("/supervision/escalations?node=m1", headers=a.h(SUP))
    assert r.status_code == 200, r.text
    return [f for f in r.json()["followups"] if f["reason"] == "patrol_miss"]


def queue(a: Api) -> set[str]:
    a.container.engine.catch_up()
    r = a.client.get("/me/queue", headers=a.h(LEADER))
    assert r.status_code == 200, r.text
    return {x["id"] for x in r.json()["items"]}


@pytest.fixture
def warned(store_url: str) -> Iterator[tuple[Api, dict[str, str]]]:
    with api(store_url, Clock(at(D, 17, 30))) as a:
        ids = tickets(a, [("A1", "sanitation", at(D, 9), None), ("A2", "road", at(D, 11), None),
                          ("A3", "sanitation", at(D, 15), None)], grid="g1")  # fmt: skip
        ids |= tickets(a, [("B1", "sanitation", at(D, 10), None),
                           ("B2", "road", at(D, 12), None)], grid="g2")  # fmt: skip
        a.clock.now = at(D, 18)
        yield a, ids


def test_a_warning_opens_one_item_to_the_grid_shown_on_the_board_and_in_its_queue(warned):
    a, ids = warned
    assert run(a) == 1
    (item,) = items(a)
    assert (item["target"], item["level"], item["status"]) == ("g1", "community", "open")
    assert (item["issue_id"], item["raised_by"]) == (ids["A3"], "system")  # the newest miss
    assert item["reply_due_at"] is not None  # the usual 1-working-day reply clock runs
    assert ids["A3"] in queue(a)  # g1's leader answers it
    history = a.client.get(f"/issues/{ids['A3']}/history", headers=a.h(SUP)).json()["events"]
    raised = [e for e in history if e.get("action") == "raise_patrol_miss"]
    assert [e["data"] for e in raised] == [{"grid_id": "g1", "days": 7, "hotline": 3, "misses": 3}]


def test_a_second_run_or_a_second_copy_opens_nothing(warned):
    a, ids = warned
    assert run(a) == 1
    assert run(a) == 0
    # a copy whose views lag still meets the domain: one item per missed ticket
    data = {"grid_id": "g1", "days": 7, "hotline": 3, "misses": 3}
    with pytest.raises(TransitionNotAllowed):
        a.container.service.act(UUID(ids["A3"]), "raise_patrol_miss", SYSTEM, data)
    assert len(items(a)) == 1


def test_after_a_clear_only_a_later_miss_opens_a_new_item(warned):
    a, ids = warned
    assert run(a) == 1
    (item,) = items(a)
    a.clock.now = at(D, 18, 30)
    a.act(ids["A3"], "reply_flag", LEADER, flag_id=item["id"], text="patrol route changed")
    a.act(ids["A3"], "clear_flag", STAFF, flag_id=item["id"], note="answered")
    assert items(a) == []
    assert run(a) == 0  # the same warning, the same newest miss: it was answered
    tuesday = date(2026, 11, 24)
    a.clock.now = at(tuesday, 11)
    ids |= tickets(a, [("A4", "sanitation", at(tuesday, 10), None)], grid="g1")
    assert run(a) == 1
    (again,) = items(a)
    assert (again["issue_id"], again["target"]) == (ids["A4"], "g1")


def test_a_grid_without_a_warning_gets_none(warned):
    a, _ = warned
    run(a)
    assert {f["target"] for f in items(a)} == {"g1"}  # g2: 2 tickets, below the minimum


def test_no_item_opens_on_a_day_beyond_the_holiday_data(store_url: str):
    day = date(2027, 1, 5)  # the package's holiday data ends on 2026-12-31
    with api(store_url, Clock(at(day, 17))) as a:
        tickets(a, [(f"C{k}", "sanitation", at(day, 9 + k), None) for k in range(3)], grid="g1")
        a.container.engine.catch_up()
        worker = PatrolMissWorker(a.container.service, a.container.views)
        assert [w["grid_id"] for w in worker.warnings()] == ["g1"]  # it warns, and yet
        assert run(a) == 0
        assert items(a) == []
