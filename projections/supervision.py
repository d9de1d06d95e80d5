"""Supervision: summary per node and period, the city follow-up board, rankings,
department timeliness. Periods are local days: `from` inclusive, `to` exclusive."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from projections.queries import indicators, joint_part, score, under
from stores.db import Cursor


def _seconds(a: str, b: str) -> float:
    parse = datetime.fromisoformat
    return (parse(b.replace("Z", "+00:00")) - parse(a.replace("Z", "+00:00"))).total_seconds()


def summary(
    cur: Cursor,
    p: str,
    node: str,
    day_from: str,
    day_to: str,
    now: str,
    basic_weight: float = 0.9,
) -> dict[str, Any]:
    """Issues reported in the period by state, tier and category, open deadlines by
    light, and the indicators of the period."""
    cur.execute(
        f"SELECT state, tier, SUM(n) FROM {p}state_counts WHERE node_id = %s AND day >= %s "
        "AND day < %s GROUP BY state, tier",
        [node, day_from, day_to],
    )
    by_state: dict[str, int] = defaultdict(int)
    by_tier: dict[str, int] = defaultdict(int)
    for state, tier, n in cur.fetchall():
        if int(n):
            by_state[state] += int(n)
            by_tier[tier or "untriaged"] += int(n)
    where, args = under(p, node)
    cur.execute(
        f"SELECT SUM(CASE WHEN paused = 0 AND effective_due_at <= %s THEN 1 ELSE 0 END), "
        f"SUM(CASE WHEN paused = 0 AND effective_due_at > %s AND effective_warn_at <= %s "
        f"THEN 1 ELSE 0 END), "
        f"SUM(CASE WHEN paused = 0 AND effective_warn_at > %s THEN 1 ELSE 0 END), "
        f"SUM(paused) FROM {p}open_deadlines WHERE {where}",
        [now, now, now, now, *args],
    )
    red, yellow, green, paused = (int(v or 0) for v in cur.fetchone())
    counts = facts(cur, p, node, day_from, day_to)
    return {
        "by_category": by_category(cur, p, node, day_from, day_to),
        "node": node,
        "from": day_from,
        "to": day_to,
        "by_state": dict(by_state),
        "by_tier": dict(by_tier),
        "open_deadlines": {"green": green, "yellow": yellow, "red": red, "paused": paused},
        "indicators": indicators(counts, basic_weight),
        "counts": counts,
    }


def facts(cur: Cursor, p: str, node: str, day_from: str, day_to: str) -> dict[str, int]:
    cur.execute(
        f"SELECT metric, SUM(n) FROM {p}facts WHERE node_id = %s AND day >= %s "
        "AND day < %s AND department_id = '' GROUP BY metric",
        [node, day_from, day_to],
    )
    return {m: int(n) for m, n in cur.fetchall()}


def followup_items(
    cur: Cursor, p: str, node: str, now: str, level: str | None = None
) -> list[dict[str, Any]]:
    """The follow-up items (督办件) not cleared on issues under `node` (at `level`), the
    listed ones first, then by age: each with its steps, replies and reply due time."""
    import json

    where, args = under(p, node)
    sql = (
        f"SELECT f.issue_id, f.item_json, f.reply_due_at, i.state, i.grid_id, i.category "
        f"FROM {p}followup_items f JOIN {p}issues i ON i.id = f.issue_id "
        f"WHERE f.status <> 'cleared' AND i.{where}"
    )
    if level is not None:
        sql += " AND f.level = %s"
        args = [*args, level]
    cur.execute(sql + " ORDER BY f.listed DESC, f.opened_at, f.issue_id, f.flag_id", args)
    out = []
    for issue_id, item_json, due, state, grid, category in cur.fetchall():
        item = json.loads(item_json)
        out.append(
            {
                **item,
                "issue_id": issue_id,
                "state": state,
                "grid_id": grid,
                "category": category,
                "reply_due_at": due,
                "overdue": item["status"] == "open" and due is not None and due <= now,
            }
        )
    return out


def attach_followups(
    cur: Cursor, p: str, target: str, items: list[dict[str, Any]], now: str
) -> None:
    """Each queued issue's follow-up items aimed at `target` (a node or department) and
    not cleared: the queue shows what the target must answer, at which level."""
    import json

    ids = [it["id"] for it in items]
    by_issue: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for i in range(0, len(ids), 500):
        chunk = ids[i : i + 500]
        marks = ", ".join(["%s"] * len(chunk))
        cur.execute(
            f"SELECT issue_id, item_json, reply_due_at FROM {p}followup_items WHERE target = %s "
            f"AND status <> 'cleared' AND issue_id IN ({marks}) ORDER BY flag_id",
            [target, *chunk],
        )
        for issue_id, item_json, due in cur.fetchall():
            item = json.loads(item_json)
            overdue = item["status"] == "open" and due is not None and due <= now
            by_issue[issue_id].append({**item, "reply_due_at": due, "overdue": overdue})
    for it in items:
        it["followups"] = by_issue.get(it["id"], [])


def escalations(
    cur: Cursor, p: str, node: str, now: str, level: str | None = None
) -> dict[str, Any]:
    """Every open hard matter and every issue flagged for city follow-up (督办), and
    the follow-up items (at `level`, if given)."""
    where, args = under(p, node)
    cur.execute(
        f"SELECT id, state, tier, grid_id, category, description, reported_at, urges, flagged, "
        f"state_json FROM {p}issues WHERE is_open = 1 AND (tier = 'hard' OR flagged = 1) "
        f"AND {where} ORDER BY reported_at",
        args,
    )
    import json

    items = []
    for r in cur.fetchall():
        state = json.loads(r[9])
        departments = []
        for dept, d in state["departments"].items():
            ack = state["deadlines"].get(f"department_acknowledge:{dept}")
            rep = state["deadlines"].get(f"department_report_in:{dept}")
            departments.append(
                {
                    **d,
                    "acknowledge": _obligation(d["acknowledged_at"], ack, now),
                    "report_in": _obligation(d["reported_in_at"], rep, now),
                }
            )
        items.append(
            {
                "id": r[0],
                "state": r[1],
                "tier": r[2],
                "grid_id": r[3],
                "category": r[4],
                "description": r[5],
                "reported_at": r[6],
                "urges": int(r[7]),
                "flagged": bool(r[8]),
                "flags": state["flags"],
                "age_seconds": round(_seconds(r[6], now)),
                "departments": departments,
                "open_deadlines": [
                    {
                        "kind": d["kind"],
                        "department_id": d["department_id"],
                        "due_at": d["due_at"],
                        "effective_due_at": d["effective_due_at"],
                        "missed": d["missed"] or (not d["paused"] and d["effective_due_at"] <= now),
                    }
                    for d in state["deadlines"].values()
                ],
            }
        )
    return {
        "node": node,
        "level": level,
        "items": items,
        "followups": followup_items(cur, p, node, now, level),
    }


def _obligation(
    done_at: str | None, deadline: Mapping[str, Any] | None, now: str
) -> dict[str, Any]:
    """A department's acknowledge or report-in: done or not, and how late."""
    due = deadline["effective_due_at"] if deadline else None
    if done_at is not None:
        late = max(0.0, _seconds(due, done_at)) if due and done_at > due else 0.0
        return {"done_at": done_at, "due_at": due, "late_seconds": round(late)}
    late = _seconds(due, now) if due and now > due else 0.0
    return {"done_at": None, "due_at": due, "late_seconds": round(late)}


