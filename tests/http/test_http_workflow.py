"""The three-tier workflow through HTTP with real tokens, on both stores."""

from __future__ import annotations

import pytest

from tests.http.support import Api, api
from tests.support import (
    CALLER,
    HOUSING,
    LEADER,
    POLICE,
    RESIDENT,
    STAFF,
    STREET,
    SUPERVISOR,
    WATER,
    WORKER,
    P,
)


@pytest.fixture
def a(store_url: str):
    with api(store_url) as client:
        yield client


def test_a_small_matter_settled_on_the_spot_then_verified_and_called_back(a: Api):
    issue = a.report(WORKER, settled_on_spot=True, resolution="bins emptied", reporter=CALLER)
    assert (issue["state"], issue["tier"], issue["version"]) == ("resolved", "small", 3)
    closed = a.act(issue["id"], "verify", LEADER)
    assert closed["state"] == "closed"
    kinds = {d["kind"]: d["status"] for d in closed["deadlines"]}
    assert kinds == {
        "triage": "met",
        "small_resolution": "met",
        "verification": "met",
        "callback": "open",
    }
    done = a.act(
        issue["id"], "record_callback", STAFF, contacted=True, solved=True, satisfaction="satisfied"
    )
    # the round has its valid callback: none is owed any more
    assert done["state"] == "closed" and done["allowed_actions"] == ["comment"]


def test_small_to_big_to_a_whistle_with_departments_reporting_in(a: Api):
    i = a.report(RESIDENT, reporter={"name": "Wang", "phone": "13800000000"})["id"]
    a.act(i, "handle_on_spot", WORKER)
    big = a.act(i, "coordinate", STAFF, lead_party="property company", parties=["owners"])
    assert (big["state"], big["tier"]) == ("coordinating", "big")
    hard = a.act(i, "blow_whistle", STAFF, departments=["housing", "water"], grade="urgent")
    assert (hard["state"], hard["tier"]) == ("whistle_blown", "hard")
    assert {d["department_id"] for d in hard["departments"]} == {"housing", "water"}
    assert a.act(i, "acknowledge", HOUSING)["departments"][0]["acknowledged_at"]
    a.act(i, "report_in", HOUSING, note="on site")
    a.act(i, "summon", STREET, departments=["police"])
    a.act(i, "report_in", WATER)
    joint = a.act(i, "report_in", POLICE)
    assert joint["state"] == "joint_handling"
    a.act(i, "resolve", HOUSING, resolution="pipe replaced")
    a.act(i, "verify", SUPERVISOR)
    history = a.client.get(f"/issues/{i}/history", headers=a.h(STAFF)).json()["events"]
    assert [e["action"] for e in history] == [
        "report",
        "handle_on_spot",
        "coordinate",
        "blow_whistle",
        "acknowledge",
        "report_in",
        "summon",
        "report_in",
        "report_in",
        "resolve",
        "verify",
    ]
    assert history[3]["from_state"] == "coordinating" and history[3]["actor"]["role"] == (
        "community_staff"
    )


def test_rework_after_failed_verification(a: Api):
    i = a.report(WORKER)["id"]
    a.act(i, "handle_on_spot", WORKER)
    a.act(i, "resolve", WORKER, resolution="done")
    back = a.act(i, "rework", LEADER, reason="still dirty")
    assert back["state"] == "on_spot" and back["counts"]["rework"] == 1
    r = a.client.post(f"/issues/{i}/actions/verify", json={}, headers=a.h(LEADER))
    assert r.status_code == 409


def test_dissatisfied_callbacks_reopen_then_raise_the_tier(a: Api):
    i = a.report(RESIDENT)["id"]
    a.act(i, "handle_on_spot", WORKER)
    for round_ in range(2):
        a.act(i, "resolve", WORKER, resolution=f"try {round_}")
        a.act(i, "verify", LEADER)
        after = a.act(
            i,
            "record_callback",
            RESIDENT,
            contacted=True,
            solved=False,
            satisfaction="dissatisfied",
        )
    assert (after["state"], after["tier"]) == ("coordinating", "big")


def test_merge_and_reject(a: Api):
    target, dup = a.report(WORKER)["id"], a.report(RESIDENT)["id"]
    merged = a.act(dup, "merge", LEADER, duplicate_of=target)
    assert merged["state"] == "merged" and merged["merged_into"] == target
    assert a.client.get(f"/issues/{target}", headers=a.h(LEADER)).json()["duplicates"] == [dup]
    rejected = a.act(a.report(WORKER)["id"], "reject", STAFF, reason="not a grid matter")
    assert rejected["state"] == "rejected" and rejected["allowed_actions"] == ["comment"]


