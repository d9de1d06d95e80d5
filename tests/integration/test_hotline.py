"""12345 intake and the reverse comparison on a scripted day whose misses, rates and
warnings were worked out by hand (see the comments)."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tests.http.support import Api, api
from tests.support import LEADER, WORKER, Clock, P

SH = ZoneInfo("Asia/Shanghai")
D = date(2026, 11, 23)  # the day compared (the test clock's Monday)
DESK = P("intake", "c1", "hotline-desk")
W3 = P("grid_worker", "g3")
M = 1 / 111_000  # degrees of latitude per metre


def at(day: date, hh: int, mm: int = 0) -> str:
    return datetime(day.year, day.month, day.day, hh, mm, tzinfo=SH).isoformat()


A = (37.5085, 122.1035)
B = (37.5020, 122.1020)
C = (37.5060, 122.1080)


def patrol(a: Api, who, grid: str, category: str, when: str, where=None, late=0) -> str:
    """A patrol report recorded at `when` (or `late` minutes after it): the comparison
    goes by the log's time, not the claimed one."""
    a.clock.now = datetime.fromisoformat(when) + timedelta(minutes=late)
    body: dict[str, Any] = {
        "grid_id": grid,
        "category": category,
        "description": "patrol",
        "channel": "patrol",
        "occurred_at": when,
    }
    if where:
        body["location"] = {"lat": where[0], "lon": where[1]}
    return a.report(who, **body)["id"]


def ticket(no: str, grid: str | None, category: str, when: str, where=None, **extra) -> dict:
    row: dict[str, Any] = {
        "ticket_no": no,
        "received_at": when,
        "category": category,
        "text": f"ticket {no}",
        **extra,
    }
    if grid:
        row["grid_id"] = grid
    if where:
        row["lat"], row["lon"] = where
    return row


def post(a: Api, rows: list[dict]) -> dict:
    r = a.client.post("/intake/hotline", json=rows, headers=a.h(DESK))
    assert r.status_code == 200, r.text
    return r.json()


@pytest.fixture
def day(store_url: str):
    with api(store_url, Clock(datetime(2026, 11, 19, tzinfo=SH))) as a:
        ids = {
            # exactly 72 h before H1, 100 m from it: matched (the window is inclusive)
            "P1": patrol(
                a, WORKER, "g1", "sanitation", at(D - timedelta(days=3), 10), (A[0] + 100 * M, A[1])
            ),
            "P2": patrol(a, WORKER, "g1", "road", at(D, 10, 30), (B[0] + 250 * M, B[1])),
            "P3": patrol(a, WORKER, "g1", "road", at(D, 11, 50), (C[0] + 350 * M, C[1])),
            "P4": patrol(a, WORKER, "g1", "sanitation", at(D, 8), (37.5005, 122.1095)),
            # 72 h and one minute before H10: just outside the window
            "P10": patrol(a, W3, "g3", "road", at(D - timedelta(days=3), 9, 59)),
        }
        a.clock.now = datetime.fromisoformat(at(D, 17))  # the day's tickets come in
        first = post(
            a,
            [
                ticket("H1", None, "sanitation", at(D, 10), A),  # matched by P1, at the edge
                ticket("H2", None, "road", at(D, 11), B),  # P2 is 250 m away: matched
                ticket("H3", None, "road", at(D, 12), C),  # P3 is 350 m away: missed
                ticket("H4", "g1", "sanitation", at(D, 13)),  # no coordinates: P4 matches
                ticket("H5", "g2", "sanitation", at(D, 14)),  # g2 has no patrol at all
                ticket("H6", None, "sanitation", at(D, 15), address="幸福路1号"),  # g2 by address
                ticket("H7", "g2", "road", at(D, 16), caller="13700000000"),
                ticket("H10", "g3", "road", at(D, 10)),  # P10 is a minute too early
            ],
        )
        late = post(a, [ticket("H8", "g1", "sanitation", at(D, 9, 30))])  # arrives last
        ids.update({r["ticket_no"]: r["issue_id"] for r in first["rows"] + late["rows"]})
        a.container.engine.catch_up()
        yield a, ids, first


def test_every_row_is_created_with_the_channel_and_grid(day):
    a, ids, first = day
    assert first["counts"] == {"created": 8, "duplicate": 0, "error": 0, "consult": 0, "merged": 0}
    h6 = a.client.get(f"/issues/{ids['H6']}", headers=a.h(LEADER)).json()
    assert (h6["channel"], h6["grid_id"]) == ("hotline", "g2")


def test_the_misses_rates_and_warnings_of_the_day(day):
    a, ids, _ = day
    sup = P("city_supervisor", "c1")
    r = a.client.get(f"/supervision/patrol-misses?node=c1&date={D}", headers=a.h(sup)).json()
    per = {i["grid_id"]: i for i in r["items"]}
    assert (per["g1"]["hotline"], per["g1"]["misses"], per["g1"]["missed"]) == (5, 1, [ids["H3"]])
    assert per["g1"]["miss_rate"] == 0.2 and not per["g1"]["warning"]
    assert (per["g2"]["hotline"], per["g2"]["misses"], per["g2"]["warning"]) == (3, 3, True)
    assert per["g2"]["patrolled"] is False
    assert (per["g3"]["hotline"], per["g3"]["misses"], per["g3"]["warning"]) == (1, 1, False)
    assert (r["hotline"], r["misses"], r["warnings"]) == (9, 5, ["g2"])