def rankings(
    cur: Cursor,
    p: str,
    level: str,
    day_from: str,
    day_to: str,
    weights: Mapping[str, float],
    basic_weight: float = 0.9,
    min_sample: int = 10,
    within: set[str] | None = None,
) -> dict[str, Any]:
    """Units ranked by the composite score, each with the parts of its score. A unit with
    fewer than `min_sample` valid callbacks (closed issues, when no weight is on a
    callback's rate) in the period is `insufficient_sample`: shown, not ranked."""
    if level == "department":
        cur.execute(
            f"SELECT department_id, metric, SUM(n) FROM {p}facts WHERE department_id <> '' "
            f"AND node_id IN (SELECT id FROM {p}nodes WHERE kind = 'city') "
            "AND day >= %s AND day < %s GROUP BY department_id, metric",
            [day_from, day_to],
        )
    else:
        cur.execute(
            f"SELECT f.node_id, f.metric, SUM(f.n) FROM {p}facts f JOIN {p}nodes n "
            "ON n.id = f.node_id WHERE n.kind = %s AND f.department_id = '' AND f.day >= %s "
            "AND f.day < %s GROUP BY f.node_id, f.metric",
            [level, day_from, day_to],
        )
    counts: dict[str, dict[str, int]] = defaultdict(dict)
    for key, metric, n in cur.fetchall():
        counts[key][metric] = int(n)
    cur.execute(f"SELECT id, name FROM {p}nodes")
    names = dict(cur.fetchall())
    basis = "valid_callbacks" if any(weights.get(k) for k in CALLBACK_RATES) else "closed"
    rows = []
    for key, c in counts.items():
        if within is not None and key not in within:
            continue  # ranked among the units below one node only
        ind = indicators(c, basic_weight)
        sample = c.get("cb_valid" if basis == "valid_callbacks" else "closed", 0)
        row: dict[str, Any] = {"id": key, "name": names.get(key, key)}
        if level == "department":  # beside the clocks: how it took part in joint handling
            row["joint"] = joint_part(c)
            ind["evaluation_rate"] = row["joint"]["evaluation_rate"]
        rows.append(
            {
                **row,
                "score": score(ind, weights),
                "score_parts": score_parts(ind, weights),
                "sample": sample,
                "status": "ranked" if sample >= min_sample else "insufficient_sample",
                "indicators": ind,
                "counts": c,
            }
        )
    rows.sort(
        key=lambda r: (r["status"] != "ranked", r["score"] is None, -(r["score"] or 0), r["id"])
    )
    ranked = [r for r in rows if r["status"] == "ranked"]
    for rank, row in enumerate(ranked, 1):
        row["rank"] = rank
    for row in rows[len(ranked) :]:
        row["rank"] = None
    return {
        "level": level,
        "from": day_from,
        "to": day_to,
        "weights": dict(weights),
        "min_sample": {"n": min_sample, "of": basis},
        "items": rows,
    }


