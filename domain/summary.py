"""How each action changes an issue's summary — the row the views keep of it — and the
counts behind the indicators (docs/indicators.md). Declared with each action in
`domain.workflow`; `projections.views` folds with them.

A summary is a plain dict with times as fixed-width UTC strings; its deadlines map each
deadline key to {kind, department_id, started_at, due_at, warn_at, effective_due_at,
effective_warn_at, paused, missed}. What every event does (its state and tier, the
deadlines it starts and ends, flags) is folded by the views themselves.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from domain import joint, tally
from domain.callbacks import HANDLING_ACTIONS
from domain.declare import Counter, Folded
from domain.followups import apply_ops
from domain.owners import owner_after

Row = dict[str, Any]


def utc(value: datetime) -> str:
    """A fixed-width UTC timestamp: lexical order is time order."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def shift(at: str, seconds: float) -> str:
    if not seconds:
        return at
    return utc(datetime.fromisoformat(at.replace("Z", "+00:00")) + timedelta(seconds=seconds))


def _triaged(before: str, count: Counter) -> None:
    if before == "reported":
        count("triaged")


def common(row: Row, e: Folded, count: Counter) -> None:
    """What every event may change of the summary beyond state, tier and deadlines:
    who handled the issue (never its callback's recorder)."""
    handled = row.setdefault("handled_by", [])
    if e.action in HANDLING_ACTIONS and e.actor["id"] not in handled:
        handled.append(e.actor["id"])
    if e.facts.get("followups"):
        items = row.setdefault("followups", [])
        apply_ops(items, e.facts["followups"], e.at, e.actor["id"])
        for op in e.facts["followups"]:
            count(f"followup_{op['op']}")
    if e.to_state != row["state"]:  # requests open when the issue moves on lapse
        for asked in row.get("requests", {}).values():
            if asked["status"] == "open":
                asked["status"] = "lapsed"
    row["assignee"] = owner_after(row.get("assignee"), e.action, e.actor, e.data)


def report(row: Row, e: Folded, before: str, count: Counter) -> None:
    count("reported")
    row["contact"] = bool(
        e.facts.get("contact", e.data.get("reporter") is not None)
        or e.facts.get("reporter_principal")
    )


def handle_on_spot(row: Row, e: Folded, before: str, count: Counter) -> None:
    _triaged(before, count)


coordinate = handle_on_spot


def blow_whistle(row: Row, e: Folded, before: str, count: Counter) -> None:
    _triaged(before, count)
    count("whistles")
    row["whistle_holder"] = e.actor["id"]
    summon(row, e, before, count)


def summon(row: Row, e: Folded, before: str, count: Counter) -> None:
    for dept in e.data["departments"]:
        row["departments"][dept] = {
            "department_id": dept,
            "summoned_at": e.at,
            "acknowledged_at": None,
            "reported_in_at": None,
            "released_at": None,
        }
        count("summoned", dept)
    joint.fold_summoned(row, e)


def acknowledge(row: Row, e: Folded, before: str, count: Counter) -> None:
    row["departments"][e.facts["department_id"]]["acknowledged_at"] = e.at


def report_in(row: Row, e: Folded, before: str, count: Counter) -> None:
    d = row["departments"][e.facts["department_id"]]
    d["acknowledged_at"] = d["acknowledged_at"] or e.at
    d["reported_in_at"] = e.at
    joint.fold_report_in(row, e, count)


def release(row: Row, e: Folded, before: str, count: Counter) -> None:
    row["departments"][e.data["department_id"]]["released_at"] = e.at
    joint.released(row["departments"], e.data["department_id"])


def return_to_hotline(row: Row, e: Folded, before: str, count: Counter) -> None:
    row["return_pending"] = True


def approve_return(row: Row, e: Folded, before: str, count: Counter) -> None:
    row["return_pending"] = False
    count("hotline_returns")


def repeat_complaint(row: Row, e: Folded, before: str, count: Counter) -> None:
    """A ticket about a matter closed lately: it reopens (重办), and counts as closed, then
    complained about again."""
    count("reopens")
    count("closed_then_complained")
    row.setdefault("repeats", []).append(e.data["ticket_no"])
    # when the ticket came: the reverse comparison counts it as a ticket of the place
    row.setdefault("repeat_times", {})[e.data["ticket_no"]] = e.at


# joint handling (domain.joint)
confirm_presence = joint.confirm_presence_fold
complete_task = joint.complete_task_fold
record_meeting = joint.record_meeting_fold
evaluate_department = joint.evaluate_department_fold
contest_summons = joint.contest_summons_fold
uphold_summons = joint.uphold_summons_fold


def resolve(row: Row, e: Folded, before: str, count: Counter) -> None:
    row["resolver_id"] = e.actor["id"]


