"""12345 both ways (spec/joint-handling.md): what a hotline ticket adds to its report.

A ticket carries its type (咨询 consult, 求助 help, 投诉 complaint, 举报 report, 建议
suggestion), the hotline's own category name, and the hotline's own dispatch and due
times. gridflow's clocks start when the hotline dispatched the ticket (else when it was
received), never at the import; the hotline's due time is kept as a deadline of kind
`hotline_due`. A ticket whose place or category cannot be matched is not refused: it
waits at the intake's node, in the street's and the intake's queue, until `transfer`
(分拨) places it in a grid and category.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

from domain.actions import ActionData, Reporter, Short, Strict, Text
from domain.context import Context, Decision
from domain.deadlines import RESOLUTION_KIND
from domain.errors import ValidationFailed
from domain.geo import distance_m
from domain.organisation import Org
from domain.principals import Principal
from domain.states import HANDLING_STATE

if TYPE_CHECKING:
    from domain.issue import Issue

TicketType = Literal["consult", "help", "complaint", "report", "suggestion"]
TICKET_TYPES: tuple[str, ...] = ("consult", "help", "complaint", "report", "suggestion")
HOTLINE_DUE = "hotline_due"


class HotlineTicket(Strict):
    """The hotline's own facts of a ticket (given by intake only)."""

    ticket_no: Short
    ticket_type: TicketType | None = None
    hotline_category: Short | None = None
    received_at: datetime | None = None
    dispatched_at: datetime | None = None
    due_at: datetime | None = None


def category_for(org: Org, name: str) -> str | None:
    """The catalogue's code for a hotline category: a code itself, or a category's
    `hotline_names` or name; None when nothing matches."""
    if name in org.categories:
        return name
    for code, c in org.categories.items():
        if name in c.get("hotline_names", ()) or name == c.get("name"):
            return code
    return None


def facts(ticket: HotlineTicket) -> dict[str, Any]:
    out: dict[str, Any] = {"ticket_no": ticket.ticket_no}
    for key in ("ticket_type", "hotline_category"):
        if getattr(ticket, key) is not None:
            out[key] = getattr(ticket, key)
    for key in ("received_at", "dispatched_at", "due_at"):
        value = getattr(ticket, key)
        if value is not None:
            out[key] = value.isoformat()
    return out


def clock_start(ticket: HotlineTicket | None, now: datetime) -> datetime:
    """When gridflow's own clocks start: the hotline's dispatch, else its receipt."""
    if ticket is None:
        return now
    start = ticket.dispatched_at or ticket.received_at or now
    return min(start, now)


def due_deadline(ticket: HotlineTicket | None, now: datetime) -> dict[str, Any] | None:
    """The hotline's own due time as a deadline (`hotline_due`): kept, shown, missed."""
    if ticket is None or ticket.due_at is None:
        return None
    start = clock_start(ticket, now)
    due = max(ticket.due_at, start)
    return {
        "key": HOTLINE_DUE,
        "kind": HOTLINE_DUE,
        "department_id": None,
        "limit": "hotline",  # set by the hotline: wall-clock time
        "started_at": start,
        "due_at": due,
        "warn_at": start + (due - start) * 0.75,
    }


def hides_caller(hotline: dict[str, Any] | None) -> bool:
    """A 举报 (report) ticket's caller is shown to intake and auditors only."""
    return bool(hotline) and hotline.get("ticket_type") == "report"  # type: ignore[union-attr]


# -- results back to the hotline (回单) and returns (退单) ---------------------------------


class ReturnToHotline(ActionData):
    reason: Text


class ApproveReturn(ActionData):
    pass


def reply(issue: Issue, result: str, text: str | None) -> dict[str, Any]:
    """What the hotline is told when its ticket closes or is returned (a fact of the
    event, so that the replies and the webhook read it from the log alone)."""
    assert issue.hotline is not None
    out = {"ticket_no": issue.hotline["ticket_no"], "result": result}
    if text:
        out["text"] = text
    return out


def end_due(issue: Issue, d: Decision, outcome: str = "met") -> None:
    """The hotline's own due time ends with its reply (closed, returned) or a merge."""
    if issue.open_deadline(HOTLINE_DUE):
        d.end(HOTLINE_DUE, outcome)


def return_to_hotline(
    issue: Issue, p: Principal, data: ReturnToHotline, ctx: Context, _: Any
) -> Decision:
    return Decision(issue.state, issue.tier, data.model_dump(mode="json", exclude_none=True))


def approve_return(
    issue: Issue, p: Principal, data: ApproveReturn, ctx: Context, _: Any
) -> Decision:
    why = issue.return_request["reason"] if issue.return_request else None
    d = Decision("rejected", issue.tier, data.model_dump(mode="json", exclude_none=True))
    d.facts["reason"] = why
    if issue.hotline is not None:
        d.facts["hotline_reply"] = reply(issue, "returned", why)
    if issue.open_deadline("triage"):
        d.end("triage")
    end_due(issue, d)
    return d


# -- repeat complaints: a ticket about a matter closed lately reopens it ------------------

#: A ticket repeats a closed matter of its category within this many days and metres.
REPEAT_DAYS = 30
REPEAT_RADIUS_M = 100.0


class RepeatComplaint(ActionData):
    ticket_no: Short
    reporter: Reporter | None = None
    hotline: dict[str, Any] | None = None


def repeat_target(
    candidates: list[dict[str, Any]], address: str | None, lat: float | None, lon: float | None
) -> str | None:
    """The closed issue a ticket repeats: the same matched address, or within
    REPEAT_RADIUS_M (candidates: closed issues of the ticket's category, newest first)."""
    for c in candidates:
        if address and c.get("address") and address.strip() == c["address"].strip():
            return str(c["id"])
        near = lat is not None and lon is not None and c.get("lat") is not None
        if near and distance_m(lat, lon, c["lat"], c["lon"]) <= REPEAT_RADIUS_M:  # type: ignore[arg-type]
            return str(c["id"])
    return None


def repeat_complaint(
    issue: Issue, p: Principal, data: RepeatComplaint, ctx: Context, _: Any
) -> Decision:
    """The ticket is merged into the closed issue (its caller attached as a reporter),
    which reopens as a dissatisfied callback would (重办): in its tier's handling state, a
    small matter raised to big the second time, a big or hard one flagged."""
    if data.ticket_no in issue.repeats:
        raise ValidationFailed({"ticket_no": "this ticket is merged into the issue already"})
    body = data.model_dump(mode="json", exclude_none=True)
    if body.get("reporter"):
        body["reporter"] = ctx.seal(body["reporter"])
    tier = issue.tier or "small"
    again = issue.counts.get("dissatisfied", 0) + len(issue.repeats) + 1
    d = Decision(issue.state, tier, body, {"repeat_of": str(issue.id), "reopened": again})
    if again >= 2 and tier == "small":
        tier = "big"
    elif again >= 2:
        d.facts["flag"] = "closed, then complained again (督办)"
    d.to_state, d.tier = HANDLING_STATE[tier], tier
    if issue.open_deadline("callback"):
        d.end("callback", "cancelled")
    d.starts.append(ctx.deadline(RESOLUTION_KIND[tier], issue.category, issue.grid_id))
    return d
