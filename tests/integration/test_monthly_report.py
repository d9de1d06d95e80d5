"""A scripted month (November 2026, injected clock) whose three rates, on-time and
patrol-miss rates were computed by hand; the service's summary equals them before and
after a rebuild, and the month's frozen report (通报) equals them, is refused before it
is due, and reads the same — JSON, CSV and XLSX — after more events arrive and under
another configuration."""

from __future__ import annotations

import io
from datetime import datetime
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

import pytest

from gridflow.settings import Settings
from tests.http.support import Api, api
from tests.support import CALLER, LEADER, STAFF, STREET, SUPERVISOR, SYSTEM, WORKER, Clock, P

SH = ZoneInfo("Asia/Shanghai")
DESK = P("intake", "c1", "hotline-desk")
NOV = "from=2026-11-01&to=2026-12-01"
REPORT = "/supervision/reports/monthly?node=m1&month=2026-11"


def on(a: Api, day: int, hh: int = 9, mm: int = 0, month: int = 11) -> None:
    a.clock.now = datetime(2026, month, day, hh, mm, tzinfo=SH)


def closed(a: Api, category: str, resolve_at: tuple[int, int, int]) -> str:
    i = a.report(WORKER, category=category, reporter=CALLER)["id"]
    a.act(i, "handle_on_spot", WORKER)
    on(a, *resolve_at)
    a.act(i, "resolve", WORKER, resolution="done")
    a.act(i, "verify", LEADER)
    return i


def callback(a: Api, i: str, contacted: bool, solved: bool, satisfaction: str) -> None:
    extra = {"reason": "came back"} if satisfaction == "dissatisfied" else {}
    a.act(
        i,
        "record_callback",
        STAFF,
        outcome="reached",
        handler_contacted=contacted,
        solved=solved,
        satisfaction=satisfaction,
        via="phone",
        **extra,
    )


def get(a: Api, path: str, who=SUPERVISOR) -> Any:
    a.container.engine.catch_up()
    return a.client.get(path, headers=a.h(who))


@pytest.fixture
def month(store_url: str):
    with api(store_url, Clock(datetime(2026, 11, 2, 9, tzinfo=SH))) as a:
        # A: in time, contacted, solved, satisfied.
        a_ = closed(a, "sanitation", (2, 10))
        callback(a, a_, True, True, "satisfied")
        # B: a road matter (4 h limit) resolved after 6 h: its resolution missed;
        # not contacted, not solved, basically satisfied.
        on(a, 3)
        b = closed(a, "road", (3, 15))
        callback(a, b, False, False, "basically_satisfied")
        # C: in time, contacted, solved, dissatisfied: back on the spot, whose new
        # resolution clock (one working day) the deadline worker records missed.
        on(a, 4)
        c = closed(a, "sanitation", (4, 10))
        callback(a, c, True, True, "dissatisfied")
        on(a, 6)
        a.container.service.act(UUID(c), "miss_deadline", SYSTEM, {"deadline": "small_resolution"})
        # The patrol finds sanitation in g1 on the 9th; two tickets come on the 10th:
        # the sanitation one is matched, the road one is a miss.
        on(a, 9)
        a.report(WORKER, channel="patrol", description="bins overflowing")
        on(a, 10, 12)
        rows = [
            {"ticket_no": "N1", "received_at": "2026-11-10T10:00:00+08:00", "grid_id": "g1",
             "category": "sanitation", "text": "bins"},
            {"ticket_no": "N2", "received_at": "2026-11-10T11:00:00+08:00", "grid_id": "g1",
             "category": "road", "text": "pothole"},
        ]  # fmt: skip
        assert a.client.post("/intake/hotline", json=rows, headers=a.h(DESK)).status_code == 200
        yield a, c


# By hand, over the three valid callbacks (A, B, C) and the deadlines due in November:
# 响应率 = contacted 2 / 3; 解决率 = solved 2 / 3; 满意率 = (1 + 0.9 × 1) / 3.
# Deadlines met: triage ×3, verification ×3, callback ×3, resolution of A and of C's
# first round = 11; missed: B's resolution, C's second resolution = 2 → 11 / 13.
# Patrol misses: 1 of 2 tickets.
EXPECTED = {
    "response_rate": 0.6667,
    "resolution_rate": 0.6667,
    "satisfaction_rate": 0.6333,
    "on_time_rate": 0.8462,
    "patrol_miss_rate": 0.5,
}


