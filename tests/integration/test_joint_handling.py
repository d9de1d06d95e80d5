"""Joint handling (吹哨报到) as the practice runs it, over HTTP on both stores: a burst
water main summons water (the lead), roads and the traffic police, each with a task."""

from __future__ import annotations

import io
from typing import Any

from PIL import Image

from tests.http.support import Api, api
from tests.support import MONDAY_9, ORG, POLICE, STAFF, STREET, SUPERVISOR, WATER, WORKER, P

ROADS = P("department_officer", "roads")
ORG_WITH_ROADS: dict[str, Any] = {
    **ORG,
    "departments": [*ORG["departments"], {"id": "roads", "name": "Roads bureau", "node": "d1"}],
}
SITE = (37.505, 122.105)  # inside grid g1
KM = 1 / 111.0  # degrees of latitude per kilometre


def geotagged(lat: float, lon: float) -> bytes:
    """A JPEG whose EXIF says where it was taken (as a phone's camera writes it)."""

    def dms(value: float) -> tuple[float, float, float]:
        d = int(value)
        m = int((value - d) * 60)
        return float(d), float(m), round((value - d - m / 60) * 3600, 4)

    exif = Image.Exif()
    gps = exif.get_ifd(0x8825)
    gps.update({1: "N", 2: dms(lat), 3: "E", 4: dms(lon)})
    out = io.BytesIO()
    Image.new("RGB", (640, 480), "gray").save(out, "JPEG", exif=exif.tobytes())
    return out.getvalue()


def burst_main(a: Api) -> str:
    a.container.service.load_org(ORG_WITH_ROADS)
    i = a.report(
        WORKER,
        category="road",
        description="water main burst under the road, traffic blocked",
        location={"lat": SITE[0], "lon": SITE[1]},
    )["id"]
    a.act(
        i,
        "blow_whistle",
        STAFF,
        grade="urgent",
        departments=[
            {"department_id": "water", "task": "shut off and repair the main", "lead": True},
            {"department_id": "roads", "task": "resurface the road"},
            {"department_id": "police", "task": "traffic control"},
        ],
    )
    return i


def test_a_burst_main_is_handled_jointly_and_the_departments_are_ranked(store_url: str):
    with api(store_url) as a:
        i = burst_main(a)
        issue = a.client.get(f"/issues/{i}", headers=a.h(STAFF)).json()
        assert issue["lead_department"] == "water"
        assert issue["meet_at"] == {"address": None, "lat": SITE[0], "lon": SITE[1]}
        tasks = {d["department_id"]: (d["task"], d["lead"]) for d in issue["departments"]}
        assert tasks == {
            "water": ("shut off and repair the main", True),
            "roads": ("resurface the road", False),
            "police": ("traffic control", False),
        }

        # The police report in 2 km away: accepted, but unproven.
        far = {"lat": SITE[0] + 2 * KM, "lon": SITE[1]}
        after = a.act(i, "report_in", POLICE, location=far)
        police = next(d for d in after["departments"] if d["department_id"] == "police")
        assert police["presence"] == "unproven"
        # Water reports in without proof; the whistle holder saw them on site.
        a.act(i, "report_in", WATER, note="crew on site")
        confirmed = a.act(i, "confirm_presence", STAFF, department_id="water")
        water = next(d for d in confirmed["departments"] if d["department_id"] == "water")
        assert water["presence"] == "confirmed"

        # Roads contest the summons; the whistle holder releases them.
        a.act(i, "contest_summons", ROADS, reason="the pipe is water's, the road is intact")
        assert (
            "uphold_summons"
            in a.client.get(f"/issues/{i}", headers=a.h(STAFF)).json()["allowed_actions"]
        )
        released = a.act(i, "release", STAFF, department_id="roads", reason="contest granted")
        assert released["state"] == "joint_handling"  # everyone left has reported in

        a.act(i, "complete_task", POLICE, result="diversion in place until repair")
        # Water's task is not done: nobody resolves yet, and the refusal says whose.
        refused = a.act(i, "resolve", STAFF, status=409, resolution="fixed")["error"]
        assert refused["code"] == "tasks_incomplete"
        assert refused["details"]["departments"] == ["water"]
        a.act(i, "complete_task", WATER, department_id="water", result="main repaired")
        # The police may not resolve the matter; water, the lead, may.
        by_police = a.act(i, "resolve", POLICE, status=409, resolution="done")["error"]
        assert by_police["code"] == "transition_not_allowed"
        assert "resolve" not in by_police["details"]["allowed_actions"]
        a.act(
            i,
            "record_meeting",
            STAFF,
            held_at="2026-11-23T09:00:00+08:00",
            attendees=["water", "police", "community"],
            decisions="water repairs tonight",
        )
        resolved = a.act(i, "resolve", WATER, resolution="main repaired, road reopened")
        assert resolved["state"] == "resolved"
        closed = a.act(i, "verify", STREET, note="checked on site")
        assert closed["state"] == "closed"
        a.act(
            i,
            "evaluate_department",
            STAFF,
            department_id="water",
            timeliness=5,
            attendee_level="leader",
            cooperation=5,
            result=4,
        )
        r = a.client.post(
            f"/issues/{i}/actions/evaluate_department",
            json={
                "department_id": "police",
                "timeliness": 3,
                "attendee_level": "staff",
                "cooperation": 4,
                "result": 4,
            },
            headers=a.h(STAFF),
        )
        assert r.status_code == 200, r.text
        position = r.headers["X-Log-Position"]

        history = a.client.get(f"/issues/{i}/history", headers=a.h(STAFF)).json()["events"]
        meeting = next(h for h in history if h["action"] == "record_meeting")
        assert meeting["data"]["decisions"] == "water repairs tonight"

        ranks = a.client.get(
            "/supervision/rankings",
            params={
                "level": "department",
                "from": "2026-11-23",
                "to": "2026-11-30",
                "after": position,
            },
            headers=a.h(SUPERVISOR),
        ).json()["items"]
        by_id = {row["id"]: row for row in ranks}
        assert by_id["police"]["joint"]["presence"] == {"place": 0, "confirmed": 0, "unproven": 1}
        assert by_id["water"]["joint"]["presence"] == {"place": 0, "confirmed": 1, "unproven": 0}
        assert by_id["roads"]["joint"]["contests"] == 1
        assert by_id["water"]["joint"]["evaluation"] == {
            "timeliness": 5.0,
            "cooperation": 5.0,
            "result": 4.0,
            "leader_share": 1.0,
        }
        assert by_id["water"]["indicators"]["evaluation_rate"] == round((14 / 3 - 1) / 4, 4)
        assert by_id["police"]["joint"]["evaluation"]["leader_share"] == 0.0
        assert by_id["water"]["joint"]["tasks_completed"] == 1
        # Both reported in on time; water's evaluation ranks it above the police.
        assert [row["id"] for row in ranks][:2] == ["water", "police"]


