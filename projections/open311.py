"""The Open311 request list, from the issue-list view.

Anyone sees the requests filed through Open311 (domain.public); a principal also sees,
whole, what it may see (the view's share of domain.access, `queries.visible`). Each
row says which of the two it is (`whole`), so that the caller coarsens the others.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from domain.principals import Principal
from domain.public import PUBLIC_CHANNEL
from projections.queries import visible
from stores.db import Cursor

COLUMNS = (
    "id",
    "state",
    "tier",
    "grid_id",
    "category",
    "channel",
    "description",
    "reported_at",
    "updated_at",
    "lat",
    "lon",
    "address",
    "state_json",
)


@dataclass
class RequestQuery:
    ids: list[str] | None = None
    categories: set[str] | None = None
    is_open: bool | None = None
    reported_from: str | None = None  # inclusive, fixed-width UTC
    reported_to: str | None = None  # inclusive
    limit: int = 1000


def requests(cur: Cursor, p: str, who: Principal | None, q: RequestQuery) -> list[dict[str, Any]]:
    """Requests newest first: each row's columns, its open deadlines and departments (from
    the folded state), and `whole`: whether `who` may see all of it."""
    whole_args: list[Any] = []
    if who is None:
        whole = "0 = 1"
    else:
        whole, whole_args = visible(p, who, cur)
    where = [f"({whole} OR channel = %s)"]
    args: list[Any] = [*whole_args, PUBLIC_CHANNEL]
    if q.ids is not None:
        where.append(f"id IN ({', '.join(['%s'] * len(q.ids))})" if q.ids else "0 = 1")
        args.extend(q.ids)
    else:
        if q.categories:
            where.append(f"category IN ({', '.join(['%s'] * len(q.categories))})")
            args.extend(sorted(q.categories))
        if q.is_open is not None:
            where.append("is_open = %s")
            args.append(int(q.is_open))
        if q.reported_from is not None:
            where.append("reported_at >= %s")
            args.append(q.reported_from)
        if q.reported_to is not None:
            where.append("reported_at <= %s")
            args.append(q.reported_to)
    cur.execute(
        f"SELECT {', '.join(COLUMNS)}, CASE WHEN {whole} THEN 1 ELSE 0 END FROM {p}issues "
        f"WHERE {' AND '.join(where)} ORDER BY reported_at DESC, id DESC LIMIT %s",
        [*whole_args, *args, q.limit],
    )
    out = []
    for r in cur.fetchall():
        row = dict(zip(COLUMNS, r[: len(COLUMNS)], strict=True))
        folded = json.loads(row.pop("state_json"))
        row["deadlines"] = folded.get("deadlines", {})
        row["departments"] = list(folded.get("departments", {}))
        row["closed_at"] = folded.get("closed_at")
        row["media_url"] = folded.get("media_url")
        row["whole"] = bool(r[len(COLUMNS)])
        out.append(row)
    return out
