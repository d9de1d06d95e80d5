"""Hot spots of a month counted by hand: reports by category against the month before,
repeats at the same place within 30 days, and dissatisfaction over valid callbacks."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from tests.http.support import Api, api
from tests.support import CALLER, LEADER, STAFF, SUPERVISOR, WORKER, Clock

SH = ZoneInfo("Asia/Shanghai")
X, Y = (37.502, 122.102), (37.508, 122.108)  # about 900 m apart, both in g1
CALLBACK = {"outcome": "reached", "handler_contacted": True, "solved": True, "via": "phone"}


def on(a: Api, month: int, day: int) -> None:
    a.clock.now = datetime(2026, month, day, 9, tzinfo=SH)


def report(a: Api, category: str, where=None, **body: Any) -> str:
    if where:
        body["location"] = {"lat": where[0], "lon": where[1]}
    return a.report(WORKER, category=category, **body)["id"]


def settle_and_call(a: Api, i: str, satisfaction: str) -> None:
    a.act(i, "handle_on_spot", WORKER)
    a.act(i, "resolve", WORKER, resolution="done")
    a.act(i, "verify", LEADER)
    extra = {"reason": "came back"} if satisfaction == "dissatisfied" else {}
    a.act(i, "record_callback", STAFF, satisfaction=satisfaction, **CALLBACK, **extra)


def test_hot_spots_of_a_month_against_the_month_before(store_url: str):
    with api(store_url, Clock(datetime(2026, 10, 20, 9, tzinfo=SH))) as a:
        report(a, "sanitation", X)  # October: sanitation 1, road 2
        on(a, 10, 21)
        report(a, "road")
        report(a, "road")
        on(a, 11, 5)
        first = report(a, "sanitation", X, reporter=CALLER)  # repeat of 20 Oct (16 days)
        settle_and_call(a, first, "dissatisfied")
        on(a, 11, 10)
        second = report(a, "sanitation", X, reporter=CALLER)  # repeat of 5 Nov
        settle_and_call(a, second, "satisfied")
        on(a, 11, 12)
        report(a, "sanitation", Y)  # first at Y: no repeat
        report(a, "sanitation")  # no place: not judged
        on(a, 11, 15)
        report(a, "road", X)  # October's road reports had no place: no repeat
        a.container.engine.catch_up()
        r = a.client.get("/supervision/hotspots?node=m1&month=2026-11", headers=a.h(SUPERVISOR))
        assert r.status_code == 200, r.text
        body = r.json()
        assert (body["month"], body["previous_month"]) == ("2026-11", "2026-10")
        sanitation, road = body["items"]
        assert sanitation == {
            "category": "sanitation",
            "reported": 4,
            "previous": 1,
            "change": 3,
            "change_rate": 3.0,
            "with_place": 3,
            "repeats": 2,
            "repeat_rate": 0.6667,
            "valid_callbacks": 2,
            "dissatisfied": 1,
            "dissatisfaction_rate": 0.5,
        }
        assert road == {
            "category": "road",
            "reported": 1,
            "previous": 2,
            "change": -1,
            "change_rate": -0.5,
            "with_place": 1,
            "repeats": 0,
            "repeat_rate": 0.0,
            "valid_callbacks": 0,
            "dissatisfied": 0,
            "dissatisfaction_rate": None,
        }
        a.container.engine.rebuild(switch=True)
        again = a.client.get("/supervision/hotspots?node=m1&month=2026-11", headers=a.h(SUPERVISOR))
        assert again.json() == body
        bad = a.client.get("/supervision/hotspots?node=m1&month=2026-13", headers=a.h(SUPERVISOR))
        assert bad.status_code == 422
        assert a.client.get("/supervision/hotspots", headers=a.h(WORKER)).status_code == 403
