"""The supervision views against hand-computed expectations for a scripted history,
on both stores; the deadline worker; exactly-once through a killed projector."""

from __future__ import annotations

import threading
from datetime import timedelta
from uuid import UUID

import pytest

from gridflow.container import Container
from gridflow.settings import Settings
from projections.queries import ListQuery
from projections.verify import rebuild_and_verify
from tests.support import (
    CALLER,
    HOUSING,
    LEADER,
    ORG,
    RESIDENT,
    STAFF,
    SUPERVISOR,
    WATER,
    WORKER,
    Clock,
    P,
)
from workers.deadlines import DeadlineWorker

W2, W3 = P("grid_worker", "g2"), P("grid_worker", "g3")


class World:
    """A scripted day: issues A–E from 09:00 Monday 23 Nov 2026 (Shanghai)."""

    def __init__(self, url: str) -> None:
        self.clock = Clock()
        self.t0 = self.clock.now
        self.c = Container(Settings(database_url=url), clock=self.clock)
        self.c.service.load_org(ORG)
        self.ids: dict[str, UUID] = {}

    def at(self, minutes: int) -> None:
        self.clock.now = self.t0 + timedelta(minutes=minutes)

    def report(self, name: str, minutes: int, p, grid: str, **extra) -> None:
        self.at(minutes)
        body = {"grid_id": grid, "category": "sanitation", "description": name, **extra}
        self.ids[name] = self.c.service.report(p, body).issue.id

    def act(self, name: str, minutes: int, action: str, p, **data) -> None:
        self.at(minutes)
        self.c.service.act(self.ids[name], action, p, data)

    def script(self) -> None:
        self.report("A", 0, WORKER, "g1", reporter=CALLER)
        self.act("A", 10, "handle_on_spot", WORKER)
        self.act("A", 20, "resolve", WORKER, resolution="done")
        self.act("A", 30, "verify", LEADER)
        self.act(
            "A",
            40,
            "record_callback",
            STAFF,
            outcome="reached",
            handler_contacted=True,
            solved=True,
            satisfaction="satisfied",
            via="phone",
        )
        self.report("B", 60, RESIDENT, "g1")
        self.act("B", 70, "coordinate", STAFF, lead_party="property company")
        self.act("B", 80, "blow_whistle", STAFF, departments=["housing", "water"])
        self.act("B", 90, "acknowledge", HOUSING)
        self.act("B", 100, "report_in", HOUSING)
        self.act("B", 110, "urge", SUPERVISOR, message="water, please report in")
        self.report("C", 120, W2, "g2")
        self.act("C", 130, "reject", STAFF, reason="not a grid matter")
        self.report("D", 180, W3, "g3")
        self.act("D", 190, "handle_on_spot", W3)
        self.report(
            "E", 240, WORKER, "g1", settled_on_spot=True, resolution="done", reporter=CALLER
        )
        self.act("E", 250, "rework", LEADER, reason="not done")
        self.act("E", 260, "resolve", WORKER, resolution="done now")
        self.act("E", 270, "verify", LEADER)
        self.act(
            "E",
            280,
            "record_callback",
            STAFF,
            contacted=True,
            solved=False,
            satisfaction="dissatisfied",
        )
        self.at(300)  # 14:00 Monday
        self.c.engine.catch_up()

    def names(self, page) -> list[str]:
        back = {str(v): k for k, v in self.ids.items()}
        return [back[i["id"]] for i in page["items"]]


@pytest.fixture
def world(store_url: str):
    w = World(store_url)
    w.script()
    yield w
    w.c.close()


