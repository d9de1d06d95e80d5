"""Whose queue an issue is in (domain.commands.owes), where the queues' own tests
(tests/integration/test_rules_agree.py) do not reach in the unit tests: follow-up items
(督办) put an issue in the street's and the city's queues until they are cleared
(spec/followup.md), flags recorded before follow-up items existed included."""

from __future__ import annotations

import json
from uuid import uuid4

from eventsourcing.persistence import StoredEvent

from domain.commands import owes
from tests.support import STAFF, STREET, SUPERVISOR, WORKER, P, make_service, report, walk_to


def test_a_follow_up_item_keeps_the_issue_in_the_street_and_city_queues_until_cleared():
    # given an issue handled on the spot: nothing for the street or the city to do
    svc = make_service()
    org = svc.org()
    i = report(svc)
    svc.act(i, "handle_on_spot", WORKER, {})
    assert not owes(svc.get(i), STREET, org)
    assert not owes(svc.get(i), SUPERVISOR, org)
    # when the city opens a follow-up item on it
    svc.act(i, "flag", SUPERVISOR, {"message": "explain the delay"})
    # then the street officer and the city supervisor find it in their queues
    assert owes(svc.get(i), STREET, org)
    assert owes(svc.get(i), SUPERVISOR, org)
    # and once the grid answers and the city clears the item, it leaves them
    svc.act(i, "reply_flag", WORKER, {"text": "the crew comes on Thursday"})
    svc.act(i, "clear_flag", SUPERVISOR, {})
    assert not owes(svc.get(i), STREET, org)
    assert not owes(svc.get(i), SUPERVISOR, org)


def test_a_flag_recorded_before_follow_up_items_still_puts_the_issue_in_the_queues():
    # given an issue whose flag was recorded as older code wrote it: a fact, no item
    svc = make_service()
    i = report(svc)
    svc.act(i, "flag", SUPERVISOR, {"message": "explain the delay"})
    old_id = uuid4()
    rewritten = []
    for stored in svc.app.recorder.select_events(i):
        state = json.loads(stored.state)
        if stored.topic.endswith("Issue.Flagged"):
            state["facts"] = {"flag": "explain the delay"}
        rewritten.append(
            StoredEvent(
                originator_id=old_id,
                originator_version=stored.originator_version,
                topic=stored.topic,
                state=json.dumps(state).encode(),
            )
        )
    svc.app.recorder.insert_events(rewritten)
    issue = svc.get(old_id)
    assert issue.flags == ["explain the delay"] and issue.followups == []
    # then the street officer and the city supervisor find it in their queues
    assert owes(issue, STREET, svc.org())
    assert owes(issue, SUPERVISOR, svc.org())


def test_a_closed_issue_waits_in_the_communitys_queue_until_its_callback():
    svc = make_service()
    org = svc.org()
    i = walk_to(svc, "closed")  # verified: the callback (回访) clock runs
    assert owes(svc.get(i), STAFF, org)
    answers = {"contacted": True, "solved": True, "satisfaction": "satisfied"}
    svc.act(i, "record_callback", STAFF, answers)
    assert not owes(svc.get(i), STAFF, org)


def test_a_hard_matter_is_in_the_city_queue_without_a_flag():
    svc = make_service()
    org = svc.org()
    small, hard = report(svc), report(svc)
    svc.act(hard, "blow_whistle", STAFF, {"departments": ["housing"]})
    assert owes(svc.get(hard), SUPERVISOR, org)
    assert not owes(svc.get(small), SUPERVISOR, org)


def test_an_unplaced_ticket_waits_at_the_desk_until_transferred_to_a_grid():
    svc = make_service()
    org = svc.org()
    desk = P("intake", "c1", "hotline-12345")
    ticket = {"description": "pothole", "channel": "hotline", "hotline": {"ticket_no": "T9"}}
    nowhere = {"location": {"address": "nowhere 9"}, "category": "Stray dogs"}
    lost = svc.report(desk, {**ticket, **nowhere}).issue.id
    placed = svc.report(desk, {**ticket, "grid_id": "g1", "category": "Damaged road"}).issue.id
    assert owes(svc.get(lost), desk, org)
    assert not owes(svc.get(placed), desk, org)
    svc.act(lost, "transfer", desk, {"grid_id": "g1", "category": "road", "reason": "分拨"})
    assert not owes(svc.get(lost), desk, org)
