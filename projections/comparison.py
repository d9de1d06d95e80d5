"""The reverse comparison's policy, and merge proposals: open issues of another channel
of the same grid and category, within the window either side and the radius where both
have coordinates. The comparison itself is `projections.reverse`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from domain.geo import distance_m
from projections.queries import under
from projections.records import utc
from stores.db import Cursor


@dataclass(frozen=True)
class ComparisonPolicy:
    window_hours: float = 72.0
    radius_m: float = 300.0
    warn_rate: float = 0.3
    warn_min_tickets: int = 3
    late_after_hours: float = 2.0


def _parse(at: str) -> datetime:
    return datetime.fromisoformat(at.replace("Z", "+00:00"))


def _near(a: tuple[Any, ...], b: tuple[Any, ...], radius: float) -> bool:
    if None in (a[0], a[1], b[0], b[1]):
        return True  # without coordinates on both sides, grid and category decide
    return distance_m(a[0], a[1], b[0], b[1]) <= radius


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