def test_the_issue_list_filters_sorts_and_pages(world: World):
    v, now = world.c.views, world.clock.now
    auditor = P("auditor", "c1")

    def names(**kw):
        return world.names(v.issues(auditor, ListQuery(**kw), now))

    assert names() == ["E", "D", "C", "B", "A"]
    assert names(node="m1") == ["E", "C", "B", "A"]
    assert names(node="g3") == ["D"]
    assert names(department="housing") == ["B"]
    assert names(tier="small") == ["E", "D", "A"]
    assert names(state="closed") == ["A"]
    assert names(channel="resident") == ["B"]
    assert names(overdue=True) == ["B"]  # water's acknowledge deadline passed at 11:20
    first = v.issues(auditor, ListQuery(limit=2), now)
    second = v.issues(auditor, ListQuery(limit=2, cursor=first["next_cursor"]), now)
    third = v.issues(auditor, ListQuery(limit=2, cursor=second["next_cursor"]), now)
    assert [world.names(x) for x in (first, second, third)] == [["E", "D"], ["C", "B"], ["A"]]
    assert third["next_cursor"] is None
    urgent = names(sort="urgency")
    assert urgent[0] == "B" and set(urgent) == {"A", "B", "C", "D", "E"}
    # Visibility: grid workers see their community, residents their own reports.
    assert world.names(v.issues(W3, ListQuery(), now)) == ["D"]
    assert world.names(v.issues(RESIDENT, ListQuery(), now)) == ["B"]


def test_each_person_s_queue_holds_what_they_can_act_on(world: World):
    v, now = world.c.views, world.clock.now

    def queue(p):
        return world.names(v.queue(p, ListQuery(), now))

    assert queue(WORKER) == ["E"]
    assert queue(STAFF) == ["B"]
    assert queue(WATER) == ["B"]
    assert queue(HOUSING) == []  # reported in; nothing to do until joint handling
    assert queue(SUPERVISOR) == ["B"]
    assert queue(P("auditor", "c1")) == []


def test_the_summary_counts_lights_and_indicators(world: World):
    s = world.c.views.summary("c1", None, None, world.clock.now)
    assert s["by_state"] == {"closed": 1, "whistle_blown": 1, "rejected": 1, "on_spot": 2}
    assert s["by_tier"] == {"small": 3, "hard": 1, "untriaged": 1}
    # the urge on B opened a follow-up item on water: its reply clock is one of the green
    assert s["open_deadlines"] == {"green": 5, "yellow": 0, "red": 1, "paused": 0}
    c = s["counts"]
    assert (c["reported"], c["triaged"], c["whistles"], c["verifications"]) == (5, 4, 1, 3)
    assert (c["callbacks"], c["contacted"], c["solved"], c["reopens"]) == (2, 2, 1, 1)
    ind = s["indicators"]
    # E's callback is in the old shape: whether the unit contacted them is unknown, so
    # it is out of the response rate only (A: 1/1).
    assert ind["response_rate"] == 1.0 and ind["resolution_rate"] == 0.5
    assert ind["satisfaction_rate"] == 0.5
    assert ind["rework_rate"] == round(1 / 3, 4) and ind["reopen_rate"] == 0.5
    assert ind["whistle_rate"] == 0.25 and ind["transfer_rate"] == 0.0
    m1 = world.c.views.summary("m1", None, None, world.clock.now)
    assert sum(m1["by_state"].values()) == 4


def test_the_follow_up_board_shows_departments_and_lateness(world: World):
    board = world.c.views.escalations("c1", world.clock.now)
    assert [i["id"] for i in board["items"]] == [str(world.ids["B"])]
    b = board["items"][0]
    assert b["urges"] == 1 and b["age_seconds"] == 4 * 3600
    depts = {d["department_id"]: d for d in b["departments"]}
    assert depts["housing"]["report_in"]["done_at"] is not None
    assert depts["housing"]["acknowledge"]["late_seconds"] == 0
    # Summoned at 10:20, one working hour to acknowledge: due 11:20, now 14:00.
    assert depts["water"]["acknowledge"]["late_seconds"] == 2 * 3600 + 40 * 60
    assert depts["water"]["report_in"]["late_seconds"] == 0


