"""The one loop every worker runs: do a step, and when it did nothing, wait for a
wake-up (PostgreSQL NOTIFY, or a save in this process) or the poll interval; until
told to stop.

A step that fails is logged and tried again after the wait: the store may be away for
a while (a restart, a failover), and a worker outlives that rather than dying with it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from stores.db import Database

log = logging.getLogger("gridflow.worker")

#: What a worker does each time round: how much it did (0: nothing to do, wait).
Step = Callable[[], int]
#: Waits at most the given seconds for something to do.
Wait = Callable[[float], object]


def run(name: str, step: Step, stop: threading.Event, wait: Wait, poll: float) -> None:
    """Run `step` until `stop` is set; after a step that did nothing, `wait(poll)`."""
    while not stop.is_set():
        try:
            done = step()
        except Exception:  # the workers' last-resort handler: log, wait, try again
            log.exception("%s: step failed; retrying", name)
            done = 0
        if not done and not stop.is_set():
            wait(poll)


def waiting(
    stop: threading.Event, wake: threading.Event | None = None, db: Database | None = None
) -> tuple[Wait, Callable[[], None]]:
    """How a worker waits, and how it lets go of what it waits with: on PostgreSQL
    (`db`) for the log's NOTIFY, else for `wake` (set by this process's saves), else
    for `stop` alone."""
    if db is not None and db.dialect == "postgres":
        listener = Listener(db)
        return listener.wait, listener.close
    if wake is not None:
        event = wake

        def wait(timeout: float) -> None:
            event.wait(timeout)
            event.clear()

        return wait, lambda: None
    return stop.wait, lambda: None


class Listener:
    """LISTEN on the log's channel; a dropped connection falls back to polling."""

    def __init__(self, db: Database) -> None:
        import psycopg

        self._conninfo = db.conninfo
        self._psycopg = psycopg
        self.conn: Any = None

    def _connect(self) -> None:
        self.conn = self._psycopg.connect(self._conninfo, autocommit=True, connect_timeout=5)
        self.conn.execute("LISTEN gridflow_events")

    def wait(self, timeout: float) -> None:
        try:
            if self.conn is None:
                self._connect()
            for _ in self.conn.notifies(timeout=timeout, stop_after=1):
                pass
        except self._psycopg.Error:  # lost connection: poll this time, reconnect next time
            self.close()
            threading.Event().wait(timeout)

    def close(self) -> None:
        if self.conn is not None:
            try:
                self.conn.close()
            finally:
                self.conn = None
