"""Per-person figures (issue 14): what each assignee (domain.owners) settled on the
spot, had reworked, and which of their steps' deadlines they met or missed, per grid
and local day — written by `projections.views` in the same transaction as the rest.
Patrol finds and late entries are read from the issues themselves (projections.reverse).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from typing import Any

from domain.summary import shift
from projections.queries import under
from projections.records import Record
from projections.reverse import is_late
from stores.db import Cursor

TABLES = ("person_facts",)
METRICS = ("settled_on_spot", "reworked", "deadline_met", "deadline_missed", "assigned")
#: The deadlines of the assignee's own steps (verification and callbacks are others').
OWN_KINDS = frozenset({"triage", "small_resolution", "big_resolution", "hard_resolution"})

#: (principal, grid, local day, metric) → count
People = Counter[tuple[str, str, str, str]]


def schema(p: str) -> list[str]:
    return [
        f"""CREATE TABLE IF NOT EXISTS {p}person_facts (
            principal_id TEXT NOT NULL, grid_id TEXT NOT NULL, day TEXT NOT NULL,
            metric TEXT NOT NULL, n BIGINT NOT NULL,
            PRIMARY KEY (principal_id, grid_id, day, metric))""",
        f"CREATE INDEX IF NOT EXISTS {p}person_facts_g ON {p}person_facts (grid_id, day)",
    ]


def fold(row: dict[str, Any], r: Record, people: People, day: Callable[[str], str]) -> None:
    """Credit this event's outcomes to the issue's assignee (already updated for it),
    before the views end its deadlines."""
    if r.action == "report":
        row["finder"] = r.actor["id"]
    who, grid = row.get("assignee"), row["grid_id"]
    if who is None:
        return

    def credit(metric: str, at: str = r.at) -> None:
        people[(who, grid, day(at), metric)] += 1

    if r.action == "verify" and r.tier == "small":
        credit("settled_on_spot")
    elif r.action == "rework":
        credit("reworked")
    elif r.action == "assign":
        credit("assigned")
    elif r.action == "miss_deadline":
        d = row["deadlines"].get(r.data["deadline"])
        if d is not None and d["kind"] in OWN_KINDS:
            credit("deadline_missed", d["effective_due_at"] or d["due_at"])
    for end in r.ends:
        d = row["deadlines"].get(end["key"])
        if d is None or d["kind"] not in OWN_KINDS:
            continue
        due = d["effective_due_at"] or d["due_at"]
        if "paused_seconds" in end:
            due = shift(d["due_at"], end["paused_seconds"])
        if end["outcome"] == "met":
            credit("deadline_met", due)
        elif end["outcome"] == "missed" and not d["missed"]:
            credit("deadline_missed", due)


def store(cur: Cursor, p: str, people: People) -> None:
    cur.executemany(
        f"INSERT INTO {p}person_facts (principal_id, grid_id, day, metric, n) "
        "VALUES (%s, %s, %s, %s, %s) ON CONFLICT (principal_id, grid_id, day, metric) "
        f"DO UPDATE SET n = {p}person_facts.n + excluded.n",
        [(*k, n) for k, n in people.items() if n],
    )


def figures(
    cur: Cursor,
    p: str,
    node: str,
    day_from: str,
    day_to: str,
    lo: str,
    hi: str,
    late_after_hours: float,
) -> dict[str, Any]:
    """Per person, over local days [day_from, day_to) (UTC [lo, hi)) in the grids below
    `node`: patrol reports found (not rejected) and late entries among them (补录), steps
    settled on the spot, reworked, deadlines met and missed, times named assignee."""
    where, args = under(p, node)
    cur.execute(
        f"SELECT principal_id, metric, SUM(n) FROM {p}person_facts WHERE day >= %s AND "
        f"day < %s AND {where} GROUP BY principal_id, metric",
        [day_from, day_to, *args],
    )
    people: dict[str, Counter[str]] = {}
    for who, metric, n in cur.fetchall():
        people.setdefault(who, Counter())[metric] += int(n)
    cur.execute(
        f"SELECT reported_at, occurred_at, state, state_json FROM {p}issues WHERE "
        f"channel = 'patrol' AND reported_at >= %s AND reported_at < %s AND {where}",
        [lo, hi, *args],
    )
    for recorded, occurred, state, state_json in cur.fetchall():
        finder = json.loads(state_json).get("finder")
        if finder is None or state == "rejected":
            continue
        c = people.setdefault(finder, Counter())
        c["found"] += 1
        c["late_entries"] += is_late(recorded, occurred, late_after_hours)
    items = []
    for who, c in sorted(people.items()):
        met, missed = c["deadline_met"], c["deadline_missed"]
        items.append(
            {
                "principal_id": who,
                "found": c["found"],
                "late_entries": c["late_entries"],
                "settled_on_spot": c["settled_on_spot"],
                "reworked": c["reworked"],
                "on_time": {
                    "met": met,
                    "missed": missed,
                    "rate": round(met / (met + missed), 4) if met + missed else None,
                },
                "assigned": c["assigned"],
            }
        )
    return {"node": node, "from": day_from, "to": day_to, "items": items}