def test_rankings_and_department_timeliness(world: World):
    ranks = world.c.views.rankings("community", None, None, world.clock.now)
    # m2: one on-time triage, nothing else -> 0.3 x 1.0 / 0.3 = 1.0. m1 (docs/indicators.md):
    # on time 1.0, satisfaction 1/2, resolution 1/2, response 1/1, rework 1/3 against:
    # 0.3 + 0.15 + 0.1 + 0.1 + 0.1 x (1 - 1/3) = 0.7167 over the weights' 1.0.
    # spec/followup.md: fewer than 10 valid callbacks (or closed issues) in the period is
    # `insufficient_sample`: shown with its score, not ranked (GRIDFLOW_RANKING_MIN_SAMPLE)
    assert [(r["id"], r["rank"], r["score"], r["status"]) for r in ranks["items"]] == [
        ("m2", None, 1.0, "insufficient_sample"),
        ("m1", None, 0.7167, "insufficient_sample"),
    ]
    url = world.c.settings.database_url
    small = Container(Settings(database_url=url, ranking_min_sample=1), clock=world.clock)
    ranked = small.views.rankings("community", None, None, world.clock.now)
    # m1 has 2 valid callbacks and is ranked; m2 has none (nor a closed issue): still not
    assert [(r["id"], r["rank"], r["score"], r["status"]) for r in ranked["items"]] == [
        ("m1", 1, 0.7167, "ranked"),
        ("m2", None, 1.0, "insufficient_sample"),
    ]
    m1 = next(r for r in ranks["items"] if r["id"] == "m1")
    assert m1["counts"]["reported"] == 4
    depts = {
        d["department_id"]: d
        for d in world.c.views.departments(None, None, world.clock.now)["items"]
    }
    assert depts["housing"]["acknowledge"] == {"met": 1, "missed": 0, "on_time_rate": 1.0}
    assert depts["water"]["summoned"] == 1


