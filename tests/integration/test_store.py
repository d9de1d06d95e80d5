"""The log on the real stores: concurrent writers, restarts, the whole path."""

from __future__ import annotations

import threading

import pytest

from domain.errors import TransitionNotAllowed, VersionConflict
from gridflow.container import issue_service
from gridflow.settings import Settings
from tests.support import HOUSING, LEADER, STAFF, WORKER, WORKER2, Clock, make_service, report


def test_two_writers_at_once_exactly_one_wins_the_other_gets_a_conflict(store_url: str):
    first = make_service(store_url)
    second = make_service(store_url)  # its own connections, as another process would have
    i = report(first)
    barrier = threading.Barrier(2)
    outcomes: dict[str, object] = {}

    # Both comment, with If-Match at version 1: a comment is allowed before and after the
    # other's, so however the threads are scheduled the loser meets a version conflict —
    # when saving (both read version 1) or before (it read the winner's version 2).
    def write(name, svc, actor):
        barrier.wait()
        try:
            outcomes[name] = svc.act(
                i, "comment", actor, {"text": f"from {name}"}, expected_version=1
            ).issue.version
        except VersionConflict as exc:
            outcomes[name] = exc

    threads = [
        threading.Thread(target=write, args=("a", first, WORKER)),
        threading.Thread(target=write, args=("b", second, LEADER)),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    conflicts = [o for o in outcomes.values() if isinstance(o, VersionConflict)]
    winners = [name for name, o in outcomes.items() if o == 2]
    assert len(conflicts) == 1 and len(winners) == 1, outcomes
    assert conflicts[0].details["current_version"] in (1, 2)
    final = first.get(i)
    assert final.version == 2
    recorded = list(first.app.events.get(i))
    assert [e.data.get("text") for e in recorded[1:]] == [f"from {winners[0]}"]
    first.close()
    second.close()


def test_without_if_match_a_lost_race_is_retried_on_the_fresh_issue(store_url: str):
    first, second = make_service(store_url), make_service(store_url)
    i = report(first)
    barrier = threading.Barrier(2)
    errors: list[Exception] = []

    def comment(svc, actor):
        barrier.wait()
        try:
            svc.act(i, "comment", actor, {"text": f"from {actor.id}"})
        except Exception as exc:
            errors.append(exc)

    threads = [
        threading.Thread(target=comment, args=(s, a))
        for s, a in ((first, WORKER), (second, WORKER2))
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert first.get(i).version == 3
    first.close()
    second.close()


def test_concurrent_commands_in_one_process_share_saves_and_one_issue_s_take_turns(
    store_url: str,
):
    svc = make_service(store_url)  # group commit on, as served
    own = [report(svc) for _ in range(10)]
    shared = report(svc)
    barrier = threading.Barrier(12)
    outcomes: dict[int, object] = {}

    def write(k: int) -> None:
        barrier.wait()
        try:
            if k < 10:
                outcomes[k] = svc.act(own[k], "comment", STAFF, {"text": f"note {k}"}).position
            else:
                outcomes[k] = svc.act(shared, "handle_on_spot", WORKER, expected_version=1).position
        except TransitionNotAllowed as exc:
            outcomes[k] = exc

    threads = [threading.Thread(target=write, args=(k,)) for k in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(isinstance(outcomes[k], int) for k in range(10))
    # the two on the shared issue took turns: the second saw it on the spot already
    race = [outcomes[10], outcomes[11]]
    assert sum(isinstance(o, TransitionNotAllowed) for o in race) == 1
    for k, i in enumerate(own):  # each comment recorded once, at the position answered
        events = list(svc.app.events.get(i))
        assert [e.ACTION for e in events] == ["report", "comment"]
        assert svc.app.recorder.select_notifications(outcomes[k], 1)[0].originator_id == i
    assert svc.get(shared).version == 2 and svc.get(shared).state == "on_spot"
    svc.close()


def test_many_comments_on_one_issue_at_once_are_all_recorded(store_url: str):
    svc = make_service(store_url)
    i = report(svc)
    barrier = threading.Barrier(16)
    errors: list[Exception] = []

    def comment(k: int) -> None:
        barrier.wait()
        try:
            svc.act(i, "comment", STAFF, {"text": f"note {k}"})
        except Exception as exc:
            errors.append(exc)

    threads = [threading.Thread(target=comment, args=(k,)) for k in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    texts = {e.data["text"] for e in svc.app.events.get(i) if e.ACTION == "comment"}
    assert texts == {f"note {k}" for k in range(16)}
    svc.close()


def test_requests_arriving_together_at_a_fresh_process_all_see_the_organisation(
    store_url: str,
):
    first = make_service(store_url)
    i = report(first)
    fresh = issue_service(Settings(database_url=store_url), Clock())  # just started
    barrier = threading.Barrier(16)
    errors: list[Exception] = []

    def read() -> None:
        barrier.wait()
        try:
            fresh.get(i, LEADER)  # visible to the grid's leader: needs the organisation
        except Exception as exc:
            errors.append(exc)

    threads = [threading.Thread(target=read) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    first.close()
    fresh.close()


def test_the_log_survives_a_restart_of_the_process(store_url: str):
    clock = Clock()
    svc = make_service(store_url, clock)
    i = report(svc)
    svc.act(i, "blow_whistle", STAFF, {"departments": ["housing"], "grade": "urgent"})
    position = svc.act(i, "report_in", HOUSING).position
    before = svc.get(i)
    svc.close()

    again = make_service(store_url, clock)
    after = again.get(i)
    assert after == before
    assert after.state == "joint_handling"
    assert again.app.recorder.max_notification_id() == position
    assert [h["action"] for h in again.history(i, STAFF)] == ["report", "blow_whistle", "report_in"]
    again.close()


def test_an_existing_id_is_not_reported_twice(store_url: str):
    from uuid import uuid4

    svc = make_service(store_url)
    key = uuid4()
    body = {"grid_id": "g1", "category": "road", "description": "pothole"}
    svc.report(WORKER, body, issue_id=key)
    with pytest.raises(VersionConflict):
        svc.report(WORKER, body, issue_id=key)
    assert svc.get(key).version == 1
    svc.close()
