"""Replay equals what was recorded; old event versions are upcast; the diagram is current."""

from __future__ import annotations

import json
from pathlib import Path

from domain.workflow import mermaid
from tests.support import HOUSING, LEADER, RESIDENT, STAFF, STREET, WATER, make_service, report

ROOT = Path(__file__).resolve().parents[2]


def test_replay_to_each_version_equals_the_issue_as_recorded_then():
    svc = make_service()
    i = report(svc, RESIDENT, reporter={"name": "Wang", "phone": "13800000000"})
    recorded = {1: svc.get(i)}
    steps = [
        ("coordinate", STAFF, {"lead_party": "property company"}),
        ("suspend", STAFF, {"reason": "waiting"}),
        ("approve_suspension", STREET, {}),
        ("resume", STAFF, {}),
        ("blow_whistle", STAFF, {"departments": ["housing", "water"], "grade": "crucial"}),
        ("acknowledge", HOUSING, {}),
        ("report_in", HOUSING, {}),
        ("report_in", WATER, {}),
        ("resolve", HOUSING, {"resolution": "pipe replaced"}),
        ("rework", STREET, {"reason": "still leaking"}),
        ("resolve", STAFF, {"resolution": "fixed for real"}),
        ("verify", STREET, {}),
        (
            "record_callback",
            RESIDENT,
            {"contacted": True, "solved": True, "satisfaction": "basically_satisfied"},
        ),
        ("comment", LEADER, {"text": "thanks"}),
    ]
    for action, actor, data in steps:
        issue = svc.act(i, action, actor, data).issue
        recorded[issue.version] = issue
    for version, issue in recorded.items():
        assert svc.get(i, version=version) == issue
    history = svc.history(i, STAFF)
    assert [h["action"] for h in history] == ["report", *[s[0] for s in steps]]
    assert history[5]["from_state"] == "coordinating" and history[5]["to_state"] == "whistle_blown"


def test_a_version_1_reported_event_is_upcast_on_reading():
    svc = make_service()
    i = report(svc, RESIDENT, reporter={"phone": "13800000000"})
    stored = next(iter(svc.app.recorder.select_events(i)))
    # Rewrite the stored event as version 1 wrote it, under a new issue id.
    state = json.loads(stored.state)
    state.pop("class_version")
    state["data"].pop("reporter")
    state["data"]["reporter_phone"] = "13900000000"
    from uuid import uuid4

    from eventsourcing.persistence import StoredEvent

    old_id = uuid4()
    svc.app.recorder.insert_events(
        [
            StoredEvent(
                originator_id=old_id,
                originator_version=1,
                topic=stored.topic,
                state=json.dumps(state).encode(),
            )
        ]
    )
    assert svc.get(old_id).reporter == {"phone": "13900000000"}


def test_the_committed_diagram_is_generated_from_the_current_table():
    committed = (ROOT / "docs" / "workflow.md").read_text("utf-8")
    assert mermaid() in committed, "docs/workflow.md is stale: run `gridflow diagram`"
