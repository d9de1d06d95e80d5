"""Reverse comparison (反向比对) on recorded time: hotline tickets against what the grid
patrol recorded before them (docs/hotline.md, docs/indicators.md).

- A patrol report counts from the time the log recorded it, never its claimed
  `occurred_at`. One recorded more than `late_after_hours` (2) after its `occurred_at`
  is a late entry (补录): listed and counted per grid, and it matches nothing.
- Rejected patrol reports match nothing. Where the ticket has a place (coordinates, or
  an address it was matched by) the patrol report must have one within the radius (the
  same address, or coordinates within `radius_m`): a report without a place matches
  only tickets without one.
- A ticket is *matched* by a patrol report of its grid and category recorded in the
  window before it (default 72 h) that was being handled in time when the ticket came.
  Otherwise it is a miss of one kind: `found_not_handled` (发现未处置: such a report was
  open past its resolution deadline), `closed_then_complained` (处置不实: a report of
  the same place and category was closed within 30 days before the ticket), else
  `not_found` (漏报).
- Rates per local day and over the rolling 7 and 30 days ending on each day; a window
  with at least `warn_min_tickets` tickets and a miss rate of `warn_rate` or more warns.

Computed from the views when asked, so it is always current and rebuilt with them.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from domain.geo import distance_m
from domain.summary import shift
from projections.comparison import ComparisonPolicy
from projections.queries import under
from projections.records import Record, utc
from stores.db import Cursor

KINDS = ("not_found", "found_not_handled", "closed_then_complained")
ROLLING = (7, 30)
CLOSED_LOOKBACK = timedelta(days=30)
RESOLUTION_KINDS = ("small_resolution", "big_resolution", "hard_resolution")
TERMINAL_STATES = ("closed", "rejected", "merged")


def milestones(row: dict[str, Any], r: Record, before: str) -> None:
    """What the comparison needs of an issue's history, kept in its summary row: when it
    was first settled (resolved or ended), last closed, and its first resolution due."""
    if r.to_state != before and (r.to_state == "resolved" or r.to_state in TERMINAL_STATES):
        row.setdefault("settled_at", r.at)
    if r.to_state == "closed" and before != "closed":
        row["closed_at"] = r.at
    for end in r.ends:
        d = row["deadlines"].get(end["key"])
        if d and d["kind"] in RESOLUTION_KINDS and row.get("resolution_key") == end["key"]:
            due = d["effective_due_at"] or d["due_at"]
            if "paused_seconds" in end:  # ended while suspended: the pause so far counts
                due = shift(d["due_at"], end["paused_seconds"])
            row["resolution_due_at"] = due
    for s in r.starts:
        if s["kind"] in RESOLUTION_KINDS and "resolution_due_at" not in row:
            row["resolution_due_at"], row["resolution_key"] = s["due_at"], s["key"]


def _dt(at: str) -> datetime:
    return datetime.fromisoformat(at.replace("Z", "+00:00"))


@dataclass(frozen=True, slots=True)
class Patrol:
    id: str
    recorded: str
    lat: float | None
    lon: float | None
    address: str | None
    settled_at: str | None
    closed_at: str | None
    resolution_due_at: str | None

    def open_overdue_at(self, at: str) -> bool:
        due = self.resolution_due_at
        return due is not None and due < at and (self.settled_at is None or self.settled_at > at)


class Found:
    """The patrol reports of one grid and category, in order of recording and of
    closing, so that a ticket looks only at those of its window and lookback."""

    def __init__(self, patrols: list[Patrol]) -> None:
        self.by_recorded = sorted(patrols, key=lambda x: x.recorded)
        self.recorded = [x.recorded for x in self.by_recorded]
        self.by_closed = sorted(
            (x for x in patrols if x.closed_at), key=lambda x: x.closed_at or ""
        )
        self.closed = [x.closed_at or "" for x in self.by_closed]

    def recorded_between(self, lo: str, hi: str) -> list[Patrol]:
        return self.by_recorded[bisect_left(self.recorded, lo) : bisect_right(self.recorded, hi)]

    def closed_between(self, lo: str, hi: str) -> list[Patrol]:
        return self.by_closed[bisect_left(self.closed, lo) : bisect_right(self.closed, hi)]


NOTHING = Found([])


def _placed(t: tuple[Any, ...], p: Patrol, radius: float) -> bool:
    """The patrol report is at the ticket's place (where the ticket has one)."""
    lat, lon, address = t
    if lat is not None and lon is not None:
        if p.lat is None or p.lon is None:
            return False
        return distance_m(lat, lon, p.lat, p.lon) <= radius
    if address:
        return p.address is not None and p.address.strip() == address.strip()
    return True


