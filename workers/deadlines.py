"""The deadline worker: records each missed deadline once, as the system.

It reads the running deadlines past their effective due time from the views and asks
the domain to record `miss_deadline`; the domain re-checks against the log (already
missed, ended, paused, not yet due: refused), so a lagging view, a restart or a second
copy running at once never doubles a miss. The escalation policy (a missed small-matter
deadline moves the issue to `coordinating`) is the domain's.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from uuid import UUID

from domain.errors import BeyondHolidayData, IssueNotFound, TransitionNotAllowed, VersionConflict
from domain.principals import SYSTEM
from domain.service import IssueService
from projections.reader import ViewReader, ViewsBehind
from workers.loop import run

log = logging.getLogger("gridflow.deadlines")


class DeadlineWorker:
    name = "deadlines"

    def __init__(self, service: IssueService, views: ViewReader) -> None:
        self.service, self.views = service, views
        #: misses falling due beyond the holiday data: the calendar is read once at
        #: start, so they stay held (and are not asked again) until a restart with it
        self.held: set[tuple[str, str]] = set()

    def run_once(self) -> int:
        """Record every miss that is due now; how many were recorded."""
        recorded = 0
        for issue_id, key in self.views.due_deadlines(self.service.clock()):
            if (issue_id, key) in self.held:
                continue
            try:
                self.service.act(UUID(issue_id), "miss_deadline", SYSTEM, {"deadline": key})
                recorded += 1
            except BeyondHolidayData as exc:
                self.held.add((issue_id, key))
                log.warning("issue %s: miss not recorded: %s", issue_id, exc.message)
            except (TransitionNotAllowed, VersionConflict, IssueNotFound):
                continue  # ended, already recorded, or recorded by another copy just now
        return recorded

    def step(self) -> int:
        n = self.run_once()
        if n:
            log.info("recorded %d missed deadline(s)", n)
            with contextlib.suppress(ViewsBehind):  # let the views see them first
                self.views.wait_for(self.service.head(), timeout=10)
        return n

    def follow(self, stop: threading.Event, poll: float = 5.0) -> None:
        run(self.name, self.step, stop, stop.wait, poll)