def test_the_deadline_worker_records_each_miss_once_and_escalates(world: World):
    worker = DeadlineWorker(world.c.service, world.c.views)
    world.clock.now = world.t0 + timedelta(days=1, hours=4)  # Tuesday 13:00
    twin = Container(Settings(database_url=world.c.settings.database_url), clock=world.clock)
    other = DeadlineWorker(twin.service, twin.views)
    results: list[int] = []
    threads = [
        threading.Thread(target=lambda w=w: results.append(w.run_once())) for w in (worker, other)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # D's small resolution (due Tue 12:10), water's acknowledge, and the reply to the
    # supervisor's urge on B (a follow-up item on water, due Tue 10:50; a remind: no step)
    assert sum(results) == 3
    assert worker.run_once() == 0
    d = world.c.service.get(world.ids["D"])
    assert (d.state, d.tier) == ("coordinating", "big")
    misses = [
        e
        for i in world.ids.values()
        for e in world.c.service.app.events.get(i)
        if type(e).__name__ == "DeadlineMissed"
    ]
    assert sorted(e.data["deadline"] for e in misses) == [
        "department_acknowledge:water",
        "flag_reply:f1",
        "small_resolution",
    ]
    world.c.engine.catch_up()
    depts = {
        x["department_id"]: x
        for x in world.c.views.departments(None, None, world.clock.now)["items"]
    }
    assert depts["water"]["acknowledge"]["missed"] == 1
    twin.close()


def test_a_rebuild_equals_the_live_views(world: World):
    assert rebuild_and_verify(world.c.engine, world.c.service.head()) == {}
    generation = world.c.engine.rebuild(switch=True, grace=0.0)  # no reader to wait for
    assert world.c.engine.active() == generation
    assert len(world.c.views.issues(P("auditor", "c1"), ListQuery(), world.clock.now)["items"]) == 5


def test_views_record_their_position_past_events_they_ignore(world: World):
    head = world.c.service.head()
    assert world.c.engine.position() == head
    assert world.c.views.lag(head)["lag"] == 0


def test_views_built_by_other_code_are_rebuilt_at_start(world: World):
    before = world.c.engine.active()
    with world.c.db.transaction() as cur:  # as if an older release had built them
        cur.execute(
            "UPDATE gridflow_view_schema SET version = 'older' WHERE generation = %s", (before,)
        )
    again = Container(Settings(database_url=world.c.settings.database_url), clock=world.clock)
    assert again.engine.active() == before + 1
    assert again.engine.position() == again.service.head()
    items = again.views.issues(P("auditor", "c1"), ListQuery(), world.clock.now)["items"]
    assert len(items) == 5
    again.close()


def test_views_folded_one_event_at_a_time_equal_a_rebuild(store_url: str):
    # Counts that rise and fall back to zero across batches must leave the same rows as
    # a rebuild that folds the whole log at once.
    w = World(store_url)
    w.c.engine.batch = 1
    try:
        w.script()
        w.c.engine.batch = 10_000  # the rebuild folds the whole log in one batch
        assert rebuild_and_verify(w.c.engine, w.c.service.head()) == {}
    finally:
        w.c.close()


def test_a_catch_up_that_loses_a_batch_to_another_copy_still_reaches_the_head(store_url: str):
    w = World(store_url)
    w.script()
    w.report("F", 320, WORKER, "g1")
    w.report("G", 330, WORKER, "g1")
    head = w.c.service.head()
    twin = Container(Settings(database_url=store_url), clock=w.clock)  # another process
    twin.engine.batch = 1
    mine = w.c.engine
    recorder = w.c.tracking.recorder  # what the projection engine reads the log with
    read = recorder.select_notifications

    def slow_read(*args, **kwargs):
        batch = read(*args, **kwargs)
        if twin.engine.position() < head:
            twin.engine.step()  # the twin folds F while this copy holds the same batch
        return batch

    recorder.select_notifications = slow_read
    try:
        mine.catch_up()
        assert mine.position() == head  # it went on from where the twin got
        names = w.names(w.c.views.issues(P("auditor", "c1"), ListQuery(), w.clock.now))
        assert {"F", "G"} <= set(names)
    finally:
        recorder.select_notifications = read
        twin.close()
        w.c.close()


def test_every_count_behind_the_indicators_is_folded_exactly(world: World):
    """Every counter of the scripted day, worked out by hand from the script (the views'
    folding of each action, domain/summary.py and projections/views.py)."""
    assert not any(world.c.views.quarantined().values())  # every event folded
    day = world.clock.now.date()
    out = world.c.views.summary(
        "c1", day - timedelta(days=30), day + timedelta(days=30), world.clock.now
    )
    assert out["counts"] == {
        "reported": 5,
        "triaged": 4,  # A, B, D, E (C was rejected)
        "whistles": 1,
        "verifications": 3,  # A's and E's verify, E's rework
        "reworks": 1,
        "closed": 2,
        "callbacks": 2,
        "contacted": 2,
        "solved": 1,
        "satisfied": 1,
        "dissatisfied": 1,
        "reopens": 1,  # E, reopened on the spot
        "cb_valid": 2,
        "cb_handler_known": 1,  # E's callback is in the old shape
        "cb_handler_contacted": 1,
        "cb_solved": 1,
        "cb_satisfied": 1,
        "cb_dissatisfied": 1,
        "deadline_met:triage": 5,
        "deadline_met:small_resolution": 3,  # A, E settled, E after the rework
        "deadline_met:verification": 3,  # A, E before and after the rework
        "deadline_met:callback": 2,
        "followup_open": 1,  # the supervisor's urge on B opened an item on water (issue 14)
    }


def test_the_views_timestamps_are_utc_whatever_the_machines_time_zone(monkeypatch):
    """Their text is compared as text (lexical order is time order): never local time."""
    import time as _time
    from datetime import UTC, datetime

    from domain.summary import shift, utc

    monkeypatch.setenv("TZ", "Asia/Shanghai")
    _time.tzset()
    try:
        at = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)
        assert utc(at) == "2026-11-23T01:00:00.000000Z"
        assert shift(utc(at), 3600) == "2026-11-23T02:00:00.000000Z"
    finally:
        monkeypatch.undo()
        _time.tzset()
