"""The read side as the HTTP layer uses it: waiting for a position, then querying the
live generation of the views."""

from __future__ import annotations

import time
from collections.abc import Mapping
from datetime import date, datetime, timedelta
from datetime import time as dtime
from typing import Any
from zoneinfo import ZoneInfo

from domain.errors import ValidationFailed
from domain.principals import Principal
from projections import (
    comparison,
    hotline_views,
    hotspots,
    monthly,
    open311,
    owner_views,
    quarantine,
    queries,
    reverse,
    supervision,
)
from projections.generations import ViewGenerations, prefix
from projections.records import utc
from stores.db import Database

#: Periods asked of the views lie within these days: the reverse comparison's windows
#: and the time zone's offset reach a few days beyond a period's ends.
FIRST_DAY, LAST_DAY = date(1900, 1, 1), date(9000, 1, 1)
#: the longest period `GET /supervision/trend` answers, one row per day
MAX_TREND_DAYS = 366


class ViewsBehind(Exception):
    def __init__(self, position: int, wanted: int) -> None:
        super().__init__(f"the views are at {position}, not yet at {wanted}")
        self.position, self.wanted = position, wanted


class ViewReader:
    def __init__(
        self,
        db: Database,
        engine: ViewGenerations,
        timezone: str = "Asia/Shanghai",
        weights: Mapping[str, float] | None = None,
        comparison_policy: comparison.ComparisonPolicy | None = None,
        stall_seconds: float = 30.0,
        basic_weight: float = 0.9,
        min_sample: int = 10,
    ) -> None:
        self.db, self.engine = db, engine
        self.tz = ZoneInfo(timezone)
        self._generation: tuple[float, int] = (float("-inf"), 0)
        self.weights = dict(weights or queries.DEFAULT_WEIGHTS)
        self.comparison = comparison_policy or comparison.ComparisonPolicy()
        self.stall_seconds = stall_seconds
        self.basic_weight = basic_weight
        #: units with fewer valid callbacks (or closed issues) are not ranked
        self.min_sample = min_sample
        #: the position where the views lag, and since when (None: caught up)
        self._behind: tuple[int, float] | None = None

    #: how long a read with `?after=` waits for the views (a test sets 0: no timed wait)
    wait_seconds = 5.0

    def wait_for(self, position: int | None, timeout: float | None = None) -> None:
        """Block until the views include `position`; ViewsBehind after `timeout`."""
        if position is None:
            return
        deadline = time.monotonic() + (self.wait_seconds if timeout is None else timeout)
        while (at := self.engine.position()) < position:
            if time.monotonic() >= deadline:
                raise ViewsBehind(at, position)
            time.sleep(0.02)

    def lag(self, head: int) -> dict[str, Any]:
        at = self.engine.position()
        return {"position": at, "head": head, "lag": max(0, head - at)}

    def quarantined(self) -> dict[str, int]:
        """Events each projection set aside (the views: the live generation's)."""
        return quarantine.counts(self.db, self.engine.active())

    def readiness(self, head: int, now: float | None = None) -> dict[str, Any]:
        """The views' lag, and `ok`: false only while the views lag and their position has
        not moved for `stall_seconds` — not because events were set aside (quarantined):
        one old poisoned event must not take every replica out of a load balancer."""
        now = time.monotonic() if now is None else now
        out = self.lag(head)
        if not out["lag"]:
            self._behind = None
        elif self._behind is None or self._behind[0] != out["position"]:
            self._behind = (out["position"], now)  # behind here from now on
        stalled = now - self._behind[1] if self._behind else 0.0
        out["stalled_seconds"] = round(stalled, 1)
        out["ok"] = stalled < self.stall_seconds
        out["quarantine"] = quarantine.summary(self.db, self.engine.active())
        return out

    def period(
        self, start: date | None, end: date | None, today: date
    ) -> tuple[str, str, str, str]:
        """Local days [start, end) and the same bounds as UTC instants (default: the
        last 30 days, today included)."""
        for name, day in (("from", start), ("to", end)):
            if day is not None and not FIRST_DAY <= day <= LAST_DAY:
                raise ValidationFailed({name: "a day between the years 1900 and 9000"})
        end = end or today + timedelta(days=1)
        start = start or end - timedelta(days=30)
        lo = datetime.combine(start, dtime(), self.tz)
        hi = datetime.combine(end, dtime(), self.tz)
        bounds = start.isoformat(), end.isoformat(), utc(lo), utc(hi)
        if start >= end:
            raise ValidationFailed({"to": "the period ends after it starts"})
        return bounds

    def _prefix(self) -> str:
        """The live generation's table prefix, asked again at most once a second (a
        rebuild's switch shows within that time)."""
        now = time.monotonic()
        if now - self._generation[0] >= 1.0 or self._generation[0] < self.engine.switched_at:
            self._generation = (now, self.engine.active())
        return prefix(self._generation[1])

    def issues(self, who: Principal, q: queries.ListQuery, now: datetime) -> dict[str, Any]:
        p = self._prefix()
        with self.db.transaction(write=False) as cur:
            return queries.list_issues(cur, p, who, q, utc(now))

    def open311_requests(
        self, who: Principal | None, q: open311.RequestQuery
    ) -> list[dict[str, Any]]:
        p = self._prefix()
        with self.db.transaction(write=False) as cur:
            return open311.requests(cur, p, who, q)

    def queue(self, who: Principal, q: queries.ListQuery, now: datetime) -> dict[str, Any]:
        p = self._prefix()
        clause = queries.queue_clause(p, who)
        if clause is None:
            return {"items": [], "next_cursor": None}
        q.extra = [clause]
        q.sort = "urgency"
        p = self._prefix()
        with self.db.transaction(write=False) as cur:
            out = queries.list_issues(cur, p, who, q, utc(now))
            supervision.attach_followups(cur, p, who.scope, out["items"], utc(now))
            return out

    def summary(
        self, node: str, start: date | None, end: date | None, now: datetime
    ) -> dict[str, Any]:
        d_from, d_to, _, _ = self.period(start, end, now.astimezone(self.tz).date())
        p = self._prefix()
        with self.db.transaction(write=False) as cur:
            out = supervision.summary(cur, p, node, d_from, d_to, utc(now), self.basic_weight)
            misses = reverse.patrol_misses(
                cur, p, node, d_from, d_to, self.tz, self.comparison, per_grid=False
            )
        out["indicators"]["patrol_miss_rate"] = misses["miss_rate"]
        out["patrol_misses"] = {
            "hotline": misses["hotline"],
            "misses": misses["misses"],
            "warnings": misses["warnings"],
        }
        return out

    def trend(
        self, node: str, start: date | None, end: date | None, now: datetime
    ) -> dict[str, Any]:
        d_from, d_to, _, _ = self.period(start, end, now.astimezone(self.tz).date())
        days = (date.fromisoformat(d_to) - date.fromisoformat(d_from)).days
        if days > MAX_TREND_DAYS:  # one row per day: a period of centuries is no chart
            raise ValidationFailed(
                {"to": f"{days} days: a trend covers at most {MAX_TREND_DAYS} days"}
            )
        p = self._prefix()
        with self.db.transaction(write=False) as cur:
            return supervision.trend(cur, p, node, d_from, d_to)

    def escalations(self, node: str, now: datetime, level: str | None = None) -> dict[str, Any]:
        p = self._prefix()
        with self.db.transaction(write=False) as cur:
            return supervision.escalations(cur, p, node, utc(now), level)

    def rankings(
        self, level: str, start: date | None, end: date | None, now: datetime
    ) -> dict[str, Any]:
        d_from, d_to, _, _ = self.period(start, end, now.astimezone(self.tz).date())
        p = self._prefix()
        with self.db.transaction(write=False) as cur:
            return supervision.rankings(
                cur, p, level, d_from, d_to, self.weights, self.basic_weight, self.min_sample
            )

    def monthly(self, node: str, month: str, now: datetime) -> dict[str, Any]:
        """The content of `node`'s report of `month`, as the views read now, with the
        policy it is computed under (projections.monthly; frozen by domain.reports)."""
        first, after = hotspots.month_days(month)
        d_from, d_to, lo, hi = self.period(first, after, now.astimezone(self.tz).date())
        p = self._prefix()
        with self.db.transaction(write=False) as cur:
            summary = supervision.summary(cur, p, node, d_from, d_to, utc(now), self.basic_weight)
            cur.execute(f"SELECT kind FROM {p}nodes WHERE id = %s", (node,))
            kind = (cur.fetchone() or ("",))[0]
            level = monthly.RANKED_BELOW.get(kind)
            cur.execute(
                f"SELECT DISTINCT ancestor_id FROM {p}grid_ancestors WHERE grid_id IN "
                f"(SELECT grid_id FROM {p}grid_ancestors WHERE ancestor_id = %s)",
                (node,),
            )
            below = {r[0] for r in cur.fetchall()}
            ranks = (
                supervision.rankings(
                    cur, p, level, d_from, d_to, self.weights, self.basic_weight,
                    self.min_sample, within=below,
                )["items"]
                if level
                else []
            )  # fmt: skip
            misses = reverse.patrol_misses(cur, p, node, d_from, d_to, self.tz, self.comparison)
            hot = hotspots.hotspots(cur, p, node, month, self.tz, self.comparison.radius_m)
            people = owner_views.figures(
                cur, p, node, d_from, d_to, lo, hi, self.comparison.late_after_hours
            )
            board = supervision.escalations(cur, p, node, utc(now))["items"]
        indicators = {**summary["indicators"], "patrol_miss_rate": misses["miss_rate"]}
        keep = ("id", "state", "tier", "grid_id", "category", "urges", "flagged", "flags")
        return {
            "node": node,
            "month": month,
            "from": d_from,
            "to": d_to,
            "policy": {
                "timezone": str(self.tz),
                "score_weights": dict(self.weights),
                "satisfaction_basic_weight": self.basic_weight,
                "ranking_min_sample": self.min_sample,
                "ranked_level": level,
                "comparison": dict(self.comparison.__dict__),
            },
            "indicators": indicators,
            "counts": summary["counts"],
            "by_category": summary["by_category"],
            "rankings": ranks,
            "patrol_misses": misses["grids"],
            "patrol_miss_totals": {
                k: misses[k] for k in ("hotline", "misses", "miss_rate", "by_kind", "warnings")
            },
            "hotspots": hot["items"],
            "people": people["items"],
            "follow_up": [{k: item[k] for k in keep} for item in board],
        }

    def hotspots(self, node: str, month: str | None, now: datetime) -> dict[str, Any]:
        """Counts by category of a local month (default: this one) and the month before."""
        month = month or now.astimezone(self.tz).strftime("%Y-%m")
        p = self._prefix()
        with self.db.transaction(write=False) as cur:
            return hotspots.hotspots(cur, p, node, month, self.tz, self.comparison.radius_m)

    def people(
        self, node: str, start: date | None, end: date | None, now: datetime
    ) -> dict[str, Any]:
        """Per-person figures of the grid staff below `node` (projections.owner_views)."""
        d_from, d_to, lo, hi = self.period(start, end, now.astimezone(self.tz).date())
        p = self._prefix()
        with self.db.transaction(write=False) as cur:
            return owner_views.figures(
                cur, p, node, d_from, d_to, lo, hi, self.comparison.late_after_hours
            )

    def departments(self, start: date | None, end: date | None, now: datetime) -> dict[str, Any]:
        d_from, d_to, _, _ = self.period(start, end, now.astimezone(self.tz).date())
        p = self._prefix()
        with self.db.transaction(write=False) as cur:
            return supervision.departments(cur, p, d_from, d_to)

    def patrol_misses(
        self, node: str, start: date | None, end: date | None, now: datetime
    ) -> dict[str, Any]:
        d_from, d_to, _, _ = self.period(start, end, now.astimezone(self.tz).date())
        p = self._prefix()
        with self.db.transaction(write=False) as cur:
            return reverse.patrol_misses(cur, p, node, d_from, d_to, self.tz, self.comparison)

    def open_items_by_target(self, reason: str) -> set[str]:
        """Targets with a follow-up item of `reason` not cleared yet (any issue)."""
        p = self._prefix()
        with self.db.transaction(write=False) as cur:
            cur.execute(
                f"SELECT DISTINCT target FROM {p}followup_items "
                "WHERE reason = %s AND status <> 'cleared'",
                (reason,),
            )
            return {r[0] for r in cur.fetchall()}

    def merge_candidates(self, issue_id: str) -> list[dict[str, Any]]:
        p = self._prefix()
        with self.db.transaction(write=False) as cur:
            return comparison.merge_candidates(cur, p, issue_id, self.comparison)

    def closed_like(self, category: str, since: datetime) -> list[dict[str, Any]]:
        p = self._prefix()
        with self.db.transaction(write=False) as cur:
            return hotline_views.closed_like(cur, p, category, utc(since))

    def merged_ticket(self, ticket_no: str) -> str | None:
        p = self._prefix()
        with self.db.transaction(write=False) as cur:
            return hotline_views.merged_ticket(cur, p, ticket_no)

    def merge_proposals(self, node: str) -> list[dict[str, Any]]:
        p = self._prefix()
        with self.db.transaction(write=False) as cur:
            return comparison.proposals(cur, p, node, self.comparison)

    def issue_grid(self, issue_id: str) -> str | None:
        p = self._prefix()
        with self.db.transaction(write=False) as cur:
            cur.execute(f"SELECT grid_id FROM {p}issues WHERE id = %s", (issue_id,))
            row = cur.fetchone()
        return str(row[0]) if row else None

    def issue_departments(self, issue_id: str) -> set[str]:
        p = self._prefix()
        with self.db.transaction(write=False) as cur:
            cur.execute(
                f"SELECT department_id FROM {p}issue_departments WHERE issue_id = %s", (issue_id,)
            )
            return {r[0] for r in cur.fetchall()}

    def warnings(self, now: datetime) -> list[dict[str, Any]]:
        """Running deadlines past 75% of their limit and not yet due."""
        p = self._prefix()
        at = utc(now)
        with self.db.transaction(write=False) as cur:
            cur.execute(
                f"SELECT issue_id, dkey, kind, department_id, grid_id, started_at, "
                f"effective_due_at FROM {p}open_deadlines WHERE paused = 0 AND missed = 0 AND "
                "effective_warn_at <= %s AND effective_due_at > %s",
                (at, at),
            )
            keys = (
                "issue_id",
                "key",
                "kind",
                "department_id",
                "grid_id",
                "started_at",
                "effective_due_at",
            )
            return [dict(zip(keys, r, strict=True)) for r in cur.fetchall()]

    def due_deadlines(self, now: datetime, limit: int = 500) -> list[tuple[str, str]]:
        """(issue id, deadline key) of running deadlines past their effective due time."""
        p = self._prefix()
        with self.db.transaction(write=False) as cur:
            cur.execute(
                f"SELECT issue_id, dkey FROM {p}open_deadlines WHERE paused = 0 "
                "AND missed = 0 AND effective_due_at <= %s ORDER BY effective_due_at LIMIT %s",
                (utc(now), limit),
            )
            return [(r[0], r[1]) for r in cur.fetchall()]