def classify(
    at: str, place: tuple[Any, ...], found: Found, policy: ComparisonPolicy
) -> tuple[str | None, str | None]:
    """(None, patrol id) when matched, else (miss kind, the patrol report it points to)."""
    since = utc(_dt(at) - timedelta(hours=policy.window_hours))
    overdue = None
    for p in found.recorded_between(since, at):
        if (p.closed_at and p.closed_at <= at) or not _placed(place, p, policy.radius_m):
            continue
        if not p.open_overdue_at(at):
            return None, p.id
        overdue = overdue or p
    if overdue is not None:
        return "found_not_handled", overdue.id
    for p in found.closed_between(utc(_dt(at) - CLOSED_LOOKBACK), at):
        if p.recorded <= at and _placed(place, p, policy.radius_m):
            return "closed_then_complained", p.id
    return "not_found", None


def _patrols(
    cur: Cursor,
    p: str,
    keys: set[tuple[str, str]],
    lo: str,
    hi: str,
    policy: ComparisonPolicy,
) -> dict[tuple[str, str], Found]:
    """Patrol reports of the tickets' grids and categories (`keys`) that can match or
    explain a ticket of [lo, hi): not rejected, not late entries."""
    since = utc(_dt(lo) - max(timedelta(hours=policy.window_hours), CLOSED_LOOKBACK))
    grids = sorted({g for g, _ in keys})
    categories = sorted({c for _, c in keys})
    marks = ", ".join(["%s"] * len(categories))
    out: dict[tuple[str, str], list[Patrol]] = defaultdict(list)
    for i in range(0, len(grids), 500):
        chunk = grids[i : i + 500]
        cur.execute(
            f"SELECT id, grid_id, category, reported_at, occurred_at, lat, lon, address, "
            f"settled_at, closed_at, resolution_due_at FROM {p}issues WHERE "
            f"channel = 'patrol' AND state <> 'rejected' AND reported_at < %s AND "
            f"(reported_at >= %s OR updated_at >= %s) "
            f"AND grid_id IN ({', '.join(['%s'] * len(chunk))}) AND category IN ({marks})",
            [hi, since, since, *chunk, *categories],
        )
        for row in cur.fetchall():
            issue_id, grid, category, recorded, occurred = row[:5]
            if (grid, category) in keys and not _late(recorded, occurred, policy):
                out[(grid, category)].append(Patrol(issue_id, recorded, *row[5:]))
    return {k: Found(v) for k, v in out.items()}


def _late(recorded: str, occurred: str, policy: ComparisonPolicy) -> bool:
    return is_late(recorded, occurred, policy.late_after_hours)


def is_late(recorded: str, occurred: str, hours: float) -> bool:
    """A late entry (补录): recorded more than `hours` after the time it claims (most
    reports claim no time of their own: theirs is the recorded one)."""
    if recorded <= occurred:
        return False
    return (_dt(recorded) - _dt(occurred)).total_seconds() > hours * 3600


def _rate(hotline: int, misses: int, policy: ComparisonPolicy) -> dict[str, Any]:
    rate = round(misses / hotline, 4) if hotline else None
    warn = hotline >= policy.warn_min_tickets and rate is not None and rate >= policy.warn_rate
    return {"hotline": hotline, "misses": misses, "miss_rate": rate, "warning": warn}


def _rolling(
    daily: dict[int, list[int]], day: date, days: int, policy: ComparisonPolicy
) -> dict[str, Any]:
    """The window of `days` days ending on `day` (daily counts by date ordinal)."""
    hotline = misses = 0
    last = day.toordinal()
    for k in range(last - days + 1, last + 1):
        h, m = daily.get(k, (0, 0))
        hotline, misses = hotline + h, misses + m
    return {"days": days, **_rate(hotline, misses, policy)}


def _local_bounds(day_from: str, day_to: str, tz: ZoneInfo, back_days: int) -> tuple[str, str]:
    start = date.fromisoformat(day_from) - timedelta(days=back_days)
    lo = datetime.combine(start, datetime.min.time(), tz)
    hi = datetime.combine(date.fromisoformat(day_to), datetime.min.time(), tz)
    return utc(lo), utc(hi)


