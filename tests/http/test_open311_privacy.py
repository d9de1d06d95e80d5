"""What the Open311 feed shows to anyone and to an api_key; an XML answer is always
well-formed; lists of ids are capped."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any
from uuid import uuid4

import pytest

from domain.issue import Issue
from tests.http.support import Api, api
from tests.support import RESIDENT, STAFF, WORKER, P

ROOT = "/open311/v2"
PHONE = "13912345678"
LAT, LON = 37.505678, 122.104321  # inside grid g1


@pytest.fixture
def city(store_url: str):
    """One issue per channel; only the Open311 one was filed to be public."""
    with api(store_url) as a:
        here = {"lat": LAT, "lon": LON, "address": "幸福路1号3单元501室"}
        ids = {
            "patrol": a.report(WORKER, location=here)["id"],
            "hotline": a.report(P("intake", "c1", "desk"), location=here)["id"],
            "resident": a.report(RESIDENT, location=here, reporter={"phone": PHONE})["id"],
        }
        posted = a.client.post(
            f"{ROOT}/requests.json",
            data={
                "api_key": a.token(RESIDENT),
                "service_code": "road",
                "lat": str(LAT),
                "long": str(LON),
                "address_string": "幸福路1号3单元501室",
                "description": "pothole by the school",
                "first_name": "Wang",
                "phone": PHONE,
            },
        )
        assert posted.status_code == 200, posted.text
        ids["open311"] = posted.json()[0]["service_request_id"]
        a.container.views.wait_for(a.container.service.head(), timeout=30)
        yield a, ids


def listed(a: Api, query: str = "") -> dict[str, dict[str, Any]]:
    r = a.client.get(f"{ROOT}/requests.json{query}")
    assert r.status_code == 200, r.text
    assert PHONE not in r.text and "Wang" not in r.text
    return {x["service_request_id"]: x for x in r.json()}


def test_anyone_sees_only_open311_requests_coarsened(city):
    a, ids = city
    public = listed(a)
    assert list(public) == [ids["open311"]]
    shown = public[ids["open311"]]
    assert (shown["lat"], shown["long"]) == (37.506, 122.104)
    assert shown["address"] == "幸福路"
    one = a.client.get(f"{ROOT}/requests/{ids['open311']}.json").json()[0]
    assert (one["lat"], one["long"], one["address"]) == (37.506, 122.104, "幸福路")
    for channel in ("patrol", "hotline", "resident"):
        hidden = a.client.get(f"{ROOT}/requests/{ids[channel]}.json")
        assert hidden.status_code == 404
        assert ids[channel] not in listed(a, f"?service_request_id={ids[channel]}")


def test_an_api_key_shows_whole_what_its_principal_may_see(city):
    a, ids = city
    staff = listed(a, f"?api_key={a.token(STAFF)}")
    assert set(staff) == set(ids.values())
    assert all(x["lat"] == LAT and x["address"] == "幸福路1号3单元501室" for x in staff.values())
    mine = listed(a, f"?api_key={a.token(RESIDENT)}")
    assert set(mine) == {ids["resident"], ids["open311"]}
    assert mine[ids["open311"]]["lat"] == LAT  # their own request, whole
    other = P("resident", "m1", "neighbour")
    theirs = listed(a, f"?api_key={a.token(other)}")
    assert list(theirs) == [ids["open311"]] and theirs[ids["open311"]]["lat"] == 37.506
    one = a.client.get(f"{ROOT}/requests/{ids['patrol']}.json?api_key={a.token(STAFF)}")
    assert one.status_code == 200 and one.json()[0]["lat"] == LAT
    bad = a.client.get(f"{ROOT}/requests.json?api_key=nope")
    assert bad.status_code == 403 and bad.json()[0]["code"] == 403


def old_report(a: Api, text: str, address: str) -> str:
    """An issue as older code could store it: no check refused its characters."""
    svc = a.container.service
    issue = Issue._create(
        Issue.Reported,
        id=uuid4(),
        actor={"id": "resident-1", "role": "resident"},
        data={"category": "road", "description": text},
        facts={
            "grid_id": "g1",
            "channel": "open311",
            "location": {"address": address, "lat": LAT, "lon": LON},
        },
        to_state="reported",
        tier=None,
        starts=[],
        ends=[],
        timestamp=svc.clock(),
    )
    svc.app.save(issue)
    return str(issue.id)


CONTROLS = "".join(chr(c) for c in (*range(1, 9), 11, 12, *range(14, 32))) + "\ufffe\uffff"


def test_every_xml_answer_is_well_formed_whatever_old_events_hold(city):
    a, _ = city
    i = old_report(a, f"bell{CONTROLS}rings", f"Main Street{CONTROLS} 12")
    a.container.views.wait_for(a.container.service.head(), timeout=30)
    # NUL last: PostgreSQL's views cannot hold it (the views' own matter); one request
    # is read from the log.
    with_nul = old_report(a, "nul\x00here", "幸福路\x071号")
    staff = a.token(STAFF)
    answers = [
        f"{ROOT}/requests.xml",
        f"{ROOT}/requests.xml?api_key={staff}",
        f"{ROOT}/requests.xml?service_request_id={i}",
        f"{ROOT}/requests/{i}.xml",
        f"{ROOT}/requests/{with_nul}.xml",
        f"{ROOT}/requests/{with_nul}.xml?api_key={staff}",
        f"{ROOT}/services.xml",
        f"{ROOT}/services/%01%0B.xml",  # an error naming what the client sent
        f"{ROOT}/requests/%01.xml",
    ]
    for url in answers:
        r = a.client.get(url)
        assert r.status_code in (200, 404), (url, r.text)
        ET.fromstring(r.content)  # expat: strict XML 1.0, raises on anything ill-formed
    one = ET.fromstring(a.client.get(f"{ROOT}/requests/{i}.xml").content)
    assert one.findtext("request/description") == "bell" + "\ufffd" * len(CONTROLS) + "rings"


def test_a_list_of_ids_is_capped(city):
    a, ids = city
    hundred = ",".join([ids["open311"], *(str(uuid4()) for _ in range(99))])
    ok = a.client.get(f"{ROOT}/requests.json?service_request_id={hundred}")
    assert ok.status_code == 200 and [x["service_request_id"] for x in ok.json()] == [
        ids["open311"]
    ]
    too_many = hundred + "," + str(uuid4())
    for fmt in ("json", "xml"):
        r = a.client.get(f"{ROOT}/requests.{fmt}?service_request_id={too_many}")
        assert r.status_code == 400
        if fmt == "json":
            assert r.json() == [
                {
                    "code": 400,
                    "description": "service_request_id names at most 100 requests at once",
                }
            ]
        else:
            assert ET.fromstring(r.content).findtext("error/code") == "400"


def test_dates_out_of_range_are_a_georeport_400(city):
    a, _ = city
    for query in (
        "start_date=0001-01-01T00:00:00%2B14:00",
        "end_date=0001-01-02T00:00:00Z",
        "end_date=9999-12-31T23:59:59-14:00",
    ):
        r = a.client.get(f"{ROOT}/requests.json?{query}")
        assert r.status_code == 400 and r.json()[0]["code"] == 400, (query, r.text)