def test_every_refusal_answers_the_contracts_error(a: Api):
    i = a.report(WORKER)["id"]
    c = a.client
    url = f"/issues/{i}/actions/handle_on_spot"

    def err(r, status, code):
        assert r.status_code == status, r.text
        assert r.json()["error"]["code"] == code
        return r.json()["error"]

    err(c.post(url, json={}), 401, "unauthenticated")
    err(c.post(url, json={}, headers={"Authorization": "Bearer nope"}), 401, "unauthenticated")
    err(c.post(url, content=b"{not json", headers=a.h(WORKER)), 400, "malformed_request")
    err(
        c.post(
            "/issues/00000000-0000-0000-0000-000000000000/actions/resolve",
            json={},
            headers=a.h(WORKER),
        ),
        404,
        "issue_not_found",
    )
    err(
        c.post(f"/issues/{i}/actions/teleport", json={}, headers=a.h(WORKER)), 404, "unknown_action"
    )
    err(
        c.post(f"/issues/{i}/actions/miss_deadline", json={}, headers=a.h(WORKER)),
        404,
        "unknown_action",
    )
    err(c.post(url, json={}, headers=a.h(P("grid_worker", "g2"))), 403, "outside_jurisdiction")
    err(c.post(url, json={}, headers=a.h(STAFF)), 403, "forbidden_role")
    err(c.post(url, json={}, headers=a.h(P("community_staff", "m2"))), 404, "issue_not_found")
    fields = err(
        c.post(f"/issues/{i}/actions/reject", json={"reason": "", "x": 1}, headers=a.h(LEADER)),
        422,
        "validation_failed",
    )["details"]["fields"]
    assert set(fields) == {"reason", "x"}
    details = err(
        c.post(f"/issues/{i}/actions/resolve", json={"resolution": "x"}, headers=a.h(WORKER)),
        409,
        "transition_not_allowed",
    )["details"]
    assert details["state"] == "reported" and "handle_on_spot" in details["allowed_actions"]
    a.act(i, "handle_on_spot", WORKER)
    stale = err(
        c.post(
            f"/issues/{i}/actions/comment",
            json={"text": "hi"},
            headers=a.h(WORKER, **{"If-Match": '"1"'}),
        ),
        412,
        "version_conflict",
    )
    assert stale["details"]["current_version"] == 2
    ok = c.post(
        f"/issues/{i}/actions/comment",
        json={"text": "hi"},
        headers=a.h(WORKER, **{"If-Match": '"2"'}),
    )
    assert ok.status_code == 200 and ok.headers["etag"] == '"3"'
    err(c.post(url, content=b"x" * (2 << 20), headers=a.h(WORKER)), 413, "payload_too_large")
    chunked = iter([b"[" + b"0," * (1 << 19), b"0]"])  # no Content-Length
    err(c.post(url, content=chunked, headers=a.h(WORKER)), 413, "payload_too_large")
    assert c.get(f"/issues/{i}", headers=a.h(WORKER)).json()["version"] == 3  # nothing else