def patrol_reports(
    cur: Cursor, p: str, node: str, lo: str, hi: str, policy: ComparisonPolicy
) -> dict[str, dict[str, Any]]:
    """Per grid below `node`: patrol reports recorded in [lo, hi), found (not rejected)
    and late entries (补录, listed by id)."""
    where, args = under(p, node)
    cur.execute(
        f"SELECT id, grid_id, reported_at, occurred_at, state FROM {p}issues WHERE "
        f"channel = 'patrol' AND reported_at >= %s AND reported_at < %s AND {where} "
        "ORDER BY reported_at, id",
        [lo, hi, *args],
    )
    grids: dict[str, dict[str, Any]] = {}
    for issue_id, grid, recorded, occurred, state in cur.fetchall():
        g = grids.setdefault(grid, {"patrol_reports": 0, "found": 0, "late_entries": []})
        g["patrol_reports"] += 1
        g["found"] += state != "rejected"
        if _late(recorded, occurred, policy):
            g["late_entries"].append(issue_id)
    return grids


def patrol_misses(
    cur: Cursor,
    p: str,
    node: str,
    day_from: str,
    day_to: str,
    tz: ZoneInfo,
    policy: ComparisonPolicy,
    per_grid: bool = True,
) -> dict[str, Any]:
    """The reverse comparison (反向比对) of the hotline tickets below `node` in the period.
    `per_grid=False` (the summary's figures: rates, misses, warnings) leaves out what
    only the comparison's own page shows — each grid's patrol reports and late entries,
    a count over every patrol report of the period."""
    back = max(ROLLING) - 1  # the rolling windows of the period's first day reach back
    lo, hi = _local_bounds(day_from, day_to, tz, back)
    where, args = under(p, node)
    # grids only: a ticket waiting for 分拨 at a node is compared once it is placed
    where = f"{where} AND grid_id IN (SELECT id FROM {p}nodes WHERE kind = 'grid')"
    cur.execute(
        f"SELECT id, grid_id, category, occurred_at, lat, lon, address FROM {p}issues WHERE "
        f"channel = 'hotline' AND occurred_at >= %s AND occurred_at < %s AND {where} "
        "ORDER BY occurred_at, id",
        [lo, hi, *args],
    )
    hotline = [(*h, None) for h in cur.fetchall()]
    hotline += _repeats(cur, p, where, args, lo, hi)
    hotline.sort(key=lambda h: (h[3], h[0]))
    # Only the patrol reports of grids that have tickets can match: a city's summary
    # must not read every patrol report of the period to compare a handful of tickets.
    found = _patrols(cur, p, {(h[1], h[2]) for h in hotline}, lo, hi, policy)
    daily: dict[str, dict[int, list[int]]] = defaultdict(dict)
    per: dict[tuple[str, str], dict[str, Any]] = {}
    for issue_id, grid, category, at, lat, lon, address, repeated in hotline:
        local = _dt(at).astimezone(tz).date()
        day = local.isoformat()
        kind: str | None
        if repeated is not None:  # a repeat of a closed patrol report: 处置不实
            kind, patrol_id = "closed_then_complained", repeated
        else:
            place = (lat, lon, address)
            kind, patrol_id = classify(at, place, found.get((grid, category), NOTHING), policy)
        counts = daily[grid].setdefault(local.toordinal(), [0, 0])
        counts[0] += 1
        counts[1] += kind is not None
        if day < day_from:
            continue  # only for the rolling windows
        cell = per.setdefault((grid, day), _cell(grid, day))
        cell["hotline"] += 1
        if kind is None:
            cell["matched"] += 1
            continue
        cell["misses"] += 1
        cell["missed"].append(issue_id)
        cell["by_kind"][kind] += 1
        cell["miss_details"].append({"issue_id": issue_id, "kind": kind, "patrol_id": patrol_id})
    if not per_grid:
        total = sum(c["hotline"] for c in per.values())
        misses = sum(c["misses"] for c in per.values())
        warned = {c["grid_id"] for c in _rolled(per, daily, policy) if c["warning"]}
        return {
            "hotline": total,
            "misses": misses,
            "miss_rate": round(misses / total, 4) if total else None,
            "warnings": sorted(warned),
        }
    reports = patrol_reports(cur, p, node, *_local_bounds(day_from, day_to, tz, 0), policy)
    rows = _rolled(per, daily, policy)
    for cell in rows:
        # the grid's patrol recorded something in the period, or something a ticket of
        # its could match
        cell["patrolled"] = reports.get(cell["grid_id"], {}).get("found", 0) > 0 or any(
            k[0] == cell["grid_id"] for k in found
        )
    last = date.fromisoformat(day_to) - timedelta(days=1)
    grids = []
    for grid in sorted({c["grid_id"] for c in rows} | set(reports)):
        mine = [c for c in rows if c["grid_id"] == grid]
        g = reports.get(grid, {"patrol_reports": 0, "found": 0, "late_entries": []})
        grids.append(
            {
                "grid_id": grid,
                **_rate(sum(c["hotline"] for c in mine), sum(c["misses"] for c in mine), policy),
                "by_kind": {k: sum(c["by_kind"][k] for c in mine) for k in KINDS},
                **{f"rolling_{d}": _rolling(daily[grid], last, d, policy) for d in ROLLING},
                "warning": any(c["warning"] for c in mine),
                **g,
            }
        )
    total = sum(c["hotline"] for c in rows)
    misses = sum(c["misses"] for c in rows)
    return {
        "node": node,
        "from": day_from,
        "to": day_to,
        "policy": policy.__dict__,
        "hotline": total,
        "misses": misses,
        "miss_rate": round(misses / total, 4) if total else None,
        "by_kind": {k: sum(c["by_kind"][k] for c in rows) for k in KINDS},
        "late_entries": sum(len(g["late_entries"]) for g in grids),
        "grids_below": _grids_below(cur, p, node),
        "warnings": sorted({c["grid_id"] for c in rows if c["warning"]}),
        "grids": grids,
        "items": rows,
    }


