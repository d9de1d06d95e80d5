"""The patrol-miss worker (反向比对 → 督办, spec/followup.md): a grid whose reverse
comparison warns on a rolling window (7 or 30 days ending today) gets a follow-up item
(reason `patrol_miss`) aimed at the grid, at the community level, so that its leader
answers it; the usual reply clock and step-up follow (the deadline worker's).

It reads the warnings and the open items from the views and asks the domain to record
`raise_patrol_miss` on the issue of the grid's newest missed ticket. The domain opens
one item per missed ticket (a second run or a second copy is refused, and two copies at
once meet the store's version conflict), so a warning opens one item while it lasts; once
that item is cleared, the next missed ticket of a still-warning grid opens a new one.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections import defaultdict
from datetime import date, timedelta
from typing import Any
from uuid import UUID

from domain.errors import BeyondHolidayData, IssueNotFound, TransitionNotAllowed, VersionConflict
from domain.principals import SYSTEM
from domain.service import IssueService
from projections.reader import ViewReader, ViewsBehind
from projections.reverse import ROLLING
from workers.loop import run

log = logging.getLogger("gridflow.patrol_misses")


class PatrolMissWorker:
    name = "patrol_misses"

    def __init__(self, service: IssueService, views: ViewReader) -> None:
        self.service, self.views = service, views

    def warnings(self) -> list[dict[str, Any]]:
        """Per warning grid: the window that warned, its counts and the newest missed
        ticket (today in the grid's zone; the views count days in theirs)."""
        ctx = self.service.context()
        org = ctx.org
        by_day: dict[date, list[str]] = defaultdict(list)
        for grid in org.grids():
            by_day[ctx.now.astimezone(ctx.calendar(grid).tz).date()].append(grid)
        roots = [n for n, v in org.nodes.items() if v.get("parent") is None]
        out = []
        for today, grids in by_day.items():
            start = today - timedelta(days=max(ROLLING) - 1)
            for root in roots:
                r = self.views.patrol_misses(root, start, today + timedelta(days=1), ctx.now)
                missed: dict[str, list[str]] = defaultdict(list)
                for cell in r["items"]:  # by day: the last one is the newest
                    missed[cell["grid_id"]] += cell["missed"]
                for g in r["grids"]:
                    window = next(
                        (g[f"rolling_{d}"] for d in ROLLING if g[f"rolling_{d}"]["warning"]), None
                    )
                    if g["grid_id"] in grids and window and missed[g["grid_id"]]:
                        out.append({"grid_id": g["grid_id"], "window": window,
                                    "ticket": missed[g["grid_id"]][-1]})  # fmt: skip
        return out

    def run_once(self) -> int:
        """Open an item for every warning grid without an open one; how many opened."""
        open_now = self.views.open_items_by_target("patrol_miss")
        opened = 0
        for w in self.warnings():
            if w["grid_id"] in open_now:
                continue
            window = w["window"]
            data = {
                "grid_id": w["grid_id"],
                "days": window["days"],
                "hotline": window["hotline"],
                "misses": window["misses"],
            }
            try:
                self.service.act(UUID(w["ticket"]), "raise_patrol_miss", SYSTEM, data)
                opened += 1
            except BeyondHolidayData as exc:
                log.warning("grid %s: no patrol-miss item: %s", w["grid_id"], exc.message)
            except (TransitionNotAllowed, VersionConflict, IssueNotFound):
                continue  # raised for this ticket already, or by another copy just now
        return opened

    def step(self) -> int:
        """One scan; 0 whatever it opened, so the loop waits a poll before the next."""
        if self.run_once():
            with contextlib.suppress(ViewsBehind):  # let the views see them first
                self.views.wait_for(self.service.head(), timeout=10)
        return 0

    def follow(self, stop: threading.Event, poll: float = 300.0) -> None:
        run(self.name, self.step, stop, stop.wait, poll)
