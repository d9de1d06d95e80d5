"""12345 both ways, on a realistic hotline day (both stores, over HTTP): tickets as the
hotline exports them — local times without offsets, its own category names, free-text
addresses, consultations it answered itself, 举报 with callers to protect — come in;
results and the hotline's own callbacks go back and forth."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from api.answers import HotlineReplies, ImportAnswer
from tests.http.support import Api
from tests.integration.test_notifications import Receiver, api, flush, subscribe
from tests.support import LEADER, ORG, STAFF, STREET, WORKER, P

STREET_DESK = P("intake", "s1", "street-desk")  # the street's dispatch desk (街道分拨)
CITY_DESK = P("intake", "c1", "hotline-12345")
ORG_HOTLINE: dict[str, Any] = {
    **ORG,
    "categories": [
        {"code": "sanitation", "name": "Exposed rubbish", "hotline_names": ["垃圾暴露"]},
        {"code": "road", "name": "Damaged road", "hotline_names": ["道路破损", "路面坑洼"]},
    ],
}


def row(no: str, **extra: Any) -> dict[str, Any]:
    return {
        "ticket_no": no,
        "received_at": "2026-11-23T08:10:00",  # the hotline's local time, no offset
        "ticket_type": "complaint",
        "category": "道路破损",
        "grid_id": "g1",
        "text": f"ticket {no}",
        **extra,
    }


DAY = [
    row(
        "H1",
        dispatched_at="2026-11-23T08:40:00",
        due_at="2026-11-25T17:30:00",
        address="幸福路1号",
    ),
    row("H2", ticket_type="consult", text="when is bulky waste collected?"),
    row("H3", ticket_type="consult", dispatched_at="2026-11-23 08:50:00"),
    row("H4", ticket_type="report", caller="13900000004", text="illegal dumping at night"),
    row("H5", category="油烟扰民", dispatched_at="2026-11-23T08:45:00"),
    {**row("H6", address="无名路9号"), "grid_id": None},
]


def imported(a: Api, rows: list[dict[str, Any]], desk: Any = STREET_DESK) -> dict[str, Any]:
    r = a.client.post("/intake/hotline", json=rows, headers=a.h(desk))
    assert r.status_code == 200, r.text
    ImportAnswer.model_validate(r.json())  # the answer the OpenAPI document declares
    return {x["ticket_no"]: x for x in r.json()["rows"]}


def issue(a: Api, i: str, who: Any = STREET_DESK) -> dict[str, Any]:
    r = a.client.get(f"/issues/{i}", headers=a.h(who))
    assert r.status_code == 200, r.text
    return r.json()


def queued(a: Api, who: Any) -> set[str]:
    a.container.engine.catch_up()
    return {x["id"] for x in a.client.get("/me/queue", headers=a.h(who)).json()["items"]}


def test_a_hotline_day_both_ways(store_url: str):
    receiver = Receiver()
    with api(store_url) as a:
        a.container.service.load_org(ORG_HOTLINE)
        sub = subscribe(a, STREET_DESK, receiver.url, nodes=["s1"], hotline_replies=True)
        a.clock.advance(hours=2)  # the desk imports at 11:00: no clock may start then
        rows = imported(a, DAY)
        assert {k: v["status"] for k, v in rows.items()} == {
            "H1": "created",
            "H2": "consult",  # answered by the hotline itself: no issue
            "H3": "created",  # a consultation the hotline dispatched
            "H4": "created",
            "H5": "created",  # unknown category: waits for 分拨, not refused
            "H6": "created",  # unmatched address: waits for 分拨, not refused
        }
        ids = {k: v["issue_id"] for k, v in rows.items() if "issue_id" in v}

        # Times are the jurisdiction's (Shanghai); clocks start at dispatch, not import.
        h1 = issue(a, ids["H1"])
        assert h1["category"] == "road" and h1["hotline"]["hotline_category"] == "道路破损"
        assert h1["occurred_at"] == "2026-11-23T08:10:00+08:00"
        clocks = {d["kind"]: d for d in h1["deadlines"]}
        assert _utc(clocks["triage"]["started_at"]) == datetime(2026, 11, 23, 0, 40, tzinfo=UTC)
        assert _utc(clocks["hotline_due"]["due_at"]) == datetime(2026, 11, 25, 9, 30, tzinfo=UTC)
        h4 = issue(a, ids["H4"], CITY_DESK)
        assert _utc(h4["deadlines"][0]["started_at"]) == datetime(2026, 11, 23, 0, 10, tzinfo=UTC)

        # A 举报 caller is shown to the hotline desks, never to the unit.
        assert h4["reporter"] is not None
        assert issue(a, ids["H4"], LEADER)["reporter"] is None
        assert issue(a, ids["H4"], STAFF)["reporter"] is None

        # The unplaced wait at the desk's street, in the street's and the desk's queue.
        for no in ("H5", "H6"):
            waiting = issue(a, ids[no])
            assert (waiting["grid_id"], waiting["node_id"]) == (None, "s1")
        assert {ids["H5"], ids["H6"]} <= queued(a, STREET) & queued(a, STREET_DESK)
        assert not {ids["H5"], ids["H6"]} & queued(a, WORKER)
        placed = a.act(
            ids["H5"], "transfer", STREET, grid_id="g1", category="sanitation", reason="分拨"
        )
        assert (placed["grid_id"], placed["category"]) == ("g1", "sanitation")
        a.act(ids["H6"], "transfer", STREET_DESK, grid_id="g2", reason="幸福路 is grid 2's")
        assert not {ids["H5"], ids["H6"]} & queued(a, STREET)
        assert ids["H5"] in queued(a, WORKER)

        # H1 closes, H3 is returned (退单) with the street's approval: results go back.
        a.act(ids["H1"], "handle_on_spot", WORKER)
        a.act(ids["H1"], "resolve", WORKER, resolution="pothole filled")
        a.act(ids["H1"], "verify", LEADER)
        a.act(ids["H3"], "return_to_hotline", STAFF, reason="a question for the utility")
        assert ids["H3"] in queued(a, STREET)
        assert a.act(ids["H3"], "approve_return", STREET)["state"] == "rejected"
        back = a.client.get("/intake/hotline/replies?since=0", headers=a.h(STREET_DESK)).json()
        assert [(x["ticket_no"], x["result"], x["text"]) for x in back["items"]] == [
            ("H1", "closed", "pothole filled"),
            ("H3", "returned", "a question for the utility"),
        ]
        HotlineReplies.model_validate(back)  # as the OpenAPI document declares it
        later = a.client.get(
            f"/intake/hotline/replies?since={back['next']}", headers=a.h(STREET_DESK)
        ).json()
        assert later["items"] == []
        as_csv = a.client.get(
            "/intake/hotline/replies?since=0&format=csv", headers=a.h(STREET_DESK)
        )
        assert as_csv.text.splitlines()[0] == "position,ticket_no,issue_id,result,text,at"
        assert len(as_csv.text.splitlines()) == 3
        flush(a, lambda: len(receiver.delivered()) >= 2)
        hooks = receiver.delivered()
        assert [(h["kind"], h["ticket_no"], h["result"]) for h in hooks] == [
            ("hotline_reply", "H1", "closed"),
            ("hotline_reply", "H3", "returned"),
        ]
        assert sub

        # The hotline's own callback comes in and feeds the three rates.
        r = a.client.post(
            "/intake/hotline/callbacks",
            json=[
                {
                    "ticket_no": "H1",
                    "called_at": "2026-11-23T16:00:00",
                    "outcome": "reached",
                    "handler_contacted": "是",
                    "solved": True,
                    "satisfaction": "satisfied",
                },
                {"ticket_no": "H9", "outcome": "reached"},
            ],
            headers=a.h(STREET_DESK),
        ).json()
        assert [x["status"] for x in r["rows"]] == ["recorded", "error"]
        ImportAnswer.model_validate(r)
        a.container.engine.catch_up()
        day = date(2026, 11, 23)
        summary = a.container.views.summary("s1", day, day + timedelta(days=1), a.clock.now)
        assert summary["indicators"]["satisfaction_rate"] == 1.0
        assert summary["counts"]["cb_valid"] == 1

        # A repeat complaint about the closed pothole (the hotline's other name for the
        # category, the same address) is merged into it and reopens it.
        a.clock.advance(days=3)
        again = row("H7", category="路面坑洼", address="幸福路1号", caller="13900000007")
        merged = imported(a, [again])["H7"]
        assert (merged["status"], merged["repeat_of"]) == ("merged", ids["H1"])
        reopened = issue(a, ids["H1"])
        assert reopened["state"] == "on_spot" and reopened["counts"]["repeat_complaint"] == 1
        assert imported(a, [again])["H7"]["status"] == "duplicate"  # never merged twice
        a.container.engine.catch_up()
        week = a.container.views.summary("s1", day, day + timedelta(days=7), a.clock.now)
        assert week["counts"]["closed_then_complained"] == 1
        assert week["counts"]["reopens"] == 1
        # A ticket elsewhere in the category is a new issue.
        other = imported(a, [row("H8", category="路面坑洼", address="幸福路3号")])["H8"]
        assert other["status"] == "created"
    receiver.close()


def _utc(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)