def rates(indicators: dict[str, Any]) -> dict[str, Any]:
    return {k: indicators[k] for k in EXPECTED}


def test_the_months_rates_equal_the_hand_count_before_and_after_a_rebuild(month):
    a, _ = month
    summary = get(a, f"/supervision/summary?node=m1&{NOV}").json()
    assert rates(summary["indicators"]) == EXPECTED
    assert summary["indicators"]["on_time_rate_by_kind"]["small_resolution"] == 0.5  # 2 / 4
    a.container.engine.rebuild(switch=True)
    assert (
        get(a, f"/supervision/summary?node=m1&{NOV}").json()["indicators"]
        == (summary["indicators"])
    )


def test_the_frozen_report_reads_the_same_after_more_events_and_another_configuration(
    month, store_url: str
):
    a, c = month
    on(a, 3, month=12)  # 1, 2, 3 December are working days: not due before the 4th
    early = get(a, REPORT)
    assert early.status_code == 409 and early.json()["error"]["code"] == "report_not_due"
    on(a, 4, month=12)
    first = get(a, REPORT)
    assert first.status_code == 200, first.text
    report = first.json()
    assert rates(report["indicators"]) == EXPECTED
    assert report["policy"]["score_weights"]["on_time_rate"] == 0.3
    assert report["policy"]["satisfaction_basic_weight"] == 0.9
    # A grid worker's report is a patrol find: B, road in g1, was closed on the 3rd, so
    # the road ticket of the 10th is 处置不实.
    assert report["patrol_miss_totals"]["by_kind"] == {
        "not_found": 0,
        "found_not_handled": 0,
        "closed_then_complained": 1,
    }
    csv_first, xlsx_first = (get(a, f"{REPORT}&format={f}").content for f in ("csv", "xlsx"))
    assert "indicators,,satisfaction_rate,0.6333" in csv_first.decode("utf-8-sig")

    # After the freeze: C's dissatisfied callback is appealed and upheld, which takes it
    # out of November's 满意率 in the live views ((1 + 0.9) / 2 = 0.95).
    on(a, 7, month=12)
    # (C's missed resolution moved it to the community's coordination: the grid leader
    # handles it now)
    a.act(c, "appeal_callback", LEADER, reason="the demand is outside any unit's remit")
    a.act(c, "uphold_appeal", STREET, reason="agreed")
    live = get(a, f"/supervision/summary?node=m1&{NOV}").json()["indicators"]
    assert live["satisfaction_rate"] == 0.95
    assert get(a, REPORT).json() == report
    assert get(a, f"{REPORT}&format=csv").content == csv_first
    assert get(a, f"{REPORT}&format=xlsx").content == xlsx_first
    a.close()

    # Another configuration later: other weights, another "basically satisfied" weight.
    other = Settings(
        database_url=store_url,
        score_weights={"on_time_rate": 1.0},
        satisfaction_basic_weight=0.5,
        ranking_min_sample=1,
    )
    with api(store_url, Clock(datetime(2027, 1, 5, 9, tzinfo=SH)), other) as b:
        assert get(b, REPORT).json() == report
        assert get(b, f"{REPORT}&format=xlsx").content == xlsx_first


def test_the_xlsx_has_a_sheet_per_section(month):
    from openpyxl import load_workbook

    a, _ = month
    on(a, 4, month=12)
    book = load_workbook(io.BytesIO(get(a, f"{REPORT}&format=xlsx").content))
    assert {"report", "policy", "indicators"} <= set(book.sheetnames)
    values = {(r[0], r[1]): r[2] for r in book["indicators"].iter_rows(values_only=True)}
    assert values[(None, "response_rate")] == 0.6667
    # The report is an event of its own: the audit chain covers it, the outbox and the
    # views pass it by.
    a.container.audit.catch_up()
    c = a.container
    c.outbox.catch_up(c.service.org().covers)
    assert c.outbox.position() == c.service.head()
    assert c.views.quarantined() == {} or not any(c.views.quarantined().values())
    a.container.engine.catch_up()
    assert a.container.engine.position() == a.container.service.head()
    verified = get(a, "/audit/verify", who=P("auditor", "c1")).json()
    assert verified["ok"] and verified["first_bad_position"] is None
    assert get(a, REPORT, who=WORKER).status_code == 403
    assert get(a, "/supervision/reports/monthly?node=m1&month=2026-13").status_code == 422
