"""The reverse comparison on recorded time: a scripted day in grid g1 whose matches,
miss kinds and warning were counted by hand, and the ways to game it that the issue
reported (a back-dated report, a rejected report, a resident on channel patrol, a
report without a place), each of which must leave the numbers as they were.

Places in g1 (at least 500 m apart, so that none is within 300 m of another):
X (37.502, 122.102), Y (37.508, 122.108), Z (37.502, 122.108), W (37.508, 122.102).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tests.http.support import Api, api
from tests.support import LEADER, RESIDENT, WORKER, Clock, P

SH = ZoneInfo("Asia/Shanghai")
D = date(2026, 11, 23)
DESK = P("intake", "c1", "hotline-desk")
SUP = P("city_supervisor", "c1")
W3 = P("grid_worker", "g3")
X, Y, Z, W = (37.502, 122.102), (37.508, 122.108), (37.502, 122.108), (37.508, 122.102)


def at(day: date, hh: int, mm: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hh, mm, tzinfo=SH)


def patrol(
    a: Api, category: str, recorded: datetime, where=None, claimed=None, grid="g1", who=WORKER
) -> str:
    """A patrol report the log records at `recorded`, claiming `claimed` (default: then)."""
    a.clock.now = recorded
    body: dict[str, Any] = {
        "grid_id": grid,
        "category": category,
        "description": "patrol",
        "channel": "patrol",
        "occurred_at": (claimed or recorded).isoformat(),
    }
    if where:
        body["location"] = {"lat": where[0], "lon": where[1]}
    return a.report(who, **body)["id"]


def tickets(a: Api, rows: list[tuple[str, str, datetime, Any]], grid: str | None = None) -> dict:
    body = []
    for no, category, when, where in rows:
        row: dict[str, Any] = {
            "ticket_no": no,
            "received_at": when.isoformat(),
            "category": category,
            "text": no,
        }
        if where:
            row["lat"], row["lon"] = where
        else:
            row["grid_id"] = grid
        body.append(row)
    r = a.client.post("/intake/hotline", json=body, headers=a.h(DESK))
    assert r.status_code == 200, r.text
    return {x["ticket_no"]: x["issue_id"] for x in r.json()["rows"]}


def misses(a: Api, node: str = "m1", day: date = D) -> dict[str, Any]:
    a.container.engine.catch_up()
    r = a.client.get(f"/supervision/patrol-misses?node={node}&date={day}", headers=a.h(SUP))
    assert r.status_code == 200, r.text
    return r.json()


def numbers(result: dict[str, Any]) -> dict[str, Any]:
    """What a gaming attempt must not move: every ticket's outcome and every rate."""
    return {
        "items": [
            {k: c[k] for k in ("grid_id", "date", "hotline", "misses", "by_kind", "missed")}
            | {"warning": c["warning"]}
            for c in result["items"]
        ],
        "totals": (result["hotline"], result["misses"], result["miss_rate"], result["by_kind"]),
    }


@pytest.fixture
def day(store_url: str):
    with api(store_url, Clock(at(D - timedelta(days=10), 8))) as a:
        ids: dict[str, str] = {}
        # W: found, settled and closed ten days before its ticket (处置不实 when it comes)
        ids["pW"] = patrol(a, "sanitation", at(D - timedelta(days=10), 9), W)
        a.act(ids["pW"], "handle_on_spot", WORKER)
        a.act(ids["pW"], "resolve", WORKER, resolution="cleaned")
        a.act(ids["pW"], "verify", LEADER)
        # Y road: found at 08:30 and taken on the spot, never settled (4 h limit)
        ids["pY"] = patrol(a, "road", at(D, 8, 30), Y)
        a.clock.now = at(D, 8, 35)
        a.act(ids["pY"], "handle_on_spot", WORKER)
        ids["pZ"] = patrol(a, "sanitation", at(D, 9), Z)  # Z: found, being handled
        ids["pX"] = patrol(a, "road", at(D, 13), X)  # X road: found, then rejected
        a.clock.now = at(D, 13, 10)
        a.act(ids["pX"], "reject", LEADER, reason="not a grid matter")
        ids["p-"] = patrol(a, "sanitation", at(D, 14, 30))  # no place given
        a.clock.now = at(D, 17, 30)
        ids |= tickets(
            a,
            [
                ("T1", "sanitation", at(D, 10), X),  # nothing at X: not_found
                ("T2", "road", at(D, 14), X),  # only the rejected report: not_found
                ("T3", "sanitation", at(D, 15), Y),  # only the report without place: not_found
                ("T4", "sanitation", at(D, 16), Z),  # pZ recorded 09:00: matched
                ("T5", "road", at(D, 17), Y),  # pY open past its deadline: found_not_handled
                ("T6", "sanitation", at(D, 11, 30), W),  # pW closed 10 days before
            ],
        )
        yield a, ids


