"""Open311 GeoReport v2 where the specification says exactly what to answer: service
discovery, an unknown service (404), an unsupported format and every other error in
GeoReport's error list, a body that is not a form (400), the 90-day span, media_url,
addresses written another way, a closed request's updated_datetime, Idempotency-Key."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.http.support import Api, api
from tests.support import LEADER, RESIDENT, STAFF, WORKER

ROOT = "/open311/v2"


@pytest.fixture
def a(store_url: str) -> Iterator[Api]:
    with api(store_url) as client:
        yield client


def post(a: Api, fmt: str = "json", headers: dict[str, str] | None = None, **form: str) -> Any:
    data = {"api_key": a.token(RESIDENT), "service_code": "road", "lat": "37.505"}
    data |= {"long": "122.105", "description": "pothole", **form}
    return a.client.post(f"{ROOT}/requests.{fmt}", data=data, headers=headers or {})


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_discovery_names_the_endpoint_and_its_formats(a: Api, fmt: str):
    r = a.client.get(f"{ROOT}/discovery.{fmt}")
    assert r.status_code == 200
    if fmt == "json":
        endpoint = r.json()["endpoints"][0]
        assert endpoint["specification"] == "http://wiki.open311.org/GeoReport_v2"
        assert endpoint["url"].endswith("/open311/v2")
        assert endpoint["formats"] == ["application/json", "text/xml"]
    else:
        assert r.text.count("<format>") == 2 and "<specification>" in r.text


def test_an_unknown_service_is_404_and_files_nothing(a: Api):
    before = a.container.service.head()
    r = post(a, service_code="no-such-service")
    assert r.status_code == 404
    assert r.json() == [{"code": 404, "description": "service_code no-such-service not found"}]
    assert a.container.service.head() == before


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/services.csv", 400),  # a format the service does not serve
        ("/requests.json?start_date=2026-01-01T00:00:00Z&end_date=2026-06-01T00:00:00Z", 400),
        ("/no-such-thing.json", 404),
    ],
)
def test_every_open311_error_is_a_georeport_error_list(a: Api, path: str, status: int):
    r = a.client.get(ROOT + path)
    assert r.status_code == status
    body = r.json()
    assert isinstance(body, list) and body[0]["code"] == status and body[0]["description"]
    xml = a.client.get(ROOT + path.replace(".json", ".xml"))
    if path != "/services.csv":
        assert xml.text.startswith("<?xml") and f"<code>{status}</code>" in xml.text


def test_a_json_body_is_400_not_an_authentication_error(a: Api):
    r = a.client.post(
        f"{ROOT}/requests.json",
        json={"api_key": a.token(RESIDENT), "service_code": "road"},
    )
    assert r.status_code == 400 and "form-encoded" in r.json()[0]["description"]


def test_media_url_is_kept_and_served(a: Api):
    url = "https://photos.example.org/pothole.jpg"
    rid = post(a, media_url=url).json()[0]["service_request_id"]
    assert a.client.get(f"{ROOT}/requests/{rid}.json").json()[0]["media_url"] == url
    a.container.views.wait_for(a.container.service.head(), timeout=30)
    listed = a.client.get(f"{ROOT}/requests.json").json()
    assert [r["media_url"] for r in listed if r["service_request_id"] == rid] == [url]
    bad = post(a, media_url="javascript:alert(1)")
    assert bad.status_code == 400 and "media_url" in bad.json()[0]["description"]


def test_an_address_written_another_way_finds_its_grid(a: Api):
    r = post(a, lat="", long="", address_string="幸福路１号 3单元501室")
    assert r.status_code == 200, r.text
    rid = r.json()[0]["service_request_id"]
    issue = a.client.get(f"/issues/{rid}", headers=a.h(STAFF)).json()
    assert issue["grid_id"] == "g2"


def test_addresses_match_by_their_parts_not_a_cut_number(a: Api):
    org = a.container.service.org()
    assert org.grid_for_address("幸福路3号") == "g2"
    assert org.grid_for_address(" 幸福路 3 号 ") == "g2"
    assert org.grid_for_address("幸福路3号2单元") == "g2"
    assert org.grid_for_address("幸福路31号") is None


def test_a_closed_requests_updated_datetime_stays_when_it_closed(a: Api):
    rid = post(a).json()[0]["service_request_id"]
    a.act(rid, "handle_on_spot", WORKER)
    a.act(rid, "resolve", WORKER, resolution="filled")
    a.act(rid, "verify", LEADER)
    closed = a.client.get(f"{ROOT}/requests/{rid}.json").json()[0]
    assert closed["status"] == "closed"
    a.clock.advance(hours=5)
    a.act(rid, "comment", STAFF, text="the road office was told")
    later = a.client.get(f"{ROOT}/requests/{rid}.json").json()[0]
    assert later["updated_datetime"] == closed["updated_datetime"]
    a.container.views.wait_for(a.container.service.head(), timeout=30)
    listed = a.client.get(f"{ROOT}/requests.json?service_request_id={rid}").json()[0]
    assert listed["updated_datetime"] == closed["updated_datetime"]


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_a_retry_with_the_same_idempotency_key_files_once(a: Api, fmt: str):
    key = {"Idempotency-Key": "tablet-7:42"}
    first = post(a, fmt, key)
    head = a.container.service.head()
    again = post(a, fmt, key)
    assert again.status_code == first.status_code == 200
    assert again.text == first.text
    assert a.container.service.head() == head
    other = post(a, fmt, key, description="another matter")
    assert other.status_code == 422
