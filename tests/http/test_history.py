"""`GET /issues/{id}/history` shows everything each event holds, personal data aside."""

from __future__ import annotations

from tests.http.support import api
from tests.support import AUDITOR, LEADER, RESIDENT, STAFF, WORKER, P


def test_a_merge_target_history_names_the_attached_duplicate(store_url: str):
    with api(store_url) as a:
        target = a.report(WORKER)["id"]
        duplicate = a.report(WORKER)["id"]
        a.act(duplicate, "merge", LEADER, duplicate_of=target)
        events = a.client.get(f"/issues/{target}/history", headers=a.h(AUDITOR)).json()["events"]
        attached = events[-1]
        assert attached["action"] == "duplicate_attached"
        assert attached["facts"] == {"duplicate": duplicate}
        # the fields that were there before are unchanged
        assert attached["data"] == {} and attached["to_state"] == "reported"


def test_history_entries_carry_facts_deadlines_and_tiers(store_url: str):
    with api(store_url) as a:
        i = a.report(WORKER, location={"lat": 37.505, "lon": 122.105})["id"]
        a.act(i, "coordinate", STAFF, lead_party="property company")
        a.act(i, "blow_whistle", STAFF, departments=["housing"], grade="urgent")
        a.act(i, "acknowledge", P("department_officer", "housing"))
        events = a.client.get(f"/issues/{i}/history", headers=a.h(STAFF)).json()["events"]
        report, coordinate, whistle, ack = events
        assert report["facts"]["grid_id"] == "g1" and report["facts"]["channel"] == "patrol"
        assert report["facts"]["location"]["lat"] == 37.505
        assert [d["kind"] for d in report["deadlines_started"]] == ["triage"]
        assert report["deadlines_started"][0]["due_at"]
        assert (coordinate["from_tier"], coordinate["tier"]) == (None, "big")
        assert coordinate["deadlines_ended"] == [{"key": "triage", "outcome": "met"}]
        assert (whistle["from_tier"], whistle["tier"]) == ("big", "hard")
        assert {"key": "big_resolution", "outcome": "cancelled"} in whistle["deadlines_ended"]
        started = {(d["kind"], d["department_id"]) for d in whistle["deadlines_started"]}
        assert ("department_acknowledge", "housing") in started
        assert ack["facts"] == {"department_id": "housing"}
        assert {"key": "department_acknowledge:housing", "outcome": "met"} in ack["deadlines_ended"]


def test_who_reported_stays_hidden_from_those_without_contact_rights(store_url: str):
    with api(store_url) as a:
        i = a.report(RESIDENT, reporter={"phone": "13800000000"})["id"]
        mine = a.client.get(f"/issues/{i}/history", headers=a.h(RESIDENT)).json()["events"]
        assert mine[0]["facts"]["reporter_principal"] == RESIDENT.id
        outsider = P("grid_worker", "g2")  # same community: sees the issue, not the person
        theirs = a.client.get(f"/issues/{i}/history", headers=a.h(outsider)).json()["events"]
        assert theirs[0]["facts"]["reporter_principal"] == {"hidden": True}
        assert theirs[0]["data"]["reporter"] == {"hidden": True}
