"""Named owners, per-person figures, minimum samples, score parts and counts by
category, on scripted issues whose figures were counted by hand (see the comments)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from uuid import UUID

from gridflow.settings import Settings
from tests.http.support import Api, api
from tests.support import (
    CALLER,
    LEADER,
    RESIDENT,
    STAFF,
    SUPERVISOR,
    SYSTEM,
    WORKER,
    WORKER2,
    P,
)

W3, LEADER3, STAFF2 = P("grid_worker", "g3"), P("grid_leader", "g3"), P("community_staff", "m2")
CALLBACK = {
    "outcome": "reached",
    "handler_contacted": True,
    "solved": True,
    "satisfaction": "satisfied",
    "via": "phone",
}


def get(a: Api, path: str) -> dict[str, Any]:
    a.container.engine.catch_up()
    r = a.client.get(path, headers=a.h(SUPERVISOR))
    assert r.status_code == 200, r.text
    return r.json()


def settle(a: Api, i: str, worker=WORKER, leader=LEADER) -> None:
    a.act(i, "handle_on_spot", worker)
    a.act(i, "resolve", worker, resolution="cleared")
    a.act(i, "verify", leader)


def test_per_person_figures_follow_the_assignee(store_url: str):
    with api(store_url) as a:
        i1 = a.report(WORKER, channel="patrol")["id"]
        settle(a, i1)  # W: found 1, settled 1, triage and resolution met
        i2 = a.report(WORKER2, channel="patrol")["id"]
        a.act(i2, "reject", LEADER, reason="not a grid matter")  # W2: found nothing
        back = (a.clock.now - timedelta(hours=3)).isoformat()
        a.report(WORKER2, channel="patrol", occurred_at=back)  # W2: found 1, a late entry
        i4 = a.report(RESIDENT, channel="resident")["id"]  # nobody's until assigned
        shown = a.act(i4, "assign", LEADER, principal_id=WORKER2.id)  # W2: assigned 1
        assert shown["assignee"] == WORKER2.id
        i5 = a.report(WORKER, channel="patrol")["id"]
        a.act(i5, "handle_on_spot", WORKER)
        a.act(i5, "resolve", WORKER, resolution="swept")
        a.act(i5, "rework", LEADER, reason="still dirty")  # W: reworked 1
        a.act(i5, "resolve", WORKER, resolution="swept again")
        a.act(i5, "verify", LEADER)  # W: found 2, settled 2
        a.clock.advance(days=1)
        # the deadline worker's step: W2, the assignee, missed i4's triage
        a.container.service.act(UUID(i4), "miss_deadline", SYSTEM, {"deadline": "triage"})
        day = a.clock.now.date()
        # on time counts on the local day of each deadline's due time: the resolutions'
        # (one working day) fall on the next day, so the period takes both days
        span = f"from={day - timedelta(days=1)}&to={day + timedelta(days=1)}"
        path = f"/supervision/people?node=m1&{span}"
        r = get(a, path)
        people = {x["principal_id"]: x for x in r["items"]}
        assert set(people) == {WORKER.id, WORKER2.id}  # the leader only verified and assigned
        w, w2 = people[WORKER.id], people[WORKER2.id]
        assert (w["found"], w["late_entries"], w["settled_on_spot"], w["reworked"]) == (2, 0, 2, 1)
        # W's own deadlines: triage of i1 and i5 (met on handle_on_spot), the resolution
        # of i1 and the two of i5 (met on each resolve; the rework started the second).
        assert w["on_time"] == {"met": 5, "missed": 0, "rate": 1.0}
        found = (w2["found"], w2["late_entries"], w2["assigned"], w2["settled_on_spot"])
        assert found == (1, 1, 1, 0)
        # W2: i2's triage ended by the rejection (met), i4's triage missed as its assignee
        assert w2["on_time"] == {"met": 1, "missed": 1, "rate": 0.5}
        before = r
        a.container.engine.rebuild(switch=True)
        assert get(a, path) == before


def test_a_unit_below_the_minimum_sample_is_shown_and_not_ranked(store_url: str):
    with api(store_url, settings=Settings(database_url=store_url, ranking_min_sample=2)) as a:
        for _ in range(2):  # m1: two closed issues, two valid callbacks
            i = a.report(WORKER, reporter=CALLER)["id"]
            settle(a, i)
            a.act(i, "record_callback", STAFF, **CALLBACK)
        i = a.report(W3, grid_id="g3", reporter=CALLER)["id"]  # m2: one
        settle(a, i, W3, LEADER3)
        a.act(i, "record_callback", STAFF2, **CALLBACK)
        r = get(a, "/supervision/rankings?level=community")
        rows = {x["id"]: x for x in r["items"]}
        assert r["min_sample"] == {"n": 2, "of": "valid_callbacks"}
        assert (rows["m1"]["rank"], rows["m1"]["status"], rows["m1"]["sample"]) == (1, "ranked", 2)
        assert (rows["m2"]["rank"], rows["m2"]["status"], rows["m2"]["sample"]) == (
            None,
            "insufficient_sample",
            1,
        )
        # m1: every deadline met, both callbacks contacted, solved, satisfied, no rework:
        # points 0.3 + 0.3 + 0.2 + 0.1 + 0.1 (rework 0: −(−0.1) × (1 − 0)) over Σ|w| = 1.0
        parts = {
            x["indicator"]: (x["value"], x["weight"], x["points"])
            for x in rows["m1"]["score_parts"]
        }
        assert parts == {
            "on_time_rate": (1.0, 0.3, 0.3),
            "satisfaction_rate": (1.0, 0.3, 0.3),
            "resolution_rate": (1.0, 0.2, 0.2),
            "response_rate": (1.0, 0.1, 0.1),
            "rework_rate": (0.0, -0.1, 0.1),
            # departments' evaluations (issue 15) weigh 0.2; a community has none: no
            # points, and its weight stays out of the divisor
            "evaluation_rate": (None, 0.2, None),
        }
        assert rows["m1"]["score"] == 1.0
    with api(store_url) as a:  # the default minimum, 10: nobody is ranked
        r = get(a, "/supervision/rankings?level=community")
        assert r["min_sample"]["n"] == 10
        assert all(x["rank"] is None and x["status"] == "insufficient_sample" for x in r["items"])


def test_counts_by_category(store_url: str):
    with api(store_url) as a:
        settle(a, a.report(WORKER)["id"])  # sanitation, closed
        a.report(WORKER)  # sanitation, open
        a.report(WORKER, category="road")  # road, open
        a.report(W3, grid_id="g3", category="road")  # another community
        day = a.clock.now.date()
        r = get(a, f"/supervision/summary?node=m1&from={day}&to={day + timedelta(days=1)}")
        assert r["by_category"] == {
            "road": {"reported": 1, "open": 1, "closed": 0},
            "sanitation": {"reported": 2, "open": 1, "closed": 1},
        }
        # A transfer that corrects the category moves the issue between the counts.
        moved = a.report(WORKER)["id"]
        a.act(moved, "transfer", STAFF, grid_id="g2", reason="wrong grid", category="road")
        r = get(a, f"/supervision/summary?node=m1&from={day}&to={day + timedelta(days=1)}")
        assert r["by_category"]["road"] == {"reported": 2, "open": 2, "closed": 0}
        assert r["by_category"]["sanitation"] == {"reported": 2, "open": 1, "closed": 1}
