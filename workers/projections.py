"""The projections worker: keeps the live views current, folding what is new as soon as
a save announces it (PostgreSQL NOTIFY, or a save in this process)."""

from __future__ import annotations

import threading

from projections.generations import ViewGenerations
from workers.loop import run, waiting


class ProjectionWorker:
    name = "projections"

    def __init__(
        self, views: ViewGenerations, wake: threading.Event | None = None, poll: float = 1.0
    ) -> None:
        self.views, self.wake, self.poll = views, wake, poll

    def follow(self, stop: threading.Event) -> None:
        wait, close = waiting(stop, self.wake, self.views.db)
        try:
            run(self.name, self.views.catch_up, stop, wait, self.poll)
        finally:
            close()
