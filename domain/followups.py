"""The follow-up ladder (督办, spec/followup.md): every miss leads to a named unit that
has to answer.

A follow-up item (督办件) on an issue has a `level` (community, street, city), a
`target` (the node or department that must answer), a `reason`, a reply deadline
(`flag_reply:<id>`, `GRIDFLOW_FOLLOWUP_REPLY`, default 1 working day) and who raised it.
Decisions say what happens to items as operations in the event's facts
(`facts["followups"]`); the aggregate and the views apply the same operations
(`apply_ops`), so that replay and the views never decide again:

- `open`: a new item (and its reply deadline, in the event's `starts`);
- `repeat`: the same issue, target and reason while an item is not cleared: its count
  and last time;
- `step`: its reply deadline passed unanswered: one level up (once per level), a new
  reply deadline below the city; at the city it is `listed` (挂牌督办);
- `reply`: the target answers; `clear`: 销号, by the level that raised it or above.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field

from domain.actions import ActionData, Short, Text, WithEvidence
from domain.context import Context, Decision
from domain.errors import BeyondHolidayData, Forbidden, TransitionNotAllowed, ValidationFailed
from domain.principals import Principal, Role
from domain.states import TERMINAL

if TYPE_CHECKING:
    from domain.issue import Issue

LEVELS = ("community", "street", "city")
LEVEL_OF_ROLE = {
    Role.COMMUNITY_STAFF: "community",
    Role.STREET_OFFICER: "street",
    Role.CITY_SUPERVISOR: "city",
}
Grade = Literal["remind", "supervise", "list"]
GRADES = ("remind", "supervise", "list")


class Flag(ActionData):
    target: Short | None = Field(
        None, description="the node or department that must answer (default: the handling unit)"
    )
    message: Text


class Urge(ActionData):
    """催办. `target` and `grade` are new and optional: an urge in the old shape
    (`{message}`) urges the unit handling the issue now, grade `remind`."""

    message: Text
    target: Short | None = Field(
        None, description="the node or department that must answer (default: the handling unit)"
    )
    grade: Grade = "remind"


class ReplyFlag(WithEvidence):
    flag_id: Short | None = Field(
        None,
        description="the follow-up item (default: the one open item aimed at you)",
    )
    text: Text


class PatrolMiss(ActionData):
    """The reverse comparison's warning on a grid (the worker's, workers/patrol_misses.py):
    the rolling window that warned and its counts, kept in the event as the evidence."""

    grid_id: Short
    days: int = Field(ge=1, le=366, description="the rolling window that warned (7 or 30)")
    hotline: int = Field(ge=0)
    misses: int = Field(ge=0)


class ClearFlag(ActionData):
    flag_id: Short | None = Field(
        None,
        description="the follow-up item (default: the oldest you may clear)",
    )


# -- who answers ------------------------------------------------------------------


def up(level: str) -> str:
    return LEVELS[min(LEVELS.index(level) + 1, len(LEVELS) - 1)]


def holder_node(issue: Issue, ctx: Context) -> tuple[str, str]:
    """The whistle holder's node and level (community, or street when a street officer
    blew it; community for issues whistled before holders were kept)."""
    kind = "street" if (issue.whistle_holder or {}).get("role") == "street_officer" else "community"
    return ctx.org.ancestor_of_kind(issue.grid_id, kind) or issue.grid_id, kind


def community(issue: Issue, ctx: Context) -> str:
    return ctx.org.ancestor_of_kind(issue.grid_id, "community") or issue.grid_id


def street(issue: Issue, ctx: Context) -> str:
    return ctx.org.ancestor_of_kind(issue.grid_id, "street") or issue.grid_id


def for_miss(issue: Issue, kind: str, dept: str | None, ctx: Context) -> tuple[str, str]:
    """(target, level) of the item a missed deadline of `kind` opens (the spec's table)."""
    if kind in ("triage", "small_resolution"):
        return issue.grid_id, "community"
    if kind in ("big_resolution", "callback", "escalation_decision"):
        return community(issue, ctx), "street"
    if kind == "hard_resolution":
        node, level = holder_node(issue, ctx)
        return node, up(level)
    if kind == "verification":
        if issue.tier in (None, "small"):
            return community(issue, ctx), "street"
        return street(issue, ctx), "city"
    if kind in ("department_acknowledge", "department_report_in"):
        return dept or "", holder_node(issue, ctx)[1]
    if kind == "hotline_due":  # 12345's own due time (issue 15): as the tier's resolution
        step = {"big": "big_resolution", "hard": "hard_resolution"}.get(issue.tier or "")
        return for_miss(issue, step or "small_resolution", dept, ctx)
    raise KeyError(kind)


def responsible(issue: Issue, ctx: Context) -> str:
    """The node answering for the issue's tier: its grid, its community, or the whistle
    holder's node."""
    if issue.tier == "hard":
        return holder_node(issue, ctx)[0]
    return community(issue, ctx) if issue.tier == "big" else issue.grid_id


def handling_units(issue: Issue, ctx: Context) -> list[str]:
    """The unit handling the issue now: its grid, its community, or every department
    summoned and not released (while the whistle waits: those not reported in yet)."""
    if issue.tier == "hard":
        active = issue.active_departments()
        depts = [
            k
            for k, v in active.items()
            if issue.state != "whistle_blown" or v["reported_in_at"] is None
        ]
        return depts or [holder_node(issue, ctx)[0]]
    if issue.tier == "big":
        return [community(issue, ctx)]
    return [issue.grid_id]


def parties(issue: Issue, ctx: Context) -> set[str]:
    """Nodes and departments with a part in the issue."""
    return {*ctx.org.ancestors(issue.grid_id), *issue.departments}


# -- operations ---------------------------------------------------------------------


def _live(issue: Issue, target: str, reason: str) -> dict[str, Any] | None:
    return next(
        (
            it
            for it in issue.followups
            if it["target"] == target and it["reason"] == reason and it["status"] != "cleared"
        ),
        None,
    )


def _reply_clock(issue: Issue, ctx: Context, d: Decision, flag_id: str) -> None:
    start = ctx.deadline("flag_reply", issue.category, issue.grid_id)
    start["key"] = f"flag_reply:{flag_id}"
    d.starts.append(start)


def raise_item(
    issue: Issue,
    d: Decision,
    ctx: Context,
    *,
    target: str,
    level: str,
    reason: str,
    by: str,
    grade: str | None = None,
    listed: bool = False,
) -> None:
    """Open an item, or count a repeat of one that is not cleared yet."""
    ops = d.facts.setdefault("followups", [])
    live = _live(issue, target, reason)
    if live is not None:  # a repeat: counted; raised by a higher level, it goes up
        op: dict[str, Any] = {"op": "repeat", "id": live["id"]}
        if listed and not live["listed"]:
            op["listed"] = True
        if LEVELS.index(level) > LEVELS.index(live["level"]):
            op["level"] = level
        if grade is not None and GRADES.index(grade) > GRADES.index(live["grade"] or "remind"):
            op["grade"] = grade
        ops.append(op)
        return
    opened = sum(1 for o in ops if o["op"] == "open")
    flag_id = f"f{len(issue.followups) + opened + 1}"
    item = {
        "id": flag_id,
        "level": level,
        "target": target,
        "department": target in ctx.org.departments,
        "reason": reason,
        "grade": grade,
        "raised_by": by,
        "listed": listed,
    }
    ops.append({"op": "open", "item": item})
    _reply_clock(issue, ctx, d, flag_id)


def step_up(issue: Issue, d: Decision, ctx: Context, flag_id: str) -> None:
    """A reply deadline passed unanswered: it is recorded missed and ends, and the item goes
    one level up
    (remind items never step up)."""
    d.end(f"flag_reply:{flag_id}", "missed")
    item = next(it for it in issue.followups if it["id"] == flag_id)
    if item["grade"] == "remind" or item["status"] != "open":
        return
    if item["level"] == "city":
        if not item["listed"]:
            d.facts.setdefault("followups", []).append(
                {"op": "step", "id": flag_id, "level": "city", "listed": True}
            )
        return
    level = up(item["level"])
    d.facts.setdefault("followups", []).append(
        {"op": "step", "id": flag_id, "level": level, "listed": level == "city"}
    )
    if level != "city":
        _reply_clock(issue, ctx, d, flag_id)


def apply_ops(items: list[dict[str, Any]], ops: list[dict[str, Any]], at: Any, by: str) -> None:
    """What the operations of one event do to the items (the aggregate's and the views').
    `at`: the event's time, as the caller keeps times."""
    by_id = {it["id"]: it for it in items}
    for op in ops:
        if op["op"] == "open":
            item = {
                **op["item"],
                "status": "open",
                "count": 1,
                "opened_at": at,
                "last_at": at,
                "steps": [op["item"]["level"]],
                "replies": [],
            }
            items.append(item)
            by_id[item["id"]] = item
            continue
        found = by_id.get(op["id"])
        if found is None:
            continue
        item = found
        if op["op"] == "repeat":
            item["count"] += 1
            item["last_at"] = at
            item["listed"] = item["listed"] or op.get("listed", False)
            if "level" in op:
                item["level"] = op["level"]
                item["steps"].append(op["level"])
            item["grade"] = op.get("grade", item["grade"])
        elif op["op"] == "step":
            item["level"], item["listed"] = op["level"], item["listed"] or op["listed"]
            item["steps"].append(op["level"])
            item["last_at"] = at
        elif op["op"] == "reply":
            item["status"] = "replied"
            item["replies"].append({"at": at, "by": by, "text": op["text"]})
        elif op["op"] == "clear":
            item["status"] = "cleared"
            item["cleared_at"], item["cleared_by"] = at, by


def open_items(issue: Issue) -> list[dict[str, Any]]:
    return [it for it in issue.followups if it["status"] != "cleared"]


# -- the actions ----------------------------------------------------------------------


def _level(p: Principal) -> str:
    return LEVEL_OF_ROLE.get(p.role, "community")


def _targets(issue: Issue, p: Principal, target: str | None, ctx: Context) -> list[str]:
    if target is not None:
        if target not in parties(issue, ctx):
            raise ValidationFailed({"target": "not a node or department with a part in it"})
        targets = [target]
    else:
        targets = handling_units(issue, ctx)
    if p.role is Role.COMMUNITY_STAFF:  # the whistle holder urges the departments it summoned
        if target is None:
            targets = [t for t in targets if t in issue.departments]
        if not targets or any(t not in issue.departments for t in targets):
            raise ValidationFailed({"target": "the whistle holder urges summoned departments"})
    return targets


def _stay(issue: Issue, data: ActionData) -> Decision:
    return Decision(issue.state, issue.tier, data.model_dump(mode="json", exclude_none=True))


def urge(issue: Issue, p: Principal, data: Urge, ctx: Context, _: Any) -> Decision:
    d = _stay(issue, data)
    level = _level(p)
    for target in _targets(issue, p, data.target, ctx):
        raise_item(
            issue,
            d,
            ctx,
            target=target,
            level=level,
            reason="urge",
            by=p.id,
            grade=data.grade,
            listed=data.grade == "list",
        )
    return d


def flag(issue: Issue, p: Principal, data: Flag, ctx: Context, _: Any) -> Decision:
    d = _stay(issue, data)
    for target in _targets(issue, p, data.target, ctx):
        raise_item(issue, d, ctx, target=target, level=_level(p), reason="manual", by=p.id)
    return d


def _item(issue: Issue, flag_id: str | None, fits: Any, what: str) -> dict[str, Any]:
    for it in issue.followups:
        if (flag_id is None or it["id"] == flag_id) and fits(it):
            return it
    if flag_id is not None and any(it["id"] == flag_id for it in issue.followups):
        raise Forbidden(f"follow-up item {flag_id} is not {what}")
    raise ValidationFailed({"flag_id": "no such follow-up item on this issue"})


def reply_flag(issue: Issue, p: Principal, data: ReplyFlag, ctx: Context, _: Any) -> Decision:
    item = _item(
        issue,
        data.flag_id,
        lambda it: it["status"] == "open" and it["target"] == p.scope,
        "open and aimed at you",
    )
    d = _stay(issue, data)
    d.data["flag_id"] = item["id"]
    d.facts["followups"] = [{"op": "reply", "id": item["id"], "text": data.text}]
    if issue.open_deadline(f"flag_reply:{item['id']}"):
        d.end(f"flag_reply:{item['id']}")
    return d


def may_clear(issue: Issue, p: Principal, it: dict[str, Any]) -> bool:
    """销号: by the level that raised it or above, once answered or the issue closed."""
    closed = issue.state == "closed" or issue.state in TERMINAL
    answered = it["status"] == "replied" or (it["status"] == "open" and closed)
    mine = LEVEL_OF_ROLE.get(p.role)
    return answered and mine is not None and LEVELS.index(it["level"]) <= LEVELS.index(mine)


def clear_flag(issue: Issue, p: Principal, data: ClearFlag, ctx: Context, _: Any) -> Decision:
    item = _item(issue, data.flag_id, lambda it: may_clear(issue, p, it), "yours to clear yet")
    d = _stay(issue, data)
    d.data["flag_id"] = item["id"]
    d.facts["followups"] = [{"op": "clear", "id": item["id"]}]
    if issue.open_deadline(f"flag_reply:{item['id']}"):
        d.end(f"flag_reply:{item['id']}", "cancelled")
    return d


def raise_patrol_miss(
    issue: Issue, p: Principal, data: PatrolMiss, ctx: Context, _: Any
) -> Decision:
    """漏报预警 → 督办: a rolling-window warning on a grid opens an item to the grid (its
    leader answers) at the community level, on the issue of the grid's newest missed
    ticket. One item per missed ticket: a repeat of the same warning, or a second worker,
    opens nothing (the store's version conflict settles two at once)."""
    if not ctx.org.is_grid(data.grid_id) or issue.grid_id != data.grid_id:
        raise ValidationFailed({"grid_id": "not the grid of this ticket"})
    if any(it["reason"] == "patrol_miss" for it in issue.followups):
        raise TransitionNotAllowed(
            "a patrol_miss item was already raised on this ticket",
            state=issue.state,
            allowed_actions=[],
        )
    cal = ctx.calendar(data.grid_id)
    if not cal.covers(ctx.now.astimezone(cal.tz).date()):
        raise BeyondHolidayData(
            f"today is after {cal.data_until}, beyond the official holiday data: no follow-up "
            "item opens until that year is added to the calendar file",
            state=issue.state,
            allowed_actions=[],
        )
    d = _stay(issue, data)
    raise_item(issue, d, ctx, target=data.grid_id, level="community", reason="patrol_miss", by=p.id)
    return d
