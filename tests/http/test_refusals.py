"""Requests that cannot be carried out get a clear 4xx and change nothing; a read that
asks for a position the views have not reached gets 503 `views_behind`."""

from __future__ import annotations

from typing import Any
from uuid import uuid4

import pytest

from tests.http.support import Api, api
from tests.support import LEADER, STAFF, STREET, WORKER


@pytest.fixture
def a(store_url: str):
    with api(store_url) as client:
        yield client


def refused(a: Api, issue: str, action: str, p: Any, body: dict[str, Any]) -> dict[str, Any]:
    before = a.client.get(f"/issues/{issue}", headers=a.h(p)).json()["version"]
    head = a.container.service.head()
    r = a.client.post(f"/issues/{issue}/actions/{action}", json=body, headers=a.h(p))
    assert r.status_code == 422, r.text
    assert a.container.service.head() == head
    assert a.client.get(f"/issues/{issue}", headers=a.h(p)).json()["version"] == before
    error = r.json()["error"]
    assert error["code"] == "validation_failed"
    fields: dict[str, Any] = error["details"]["fields"]
    return fields


def test_merging_into_itself_or_a_missing_issue_is_refused(a: Api) -> None:
    i = a.report(WORKER)["id"]
    assert refused(a, i, "merge", LEADER, {"duplicate_of": i}) == {
        "duplicate_of": "an issue cannot duplicate itself"
    }
    assert refused(a, i, "merge", LEADER, {"duplicate_of": str(uuid4())}) == {
        "duplicate_of": "no such issue"
    }
    assert refused(a, i, "merge", LEADER, {"duplicate_of": "not-an-id"}) == {
        "duplicate_of": "no such issue"
    }


def test_releasing_a_department_never_summoned_is_refused(a: Api) -> None:
    i = a.report(WORKER)["id"]
    a.act(i, "blow_whistle", STAFF, departments=["housing"])
    for dept in ("police", "nope"):
        assert refused(a, i, "release", STREET, {"department_id": dept, "reason": "x"}) == {
            "department_id": "not a summoned department"
        }


def test_transferring_to_the_same_grid_is_refused(a: Api) -> None:
    i = a.report(WORKER)["id"]
    assert refused(a, i, "transfer", STAFF, {"grid_id": "g1", "reason": "x"}) == {
        "grid_id": "the issue is already in this grid"
    }


def test_a_read_after_a_position_the_views_have_not_reached_is_503(a: Api) -> None:
    a.stop.set()  # the views stop following the log: nothing folds what comes next
    a.container.wake.set()
    a.follower.join(10)
    a.container.views.wait_seconds = 0  # answer at once: no timed wait in a test
    a.container.engine.catch_up()
    i = a.report(WORKER)["id"]
    head = a.container.service.head()
    r = a.client.get(f"/issues?after={head}", headers=a.h(STAFF))
    assert r.status_code == 503, r.text
    assert r.headers["Retry-After"] == "1"
    error = r.json()["error"]
    assert error["code"] == "views_behind"
    assert error["details"]["wanted"] == head and error["details"]["position"] < head
    a.container.engine.catch_up()
    r = a.client.get(f"/issues?after={head}", headers=a.h(STAFF))
    assert r.status_code == 200 and [x["id"] for x in r.json()["items"]] == [i]
