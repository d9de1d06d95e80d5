"""Exceptions need approval (spec/followup.md): suspension, extension and escalation
are requests that somebody else decides; transfers and reworks have caps.

- `suspend` keeps its name and data and is now a request; `approve_suspension` /
  `deny_suspension` by those who may verify the tier decide it, and the clock pauses
  from the approval. Once the issue has been suspended 10 working days in all, only a
  street officer (or a city supervisor) approves another suspension.
- `request_extension` `{reason, extra, deadline?}`: one extension per deadline (two for
  categories marked `engineering`), decided by the verifying level; the original due
  time stays on record and the extension moves the effective one.
- `request_escalation` `{reason}`: a grid worker who cannot settle a matter on the spot
  asks; the grid leader or community staff decide within 1 working hour
  (`escalation_decision`).

Nobody approves their own request (403 `separation_of_duties`: the rules
`not_own_*` in domain/rules.py). A request that is open when the issue leaves its state
lapses. Events recorded before this change: a `suspend` without the `requested` fact
paused the clock at once, and still does on replay.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import AfterValidator, Field

from domain.actions import ActionData, Short, Text, _widget
from domain.context import Context, Decision
from domain.deadlines import RESOLUTION_KIND, Limit, due_at, new_deadline, parse_limit
from domain.errors import CapReached, ForbiddenRole, TransitionNotAllowed, ValidationFailed
from domain.principals import Principal, Role

if TYPE_CHECKING:
    from domain.issue import Issue

REQUEST_KINDS = ("suspension", "extension", "escalation")
#: Suspended this many working days in all, a suspension needs a street's approval.
SUSPENSION_WORKING_DAYS = 10
STREET_OR_ABOVE = frozenset({Role.STREET_OFFICER, Role.CITY_SUPERVISOR})


def _limit(text: str) -> str:
    parse_limit(text)
    return text


class RequestExtension(ActionData):
    reason: Text
    extra: Annotated[Short, AfterValidator(_limit)] = Field(
        description="how much longer, as a limit: 3wd, 4wh, 2d, …"
    )
    deadline: Short | None = Field(
        None, description="the deadline to extend (default: the tier's resolution deadline)"
    )


class RequestEscalation(ActionData):
    reason: Text


class ApproveEscalation(ActionData):
    lead_party: Short | None = None
    parties: list[Short] = Field(
        default_factory=list, max_length=50, json_schema_extra=_widget("list")
    )


class Deny(ActionData):
    reason: Text


def _dump(data: ActionData) -> dict[str, Any]:
    return data.model_dump(mode="json", exclude_none=True)


def _stay(issue: Issue, data: ActionData) -> Decision:
    return Decision(issue.state, issue.tier, _dump(data))


def _request(d: Decision, kind: str, **more: Any) -> Decision:
    d.facts["requested"] = {"kind": kind, **more}
    return d


# -- suspension --------------------------------------------------------------------


def suspend(issue: Issue, p: Principal, data: Any, ctx: Context, _: Any) -> Decision:
    """A request: nothing pauses until somebody else approves it."""
    return _request(_stay(issue, data), "suspension")


def suspended_working_seconds(issue: Issue, ctx: Context) -> float:
    cal = ctx.calendar(issue.grid_id)
    return sum(
        cal.working_seconds_between(s["from"], s["to"] or ctx.now) for s in issue.suspensions
    )


def approve_suspension(issue: Issue, p: Principal, data: Any, ctx: Context, _: Any) -> Decision:
    kind = RESOLUTION_KIND[issue.tier or "small"]
    d = _stay(issue, data)
    d.facts["paused"] = [kind] if issue.open_deadline(kind) else []
    if p.role in STREET_OR_ABOVE:
        return d
    cal = ctx.calendar(issue.grid_id)
    first: datetime = issue.suspensions[0]["from"] if issue.suspensions else ctx.now
    allowance = cal.working_seconds_between(
        first, cal.add_working_days(first, SUSPENSION_WORKING_DAYS)
    )
    left = allowance - suspended_working_seconds(issue, ctx)
    if left <= 0:
        raise ForbiddenRole(
            f"suspended {SUSPENSION_WORKING_DAYS} working days in all: a street officer "
            "approves any further suspension",
            role=p.role.value,
        )
    # approved below the street, the suspension runs out with the allowance: the clock
    # runs again then (the deadline worker records it), unless a street officer approves
    limit = Limit(round(left / 3600, 4), "wh")
    d.starts.append(new_deadline("suspension_allowance", ctx.now, limit, cal))
    return d


def deny(issue: Issue, p: Principal, data: Any, ctx: Context, _: Any) -> Decision:
    return _stay(issue, data)


# -- extension -----------------------------------------------------------------------


def _extension_cap(issue: Issue, ctx: Context) -> int:
    return 2 if ctx.org.categories.get(issue.category, {}).get("engineering") else 1


def request_extension(
    issue: Issue, p: Principal, data: RequestExtension, ctx: Context, _: Any
) -> Decision:
    key = data.deadline or RESOLUTION_KIND[issue.tier or "small"]
    dl = issue.open_deadline(key)
    if dl is None or dl.missed:
        raise ValidationFailed({"deadline": f"no running deadline {key!r} to extend"})
    cap = _extension_cap(issue, ctx)
    if dl.extensions >= cap:
        raise CapReached(f"deadline {key} has had its {cap} extension(s)", cap=cap, deadline=key)
    return _request(_stay(issue, data), "extension", deadline=key, extra=data.extra)


def approve_extension(issue: Issue, p: Principal, data: Any, ctx: Context, _: Any) -> Decision:
    asked = issue.requests["extension"]
    dl = issue.open_deadline(asked["deadline"])
    if dl is None or dl.missed:
        raise TransitionNotAllowed(
            f"deadline {asked['deadline']} is no longer running",
            state=issue.state,
            allowed_actions=[],
        )
    limit = parse_limit(asked["extra"])
    effective = dl.effective_due
    moved = due_at(effective, limit, ctx.calendar(issue.grid_id))
    d = _stay(issue, data)
    d.facts["extended"] = {asked["deadline"]: (moved - effective).total_seconds()}
    return d


# -- escalation ----------------------------------------------------------------------


def request_escalation(issue: Issue, p: Principal, data: Any, ctx: Context, _: Any) -> Decision:
    d = _request(_stay(issue, data), "escalation")
    d.starts.append(ctx.deadline("escalation_decision", issue.category, issue.grid_id))
    return d


def approve_escalation(
    issue: Issue, p: Principal, data: ApproveEscalation, ctx: Context, _: Any
) -> Decision:
    """As `coordinate` from on the spot: the community coordinates from now."""
    d = Decision("coordinating", "big", _dump(data))
    d.end("escalation_decision")
    d.end("small_resolution", "cancelled")
    d.starts.append(ctx.deadline("big_resolution", issue.category, issue.grid_id))
    return d


def deny_escalation(issue: Issue, p: Principal, data: Any, ctx: Context, _: Any) -> Decision:
    d = _stay(issue, data)
    d.end("escalation_decision")
    return d


# -- the aggregate's side ------------------------------------------------------------


def requested(issue: Issue, event: Any) -> None:
    asked = event.facts["requested"]
    issue.requests[asked["kind"]] = {
        **asked,
        "status": "open",
        "by": event.actor["id"],
        "at": event.timestamp,
    }


def decided(issue: Issue, kind: str, status: str) -> None:
    if kind in issue.requests:
        issue.requests[kind]["status"] = status


def lapse(issue: Issue, at: datetime) -> None:
    """The issue left its state: open requests lapse, a running suspension ends."""
    for asked in issue.requests.values():
        if asked["status"] == "open":
            asked["status"] = "lapsed"
    end_suspension(issue, at)


def end_suspension(issue: Issue, at: datetime) -> None:
    if issue.suspensions and issue.suspensions[-1]["to"] is None:
        issue.suspensions[-1]["to"] = at
