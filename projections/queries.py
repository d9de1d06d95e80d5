"""Reading the views: the issue list, the queue, supervision, rankings.

Every query takes the generation prefix (the live views) and `now` (for lights).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from domain.declare import Action, Reach
from domain.principals import GRID_LEVEL, SEE_ALL, Principal, Role
from domain.workflow import DECLARED
from stores.db import Cursor


def light(next_due: str | None, next_warn: str | None, now: str) -> str | None:
    if next_due is None:
        return None
    if next_due <= now:
        return "red"
    return "yellow" if next_warn is not None and next_warn <= now else "green"


def under(p: str, node: str) -> tuple[str, list[Any]]:
    return f"grid_id IN (SELECT grid_id FROM {p}grid_ancestors WHERE ancestor_id = %s)", [node]


def visible(p: str, who: Principal, cur: Cursor) -> tuple[str, list[Any]]:
    """The list's share of the rule that decides who may see an issue (domain.access)."""
    if who.role in SEE_ALL:
        return "1 = 1", []
    if who.role is Role.DEPARTMENT_OFFICER:
        return (
            f"id IN (SELECT issue_id FROM {p}issue_departments WHERE department_id = %s)",
            [who.scope],
        )
    if who.role is Role.RESIDENT:
        return "reporter_principal = %s", [who.id]
    scope = who.scope
    if who.role in GRID_LEVEL:
        cur.execute(f"SELECT parent FROM {p}nodes WHERE id = %s", (who.scope,))
        row = cur.fetchone()
        scope = row[0] if row and row[0] else who.scope
    clause, args = under(p, scope)
    return f"(reporter_principal = %s OR {clause})", [who.id, *args]


@dataclass
class ListQuery:
    node: str | None = None
    department: str | None = None
    state: str | None = None
    tier: str | None = None
    category: str | None = None
    channel: str | None = None
    overdue: bool | None = None
    flagged: bool | None = None
    reported_after: str | None = None
    reported_before: str | None = None
    sort: str = "newest"
    limit: int = 50
    cursor: str | None = None
    extra: list[tuple[str, list[Any]]] = field(default_factory=list)


SUMMARY_COLUMNS = (
    "id, version, state, tier, grid_id, category, channel, description, "
    "reported_at, updated_at, flagged, urges, merged_into, next_due_at, next_warn_at"
)