#: The rates measured over valid callbacks (docs/indicators.md).
CALLBACK_RATES = ("response_rate", "resolution_rate", "satisfaction_rate")


def score_parts(ind: Mapping[str, Any], weights: Mapping[str, float]) -> list[dict[str, Any]]:
    """Each weighted indicator's part in the score: its value, weight and points
    (w × x, or −w × (1 − x) for a negative weight); an indicator without data has no
    points and its weight is left out of the divisor."""
    parts = []
    for k, w in weights.items():
        x = ind.get(k)
        points = None if x is None else round(w * x if w > 0 else -w * (1 - x), 4)
        parts.append({"indicator": k, "value": x, "weight": w, "points": points})
    return parts


def departments(cur: Cursor, p: str, day_from: str, day_to: str) -> dict[str, Any]:
    """Department acknowledge and report-in timeliness (签收、报到及时率)."""
    cur.execute(
        f"SELECT department_id, metric, SUM(n) FROM {p}facts WHERE department_id <> '' "
        f"AND node_id IN (SELECT id FROM {p}nodes WHERE kind = 'city') "
        "AND day >= %s AND day < %s GROUP BY department_id, metric",
        [day_from, day_to],
    )
    counts: dict[str, dict[str, int]] = defaultdict(dict)
    for dept, metric, n in cur.fetchall():
        counts[dept][metric] = int(n)
    items = []
    for dept, c in sorted(counts.items()):
        row: dict[str, Any] = {"department_id": dept, "summoned": c.get("summoned", 0)}
        for kind in ("department_acknowledge", "department_report_in"):
            met, missed = c.get(f"deadline_met:{kind}", 0), c.get(f"deadline_missed:{kind}", 0)
            row[kind.removeprefix("department_")] = {
                "met": met,
                "missed": missed,
                "on_time_rate": round(met / (met + missed), 4) if met + missed else None,
            }
        items.append(row)
    return {"from": day_from, "to": day_to, "items": items}


TREND_METRICS = ("reported", "triaged", "whistles", "closed", "callbacks", "dissatisfied")


def trend(cur: Cursor, p: str, node: str, day_from: str, day_to: str) -> dict[str, Any]:
    """Daily counts for charts: one row per day of the period, zeros included."""
    from datetime import date, timedelta

    marks = ", ".join(["%s"] * len(TREND_METRICS))
    cur.execute(
        f"SELECT day, metric, SUM(n) FROM {p}facts WHERE node_id = %s AND day >= %s "
        f"AND day < %s AND department_id = '' AND metric IN ({marks}) "
        "GROUP BY day, metric",
        [node, day_from, day_to, *TREND_METRICS],
    )
    counts: dict[str, dict[str, int]] = defaultdict(dict)
    for day, metric, n in cur.fetchall():
        counts[day][metric] = int(n)
    days, d = [], date.fromisoformat(day_from)
    while d < date.fromisoformat(day_to):
        days.append(d.isoformat())
        d += timedelta(days=1)
    return {
        "node": node,
        "from": day_from,
        "to": day_to,
        "days": [{"date": x, **{m: counts[x].get(m, 0) for m in TREND_METRICS}} for x in days],
    }


def by_category(
    cur: Cursor, p: str, node: str, day_from: str, day_to: str
) -> dict[str, dict[str, int]]:
    """Issues reported in the period below `node`, per category: reported, still open,
    closed (each issue in its state now) — from the counts the views keep per node, day,
    category and status, not from a scan of the issues."""
    cur.execute(
        f"SELECT category, status, SUM(n) FROM {p}category_counts "
        "WHERE node_id = %s AND day >= %s AND day < %s GROUP BY category, status",
        [node, day_from, day_to],
    )
    out: dict[str, dict[str, int]] = {}
    for category, status, n in sorted(cur.fetchall()):
        c = out.setdefault(category, {"reported": 0, "open": 0, "closed": 0})
        c["reported"] += int(n)
        if status in ("open", "closed"):
            c[status] += int(n)
    return {k: v for k, v in out.items() if v["reported"]}