def test_reimporting_changes_nothing_and_broken_rows_are_reported(day):
    a, _ids, _ = day
    head = a.container.service.head()
    again = post(
        a,
        [
            ticket("H1", None, "sanitation", at(D, 10), A),
            ticket("H5", "g2", "sanitation", at(D, 14)),
        ],
    )
    assert again["counts"] == {"created": 0, "duplicate": 2, "error": 0, "consult": 0, "merged": 0}
    assert a.container.service.head() == head
    # a file holding one imported ticket and one new: the new one is created all the same
    part = post(
        a, [ticket("H1", None, "sanitation", at(D, 10), A), ticket("N1", "g1", "road", at(D, 9))]
    )
    assert part["counts"] == {"created": 1, "duplicate": 1, "error": 0, "consult": 0, "merged": 0}
    new = part["rows"][1]["issue_id"]
    assert a.client.get(f"/issues/{new}", headers=a.h(DESK)).json()["state"] == "reported"
    head = a.container.service.head()
    mixed = post(
        a,
        [
            {"received_at": at(D, 9), "category": "road", "text": "no ticket number"},
            ticket("X1", "g1", "road", "yesterday"),
            ticket("X2", "g1", "no-such-category", at(D, 9)),
            ticket("X3", "g1", "road", at(D, 9, 5)),
            ticket("X4", None, "road", at(D, 9), (30.0, 120.0)),
            ticket("X5", None, "road", at(D, 9), address="nowhere"),
            ticket("X6", "g2", "road", at(D, 9, 10), (31.0, 121.0), crs="bd09"),
        ],
    )
    status = [(r["ticket_no"], r["status"]) for r in mixed["rows"]]
    # Issue 15: an unknown category or a place that matches no grid is not refused: the
    # ticket waits for 分拨 at the desk's node (before, these rows were errors).
    assert status == [
        (None, "error"),
        ("X1", "error"),
        ("X2", "created"),
        ("X3", "created"),
        ("X4", "created"),
        ("X5", "created"),
        ("X6", "created"),
    ]
    waiting = {
        r["ticket_no"]: a.client.get(f"/issues/{r['issue_id']}", headers=a.h(DESK)).json()
        for r in mixed["rows"][2:6]
        if r["ticket_no"] != "X3"
    }
    assert {k: (v["grid_id"], v["node_id"], v["unplaced"]) for k, v in waiting.items()} == {
        "X2": (None, "c1", ["category"]),
        "X4": (None, "c1", ["location"]),
        "X5": (None, "c1", ["location.address"]),
    }


def test_csv_imports_too(day):
    a, _, _ = day
    csv = (
        "ticket_no,received_at,grid_id,category,text,caller\n"
        f"C1,{at(D, 17)},g1,road,坑洼,13600000000\n"
        f"C2,{at(D, 18)},g9,road,wrong grid,\n"
    )
    r = a.client.post(
        "/intake/hotline", content=csv.encode(), headers=a.h(DESK, **{"Content-Type": "text/csv"})
    )
    # the unknown grid waits for 分拨 (issue 15; it was an error before)
    assert [row["status"] for row in r.json()["rows"]] == ["created", "created"]
    bad = a.client.post("/intake/hotline", content=b"\xff\xfe", headers=a.h(DESK))
    assert bad.status_code == 400
    assert a.client.post("/intake/hotline", json=[], headers=a.h(WORKER)).status_code == 403


def test_results_equal_a_rebuild_from_the_log(day):
    a, _, _ = day
    sup = P("city_supervisor", "c1")
    before = a.client.get(f"/supervision/patrol-misses?node=c1&date={D}", headers=a.h(sup)).json()
    a.container.engine.rebuild(switch=True)
    after = a.client.get(f"/supervision/patrol-misses?node=c1&date={D}", headers=a.h(sup)).json()
    assert before == after and before["hotline"] == 9


def test_likely_duplicates_are_proposed_and_merged(day):
    a, ids, _ = day
    h2 = a.client.get(f"/issues/{ids['H2']}", headers=a.h(LEADER)).json()
    assert [c["id"] for c in h2["merge_candidates"]] == [ids["P2"]]
    assert h2["merge_candidates"][0]["distance_m"] == 250
    proposals = a.client.get("/supervision/merge-proposals?node=g1", headers=a.h(LEADER)).json()
    assert {p["hotline_issue"] for p in proposals["items"]} >= {ids["H2"]}
    merged = a.act(ids["H2"], "merge", LEADER, duplicate_of=ids["P2"])
    assert merged["state"] == "merged"
    assert a.client.get(f"/issues/{ids['P2']}", headers=a.h(LEADER)).json()["duplicates"] == [
        ids["H2"]
    ]