def test_misses_by_kind_on_recorded_time(day):
    a, ids = day
    r = misses(a)
    (g1,) = r["items"]
    assert (g1["grid_id"], g1["hotline"], g1["matched"], g1["misses"]) == ("g1", 6, 1, 5)
    assert g1["by_kind"] == {"not_found": 3, "found_not_handled": 1, "closed_then_complained": 1}
    kinds = {m["issue_id"]: (m["kind"], m["patrol_id"]) for m in g1["miss_details"]}
    assert kinds == {
        ids["T1"]: ("not_found", None),
        ids["T2"]: ("not_found", None),
        ids["T3"]: ("not_found", None),
        ids["T5"]: ("found_not_handled", ids["pY"]),
        ids["T6"]: ("closed_then_complained", ids["pW"]),
    }
    assert g1["miss_rate"] == round(5 / 6, 4) and g1["warning"]  # 6 ≥ 3 tickets, 0.83 ≥ 0.3
    assert g1["rolling_7"] == {"days": 7, "hotline": 6, "misses": 5, "miss_rate": 0.8333,
                               "warning": True}  # fmt: skip
    (grid,) = r["grids"]
    # recorded on D in g1: pY, pZ, pX (rejected), p-: four reports, three found
    assert (grid["patrol_reports"], grid["found"], grid["late_entries"]) == (4, 3, [])
    assert r["warnings"] == ["g1"]


def test_a_back_dated_report_moves_nothing_and_is_listed_as_a_late_entry(day):
    a, _ = day
    before = misses(a)
    # After the tickets, two reports at X claim to have come before T1 (10:00): one
    # claims 09:30 (recorded 8.5 h later: a late entry), one 16:30 (1.5 h: not late,
    # but recorded after every ticket).
    late = patrol(a, "sanitation", at(D, 18), X, claimed=at(D, 9, 30))
    patrol(a, "sanitation", at(D, 18), X, claimed=at(D, 16, 30))
    after = misses(a)
    assert numbers(after) == numbers(before)
    assert after["grids"][0]["late_entries"] == [late] and after["late_entries"] == 1
    assert after["grids"][0]["found"] == before["grids"][0]["found"] + 2


def test_a_resident_cannot_report_on_channel_patrol(day):
    a, _ = day
    before, head = misses(a), a.container.service.head()
    a.clock.now = at(D, 9, 45)
    r = a.client.post(
        "/issues",
        json={
            "grid_id": "g1",
            "category": "sanitation",
            "description": "I saw it first",
            "channel": "patrol",
            "location": {"lat": X[0], "lon": X[1]},
        },
        headers=a.h(RESIDENT),
    )
    assert r.status_code == 422 and "channel" in r.text
    assert a.container.service.head() == head
    assert numbers(misses(a)) == numbers(before)


def test_the_comparison_equals_a_rebuild_from_the_log(day):
    a, _ = day
    before = misses(a)
    a.container.engine.rebuild(switch=True)
    assert misses(a) == before


def test_misses_spread_over_days_warn_on_the_rolling_window(store_url: str):
    """Ten tickets over five days, all missed, two a day: no day reaches the minimum of
    three tickets, the rolling 7 days do from the second day on (4/4, 6/6, …, 10/10)."""
    start = D - timedelta(days=4)
    with api(store_url, Clock(at(start, 8))) as a:
        for k in range(5):
            on = start + timedelta(days=k)
            a.clock.now = at(on, 18)
            tickets(a, [(f"R{k}a", "road", at(on, 9), None), (f"R{k}b", "road", at(on, 15), None)],
                    grid="g3")  # fmt: skip
        a.container.engine.catch_up()
        r = a.client.get(
            f"/supervision/patrol-misses?node=m2&from={start}&to={D + timedelta(days=1)}",
            headers=a.h(SUP),
        ).json()
        days = {c["date"]: c for c in r["items"]}
        assert [c["miss_rate"] for c in days.values()] == [1.0] * 5
        assert [c["rolling_7"]["hotline"] for c in days.values()] == [2, 4, 6, 8, 10]
        assert [c["warning"] for c in days.values()] == [False, True, True, True, True]
        (g3,) = r["grids"]
        assert g3["rolling_7"]["misses"] == g3["rolling_30"]["misses"] == 10
        assert g3["warning"] and r["warnings"] == ["g3"]
        # The same grid asked for the last day only still warns: the window reaches back.
        last = a.client.get(f"/supervision/patrol-misses?node=m2&date={D}", headers=a.h(SUP))
        assert last.json()["items"][0]["rolling_7"]["hotline"] == 10
        assert last.json()["warnings"] == ["g3"]
        # The summary's figures are the comparison's own (read without its per-grid page).
        for period in (
            f"from={start}&to={D + timedelta(days=1)}",
            f"from={D}&to={D + timedelta(days=1)}",
        ):
            summary = a.client.get(f"/supervision/summary?node=m2&{period}", headers=a.h(SUP))
            page = a.client.get(f"/supervision/patrol-misses?node=m2&{period}", headers=a.h(SUP))
            got, full = summary.json(), page.json()
            assert got["patrol_misses"] == {
                "hotline": full["hotline"],
                "misses": full["misses"],
                "warnings": full["warnings"],
            }
            assert full["warnings"] == ["g3"] and full["hotline"] > 0
            assert got["indicators"]["patrol_miss_rate"] == full["miss_rate"]
