"""Reading the views: the issue list, the queue, supervision, rankings.

Every query takes the generation prefix (the live views) and `now` (for lights).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from domain.principals import GRID_LEVEL, SEE_ALL, Principal, Role
from projections.db import Cursor


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
    except Exception as exc:  # any garbage a client sends
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


def queue_clause(p: str, who: Principal) -> tuple[str, list[Any]] | None:
    """Issues on which `who` has a workflow step to take now (comment and urge aside)."""
    me = who.id
    resolved_not_mine = "(state = 'resolved' AND tier IN ({}) AND COALESCE(resolver_id, '') <> %s)"
    callback_open = (
        f"(state = 'closed' AND id IN (SELECT issue_id FROM {p}open_deadlines "
        "WHERE kind = 'callback'))"
    )
    role = who.role
    if role is Role.GRID_WORKER:
        return "state IN ('reported', 'on_spot')", []
    if role is Role.GRID_LEADER:
        return (
            f"(state IN ('reported', 'on_spot', 'coordinating') OR "
            f"{resolved_not_mine.format(chr(39) + 'small' + chr(39))})",
            [me],
        )
    if role is Role.COMMUNITY_STAFF:
        return (
            f"(state IN ('reported', 'coordinating', 'whistle_blown', 'joint_handling') OR "
            f"{resolved_not_mine.format(repr('small') + ', ' + repr('big'))} OR "
            f"{callback_open})",
            [me],
        )
    if role is Role.STREET_OFFICER:
        return (
            f"(state IN ('whistle_blown', 'joint_handling') OR (is_open = 1 AND flagged = 1) "
            f"OR {resolved_not_mine.format(repr('big') + ', ' + repr('hard'))})",
            [me],
        )
    if role is Role.DEPARTMENT_OFFICER:
        return (
            f"id IN (SELECT issue_id FROM {p}issue_departments WHERE department_id = %s AND "
            "released_at IS NULL AND (reported_in_at IS NULL OR state = 'joint_handling'))",
            [who.scope],
        )
    if role is Role.CITY_SUPERVISOR:
        return ("(is_open = 1 AND (tier = 'hard' OR flagged = 1))", [])
    if role is Role.RESIDENT:
        return f"(reporter_principal = %s AND {callback_open})", [me]
    return None


def jurisdiction_clause(p: str, who: Principal) -> tuple[str, list[Any]]:
    if who.role in SEE_ALL or who.role in (Role.DEPARTMENT_OFFICER, Role.RESIDENT):
        return "1 = 1", []
    return under(p, who.scope)


def _rate(num: float, den: float) -> float | None:
    return round(num / den, 4) if den else None


def indicators(c: Mapping[str, int]) -> dict[str, Any]:
    """The indicators of spec/workflow.md from counts; formulas in docs/indicators.md."""
    contacted = c.get("contacted", 0)
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
    return {
        "response_rate": _rate(contacted, c.get("callbacks", 0)),
        "resolution_rate": _rate(c.get("solved", 0), contacted),
        "satisfaction_rate": _rate(
            c.get("satisfied", 0) + 0.9 * c.get("basically_satisfied", 0), contacted
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
}


def score(ind: Mapping[str, Any], weights: Mapping[str, float]) -> float | None:
    """Σ weight × indicator over the indicators that have data; a negative weight counts
    a rate against the score (rework). Weights of missing indicators are left out."""
    used = {k: w for k, w in weights.items() if ind.get(k) is not None}
    if not used:
        return None
    total = sum(abs(w) for w in used.values())
    value = sum(w * ind[k] if w > 0 else -w * (1 - ind[k]) for k, w in used.items())
    return round(value / total, 4)