def test_presence_is_proven_by_the_officer_and_a_photo_both_on_site(store_url: str):
    with api(store_url) as a:
        i = burst_main(a)
        photo = geotagged(SITE[0] + 0.001, SITE[1])  # about 110 m north
        up = a.client.post(
            f"/issues/{i}/evidence", files={"file": ("site.jpg", photo)}, headers=a.h(WATER)
        )
        assert up.status_code in (200, 201), up.text
        sha = up.json()["evidence_id"]
        near = {"lat": SITE[0] + 0.0005, "lon": SITE[1]}
        water = a.act(i, "report_in", WATER, location=near, evidence=[sha])
        assert _dept(water, "water")["presence"] == "place"
        # The same photo with the officer 2 km away proves nothing.
        a.client.post(
            f"/issues/{i}/evidence", files={"file": ("site.jpg", photo)}, headers=a.h(POLICE)
        )
        far = {"lat": SITE[0] + 2 * KM, "lon": SITE[1]}
        police = a.act(i, "report_in", POLICE, location=far, evidence=[sha])
        assert _dept(police, "police")["presence"] == "unproven"
        history = a.client.get(f"/issues/{i}/history", headers=a.h(STAFF)).json()["events"]
        facts = [h["facts"] for h in history if h["action"] == "report_in"]
        assert facts[0]["distance_m"] < 300 and facts[0]["photo_distance_m"] < 300
        assert facts[1]["distance_m"] > 1900


def test_a_plain_list_of_departments_still_works_and_its_first_leads(store_url: str):
    with api(store_url) as a:
        i = a.report(WORKER, category="road", description="pothole")["id"]
        a.act(i, "blow_whistle", STAFF, departments=["water", "police"])
        a.act(i, "report_in", WATER)
        after = a.act(i, "report_in", POLICE)
        assert after["state"] == "joint_handling" and after["lead_department"] == "water"
        assert "complete_task" not in after["allowed_actions"]  # no tasks were given
        a.act(i, "resolve", POLICE, status=409, resolution="done")
        assert a.act(i, "resolve", WATER, resolution="done")["state"] == "resolved"
        assert a.clock.now == MONDAY_9  # nothing here waited on a clock


def _dept(issue: dict[str, Any], dept: str) -> dict[str, Any]:
    return next(d for d in issue["departments"] if d["department_id"] == dept)