def _rolled(
    per: dict[tuple[str, str], dict[str, Any]],
    daily: dict[str, dict[int, list[int]]],
    policy: ComparisonPolicy,
) -> list[dict[str, Any]]:
    """Each grid's day, in order, with its rate and its rolling windows' warnings."""
    rows = []
    for cell in sorted(per.values(), key=lambda c: (c["date"], c["grid_id"])):
        cell["miss_rate"] = round(cell["misses"] / cell["hotline"], 4)
        on = date.fromisoformat(cell["date"])
        for days in ROLLING:
            cell[f"rolling_{days}"] = _rolling(daily[cell["grid_id"]], on, days, policy)
        cell["warning"] = any(cell[f"rolling_{d}"]["warning"] for d in ROLLING)
        rows.append(cell)
    return rows


def _repeats(
    cur: Cursor, p: str, where: str, args: list[Any], lo: str, hi: str
) -> list[tuple[Any, ...]]:
    """Tickets merged into a matter closed lately (repeat complaints, 重办) make no issue of
    their own, but each is a ticket about that place and category, at the time it came:
    a repeat of a closed patrol report is 处置不实 (closed_then_complained) with that
    report; a repeat of another matter is compared like any ticket."""
    cur.execute(f"SELECT issue_id, at FROM {p}hotline_repeats WHERE at >= %s AND at < %s", [lo, hi])
    came = cur.fetchall()
    if not came:
        return []
    ids = sorted({i for i, _ in came})
    cur.execute(
        f"SELECT id, grid_id, category, lat, lon, address, channel FROM {p}issues "
        f"WHERE id IN ({', '.join(['%s'] * len(ids))}) AND {where}",
        [*ids, *args],
    )
    target = {row[0]: row for row in cur.fetchall()}
    out = []
    for issue_id, at in came:
        if (t := target.get(issue_id)) is not None:
            repeated = issue_id if t[6] == "patrol" else None
            out.append((issue_id, t[1], t[2], at, t[3], t[4], t[5], repeated))
    return out


def _cell(grid: str, day: str) -> dict[str, Any]:
    return {
        "grid_id": grid,
        "date": day,
        "hotline": 0,
        "matched": 0,
        "misses": 0,
        "missed": [],
        "by_kind": dict.fromkeys(KINDS, 0),
        "miss_details": [],
    }


def _grids_below(cur: Cursor, p: str, node: str) -> int:
    where, args = under(p, node)
    cur.execute(f"SELECT COUNT(DISTINCT grid_id) FROM {p}grid_ancestors WHERE {where}", args)
    return int(cur.fetchone()[0])
