"""Follow-up and exceptions through HTTP: the contract's codes, the old request shapes,
the board by level and the target's queue."""

from __future__ import annotations

from typing import Any

import pytest

from tests.http.support import Api, api
from tests.support import HOUSING, LEADER, STAFF, STREET, SUPERVISOR, WORKER


@pytest.fixture
def a(store_url: str) -> Any:
    with api(store_url) as client:
        yield client


def error(r: Any) -> str:
    code: str = r.json()["error"]["code"]
    return code


def test_requests_and_caps_answer_the_contract_codes(a: Api):
    i = a.report(WORKER)["id"]
    a.act(i, "handle_on_spot", LEADER)
    asked = a.act(i, "suspend", LEADER, reason="no access")  # the old shape: a request
    assert asked["suspended_since"] is None and asked["requests"]["suspension"]["status"] == "open"
    r = a.client.post(f"/issues/{i}/actions/approve_suspension", json={}, headers=a.h(LEADER))
    assert (r.status_code, error(r)) == (403, "separation_of_duties")
    approved = a.act(i, "approve_suspension", STAFF)
    assert approved["suspended_since"] is not None

    t = a.report(STAFF)["id"]
    a.act(t, "transfer", LEADER, grid_id="g2", reason="theirs")
    a.act(t, "transfer", STAFF, grid_id="g1", reason="theirs, really")
    r = a.client.post(
        f"/issues/{t}/actions/transfer",
        json={"grid_id": "g2", "reason": "again"},
        headers=a.h(STAFF),
    )
    assert (r.status_code, error(r)) == (409, "cap_reached")
    a.act(t, "transfer", STREET, grid_id="g2", reason="指定分拨")


def test_an_old_urge_opens_an_item_the_board_and_the_queue_show(a: Api):
    i = a.report(STAFF)["id"]
    a.act(i, "blow_whistle", STAFF, departments=["housing"])
    r = a.client.post(  # the old shape: no target, no grade
        f"/issues/{i}/actions/urge", json={"message": "report in today"}, headers=a.h(SUPERVISOR)
    )
    at = r.headers["X-Log-Position"]
    [item] = r.json()["followups"]
    assert (item["target"], item["level"], item["grade"]) == ("housing", "city", "remind")
    board = a.client.get(
        f"/supervision/escalations?level=city&after={at}", headers=a.h(SUPERVISOR)
    ).json()
    assert [(x["issue_id"], x["id"]) for x in board["followups"]] == [(i, "f1")]
    queue = a.client.get(f"/me/queue?after={at}", headers=a.h(HOUSING)).json()["items"]
    assert [x["id"] for x in queue[0]["followups"]] == ["f1"]
    a.act(i, "reply_flag", HOUSING, text="on our way")
    cleared = a.act(i, "clear_flag", SUPERVISOR, note="answered")
    assert cleared["followups"][0]["status"] == "cleared"
