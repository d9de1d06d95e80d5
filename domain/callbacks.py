"""Callbacks (回访) and closure rounds: which callback counts in the three rates (三率).

A closure round runs from a close (`verify`) to the next reopening. It counts one valid
callback: the first that reached the resident. Only a street officer or a city
supervisor replaces it (`replaces_reason`); for a hotline issue the hotline's own
callback (recorded by an `intake` principal) takes precedence over the unit's. Three
attempts that did not reach anyone, at least 2 working hours apart, close the round as
`unreachable`. A round judged at its callback deadline without a valid callback stays in
the rates as not contacted, not solved and not satisfied. Nobody who handled, resolved or
verified the issue records its callback. docs/indicators.md has the formulas.

Each decision records what it decided in the event's facts (`callback`), so that the
views count from the event and never decide again.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field, model_validator

from domain import followups
from domain.actions import ActionData, Long, Text
from domain.context import Context, Decision
from domain.deadlines import RESOLUTION_KIND
from domain.errors import TransitionNotAllowed, ValidationFailed
from domain.principals import Principal, Role
from domain.states import HANDLING_STATE

if TYPE_CHECKING:
    from domain.issue import Issue

#: Who may replace a round's valid callback.
REPLACERS = frozenset({Role.STREET_OFFICER, Role.CITY_SUPERVISOR})
#: Actions whose actor handled the issue (and so never records its callback).
HANDLING_ACTIONS = frozenset(
    {
        "handle_on_spot",
        "coordinate",
        "blow_whistle",
        "summon",
        "acknowledge",
        "report_in",
        "resolve",
        "verify",
        "rework",
        "approve_escalation",
    }
)
#: Attempts that reached nobody close a round when there are this many, this far apart.
UNREACHABLE_ATTEMPTS = 3
ATTEMPT_GAP_WORKING_SECONDS = 2 * 3600

Satisfaction = Literal["satisfied", "basically_satisfied", "dissatisfied"]
_OLD_SHAPE: Any = {"deprecated": True, "description": "the old shape: use `outcome`"}


class RecordCallback(ActionData):
    """A callback (回访). The old shape — `contacted`, `solved`, `satisfaction`,
    `comment` — stays accepted: `contacted: false` is `outcome: unreachable`, and whether
    the handling unit contacted the resident is then unknown."""

    outcome: Literal["reached", "unreachable", "refused"] | None = None
    handler_contacted: bool | None = Field(
        None, description="did the handling unit contact the resident (响应)"
    )
    solved: bool | None = None
    satisfaction: Satisfaction | None = None
    reason: Long | None = Field(None, description="why dissatisfied (required then)")
    via: Literal["phone", "visit", "sms"] | None = None
    replaces_reason: Text | None = Field(
        None,
        description="street officers and city supervisors: why this callback replaces "
        "the round's valid one",
    )
    contacted: bool | None = Field(None, json_schema_extra=_OLD_SHAPE)
    comment: Long | None = Field(None, json_schema_extra=_OLD_SHAPE)

    @model_validator(mode="after")
    def _one_shape(self) -> RecordCallback:
        if self.contacted is not None:
            if self.outcome is not None or self.handler_contacted is not None:
                raise ValueError("give `outcome` (new) or `contacted` (old), not both")
            if self.contacted and (self.solved is None or self.satisfaction is None):
                raise ValueError(
                    "a callback that reached the resident records solved and satisfaction"
                )
            if not self.contacted and (self.solved is not None or self.satisfaction is not None):
                raise ValueError("a callback that did not reach the resident records no answers")
            return self
        if self.outcome is None:
            raise ValueError("give `outcome`: reached, unreachable or refused")
        answers = (self.handler_contacted, self.solved, self.satisfaction)
        if self.outcome == "reached" and None in answers:
            raise ValueError(
                "a callback that reached the resident records handler_contacted, solved "
                "and satisfaction"
            )
        if self.outcome != "reached" and answers != (None, None, None):
            raise ValueError("a callback that did not reach the resident records no answers")
        if self.satisfaction == "dissatisfied" and not self.reason:
            raise ValueError("a dissatisfied callback records the reason")
        if self.via is None:
            raise ValueError("give `via`: phone, visit or sms")
        return self


class AppealCallback(ActionData):
    reason: Text


class DecideAppeal(ActionData):
    reason: Text


def answer(data: dict[str, Any]) -> dict[str, Any]:
    """A callback's answers in the new shape, whichever shape it was recorded in;
    `handler_contacted` None: unknown (the old shape)."""
    if "outcome" in data:
        return {
            "outcome": data["outcome"],
            "handler_contacted": data.get("handler_contacted"),
            "solved": data.get("solved"),
            "satisfaction": data.get("satisfaction"),
        }
    reached = bool(data.get("contacted"))
    return {
        "outcome": "reached" if reached else "unreachable",
        "handler_contacted": None,
        "solved": data.get("solved") if reached else None,
        "satisfaction": data.get("satisfaction") if reached else None,
    }


def _refuse(issue: Issue, why: str) -> TransitionNotAllowed:
    return TransitionNotAllowed(why, state=issue.state, allowed_actions=[])


def _attempt(issue: Issue, ctx: Context) -> int | None:
    """The number of this attempt that reached nobody, if it counts (the first, or at
    least 2 working hours after the last that counted); None when too soon."""
    attempts = issue.callback_round.get("attempts", []) if issue.callback_round else []
    if attempts:
        cal = ctx.calendar(issue.grid_id)
        if cal.working_seconds_between(attempts[-1], ctx.now) < ATTEMPT_GAP_WORKING_SECONDS:
            return None
    return len(attempts) + 1


def record_callback(
    issue: Issue, p: Principal, data: RecordCallback, ctx: Context, _: Any
) -> Decision:
    body = data.model_dump(mode="json", exclude_none=True)
    ans = answer(body)
    rnd = issue.callback_round or {}
    valid = rnd.get("valid")
    settled = valid is not None or rnd.get("closed") is not None
    hotline = hotline_desk(issue, p)
    if data.replaces_reason and p.role not in REPLACERS:
        raise ValidationFailed(
            {"replaces_reason": "only a street officer or a city supervisor replaces a callback"}
        )
    replaces = False
    if p.role in REPLACERS:
        if not data.replaces_reason:
            raise ValidationFailed(
                {
                    "replaces_reason": "a street officer or city supervisor records a callback "
                    "only to replace the round's valid one: say why"
                }
            )
        if not settled:
            raise _refuse(issue, "this round has no valid callback to replace yet")
        replaces = True
    elif settled:
        if not (hotline and valid is not None and valid["role"] != Role.INTAKE):
            raise _refuse(
                issue,
                "this round has its callback (回访); a street officer or city supervisor "
                "may replace it",
            )
        replaces = True  # the hotline's own callback takes precedence over the unit's
    if replaces and ans["outcome"] != "reached":
        raise ValidationFailed({"outcome": "a replacement is a callback that reached them"})

    tier = issue.tier or "small"
    d = Decision("closed", tier, body)
    facts: dict[str, Any] = {"round": rnd.get("number", 0), "valid": False}
    if ans["outcome"] == "reached":
        facts["valid"] = True
        if replaces:
            facts["replaces"] = valid["version"] if valid else None
        if issue.open_deadline("callback"):
            d.end("callback")
    else:
        attempt = _attempt(issue, ctx)
        facts["attempt"] = attempt
        if attempt is not None and attempt >= UNREACHABLE_ATTEMPTS:
            facts["closes"] = "unreachable"
            if issue.open_deadline("callback"):
                d.end("callback")
    if hotline:
        facts["hotline"] = True
    d.facts["callback"] = facts
    if not facts["valid"] or ans["satisfaction"] != "dissatisfied":
        return d
    dissatisfied = issue.counts.get("dissatisfied", 0) + 1
    d.facts["dissatisfied"] = dissatisfied
    if dissatisfied >= 2:  # a city follow-up item at once, on the unit answering for it
        target = followups.responsible(issue, ctx)
        followups.raise_item(
            issue, d, ctx, target=target, level="city", reason="dissatisfied", by="system"
        )
        if tier == "small":
            tier = "big"  # a second dissatisfied callback raises a small matter
    d.to_state, d.tier = HANDLING_STATE[tier], tier
    d.starts.append(ctx.deadline(RESOLUTION_KIND[tier], issue.category, issue.grid_id))
    return d


def appeal_callback(
    issue: Issue, p: Principal, data: AppealCallback, ctx: Context, _: Any
) -> Decision:
    """The handling unit holds a dissatisfied callback unreasonable (不合理诉求)."""
    d = Decision(issue.state, issue.tier, data.model_dump(mode="json", exclude_none=True))
    d.facts["callback_version"] = issue.appeal["callback_version"] if issue.appeal else None
    return d


def decide_appeal(issue: Issue, p: Principal, data: DecideAppeal, ctx: Context, _: Any) -> Decision:
    d = Decision(issue.state, issue.tier, data.model_dump(mode="json", exclude_none=True))
    d.facts["callback_version"] = issue.appeal["callback_version"] if issue.appeal else None
    return d


# -- the aggregate's side: what the events leave on the issue --------------------------


def open_round(issue: Issue, at: Any) -> None:
    number = (issue.callback_round or {}).get("number", 0) + 1
    issue.callback_round = {
        "number": number,
        "opened_at": at,
        "valid": None,
        "attempts": [],
        "closed": None,
        "judged": False,
    }


def recorded(issue: Issue, event: Any) -> None:
    """A callback on the issue's round, as its event decided it (old events: the first
    that reached the resident is valid, as today)."""
    rnd = issue.callback_round
    if rnd is None:  # closed before rounds were kept: open one now
        open_round(issue, event.timestamp)
        rnd = issue.callback_round
    assert rnd is not None
    ans = answer(event.data)
    facts = event.facts.get("callback")
    if facts is None:
        facts = {"valid": ans["outcome"] == "reached" and rnd["valid"] is None}
    if facts["valid"]:
        rnd["valid"] = {
            "version": event.originator_version,
            "role": event.actor["role"],
            "satisfaction": ans["satisfaction"],
        }
        if ans["satisfaction"] == "dissatisfied":
            issue.appeal = {"callback_version": event.originator_version, "status": None}
    elif facts.get("attempt"):
        rnd["attempts"].append(event.timestamp)
    if facts.get("closes"):
        rnd["closed"] = facts["closes"]


def hotline_desk(issue: Issue, p: Principal) -> bool:
    """Whether `p` records the hotline's own callback: the desk, on a hotline issue."""
    return p.role is Role.INTAKE and issue.channel == "hotline"


def someone_to_call(issue: Issue) -> bool:
    """Whether the issue has someone to call back: a reporter's contact or account."""
    return issue.contact or bool(issue.reporter_principal)
