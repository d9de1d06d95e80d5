"""The supervision views, folded from the log a batch at a time.

Tables (each name carries the generation prefix, so a rebuild builds beside):
- `issues`: one row per issue for lists and queues (its folded state kept as JSON);
- `issue_departments`: each summoned department of each issue;
- `open_deadlines`: every running deadline, for traffic lights and the deadline worker;
- `facts`: daily counters behind every indicator, kept for every node above the grid
  (and per department), so a city's figures read a few rows per day, not every grid's;
- `state_counts`: issues by reported day, state and tier, for every node above them;
- `category_counts`: issues by reported day, category and status (open, closed, ended), likewise;
- `nodes`, `grid_ancestors`: the organisation, so a node's views include everything below.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import datetime
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from domain.states import TERMINAL
from domain.summary import common, shift
from domain.workflow import ACTION
from projections import followup_views, hotline_views, hotspots, joint_views, owner_views, reverse
from projections.records import OrgChange, Record, utc
from stores.db import Cursor

#: Bumped when folding changes what the views hold, so that views built by older code
#: are rebuilt from the log on start (projections.generations).
FOLD_VERSION = 10


def schema(p: str) -> list[str]:
    return [
        f"""CREATE TABLE IF NOT EXISTS {p}issues (
            id TEXT PRIMARY KEY, version BIGINT NOT NULL, state TEXT NOT NULL, tier TEXT,
            grid_id TEXT NOT NULL, category TEXT NOT NULL, channel TEXT NOT NULL,
            description TEXT NOT NULL, reported_at TEXT NOT NULL, updated_at TEXT NOT NULL,
            reporter_principal TEXT, resolver_id TEXT, flagged BIGINT NOT NULL,
            merged_into TEXT, urges BIGINT NOT NULL, is_open BIGINT NOT NULL,
            next_due_at TEXT, next_warn_at TEXT, suspended BIGINT NOT NULL,
            occurred_at TEXT NOT NULL, lat DOUBLE PRECISION, lon DOUBLE PRECISION,
            state_json TEXT NOT NULL, address TEXT, settled_at TEXT, closed_at TEXT,
            resolution_due_at TEXT)""",
        f"CREATE INDEX IF NOT EXISTS {p}issues_channel ON {p}issues (channel, occurred_at)",
        f"CREATE INDEX IF NOT EXISTS {p}issues_grid ON {p}issues (grid_id, reported_at)",
        f"CREATE INDEX IF NOT EXISTS {p}issues_reported ON {p}issues (reported_at, id)",
        f"CREATE INDEX IF NOT EXISTS {p}issues_urgency "
        f"ON {p}issues ((COALESCE(next_due_at, '9999')), id)",
        f"""CREATE TABLE IF NOT EXISTS {p}issue_departments (
            issue_id TEXT NOT NULL, department_id TEXT NOT NULL, summoned_at TEXT NOT NULL,
            acknowledged_at TEXT, reported_in_at TEXT, released_at TEXT,
            acknowledge_due_at TEXT, report_in_due_at TEXT,
            PRIMARY KEY (issue_id, department_id))""",
        f"CREATE INDEX IF NOT EXISTS {p}issue_departments_d "
        f"ON {p}issue_departments (department_id)",
        f"""CREATE TABLE IF NOT EXISTS {p}open_deadlines (
            issue_id TEXT NOT NULL, dkey TEXT NOT NULL, kind TEXT NOT NULL, department_id TEXT,
            grid_id TEXT NOT NULL, started_at TEXT NOT NULL, due_at TEXT NOT NULL,
            effective_due_at TEXT, effective_warn_at TEXT, paused BIGINT NOT NULL,
            missed BIGINT NOT NULL, PRIMARY KEY (issue_id, dkey))""",
        f"CREATE INDEX IF NOT EXISTS {p}open_deadlines_due ON {p}open_deadlines (effective_due_at)",
        f"CREATE INDEX IF NOT EXISTS {p}open_deadlines_grid ON {p}open_deadlines (grid_id)",
        f"""CREATE TABLE IF NOT EXISTS {p}facts (
            node_id TEXT NOT NULL, day TEXT NOT NULL, department_id TEXT NOT NULL,
            metric TEXT NOT NULL, n BIGINT NOT NULL,
            PRIMARY KEY (node_id, day, department_id, metric))""",
        f"""CREATE TABLE IF NOT EXISTS {p}state_counts (
            node_id TEXT NOT NULL, day TEXT NOT NULL, state TEXT NOT NULL, tier TEXT NOT NULL,
            n BIGINT NOT NULL, PRIMARY KEY (node_id, day, state, tier))""",
        f"""CREATE TABLE IF NOT EXISTS {p}category_counts (
            node_id TEXT NOT NULL, day TEXT NOT NULL, category TEXT NOT NULL,
            status TEXT NOT NULL, n BIGINT NOT NULL,
            PRIMARY KEY (node_id, day, category, status))""",
        f"""CREATE TABLE IF NOT EXISTS {p}nodes (
            id TEXT PRIMARY KEY, kind TEXT NOT NULL, parent TEXT, name TEXT NOT NULL,
            is_department BIGINT NOT NULL)""",
        f"""CREATE TABLE IF NOT EXISTS {p}grid_ancestors (
            grid_id TEXT NOT NULL, ancestor_id TEXT NOT NULL, kind TEXT NOT NULL,
            PRIMARY KEY (ancestor_id, grid_id))""",
        *followup_views.schema(p),
        *owner_views.schema(p),
        *hotspots.schema(p),
        *joint_views.schema(p),
        *hotline_views.schema(p),
    ]


TABLES = (
    "issues",
    "issue_departments",
    "open_deadlines",
    "facts",
    "state_counts",
    "category_counts",
    "nodes",
    "grid_ancestors",
    *followup_views.TABLES,
    *owner_views.TABLES,
    *hotspots.TABLES,
    *joint_views.TABLES,
    *hotline_views.TABLES,
)


def _open_items(row: dict[str, Any]) -> bool:
    return any(it["status"] != "cleared" for it in row.get("followups", []))


class IssueViews:
    """Folds events into the view tables, one batch per transaction."""

    def __init__(self, prefix: str, timezone: str = "Asia/Shanghai") -> None:
        self.p = prefix
        self.tz = ZoneInfo(timezone)
        self._ancestors: dict[str, list[str]] | None = None
        self._people: owner_views.People = Counter()
        self._categories: hotspots.Categories = Counter()
        # Each step reads its issue's reported day twice (counts before and after) for
        # two tables: the same few thousand times a batch, parsed once each.
        self.day = lru_cache(maxsize=1 << 16)(self._day)

    def _day(self, at: str) -> str:
        return (
            datetime.fromisoformat(at.replace("Z", "+00:00")).astimezone(self.tz).date().isoformat()
        )

    def create(self, cur: Cursor) -> None:
        for statement in schema(self.p):
            cur.execute(statement)

    # -- the batch ------------------------------------------------------------------

    def apply(self, cur: Cursor, items: list[Record | OrgChange]) -> None:
        records = [r for r in items if isinstance(r, Record)]
        for change in (r for r in items if isinstance(r, OrgChange)):
            self._org(cur, change)
        if not records:
            return
        rows = self._load(cur, {r.issue_id for r in records if r.action != "report"})
        facts: Counter[tuple[str, str, str, str]] = Counter()
        states: Counter[tuple[str, str, str, str]] = Counter()
        cats: Counter[tuple[str, str, str, str]] = Counter()
        self._people, self._categories = Counter(), Counter()
        for r in records:
            row = rows.get(r.issue_id)
            if row is None:
                if r.action != "report":
                    continue  # an issue whose report this view never saw: nothing to fold
                row = rows[r.issue_id] = self._new(r)
            else:
                states[self._state_key(row)] -= 1
                cats[self._category_key(row)] -= 1
            self._fold(row, r, facts)
            states[self._state_key(row)] += 1
            cats[self._category_key(row)] += 1
        self._store(cur, rows)
        self._count(cur, facts, states, cats)
        owner_views.store(cur, self.p, self._people)
        hotspots.store(cur, self.p, self._categories)

    def _state_key(self, row: dict[str, Any]) -> tuple[str, str, str, str]:
        return (row["grid_id"], self.day(row["reported_at"]), row["state"], row.get("tier") or "")

    def _category_key(self, row: dict[str, Any]) -> tuple[str, str, str, str]:
        """Only three statuses, so that most steps (open to open) net to nothing."""
        state = row["state"]
        status = "open" if state not in TERMINAL else "closed" if state == "closed" else "ended"
        return (row["grid_id"], self.day(row["reported_at"]), row["category"], status)

    def _count(
        self,
        cur: Cursor,
        facts: Counter[tuple[str, str, str, str]],
        states: Counter[tuple[str, str, str, str]],
        cats: Counter[tuple[str, str, str, str]],
    ) -> None:
        """Add the batch's counts to every node above each grid."""
        grids = {k[1] for k in facts} | {k[0] for k in states} | {k[0] for k in cats}
        if self._ancestors is None or not grids <= self._ancestors.keys():
            # Read again for a grid not known yet: another copy may have folded the
            # organisation change that added it since this copy last read them.
            cur.execute(f"SELECT grid_id, ancestor_id FROM {self.p}grid_ancestors")
            self._ancestors = {}
            for grid, ancestor in cur.fetchall():
                self._ancestors.setdefault(grid, []).append(ancestor)
        up = self._ancestors
        fact_rows: Counter[tuple[str, str, str, str]] = Counter()
        for (day, grid, dept, metric), n in facts.items():
            for node in up.get(grid, [grid]):
                fact_rows[(node, day, dept, metric)] += n
        state_rows = _up(states, up)
        cat_rows = _up(cats, up)
        p = self.p
        _add(cur, f"{p}facts", ("node_id", "day", "department_id", "metric"), fact_rows)
        _add(cur, f"{p}state_counts", ("node_id", "day", "state", "tier"), state_rows)
        _add(cur, f"{p}category_counts", ("node_id", "day", "category", "status"), cat_rows)

    def _load(self, cur: Cursor, ids: set[str]) -> dict[str, dict[str, Any]]:
        rows: dict[str, dict[str, Any]] = {}
        ordered = sorted(ids)
        for i in range(0, len(ordered), 500):
            chunk = ordered[i : i + 500]
            marks = ", ".join(["%s"] * len(chunk))
            cur.execute(f"SELECT state_json FROM {self.p}issues WHERE id IN ({marks})", chunk)
            for (state_json,) in cur.fetchall():
                row = json.loads(state_json)
                rows[row["id"]] = row
        return rows

    @staticmethod
    def _new(r: Record) -> dict[str, Any]:
        occurred = r.data.get("occurred_at")
        location = r.facts.get("location") or {}
        return {
            "occurred_at": utc(datetime.fromisoformat(occurred)) if occurred else r.at,
            "lat": location.get("lat"),
            "lon": location.get("lon"),
            "address": location.get("address"),
            "id": r.issue_id,
            "grid_id": r.facts["grid_id"],
            "category": r.facts.get("category", r.data["category"]),
            "channel": r.facts["channel"],
            "description": r.data["description"][:500],
            "reported_at": r.at,
            "media_url": r.data.get("media_url"),
            "reporter_principal": r.facts.get("reporter_principal"),
            "ticket_no": (r.facts.get("hotline") or {}).get("ticket_no"),
            "resolver_id": None,
            "flags": [],
            "merged_into": None,
            "urges": 0,
            "deadlines": {},
            "departments": {},
            "suspended": False,
            "state": "reported",
        }

    def _fold(
        self, row: dict[str, Any], r: Record, facts: Counter[tuple[str, str, str, str]]
    ) -> None:
        before = row["state"]
        grid, day, category = row["grid_id"], self.day(r.at), row["category"]

        def count(metric: str, dept: str = "", at: str | None = None, n: int = 1) -> None:
            facts[(self.day(at) if at else day, grid, dept, metric)] += n
            if metric in hotspots.METRICS and not dept:
                self._categories[(grid, self.day(at) if at else day, category, metric)] += n

        # What this action does to the summary (declared with it, domain.summary) comes
        # first: a missed deadline is marked before an escalation ends its clock.
        fold = ACTION[r.action].fold if r.action in ACTION else None
        if fold is not None:
            fold(row, r, before, count)
        common(row, r, count)
        reverse.milestones(row, r, before)
        owner_views.fold(row, r, self._people, self.day)
        open_ = row["deadlines"]
        for end in r.ends:
            d = open_.pop(end["key"], None)
            if d is None:
                continue
            due = d["effective_due_at"] or d["due_at"]
            if "paused_seconds" in end:  # ended while suspended: the pause so far counts
                due = shift(d["due_at"], end["paused_seconds"] + d.get("extended_seconds", 0.0))
            dept = d["department_id"] or ""
            if end["outcome"] == "met":
                count(f"deadline_met:{d['kind']}", dept, due)
            elif end["outcome"] == "missed" and not d["missed"]:
                count(f"deadline_missed:{d['kind']}", dept, due)
        for s in r.starts:
            open_[s["key"]] = {
                "kind": s["kind"],
                "department_id": s["department_id"],
                "started_at": s["started_at"],
                "due_at": s["due_at"],
                "warn_at": s["warn_at"],
                "effective_due_at": s["due_at"],
                "effective_warn_at": s["warn_at"],
                "paused": False,
                "missed": False,
            }
        row["state"], row["tier"], row["version"], row["updated_at"] = (
            r.to_state,
            r.tier,
            r.version,
            r.at,
        )
        if r.to_state != before:
            row["suspended"] = False
            for key, seconds in r.facts.get("resumed_clocks", {}).items():
                if (d := open_.get(key)) is not None:  # left the state: the clock runs again
                    d["paused"] = False
                    d["effective_due_at"] = shift(d["due_at"], seconds)
                    d["effective_warn_at"] = shift(d["warn_at"], seconds)
        if r.to_state not in TERMINAL:
            row["closed_at"] = None
        elif before not in TERMINAL or row.get("closed_at") is None:
            row["closed_at"] = r.at
        if r.facts.get("flag"):
            row["flags"].append(r.facts["flag"])

    # -- writing --------------------------------------------------------------------

    def _store(self, cur: Cursor, rows: dict[str, dict[str, Any]]) -> None:
        issue_rows, dept_rows, deadline_rows = [], [], []
        for row in rows.values():
            is_open = row["state"] not in TERMINAL
            running = [d for d in row["deadlines"].values() if not d["paused"]]
            next_due = min((d["effective_due_at"] for d in running), default=None)
            next_warn = min((d["effective_warn_at"] for d in running), default=None)
            issue_rows.append(
                (
                    row["id"],
                    row["version"],
                    row["state"],
                    row.get("tier"),
                    row["grid_id"],
                    row["category"],
                    row["channel"],
                    row["description"],
                    row["reported_at"],
                    row["updated_at"],
                    row["reporter_principal"],
                    row["resolver_id"],
                    int(bool(row["flags"]) or _open_items(row)),
                    row["merged_into"],
                    row["urges"],
                    int(is_open),
                    next_due if is_open or row["state"] == "closed" else None,
                    next_warn,
                    int(row["suspended"]),
                    row["occurred_at"],
                    row["lat"],
                    row["lon"],
                    json.dumps(row, ensure_ascii=False),
                    row.get("address"),
                    row.get("settled_at"),
                    row.get("closed_at"),
                    row.get("resolution_due_at"),
                )
            )
            for dept, d in row["departments"].items():
                ack = row["deadlines"].get(f"department_acknowledge:{dept}", {})
                rep = row["deadlines"].get(f"department_report_in:{dept}", {})
                dept_rows.append(
                    (
                        row["id"],
                        dept,
                        d["summoned_at"],
                        d["acknowledged_at"],
                        d["reported_in_at"],
                        d["released_at"],
                        ack.get("effective_due_at"),
                        rep.get("effective_due_at"),
                    )
                )
            for key, d in row["deadlines"].items():
                deadline_rows.append(
                    (
                        row["id"],
                        key,
                        d["kind"],
                        d["department_id"],
                        row["grid_id"],
                        d["started_at"],
                        d["due_at"],
                        d["effective_due_at"],
                        d["effective_warn_at"],
                        int(d["paused"]),
                        int(d["missed"]),
                    )
                )
        ids = [(i,) for i in rows]
        p = self.p
        cols = (
            "id, version, state, tier, grid_id, category, channel, description, reported_at, "
            "updated_at, reporter_principal, resolver_id, flagged, merged_into, urges, is_open, "
            "next_due_at, next_warn_at, suspended, occurred_at, lat, lon, state_json, address, "
            "settled_at, closed_at, resolution_due_at"
        )
        updates = ", ".join(f"{c} = excluded.{c}" for c in cols.split(", ")[1:])
        cur.executemany(
            f"INSERT INTO {p}issues ({cols}) VALUES ({', '.join(['%s'] * 27)}) "
            f"ON CONFLICT (id) DO UPDATE SET {updates}",
            issue_rows,
        )
        cur.executemany(f"DELETE FROM {p}issue_departments WHERE issue_id = %s", ids)
        cur.executemany(
            f"INSERT INTO {p}issue_departments VALUES (%s, %s, %s, %s, %s, %s, %s, %s)", dept_rows
        )
        cur.executemany(f"DELETE FROM {p}open_deadlines WHERE issue_id = %s", ids)
        cur.executemany(
            f"INSERT INTO {p}open_deadlines VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
            deadline_rows,
        )
        followup_views.store(cur, p, rows)
        joint_views.store(cur, p, rows)
        hotline_views.store(cur, p, rows)

    def _org(self, cur: Cursor, change: OrgChange) -> None:
        p = self.p
        cur.executemany(
            f"INSERT INTO {p}nodes (id, kind, parent, name, is_department) "
            "VALUES (%s, %s, %s, %s, %s) "
            "ON CONFLICT (id) DO UPDATE SET kind = excluded.kind, parent = excluded.parent, "
            "name = excluded.name",
            [(n["id"], n["kind"], n["parent"], n["name"], 0) for n in change.nodes]
            + [(d["id"], "department", d["node"], d["name"], 1) for d in change.departments],
        )
        cur.execute(f"SELECT id, kind, parent FROM {p}nodes WHERE is_department = 0")
        nodes = {i: (k, parent) for i, k, parent in cur.fetchall()}
        pairs = []
        # Every node's chain, not only grids': a 12345 ticket waiting for 分拨 sits at a
        # node (domain.hotline), and lists and counts under a node must find it there.
        for grid in nodes:
            current: str | None = grid
            while current is not None and current in nodes:
                pairs.append((grid, current, nodes[current][0]))
                current = nodes[current][1]
        cur.execute(f"DELETE FROM {p}grid_ancestors")
        cur.executemany(f"INSERT INTO {p}grid_ancestors VALUES (%s, %s, %s)", pairs)
        self._ancestors = None


