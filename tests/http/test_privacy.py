"""Reporters' contact details over HTTP: who gets them in the issue and its history."""

from __future__ import annotations

from tests.http.support import Api, api
from tests.support import RESIDENT, STAFF, WORKER, P

PHONE = "13912345678"


def reporter_seen(a: Api, issue: str, who: P, query: str = "") -> object:
    return a.client.get(f"/issues/{issue}{query}", headers=a.h(who)).json()["reporter"]


def test_a_building_head_sees_the_issues_of_the_grid_but_not_the_reporters(store_url: str):
    with api(store_url) as a:
        i = a.report(RESIDENT, reporter={"name": "Wang", "phone": PHONE})["id"]
        head = P("building_head", "g1")
        seen = a.client.get(f"/issues/{i}", headers=a.h(head))
        assert seen.status_code == 200 and seen.json()["reporter"] is None
        history = a.client.get(f"/issues/{i}/history", headers=a.h(head)).text
        assert PHONE not in history
        city_desk = P("intake", "c1", "city-desk")  # did not import this ticket
        assert reporter_seen(a, i, city_desk) is None
        assert reporter_seen(a, i, WORKER) == {"name": "Wang", "phone": PHONE}


def test_an_older_version_shows_contact_details_only_to_who_may_see_them_now(store_url: str):
    with api(store_url) as a:
        i = a.report(RESIDENT, reporter={"phone": PHONE})["id"]
        a.act(i, "handle_on_spot", WORKER)
        assert reporter_seen(a, i, WORKER) == {"phone": PHONE}  # handles it now
        a.act(i, "coordinate", STAFF, lead_party="property company")
        assert reporter_seen(a, i, WORKER) is None  # a big matter: not theirs to act on
        assert reporter_seen(a, i, WORKER, "?version=2") is None
        assert reporter_seen(a, i, STAFF, "?version=2") == {"phone": PHONE}


def test_only_grid_staff_report_on_the_patrol_channel(store_url: str):
    with api(store_url) as a:
        body = {"grid_id": "g1", "category": "road", "description": "pothole", "channel": "patrol"}
        for who in (RESIDENT, P("intake", "c1", "desk"), P("building_head", "g1")):
            r = a.client.post("/issues", json=body, headers=a.h(who))
            assert r.status_code == 422, (who, r.text)
            assert list(r.json()["error"]["details"]["fields"]) == ["channel"]
        for who in (WORKER, P("grid_leader", "g1"), STAFF):
            r = a.client.post("/issues", json=body, headers=a.h(who))
            assert r.status_code == 201 and r.json()["channel"] == "patrol"
        # each role's own channel still works, and staff still default to patrol
        assert a.report(RESIDENT)["channel"] == "resident"
        assert a.report(WORKER)["channel"] == "patrol"


def test_a_report_names_a_resident_as_its_reporter_and_no_one_else(store_url: str):
    with api(store_url) as a:
        a.token(RESIDENT)  # the resident has an account
        leader = P("grid_leader", "g1", "leader-li")
        a.token(leader)
        for named in (leader.id, "nobody-known"):
            r = a.client.post(
                "/issues",
                json={
                    "grid_id": "g1",
                    "category": "road",
                    "description": "pothole",
                    "reporter": {"principal_id": named},
                },
                headers=a.h(WORKER),
            )
            assert r.status_code == 422, r.text
            assert list(r.json()["error"]["details"]["fields"]) == ["reporter.principal_id"]
        i = a.report(WORKER, reporter={"principal_id": RESIDENT.id, "phone": PHONE})["id"]
        mine = a.client.get(f"/issues/{i}", headers=a.h(RESIDENT))
        assert mine.status_code == 200 and mine.json()["reporter"]["phone"] == PHONE
