"""Hot spots (热点): where demand concentrates, per category and month
(`GET /supervision/hotspots?node=&month=`, docs/indicators.md).

The views count, per grid, local day and category, the reports and the callbacks that
count in the rates (`category_facts`, written with the rest in `projections.views`);
repeats are found when asked, from the issues' places.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from domain.geo import distance_m
from projections.queries import under
from projections.records import utc
from stores.db import Cursor

TABLES = ("category_facts",)
#: The counts kept per category (of the facts every view keeps per grid).
METRICS = frozenset({"reported", "cb_valid", "cb_dissatisfied", "cb_appeals_upheld"})
REPEAT_WITHIN = timedelta(days=30)

#: (grid, local day, category, metric) → count
Categories = Counter[tuple[str, str, str, str]]


def schema(p: str) -> list[str]:
    return [
        f"""CREATE TABLE IF NOT EXISTS {p}category_facts (
            grid_id TEXT NOT NULL, day TEXT NOT NULL, category TEXT NOT NULL,
            metric TEXT NOT NULL, n BIGINT NOT NULL,
            PRIMARY KEY (grid_id, day, category, metric))""",
    ]


def store(cur: Cursor, p: str, counts: Categories) -> None:
    cur.executemany(
        f"INSERT INTO {p}category_facts (grid_id, day, category, metric, n) "
        "VALUES (%s, %s, %s, %s, %s) ON CONFLICT (grid_id, day, category, metric) "
        f"DO UPDATE SET n = {p}category_facts.n + excluded.n",
        [(*k, n) for k, n in counts.items() if n],
    )


def month_days(month: str) -> tuple[date, date]:
    """The first day of `month` (YYYY-MM) and of the month after."""
    first = date.fromisoformat(f"{month}-01")
    after = (first + timedelta(days=32)).replace(day=1)
    return first, after


def previous(month: str) -> str:
    first, _ = month_days(month)
    return (first - timedelta(days=1)).strftime("%Y-%m")


def _counts(cur: Cursor, p: str, node: str, month: str) -> dict[str, Counter[str]]:
    first, after = month_days(month)
    where, args = under(p, node)
    cur.execute(
        f"SELECT category, metric, SUM(n) FROM {p}category_facts WHERE day >= %s AND "
        f"day < %s AND {where} GROUP BY category, metric",
        [first.isoformat(), after.isoformat(), *args],
    )
    out: dict[str, Counter[str]] = defaultdict(Counter)
    for category, metric, n in cur.fetchall():
        out[category][metric] += int(n)
    return out


def _same_place(a: tuple[Any, ...], b: tuple[Any, ...], radius: float) -> bool:
    if None not in (a[0], a[1], b[0], b[1]):
        return distance_m(a[0], a[1], b[0], b[1]) <= radius
    return bool(a[2]) and a[2] == b[2]


def _repeats(
    cur: Cursor, p: str, node: str, month: str, tz: ZoneInfo, radius: float
) -> dict[str, tuple[int, int]]:
    """Per category: (issues of the month with a place, those with an earlier issue of
    the same category at the same place reported within the 30 days before)."""
    first, after = month_days(month)
    lo = datetime.combine(first, datetime.min.time(), tz)
    hi = datetime.combine(after, datetime.min.time(), tz)
    where, args = under(p, node)
    cur.execute(
        f"SELECT category, reported_at, lat, lon, address FROM {p}issues WHERE "
        f"reported_at >= %s AND reported_at < %s AND {where} AND "
        "((lat IS NOT NULL AND lon IS NOT NULL) OR address IS NOT NULL) "
        "ORDER BY reported_at, id",
        [utc(lo - REPEAT_WITHIN), utc(hi), *args],
    )
    by_category: dict[str, list[tuple[datetime, tuple[Any, ...]]]] = defaultdict(list)
    out: dict[str, tuple[int, int]] = {}
    for category, at, lat, lon, address in cur.fetchall():
        when = datetime.fromisoformat(at.replace("Z", "+00:00"))
        place = (lat, lon, (address or "").strip() or None)
        earlier = by_category[category]
        if when >= lo:
            placed, repeats = out.get(category, (0, 0))
            repeat = any(
                when - t <= REPEAT_WITHIN and _same_place(place, other, radius)
                for t, other in earlier
            )
            out[category] = (placed + 1, repeats + int(repeat))
        earlier.append((when, place))
    return out


def _rate(n: int, d: int) -> float | None:
    return round(n / d, 4) if d else None


def hotspots(
    cur: Cursor, p: str, node: str, month: str, tz: ZoneInfo, radius: float
) -> dict[str, Any]:
    now, before = _counts(cur, p, node, month), _counts(cur, p, node, previous(month))
    repeats = _repeats(cur, p, node, month, tz, radius)
    items: list[dict[str, Any]] = []
    for category in sorted(set(now) | set(before)):
        c, b = now.get(category, Counter()), before.get(category, Counter())
        placed, repeated = repeats.get(category, (0, 0))
        upheld = c["cb_appeals_upheld"]
        dissatisfied, valid = c["cb_dissatisfied"] - upheld, c["cb_valid"] - upheld
        change = c["reported"] - b["reported"]
        items.append(
            {
                "category": category,
                "reported": c["reported"],
                "previous": b["reported"],
                "change": change,
                "change_rate": _rate(change, b["reported"]),
                "with_place": placed,
                "repeats": repeated,
                "repeat_rate": _rate(repeated, placed),
                "valid_callbacks": c["cb_valid"],
                "dissatisfied": dissatisfied,
                "dissatisfaction_rate": _rate(dissatisfied, valid),
            }
        )
    items.sort(key=lambda x: (-int(x["reported"]), str(x["category"])))
    return {"node": node, "month": month, "previous_month": previous(month), "items": items}