def _up(
    counts: Counter[tuple[str, str, str, str]], up: dict[str, list[str]]
) -> Counter[tuple[str, str, str, str]]:
    """A grid's counts, at every node above it (a grid the organisation lacks: itself)."""
    rows: Counter[tuple[str, str, str, str]] = Counter()
    for (grid, a, b, c), n in counts.items():
        if n:
            for node in up.get(grid, [grid]):
                rows[(node, a, b, c)] += n
    return rows


def _add(
    cur: Cursor,
    table: str,
    key: tuple[str, str, str, str],
    rows: Counter[tuple[str, str, str, str]],
) -> None:
    """Add each count to its row; a count that falls to zero goes, so that the live view
    holds the same rows as a rebuild, whatever the batch boundaries were."""
    cols, marks = ", ".join(key), ", ".join(["%s"] * len(key))
    cur.executemany(
        f"INSERT INTO {table} ({cols}, n) VALUES ({marks}, %s) ON CONFLICT ({cols}) "
        f"DO UPDATE SET n = {table}.n + excluded.n",
        [(*k, n) for k, n in rows.items() if n],
    )
    where = " AND ".join(f"{c} = %s" for c in key)
    cur.executemany(
        f"DELETE FROM {table} WHERE {where} AND n = 0", [k for k, n in rows.items() if n < 0]
    )
