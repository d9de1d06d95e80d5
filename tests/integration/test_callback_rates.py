"""The three rates (三率) over valid callbacks, against hand counts, on both stores and
after a rebuild; the gaming attempts on callbacks do not move them."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any
from uuid import UUID

import pytest

from domain.errors import SeparationOfDuties, TransitionNotAllowed
from gridflow.container import Container
from gridflow.settings import Settings
from projections.verify import rebuild_and_verify
from tests.support import LEADER, ORG, RESIDENT, STAFF, STREET, WORKER, Clock, P
from workers.deadlines import DeadlineWorker

DESK = P("community_staff", "m1", "callback-desk")


def reached(handler: bool, solved: bool, satisfaction: str, **extra: Any) -> dict[str, Any]:
    body = {
        "outcome": "reached",
        "handler_contacted": handler,
        "solved": solved,
        "satisfaction": satisfaction,
        "via": "phone",
        **extra,
    }
    if satisfaction == "dissatisfied":
        body["reason"] = "not fixed"
    return body


UNREACHABLE = {"outcome": "unreachable", "via": "phone"}


class Month:
    def __init__(self, url: str) -> None:
        self.clock = Clock()
        self.c = Container(Settings(database_url=url), clock=self.clock)
        self.c.service.load_org(ORG)
        self.svc = self.c.service

    def closed(self, reporter: Any = RESIDENT, **extra: Any) -> UUID:
        body = {"grid_id": "g1", "category": "sanitation", "description": "bins", **extra}
        i = self.svc.report(reporter, body).issue.id
        self.svc.act(i, "handle_on_spot", WORKER)
        self.svc.act(i, "resolve", WORKER, {"resolution": "emptied"})
        self.svc.act(i, "verify", LEADER)
        return i

    def rates(self) -> dict[str, Any]:
        self.c.engine.catch_up()
        day = date(2026, 11, 23)
        out = self.c.views.summary("c1", day, day + timedelta(days=7), self.clock.now)
        keys = ("response_rate", "resolution_rate", "satisfaction_rate")
        return {"rates": {k: out["indicators"][k] for k in keys}, "counts": out["counts"]}


@pytest.fixture
def month(store_url: str):
    m = Month(store_url)
    yield m
    m.c.close()


def test_the_three_rates_equal_a_hand_count(month: Month) -> None:
    svc = month.svc
    a = month.closed()
    svc.act(a, "record_callback", DESK, reached(True, True, "satisfied"))
    b = month.closed()
    svc.act(b, "record_callback", DESK, reached(False, True, "basically_satisfied"))
    c = month.closed()  # the old shape: whether the unit contacted them is unknown
    old = {"contacted": True, "solved": True, "satisfaction": "satisfied"}
    svc.act(c, "record_callback", DESK, old)
    d = month.closed()
    svc.act(d, "record_callback", RESIDENT, reached(True, False, "dissatisfied"))
    svc.act(d, "appeal_callback", WORKER, {"reason": "asks for a new building"})
    svc.act(d, "uphold_appeal", STREET, {"reason": "outside any remit"})
    e = month.closed()  # three attempts, 09:00, 13:00, 17:00: unreachable
    for _ in range(3):
        svc.act(e, "record_callback", DESK, UNREACHABLE)
        month.clock.advance(hours=4)
    f = month.closed()  # nobody calls: judged at its deadline
    month.closed(WORKER)  # a patrol find with nobody to call: outside the rates
    h = month.closed()
    svc.act(h, "record_callback", DESK, reached(True, True, "satisfied"))
    replace = reached(True, False, "basically_satisfied", replaces_reason="called a neighbour")
    svc.act(h, "record_callback", STREET, replace)
    month.clock.advance(days=2)
    month.c.engine.catch_up()
    DeadlineWorker(svc, month.c.views).run_once()
    assert svc.get(f).callback_round["judged"]

    # valid rounds: a, b, c, d, f (not called), h (its replacement) = 6; e apart
    # 响应率: contacted by the unit a, d, h of those known (a, b, d, f, h) = 3/5
    # 解决率: solved a, b, c = 3/6
    # 满意率: (a, c satisfied + 0.9 × b, h basically) / (6 − d's upheld appeal) = 3.8/5
    got = month.rates()
    assert got["rates"] == {
        "response_rate": 0.6,
        "resolution_rate": 0.5,
        "satisfaction_rate": 0.76,
    }
    counts = got["counts"]
    assert counts["cb_valid"] == 6
    assert counts["cb_unreachable"] == 1
    assert counts["cb_not_called"] == 1
    assert counts["cb_replaced"] == 1
    assert counts["cb_appeals_upheld"] == 1

    month.c.engine.rebuild(switch=True, grace=0.0)
    assert month.rates() == got
    assert rebuild_and_verify(month.c.engine, svc.head()) == {}


def test_gaming_the_callbacks_does_not_move_the_rates(month: Month) -> None:
    svc = month.svc
    body = {"grid_id": "g1", "category": "sanitation", "description": "a big matter"}
    a = svc.report(RESIDENT, body).issue.id  # resolved by the community's own staff
    svc.act(a, "coordinate", STAFF, {"lead_party": "property company"})
    svc.act(a, "resolve", STAFF, {"resolution": "agreed with the owners"})
    svc.act(a, "verify", STREET)
    b = month.closed()
    svc.act(b, "record_callback", DESK, reached(False, True, "basically_satisfied"))
    before = month.rates()

    # the resolver calls the resident herself
    with pytest.raises(SeparationOfDuties):
        svc.act(a, "record_callback", STAFF, reached(True, True, "satisfied"))
    # a second satisfied callback in one round
    for who in (RESIDENT, DESK):
        with pytest.raises(TransitionNotAllowed):
            svc.act(b, "record_callback", who, reached(True, True, "satisfied"))
    # not calling at all
    month.clock.advance(days=2)
    month.c.engine.catch_up()
    DeadlineWorker(svc, month.c.views).run_once()
    after = month.rates()
    assert after["rates"]["response_rate"] == before["rates"]["response_rate"] == 0.0
    # the round of `a` nobody called counts as not contacted, not solved, not satisfied
    assert after["counts"]["cb_valid"] == before["counts"]["cb_valid"] + 1
    assert after["rates"]["satisfaction_rate"] == round(0.9 / 2, 4)


def test_a_late_callback_does_not_undo_a_round_judged_at_its_deadline(month: Month) -> None:
    svc = month.svc
    a = month.closed()
    month.clock.advance(days=2)
    month.c.engine.catch_up()
    DeadlineWorker(svc, month.c.views).run_once()
    judged = month.rates()
    svc.act(a, "record_callback", DESK, reached(True, True, "satisfied"))
    late = month.rates()
    assert (
        late["rates"]
        == judged["rates"]
        == {
            "response_rate": 0.0,
            "resolution_rate": 0.0,
            "satisfaction_rate": 0.0,
        }
    )
    assert late["counts"]["cb_late"] == 1