def verify(row: Row, e: Folded, before: str, count: Counter) -> None:
    count("verifications")
    count("closed")
    tally.new_round(row)


def rework(row: Row, e: Folded, before: str, count: Counter) -> None:
    count("verifications")
    count("reworks")


def record_callback(row: Row, e: Folded, before: str, count: Counter) -> None:
    tally.callback(row, e, count)


def appeal_callback(row: Row, e: Folded, before: str, count: Counter) -> None:
    tally.appeal(row, "pending", count)


def uphold_appeal(row: Row, e: Folded, before: str, count: Counter) -> None:
    tally.appeal(row, "upheld", count)


def reject_appeal(row: Row, e: Folded, before: str, count: Counter) -> None:
    tally.appeal(row, "rejected", count)


def transfer(row: Row, e: Folded, before: str, count: Counter) -> None:
    count("transfers")
    row["grid_id"] = e.data["grid_id"]
    row["category"] = e.data.get("category") or row["category"]


def merge(row: Row, e: Folded, before: str, count: Counter) -> None:
    row["merged_into"] = e.data["duplicate_of"]


def urge(row: Row, e: Folded, before: str, count: Counter) -> None:
    row["urges"] += 1


def _moved(d: dict[str, Any]) -> None:
    """A deadline's effective due and warning times: moved by pauses and extensions."""
    seconds = d.get("paused_seconds", 0.0) + d.get("extended_seconds", 0.0)
    d["effective_due_at"] = shift(d["due_at"], seconds)
    d["effective_warn_at"] = shift(d["warn_at"], seconds)


def _pause(row: Row, e: Folded) -> None:
    row["suspended"] = True
    for key in e.facts.get("paused", []):
        if key in row["deadlines"]:
            row["deadlines"][key]["paused"] = True


def _asked(row: Row, e: Folded, count: Counter) -> None:
    kind = e.facts["requested"]["kind"]
    row.setdefault("requests", {})[kind] = {"status": "open", "by": e.actor["id"]}
    count(f"{kind}_requests")


def _decided(row: Row, kind: str, status: str, count: Counter) -> None:
    asked = row.setdefault("requests", {}).get(kind)
    if asked is not None:
        asked["status"] = status
    count(f"{kind}_{status}")


def suspend(row: Row, e: Folded, before: str, count: Counter) -> None:
    if "requested" in e.facts:
        _asked(row, e, count)
    else:  # recorded before issue 14: a suspension at once
        _pause(row, e)


def approve_suspension(row: Row, e: Folded, before: str, count: Counter) -> None:
    _decided(row, "suspension", "approved", count)
    _pause(row, e)


def deny_suspension(row: Row, e: Folded, before: str, count: Counter) -> None:
    _decided(row, "suspension", "denied", count)


def request_extension(row: Row, e: Folded, before: str, count: Counter) -> None:
    _asked(row, e, count)


def approve_extension(row: Row, e: Folded, before: str, count: Counter) -> None:
    _decided(row, "extension", "approved", count)
    for key, seconds in e.facts["extended"].items():
        if (d := row["deadlines"].get(key)) is not None:
            d["extended_seconds"] = d.get("extended_seconds", 0.0) + seconds
            _moved(d)


def deny_extension(row: Row, e: Folded, before: str, count: Counter) -> None:
    _decided(row, "extension", "denied", count)


request_escalation = request_extension


def approve_escalation(row: Row, e: Folded, before: str, count: Counter) -> None:
    _decided(row, "escalation", "approved", count)


def deny_escalation(row: Row, e: Folded, before: str, count: Counter) -> None:
    _decided(row, "escalation", "denied", count)


def resume(row: Row, e: Folded, before: str, count: Counter) -> None:
    row["suspended"] = False
    for key, seconds in e.facts.get("paused_seconds", {}).items():
        if (d := row["deadlines"].get(key)) is not None:
            d["paused"] = False
            d["paused_seconds"] = seconds
            _moved(d)


def miss_deadline(row: Row, e: Folded, before: str, count: Counter) -> None:
    d = row["deadlines"].get(e.data["deadline"])
    if e.facts.get("resumed"):  # a suspension's allowance ran out: no miss
        resume(row, e, before, count)
        count("suspension_allowance_ended")
        if d is not None:
            d["missed"] = True
        return
    if d is not None:
        d["missed"] = True
        due = d["effective_due_at"] or d["due_at"]
        count(f"deadline_missed:{d['kind']}", d["department_id"] or "", at=due)
        if d["kind"] == "callback":
            tally.callback_missed(row, due, count)


def assign(row: Row, e: Folded, before: str, count: Counter) -> None:
    count("assignments")  # the assignee itself follows in `common` (domain.owners)