def test_revoked_and_expired_tokens_are_refused(a: Api):
    from datetime import timedelta

    token = a.container.tokens.create(WORKER, timedelta(days=1))
    assert a.client.get("/org/departments", headers={"Authorization": f"Bearer {token}"}).is_success
    a.container.tokens.revoke(token)
    r = a.client.get("/org/departments", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 401
    old = a.container.tokens.create(WORKER, timedelta(seconds=-1))
    assert (
        a.client.get("/org/departments", headers={"Authorization": f"Bearer {old}"}).status_code
        == 401
    )


def test_auditors_read_everything_and_change_nothing(a: Api):
    i = a.report(WORKER)["id"]
    auditor = P("auditor", "c1")
    seen = a.client.get(f"/issues/{i}", headers=a.h(auditor)).json()
    assert seen["allowed_actions"] == []
    r = a.client.post(f"/issues/{i}/actions/comment", json={"text": "x"}, headers=a.h(auditor))
    assert r.status_code == 403


def test_reading_as_of_a_version_or_a_time_replays_the_log(a: Api):
    i = a.report(WORKER)["id"]
    t1 = a.clock.now
    a.clock.advance(minutes=10)
    a.act(i, "handle_on_spot", WORKER)
    a.clock.advance(minutes=10)
    a.act(i, "resolve", WORKER, resolution="done")
    c = a.client
    assert c.get(f"/issues/{i}?version=2", headers=a.h(WORKER)).json()["state"] == "on_spot"
    then = c.get(f"/issues/{i}", params={"as_of": t1.isoformat()}, headers=a.h(WORKER)).json()
    assert then["state"] == "reported" and then["version"] == 1
    assert c.get(f"/issues/{i}?version=9", headers=a.h(WORKER)).status_code == 404
    assert c.get(f"/issues/{i}?version=0", headers=a.h(WORKER)).status_code == 422


def test_every_write_says_its_log_position(a: Api):
    r1 = a.client.post(
        "/issues",
        json={"grid_id": "g1", "category": "road", "description": "x"},
        headers=a.h(WORKER),
    )
    i = r1.json()["id"]
    r2 = a.client.post(f"/issues/{i}/actions/comment", json={"text": "x"}, headers=a.h(WORKER))
    assert int(r2.headers["X-Log-Position"]) > int(r1.headers["X-Log-Position"]) > 0
    assert r1.headers["Location"] == f"/issues/{i}"


def test_idempotency_keys_record_once_and_survive_a_restart(store_url: str):
    with api(store_url) as a:
        body = {"grid_id": "g1", "category": "road", "description": "pothole"}
        key = {"Idempotency-Key": "report-1"}
        first = a.client.post("/issues", json=body, headers=a.h(WORKER, **key))
        again = a.client.post("/issues", json=body, headers=a.h(WORKER, **key))
        assert (first.status_code, again.status_code) == (201, 201)
        assert first.json() == again.json()
        i = first.json()["id"]
        act_key = {"Idempotency-Key": "comment-1"}
        c1 = a.client.post(
            f"/issues/{i}/actions/comment", json={"text": "once"}, headers=a.h(WORKER, **act_key)
        )
        c2 = a.client.post(
            f"/issues/{i}/actions/comment", json={"text": "once"}, headers=a.h(WORKER, **act_key)
        )
        assert c1.json() == c2.json() and c2.json()["version"] == 2
        reused = a.client.post(
            f"/issues/{i}/actions/comment", json={"text": "other"}, headers=a.h(WORKER, **act_key)
        )
        assert reused.status_code == 422
        assert reused.json()["error"]["code"] == "idempotency_key_reused"
        token = a.token(WORKER)
        head = a.container.service.head()
    with api(store_url) as b:  # a restarted service on the same store
        h = {"Authorization": f"Bearer {token}", **act_key}
        c3 = b.client.post(f"/issues/{i}/actions/comment", json={"text": "once"}, headers=h)
        assert c3.status_code == 200 and c3.json()["version"] == 2
        assert b.container.service.head() == head


def test_a_retry_after_a_crash_before_the_answer_was_kept_records_nothing(a: Api):
    i = a.report(WORKER)["id"]
    # The event was recorded with its key, but the answer never reached the table.
    key = f"{WORKER.id}:lost-answer"
    a.container.service.act(
        __import__("uuid").UUID(i), "comment", WORKER, {"text": "x"}, request_key=key
    )
    head = a.container.service.head()
    r = a.client.post(
        f"/issues/{i}/actions/comment",
        json={"text": "x"},
        headers=a.h(WORKER, **{"Idempotency-Key": "lost-answer"}),
    )
    assert r.status_code == 200 and r.json()["version"] == 2
    assert a.container.service.head() == head


@pytest.mark.parametrize("settled", [False, True])
def test_a_report_retried_after_a_crash_answers_as_the_report_left_it(a: Api, settled: bool):
    """The report was recorded under its key-derived id, the answer never kept; the retry
    answers the issue as the report left it (three steps when settled on the spot), even
    after others acted on it since, and records nothing."""
    from uuid import NAMESPACE_URL, uuid5

    body = {"grid_id": "g1", "category": "sanitation", "description": "rubbish"}
    if settled:
        body |= {"settled_on_spot": True, "resolution": "bins emptied"}
    issue_id = uuid5(NAMESPACE_URL, f"gridflow:report:{WORKER.id}:lost-report")
    a.container.service.report(WORKER, body, issue_id=issue_id)
    a.container.service.act(issue_id, "comment", LEADER, {"text": "seen"})
    head = a.container.service.head()
    r = a.client.post(
        "/issues", json=body, headers=a.h(WORKER, **{"Idempotency-Key": "lost-report"})
    )
    assert r.status_code == 201, r.text
    assert (r.json()["version"], r.json()["state"]) == (
        (3, "resolved") if settled else (1, "reported")
    )
    assert a.container.service.head() == head


def test_operations_endpoints(a: Api):
    assert a.client.get("/healthz").json() == {"status": "ok"}
    ready = a.client.get("/readyz").json()
    assert ready["ready"] and ready["checks"]["store"]["ok"]
    issue = a.report(WORKER)["id"]
    r = a.client.post(
        f"/issues/{issue}/actions/comment",
        json={"text": "seen"},
        headers={**a.h(WORKER), "X-Request-ID": "trace-42"},
    )
    assert r.headers["X-Request-ID"] == "trace-42"  # a caller's id is echoed, else one is made
    assert len(a.client.get("/healthz").headers["X-Request-ID"]) == 32
    text = a.client.get("/metrics").text
    assert 'gridflow_http_requests_total{method="POST",route="/issues",status="201"}' in text
    assert 'gridflow_actions_total{action="comment",outcome="ok"} 1.0' in text


def test_reads_after_a_write_wait_for_the_views_to_include_it(a: Api):
    r = a.client.post(
        "/issues",
        json={"grid_id": "g1", "category": "road", "description": "pothole"},
        headers=a.h(WORKER),
    )
    position = r.headers["X-Log-Position"]
    listed = a.client.get(f"/issues?after={position}", headers=a.h(WORKER)).json()
    assert r.json()["id"] in [i["id"] for i in listed["items"]]
    queue = a.client.get(f"/me/queue?after={position}", headers=a.h(WORKER)).json()
    assert r.json()["id"] in [i["id"] for i in queue["items"]]
    too_far = a.client.get("/issues?after=999999999", headers=a.h(WORKER))
    assert too_far.status_code == 422
    lag = a.client.get("/readyz").json()["checks"]["views"]
    assert lag["position"] <= lag["head"]


def test_supervision_endpoints_answer_for_supervisors_only(a: Api):
    a.report(WORKER)
    for path in (
        "/supervision/summary?node=c1",
        "/supervision/escalations",
        "/supervision/rankings?level=grid",
        "/supervision/departments",
    ):
        assert a.client.get(path, headers=a.h(SUPERVISOR)).status_code == 200, path
        assert a.client.get(path, headers=a.h(WORKER)).status_code == 403, path
    outside = a.client.get("/supervision/summary?node=m2", headers=a.h(STAFF))
    assert outside.status_code == 403


def test_auditors_verify_the_chain_and_read_the_log_with_leaf_hashes(a: Api):
    i = a.report(WORKER)["id"]
    a.act(i, "handle_on_spot", WORKER)
    a.container.audit.catch_up()
    a.container.audit.checkpoint()
    auditor = P("auditor", "c1")
    ok = a.client.get("/audit/verify", headers=a.h(auditor)).json()
    assert ok["ok"] and ok["checked"] >= 4 and ok["first_bad_position"] is None
    assert a.client.get("/audit/verify", headers=a.h(WORKER)).status_code == 403
    events = a.client.get(f"/audit/events?issue={i}", headers=a.h(auditor)).json()["items"]
    assert [e["action"] for e in events] == ["report", "handle_on_spot"]
    assert events[1]["from_state"] == "reported" and len(events[1]["leaf_hash"]) == 64
    by_actor = a.client.get(f"/audit/events?actor={WORKER.id}", headers=a.h(auditor)).json()
    assert len(by_actor["items"]) == 2
    cps = a.client.get("/audit/checkpoints", headers=a.h(auditor)).json()
    size = cps["checkpoints"][-1]["tree_size"]
    assert cps["checkpoints"][-1]["note"].startswith("gridflow\n")
    proof = a.client.get(
        f"/audit/proofs/inclusion?position={events[0]['position']}&tree_size={size}",
        headers=a.h(auditor),
    ).json()
    assert proof["leaf_hash"] == events[0]["leaf_hash"] and proof["audit_path"]
    assert (
        a.client.get(
            f"/audit/proofs/consistency?from=1&to={size}", headers=a.h(auditor)
        ).status_code
        == 200
    )
    assert (
        a.client.get(
            f"/audit/proofs/consistency?from={size + 5}&to={size + 9}", headers=a.h(auditor)
        ).status_code
        == 404
    )


def test_replay_at_each_version_equals_what_the_history_shows(a: Api):
    i = a.report(RESIDENT)["id"]
    a.act(i, "coordinate", STAFF, lead_party="property company")
    a.act(i, "blow_whistle", STAFF, departments=["housing"], grade="crucial")
    a.act(i, "report_in", HOUSING)
    a.act(i, "resolve", STAFF, resolution="done")
    history = a.client.get(f"/issues/{i}/history", headers=a.h(STAFF)).json()["events"]
    for entry in history:
        then = a.client.get(f"/issues/{i}?version={entry['version']}", headers=a.h(STAFF)).json()
        assert (then["version"], then["state"]) == (entry["version"], entry["to_state"])
