"""A 12345 ticket's own facts on the issue: clocks from dispatch, the hotline's due time
as a deadline that is missed like any other, rows read in the jurisdiction's zone."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from domain.errors import ValidationFailed
from domain.intake import Consult, Ticket, ticket
from tests.support import MONDAY_9, SYSTEM, WORKER, Clock, P, make_service

DESK = P("intake", "c1", "hotline-12345")
SH = ZoneInfo("Asia/Shanghai")


def test_a_row_without_offset_is_local_time_and_a_consult_makes_no_issue():
    raw = {
        "ticket_no": "T1",
        "received_at": "2026-11-23 08:10:00",
        "dispatched_at": "2026-11-23T08:40:00",
        "category": "road",
        "grid_id": "g1",
        "text": "pothole",
    }
    t = ticket(1, raw, MONDAY_9, SH)
    assert isinstance(t, Ticket)
    assert t.report["hotline"]["received_at"] == "2026-11-23T08:10:00+08:00"
    assert t.report["hotline"]["dispatched_at"] == "2026-11-23T08:40:00+08:00"
    assert isinstance(ticket(2, {**raw, "ticket_type": "consult", "dispatched_at": None}), Consult)
    assert isinstance(ticket(3, {**raw, "ticket_type": "consult"}, MONDAY_9, SH), Ticket)


def test_the_hotlines_due_time_is_a_deadline_missed_like_any_other():
    clock = Clock()
    svc = make_service(clock=clock)
    body = {
        "grid_id": "g1",
        "category": "road",
        "description": "pothole",
        "channel": "hotline",
        "hotline": {
            "ticket_no": "T2",
            "dispatched_at": "2026-11-23T08:30:00+08:00",
            "due_at": "2026-11-23T12:00:00+08:00",
        },
    }
    i = svc.report(DESK, body).issue.id
    due = svc.get(i).open_deadline("hotline_due")
    assert due is not None and due.due_at == datetime(2026, 11, 23, 4, 0, tzinfo=UTC)
    assert svc.get(i).open_deadline("triage").started_at == datetime(  # type: ignore[union-attr]
        2026, 11, 23, 0, 30, tzinfo=UTC
    )
    clock.advance(hours=4)
    svc.act(i, "miss_deadline", SYSTEM, {"deadline": "hotline_due"})
    assert [d.status for d in svc.get(i).deadlines if d.kind == "hotline_due"] == ["missed"]


def test_only_the_hotline_desk_gives_ticket_facts():
    svc = make_service()
    body = {"grid_id": "g1", "category": "road", "description": "x", "hotline": {"ticket_no": "T3"}}
    with pytest.raises(ValidationFailed) as refused:
        svc.report(WORKER, body)
    assert "hotline" in refused.value.fields
