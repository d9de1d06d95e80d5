"""Whose queue an issue is in (domain.commands.owes), where the queues' own tests
(tests/integration/test_rules_agree.py) do not reach in the unit tests: follow-up items
(督办) put an issue in the street's and the city's queues until they are cleared
(spec/followup.md), flags recorded before follow-up items existed included."""

from __future__ import annotations

import json
from uuid import uuid4

from eventsourcing.persistence import StoredEvent

from domain.commands import owes
from tests.support import STREET, SUPERVISOR, WORKER, make_service, report


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
