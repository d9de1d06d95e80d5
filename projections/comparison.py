"""Reverse comparison (反向比对): hotline tickets against what the grid patrol found.

A hotline issue is matched when a patrol-channel issue of the same grid and category
occurred in the window before it (default 72 hours, the hotline's own time included)
and, where both have coordinates, within the radius (default 300 m). Unmatched ones
are patrol misses, counted per grid and per local day; a grid whose miss rate reaches
the threshold (with at least a minimum of tickets) gets a warning.

Computed from the views when asked, so it is always current and rebuilt with them.
Merge proposals use the same test across channels, in both directions of time.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from domain.geo import distance_m
from projections.db import Cursor
from projections.queries import under
from projections.records import utc


@dataclass(frozen=True)
class ComparisonPolicy:
    window_hours: float = 72.0
    radius_m: float = 300.0
    warn_rate: float = 0.3
    warn_min_tickets: int = 3


def _parse(at: str) -> datetime:
    return datetime.fromisoformat(at.replace("Z", "+00:00"))


def _near(a: tuple[Any, ...], b: tuple[Any, ...], radius: float) -> bool:
    if None in (a[0], a[1], b[0], b[1]):
        return True  # without coordinates on both sides, grid and category decide
    return distance_m(a[0], a[1], b[0], b[1]) <= radius


def patrol_misses(
    cur: Cursor,
    p: str,
    node: str,
    day_from: str,
    day_to: str,
    tz: ZoneInfo,
    policy: ComparisonPolicy,
) -> dict[str, Any]:
    lo = datetime.combine(datetime.fromisoformat(day_from).date(), datetime.min.time(), tz)
    hi = datetime.combine(datetime.fromisoformat(day_to).date(), datetime.min.time(), tz)
    window = timedelta(hours=policy.window_hours)
    where, args = under(p, node)
    # grids only: a ticket waiting for 分拨 at a node is compared once it is placed
    where = f"{where} AND grid_id IN (SELECT id FROM {p}nodes WHERE kind = 'grid')"
    cur.execute(
        f"SELECT id, grid_id, category, occurred_at, lat, lon FROM {p}issues WHERE "
        f"channel = 'hotline' AND occurred_at >= %s AND occurred_at < %s AND {where}",
        [utc(lo), utc(hi), *args],
    )
    hotline = cur.fetchall()
    # Only the patrol reports of grids that have tickets can match: a city's summary
    # must not read every patrol report of the period to compare a handful of tickets.
    patrols: dict[tuple[str, str], list[tuple[str, Any, Any]]] = defaultdict(list)
    ticket_grids = sorted({h[1] for h in hotline})
    for i in range(0, len(ticket_grids), 500):
        chunk = ticket_grids[i : i + 500]
        cur.execute(
            f"SELECT grid_id, category, occurred_at, lat, lon FROM {p}issues WHERE "
            f"channel = 'patrol' AND occurred_at >= %s AND occurred_at < %s "
            f"AND grid_id IN ({', '.join(['%s'] * len(chunk))})",
            [utc(lo - window), utc(hi), *chunk],
        )
        for grid, category, at, lat, lon in cur.fetchall():
            patrols[(grid, category)].append((at, lat, lon))
    times: dict[tuple[str, str], list[str]] = {}
    for key, found in patrols.items():
        found.sort(key=lambda x: x[0])
        times[key] = [f[0] for f in found]
    cur.execute(f"SELECT DISTINCT grid_id FROM {p}grid_ancestors WHERE {where}", args)
    grids_below = {g for (g,) in cur.fetchall()}
    per: dict[tuple[str, str], dict[str, Any]] = {}
    for issue_id, grid, category, at, lat, lon in hotline:
        when = _parse(at)
        day = when.astimezone(tz).date().isoformat()
        found = patrols.get((grid, category), [])
        at_times = times.get((grid, category), [])
        start = bisect_left(at_times, utc(when - window))
        stop = bisect_right(at_times, at)
        matched = any(_near((lat, lon), (f[1], f[2]), policy.radius_m) for f in found[start:stop])
        cell = per.setdefault(
            (grid, day),
            {"grid_id": grid, "date": day, "hotline": 0, "matched": 0, "misses": 0, "missed": []},
        )
        cell["hotline"] += 1
        if matched:
            cell["matched"] += 1
        else:
            cell["misses"] += 1
            cell["missed"].append(issue_id)
    rows = []
    for cell in sorted(per.values(), key=lambda c: (c["date"], c["grid_id"])):
        cell["miss_rate"] = round(cell["misses"] / cell["hotline"], 4)
        cell["warning"] = (
            cell["hotline"] >= policy.warn_min_tickets and cell["miss_rate"] >= policy.warn_rate
        )
        cell["patrolled"] = any(k[0] == cell["grid_id"] for k in patrols)
        rows.append(cell)
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
        "grids_below": len(grids_below),
        "warnings": [c["grid_id"] for c in rows if c["warning"]],
        "items": rows,
    }


def merge_candidates(
    cur: Cursor, p: str, issue_id: str, policy: ComparisonPolicy
) -> list[dict[str, Any]]:
    """Open issues of another channel that likely are the same matter: same grid and
    category, within the window either side, within the radius where both have
    coordinates. A hotline issue is compared with the others, the others with hotline."""
    cur.execute(
        f"SELECT grid_id, category, channel, occurred_at, lat, lon, is_open FROM "
        f"{p}issues WHERE id = %s",
        (issue_id,),
    )
    me = cur.fetchone()
    if me is None or not me[6]:
        return []
    grid, category, channel, at, lat, lon, _ = me
    window = timedelta(hours=policy.window_hours)
    when = _parse(at)
    other = "<> 'hotline'" if channel == "hotline" else "= 'hotline'"
    cur.execute(
        f"SELECT id, channel, occurred_at, lat, lon, state FROM {p}issues WHERE "
        f"grid_id = %s AND category = %s AND is_open = 1 AND id <> %s AND "
        f"channel {other} AND occurred_at >= %s AND occurred_at <= %s "
        "ORDER BY occurred_at",
        (grid, category, issue_id, utc(when - window), utc(when + window)),
    )
    return [
        {
            "id": r[0],
            "channel": r[1],
            "occurred_at": r[2],
            "state": r[5],
            "distance_m": None
            if None in (lat, lon, r[3], r[4])
            else round(distance_m(lat, lon, r[3], r[4])),
        }
        for r in cur.fetchall()
        if _near((lat, lon), (r[3], r[4]), policy.radius_m)
    ]


def proposals(
    cur: Cursor, p: str, node: str, policy: ComparisonPolicy, limit: int = 200
) -> list[dict[str, Any]]:
    """Open hotline issues below `node` with their likely duplicates, for grid staff."""
    where, args = under(p, node)
    cur.execute(
        f"SELECT id FROM {p}issues WHERE channel = 'hotline' AND is_open = 1 AND "
        f"{where} ORDER BY occurred_at DESC LIMIT %s",
        [*args, limit],
    )
    out = []
    for (hotline_id,) in cur.fetchall():
        found = merge_candidates(cur, p, hotline_id, policy)
        if found:
            out.append({"hotline_issue": hotline_id, "candidates": found})
    return out
