"""What clients send that the log must never hold, refused at the edge with a clear 4xx
and nothing recorded (both stores): control characters, impossible times, bodies nested
or encoded beyond what any request needs, filters no view can compare with."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from tests.http.support import Api, api
from tests.support import AUDITOR, STAFF, SUPERVISOR, WORKER, P

INTAKE = P("intake", "c1", "hotline-desk")
ADMIN = P("admin", "c1", "admin")
RESIDENT = P("resident", "m1", "resident-9")


@pytest.fixture
def a(store_url: str) -> Iterator[Api]:
    with api(store_url) as client:
        yield client


def nothing_recorded(a: Api, head: int) -> None:
    assert a.container.service.head() == head


def post_issue(a: Api, **body: Any) -> Any:
    data = {"grid_id": "g1", "category": "sanitation", "description": "rubbish", **body}
    return a.client.post("/issues", json=data, headers=a.h(WORKER))


def fields(r: Any) -> dict[str, str]:
    return dict(r.json()["error"]["details"]["fields"])


@pytest.mark.parametrize("bad", ["\x00", "\x07", "\x1b[31m", "\x7f", "\x85", "a\rb"])
def test_control_characters_are_refused_naming_the_field(a: Api, bad: str) -> None:
    head = a.container.service.head()
    r = post_issue(a, description=f"rub{bad}bish")
    assert r.status_code == 422, r.text
    assert "control character" in fields(r)["description"]
    issue = a.report(WORKER)["id"]
    head = a.container.service.head()
    r = a.client.post(f"/issues/{issue}/actions/comment", json={"text": bad}, headers=a.h(WORKER))
    assert r.status_code == 422 and "text" in fields(r)
    r = post_issue(a, reporter={"name": f"Li{bad}"}, channel="resident")
    assert r.status_code == 422 and "reporter.name" in fields(r)
    nothing_recorded(a, head)


def test_tab_newline_and_crlf_are_text(a: Api) -> None:
    r = post_issue(a, description="line one\r\n\tline two")
    assert r.status_code == 201, r.text
    assert r.json()["description"] == "line one\n\tline two"


def test_a_control_character_in_a_key_or_a_query_is_refused(a: Api) -> None:
    head = a.container.service.head()
    r = a.client.post(
        "/issues",
        content=b'{"grid_id": "g1", "category": "sanitation", "description": "x", "\\u0000": 1}',
        headers={**a.h(WORKER), "content-type": "application/json"},
    )
    assert r.status_code == 422, r.text
    assert any("key" in why for why in fields(r).values())
    r = a.client.get("/issues?category=%00", headers=a.h(SUPERVISOR))
    assert r.status_code == 422 and "category" in fields(r)
    r = a.client.get("/org/nodes/%00", headers=a.h(SUPERVISOR))
    assert r.status_code == 404
    nothing_recorded(a, head)


def test_bodies_nested_too_deep_or_with_lone_surrogates_are_malformed(a: Api) -> None:
    head = a.container.service.head()
    deep = b"[" * 5000 + b"]" * 5000
    for raw in (deep, b'{"a":' * 600 + b"1" + b"}" * 600, b'{"description": "\\ud800"}'):
        r = a.client.post(
            "/issues", content=raw, headers={**a.h(WORKER), "content-type": "application/json"}
        )
        assert r.status_code == 400, r.text
        assert r.json()["error"]["code"] == "malformed_request"
    nothing_recorded(a, head)


@pytest.mark.parametrize(
    ("claimed", "why"),
    [
        ("0001-01-01T00:00:00+14:00", "represented"),
        ("9999-12-31T23:59:59-14:00", "represented"),
        ("1999-12-31T23:59:59Z", "2000-01-01"),
        ("2026-11-23T09:00:00", "offset"),
    ],
)
def test_times_of_the_past_must_be_possible(a: Api, claimed: str, why: str) -> None:
    head = a.container.service.head()
    r = post_issue(a, occurred_at=claimed)
    assert r.status_code == 422, r.text
    assert why in fields(r)["occurred_at"]
    nothing_recorded(a, head)


def test_a_time_of_the_past_may_not_be_more_than_a_day_ahead(a: Api) -> None:
    now = a.clock()
    r = post_issue(a, occurred_at=(now + timedelta(days=1, minutes=1)).isoformat())
    assert r.status_code == 422 and "a day ahead" in fields(r)["occurred_at"]
    assert post_issue(a, occurred_at=(now + timedelta(hours=23)).isoformat()).status_code == 201
    assert post_issue(a, occurred_at="2000-01-01T00:00:00Z").status_code == 201


def test_hotline_rows_with_bad_text_or_times_are_answered_one_by_one(a: Api) -> None:
    row = {"ticket_no": "T1", "grid_id": "g1", "category": "sanitation", "text": "noise"}
    rows = [
        {**row, "ticket_no": "T1", "received_at": "0001-01-01T00:00:00+14:00"},
        {**row, "ticket_no": "T2", "received_at": "2026-11-23T08:00:00+08:00", "text": "a\x00b"},
        {**row, "ticket_no": "T3", "received_at": "2030-01-01T00:00:00+08:00"},
        {**row, "ticket_no": "T4", "received_at": "2026-11-23T08:00:00+08:00"},
    ]
    r = a.client.post("/intake/hotline", json=rows, headers=a.h(INTAKE))
    assert r.status_code == 200, r.text
    out = {x["ticket_no"]: x for x in r.json()["rows"]}
    assert out["T1"]["status"] == "error" and "received_at" in out["T1"]["reason"]
    assert out["T2"]["status"] == "error" and "control character" in out["T2"]["reason"]
    assert out["T3"]["status"] == "error" and "a day ahead" in out["T3"]["reason"]
    assert out["T4"]["status"] == "created"


def test_open311_and_the_organisation_refuse_control_characters(a: Api) -> None:
    head = a.container.service.head()
    form = {
        "api_key": a.token(RESIDENT),
        "service_code": "sanitation",
        "address_string": "幸福路1号",
        "description": "bad\x00text",
    }
    r = a.client.post("/open311/v2/requests.json", data=form)
    assert r.status_code == 400, r.text
    assert "control character" in r.json()[0]["description"]
    org = {"nodes": [{"id": "g9", "name": "Grid\x00 9", "kind": "grid", "parent": "m1"}]}
    r = a.client.put("/org", json=org, headers=a.h(ADMIN))
    assert r.status_code == 422, r.text
    org = {"categories": [{"code": "slow", "name": "Slow", "limits": {"triage": "99999d"}}]}
    r = a.client.put("/org", json=org, headers=a.h(ADMIN))
    assert r.status_code == 422, r.text
    assert "five years" in str(r.json()["error"]["details"])
    nothing_recorded(a, head)


@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("/issues?reported_after=0001-01-01T00:00:00%2B14:00", "reported_after"),
        ("/issues?reported_before=9999-12-31T23:59:59-14:00", "reported_before"),
        ("/supervision/patrol-misses?node=c1&date=9999-12-31", "date"),
        ("/supervision/summary?node=c1&from=0001-01-01", "from"),
        ("/supervision/summary?node=c1&to=9999-12-31", "to"),
        ("/supervision/trend?node=c1&from=0001-01-02", "from"),
        ("/issues?after=100000000000000000000", "after"),
    ],
)
def test_filters_beyond_what_the_views_can_compare_are_refused(
    a: Api, path: str, field: str
) -> None:
    r = a.client.get(path, headers=a.h(SUPERVISOR))
    assert r.status_code == 422, r.text
    assert field in fields(r)


@pytest.mark.parametrize(
    "path",
    [
        "/audit/events?from=0001-01-01T00:00:00%2B14:00",
        "/audit/events?to=9999-12-31T23:59:59-14:00",
        "/audit/events?after=100000000000000000000",
        "/audit/proofs/inclusion?position=1&tree_size=100000000000000000000",
    ],
)
def test_audit_filters_beyond_range_are_refused(a: Api, path: str) -> None:
    r = a.client.get(path, headers=a.h(AUDITOR))
    assert r.status_code == 422, r.text


def test_staff_filters_still_work(a: Api) -> None:
    a.report(STAFF)
    r = a.client.get(
        "/issues?reported_after=2026-01-01T00:00:00Z&category=sanitation", headers=a.h(SUPERVISOR)
    )
    assert r.status_code == 200, r.text