def _encode(values: Sequence[Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(list(values)).encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> list[Any]:
    """The keyset values of an opaque cursor; ValueError when it is not one of ours."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        values = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except ValueError as exc:  # not base64 (binascii.Error), not UTF-8, not JSON
        raise ValueError("not a cursor of this list") from exc
    if not (
        isinstance(values, list) and len(values) == 2 and all(isinstance(v, str) for v in values)
    ):
        raise ValueError("not a cursor of this list")
    return values


def list_issues(cur: Cursor, p: str, who: Principal, q: ListQuery, now: str) -> dict[str, Any]:
    where: list[str] = []
    args: list[Any] = []

    def add(clause: str, *values: Any) -> None:
        where.append(clause)
        args.extend(values)

    clause, vargs = visible(p, who, cur)
    add(clause, *vargs)
    if q.node:
        c, a = under(p, q.node)
        add(c, *a)
    if q.department:
        add(
            f"id IN (SELECT issue_id FROM {p}issue_departments WHERE department_id = %s)",
            q.department,
        )
    for column in ("state", "tier", "category", "channel"):
        if getattr(q, column) is not None:
            add(f"{column} = %s", getattr(q, column))
    if q.overdue is not None:
        add(
            "(is_open = 1 AND next_due_at <= %s)"
            if q.overdue
            else "NOT (is_open = 1 AND next_due_at IS NOT NULL AND next_due_at <= %s)",
            now,
        )
    if q.flagged is not None:
        add("flagged = %s", int(q.flagged))
    if q.reported_after:
        add("reported_at >= %s", q.reported_after)
    if q.reported_before:
        add("reported_at < %s", q.reported_before)
    for c, a in q.extra:
        add(c, *a)
    if q.sort == "urgency":
        key, order = "COALESCE(next_due_at, '9999')", "COALESCE(next_due_at, '9999') ASC, id ASC"
        cmp = ">"
    else:
        key, order, cmp = "reported_at", "reported_at DESC, id DESC", "<"
    if q.cursor:
        v, i = decode_cursor(q.cursor)
        add(f"({key} {cmp} %s OR ({key} = %s AND id {cmp} %s))", v, v, i)
    sql = (
        f"SELECT {SUMMARY_COLUMNS} FROM {p}issues WHERE {' AND '.join(where)} "
        f"ORDER BY {order} LIMIT %s"
    )
    cur.execute(sql, [*args, q.limit + 1])
    rows = cur.fetchall()
    items = [summary_item(r, now) for r in rows[: q.limit]]
    next_cursor = None
    if len(rows) > q.limit:
        last = rows[q.limit - 1]
        sort_value = (last[13] or "9999") if q.sort == "urgency" else last[8]
        next_cursor = _encode([sort_value, last[0]])
    return {"items": items, "next_cursor": next_cursor}


def summary_item(r: Sequence[Any], now: str) -> dict[str, Any]:
    keys = SUMMARY_COLUMNS.split(", ")
    item = dict(zip(keys, r, strict=True))
    item["flagged"] = bool(item["flagged"])
    item["light"] = (
        light(item.pop("next_due_at"), item.pop("next_warn_at"), now)
        if item["state"] not in ("rejected", "merged")
        else None
    )
    item["next_due_at"] = r[13]
    return item


#: Each rule of domain.rules as SQL over the issue list (`p`: the views' table prefix).
#: A property test checks that these agree with the rules themselves.
RULE_SQL: dict[str, Callable[[str, Principal], tuple[str, list[Any]]]] = {
    "not_resolver": lambda p, who: ("COALESCE(resolver_id, '') <> %s", [who.id]),
    "suspended": lambda p, who: ("suspended = 1", []),
    "department_summoned": lambda p, who: _department(p, who, "released_at IS NULL"),
    "not_reported_in": lambda p, who: _department(p, who, "reported_in_at IS NULL"),
    "not_acknowledged": lambda p, who: _department(p, who, "acknowledged_at IS NULL"),
    "callback_owed": lambda p, who: (
        f"id IN (SELECT issue_id FROM {p}open_deadlines WHERE kind = 'callback')",
        [],
    ),
    "hard_or_flagged": lambda p, who: ("(tier = 'hard' OR flagged = 1)", []),
    "flagged": lambda p, who: ("flagged = 1", []),
    "not_handler": lambda p, who: (
        f"id NOT IN (SELECT issue_id FROM {p}issue_people WHERE principal_id = %s "
        "AND part = 'handled')",
        [who.id],
    ),
    "callback_due": lambda p, who: _callback_due(p, who),
    "appealable": lambda p, who: _request(p, "appeal", "open"),
    "appeal_pending": lambda p, who: _request(p, "appeal", "pending"),
    "suspension_asked": lambda p, who: _request(p, "suspension", "open"),
    "extension_asked": lambda p, who: _request(p, "extension", "open"),
    "escalation_asked": lambda p, who: _request(p, "escalation", "open"),
    "not_own_suspension": lambda p, who: _not_own(p, "suspension", who),
    "not_own_extension": lambda p, who: _not_own(p, "extension", who),
    "not_own_escalation": lambda p, who: _not_own(p, "escalation", who),
    "not_suspended_or_asked": lambda p, who: _not_asked(p, "suspension", "suspended = 0 AND "),
    "no_extension_asked": lambda p, who: _not_asked(p, "extension"),
    "no_escalation_asked": lambda p, who: _not_asked(p, "escalation"),
    "flag_target": lambda p, who: (
        f"id IN (SELECT issue_id FROM {p}followup_items WHERE target = %s AND status = 'open')",
        [who.scope],
    ),
    "clearable": lambda p, who: _clearable(p, who),
    "may_urge": lambda p, who: (
        (
            f"id IN (SELECT issue_id FROM {p}issue_people WHERE principal_id = %s "
            "AND part = 'whistle')",
            [who.id],
        )
        if who.role is Role.COMMUNITY_STAFF
        else ("1 = 1", [])
    ),
    "reported_in": lambda p, who: _department(p, who, "reported_in_at IS NOT NULL"),
    "task_pending": lambda p, who: _joint(p, who, "task_pending = 1"),
    "not_contested": lambda p, who: _joint(p, who, "contest IS NULL"),
    "lead_if_department": lambda p, who: (
        _joint(p, who, "lead = 1") if who.role is Role.DEPARTMENT_OFFICER else ("1 = 1", [])
    ),
    "tasks_done": lambda p, who: (
        f"id NOT IN (SELECT issue_id FROM {p}issue_joint WHERE task_pending = 1 AND released = 0)",
        [],
    ),
    "presence_unproven": lambda p, who: _any_joint(p, "presence = 'unproven'"),
    "contest_pending": lambda p, who: _any_joint(p, "contest = 'pending'"),
    "hard_matter": lambda p, who: ("tier = 'hard'", []),
    "hotline_issue": lambda p, who: ("channel = 'hotline'", []),
    "no_return_pending": lambda p, who: (
        f"id NOT IN (SELECT issue_id FROM {p}issue_hotline WHERE return_pending = 1)",
        [],
    ),
    "return_pending": lambda p, who: (
        f"id IN (SELECT issue_id FROM {p}issue_hotline WHERE return_pending = 1)",
        [],
    ),
    "unplaced": lambda p, who: (
        f"grid_id NOT IN (SELECT id FROM {p}nodes WHERE kind = 'grid')",
        [],
    ),
}

_LEVELS = ("community", "street", "city")
_LEVEL_OF_ROLE = {
    Role.COMMUNITY_STAFF: "community",
    Role.STREET_OFFICER: "street",
    Role.CITY_SUPERVISOR: "city",
}


def _clearable(p: str, who: Principal) -> tuple[str, list[Any]]:
    """domain.followups.may_clear as SQL: an item at the principal's level or below,
    replied, or open on an issue that is closed (or rejected, merged)."""
    mine = _LEVEL_OF_ROLE.get(who.role)
    if mine is None:
        return "1 = 0", []
    levels = _quoted(_LEVELS[: _LEVELS.index(mine) + 1])
    items = f"SELECT issue_id FROM {p}followup_items WHERE level IN ({levels}) AND status = "
    return (
        f"(id IN ({items}'replied') OR (state IN ('closed', 'rejected', 'merged') "
        f"AND id IN ({items}'open')))",
        [],
    )


def _not_own(p: str, kind: str, who: Principal) -> tuple[str, list[Any]]:
    return (
        f"id NOT IN (SELECT issue_id FROM {p}issue_requests WHERE kind = %s AND status = 'open' "
        "AND by_id = %s)",
        [kind, who.id],
    )


def _not_asked(p: str, kind: str, also: str = "") -> tuple[str, list[Any]]:
    return (
        f"({also}id NOT IN (SELECT issue_id FROM {p}issue_requests WHERE kind = %s "
        "AND status = 'open'))",
        [kind],
    )


def _joint(p: str, who: Principal, condition: str) -> tuple[str, list[Any]]:
    return (
        f"id IN (SELECT issue_id FROM {p}issue_joint WHERE department_id = %s AND {condition})",
        [who.scope],
    )


def _any_joint(p: str, condition: str) -> tuple[str, list[Any]]:
    """Some department not released meets `condition`."""
    return (f"id IN (SELECT issue_id FROM {p}issue_joint WHERE released = 0 AND {condition})", [])


def _callback_due(p: str, who: Principal) -> tuple[str, list[Any]]:
    if who.role in (Role.STREET_OFFICER, Role.CITY_SUPERVISOR):
        return "1 = 1", []
    owed = f"id IN (SELECT issue_id FROM {p}open_deadlines WHERE kind = 'callback')"
    if who.role is Role.INTAKE:
        return f"(channel = 'hotline' OR {owed})", []
    return owed, []


def _request(p: str, kind: str, status: str) -> tuple[str, list[Any]]:
    return (
        f"id IN (SELECT issue_id FROM {p}issue_requests WHERE kind = %s AND status = %s)",
        [kind, status],
    )


def _department(p: str, who: Principal, condition: str) -> tuple[str, list[Any]]:
    return (
        f"id IN (SELECT issue_id FROM {p}issue_departments WHERE department_id = %s "
        f"AND {condition})",
        [who.scope],
    )


def reach(p: str, who: Principal, a: Action) -> tuple[str, list[Any]]:
    """domain.access.in_jurisdiction as SQL."""
    if who.role in (Role.SYSTEM, Role.CITY_SUPERVISOR):
        return "1 = 1", []
    if who.role is Role.DEPARTMENT_OFFICER:
        if a.reach is Reach.ANY_PART:
            return _department(p, who, "1 = 1")
        return _department(p, who, "released_at IS NULL")
    if who.role is Role.RESIDENT:
        return "reporter_principal = %s", [who.id]
    clause, args = under(p, who.scope)
    if a.reach is Reach.NODE:
        return clause, args
    return f"({clause} OR reporter_principal = %s)", [*args, who.id]


def _quoted(values: Sequence[str]) -> str:
    return ", ".join(f"'{v}'" for v in values)  # declared names, never client input


def queue_clause(
    p: str, who: Principal, declared: Sequence[Action] = DECLARED
) -> tuple[str, list[Any]] | None:
    """Issues on which `who` owes a step now (domain.commands.owes), from the actions'
    declared queues: for each action that puts issues in `who`'s queue, its states, the
    tiers at which `who` may take it, its rules and queue conditions, and its reach."""
    parts: list[str] = []
    args: list[Any] = []
    for a in declared:
        if not a.client or who.role not in a.queue:
            continue
        tiers = a.tiers_for(who.role)
        if tiers == ():
            continue
        clauses = [f"state IN ({_quoted(a.sources())})"]
        if tiers is not None:
            clauses.append(f"tier IN ({_quoted(tiers)})")
        for rule in (*a.rules, *a.queue[who.role]):
            clause, rule_args = RULE_SQL[rule.name](p, who)
            clauses.append(clause)
            args.extend(rule_args)
        clause, reach_args = reach(p, who, a)
        clauses.append(clause)
        args.extend(reach_args)
        parts.append("(" + " AND ".join(clauses) + ")")
    if not parts:
        return None
    return "(" + " OR ".join(parts) + ")", args


def _rate(num: float, den: float) -> float | None:
    return round(num / den, 4) if den else None


def indicators(c: Mapping[str, int], basic_weight: float = 0.9) -> dict[str, Any]:
    """The indicators of spec/workflow.md from counts; formulas in docs/indicators.md.
    The three rates (三率) are over valid callbacks, one per closure round
    (domain.tally); `basic_weight`: how much a "basically satisfied" counts."""
    kinds = sorted({m.split(":", 1)[1] for m in c if m.startswith("deadline_")})
    on_time = {
        k: _rate(
            c.get(f"deadline_met:{k}", 0),
            c.get(f"deadline_met:{k}", 0) + c.get(f"deadline_missed:{k}", 0),
        )
        for k in kinds
    }
    met = sum(v for m, v in c.items() if m.startswith("deadline_met:"))
    due = met + sum(v for m, v in c.items() if m.startswith("deadline_missed:"))
    valid = c.get("cb_valid", 0)
    return {
        "response_rate": _rate(c.get("cb_handler_contacted", 0), c.get("cb_handler_known", 0)),
        "resolution_rate": _rate(c.get("cb_solved", 0), valid),
        "satisfaction_rate": _rate(
            c.get("cb_satisfied", 0) + basic_weight * c.get("cb_basically_satisfied", 0),
            valid - c.get("cb_appeals_upheld", 0),
        ),
        "on_time_rate": _rate(met, due),
        "on_time_rate_by_kind": on_time,
        "rework_rate": _rate(c.get("reworks", 0), c.get("verifications", 0)),
        "reopen_rate": _rate(c.get("reopens", 0), c.get("closed", 0)),
        "whistle_rate": _rate(c.get("whistles", 0), c.get("triaged", 0)),
        "transfer_rate": _rate(c.get("transfers", 0), c.get("reported", 0)),
    }


DEFAULT_WEIGHTS = {
    "on_time_rate": 0.3,
    "satisfaction_rate": 0.3,
    "resolution_rate": 0.2,
    "response_rate": 0.1,
    "rework_rate": -0.1,
    "evaluation_rate": 0.2,
}


def joint_part(c: Mapping[str, int]) -> dict[str, Any]:
    """A department's part in joint handling (spec/joint-handling.md): presence at 报到,
    tasks, contests, and the whistle holders' evaluations (1–5) averaged; its
    `evaluation_rate` is the three ratings' mean mapped to 0–1 ((mean − 1) / 4)."""
    n = c.get("evaluations", 0)
    means = {k: round(c.get(f"eval_{k}", 0) / n, 2) if n else None for k in RATINGS}
    rated = [v for v in means.values() if v is not None]
    return {
        "presence": {k: c.get(f"presence_{k}", 0) for k in ("place", "confirmed", "unproven")},
        "tasks_completed": c.get("tasks_completed", 0),
        "contests": c.get("contests", 0),
        "contests_upheld": c.get("contests_upheld", 0),
        "evaluations": n,
        "evaluation": {**means, "leader_share": _rate(c.get("eval_leader", 0), n)},
        "evaluation_rate": round((sum(rated) / len(rated) - 1) / 4, 4) if rated else None,
    }


RATINGS = ("timeliness", "cooperation", "result")


def score(ind: Mapping[str, Any], weights: Mapping[str, float]) -> float | None:
    """Σ weight × indicator over the indicators that have data; a negative weight counts
    a rate against the score (rework). Weights of missing indicators are left out."""
    used = {k: w for k, w in weights.items() if ind.get(k) is not None}
    if not used:
        return None
    total = sum(abs(w) for w in used.values())
    value = sum(w * ind[k] if w > 0 else -w * (1 - ind[k]) for k, w in used.items())
    return round(value / total, 4)
