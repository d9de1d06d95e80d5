"""Hotline files as desks really send them: a ticket number twice in one file, and a
field larger than Python's CSV field limit (128 KiB). Every row is answered; no 500."""

from __future__ import annotations

from typing import Any

from tests.http.support import Api, api
from tests.support import P

DESK = P("intake", "c1", "hotline-desk")
WHEN = "2026-11-23T09:00:00+08:00"


def row(no: str, **extra: Any) -> dict[str, Any]:
    return {
        "ticket_no": no,
        "received_at": WHEN,
        "grid_id": "g1",
        "category": "road",
        "text": f"ticket {no}",
        **extra,
    }


def reported(a: Api) -> int:
    """Issues in the log (each report is one `Reported` event)."""
    recorder = a.container.service.app.recorder
    return sum(1 for n in recorder.select_notifications(1, 100_000) if "Reported" in n.topic)


def test_a_ticket_repeated_in_one_file_is_a_duplicate_naming_the_earlier_row(store_url: str):
    rows = [row(f"T{k}") for k in range(1, 601)]
    rows[579] = row("T520")  # row 580 repeats row 520: both in one save of 500
    rows[589] = row("T5")  # row 590 repeats row 5, saved a batch earlier
    rows[2] = row("E1", text="x" * 5000)  # row 3 fails (an unknown category waits: issue 15)...
    rows[3] = row("E1")  # ...so its repeat in row 4 is the one imported
    with api(store_url) as a:
        r = a.client.post("/intake/hotline", json=rows, headers=a.h(DESK))
        assert r.status_code == 200, r.text
        out = r.json()
        assert len(out["rows"]) == 600
        assert out["counts"] == {
            "created": 597,
            "duplicate": 2,
            "error": 1,
            "consult": 0,
            "merged": 0,
        }
        by_row = {x["row"]: x for x in out["rows"]}
        for later, earlier in ((580, 520), (590, 5)):
            dup = by_row[later]
            assert (dup["status"], dup["same_as_row"]) == ("duplicate", earlier)
            assert f"row {earlier}" in dup["reason"]
            assert dup["issue_id"] == by_row[earlier]["issue_id"]
        assert by_row[3]["status"] == "error" and by_row[4]["status"] == "created"
        assert reported(a) == 597
        again = a.client.post("/intake/hotline", json=rows[:10], headers=a.h(DESK)).json()
        assert again["counts"] == {
            "created": 0,
            "duplicate": 9,
            "error": 1,
            "consult": 0,
            "merged": 0,
        }  # imported before
        assert "same_as_row" not in again["rows"][0]


def test_a_csv_field_over_128_kib_is_an_error_of_its_row(store_url: str):
    big = "x" * (200 << 10)
    csv = (
        "ticket_no,received_at,grid_id,category,text\n"
        f"C1,{WHEN},g1,road,pothole\n"
        f"C2,{WHEN},g1,road,{big}\n"
        f'C3,{WHEN},g1,road,"quoted, on\ntwo lines {big}"\n'
        f"{big},{WHEN},g1,road,a ticket number nobody typed\n"
        f"C5,{WHEN},g1,road,after them all\n"
    )
    with api(store_url) as a:
        r = a.client.post(
            "/intake/hotline",
            content=csv.encode(),
            headers=a.h(DESK, **{"Content-Type": "text/csv"}),
        )
        assert r.status_code == 200, r.text[:500]
        status = [(x["row"], x["status"]) for x in r.json()["rows"]]
        assert status == [(1, "created"), (2, "error"), (3, "error"), (4, "error"), (5, "created")]
        reasons = [x.get("reason", "") for x in r.json()["rows"]]
        assert reasons[1].startswith("text: ") and reasons[2].startswith("text: ")
        assert "ticket_no" in reasons[3] and len(r.text) < 10_000  # not echoed back
        assert reported(a) == 2
