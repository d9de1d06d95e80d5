"""`gridflow worker`: the projections and the deadline worker, each on its own thread,
stopping cleanly on SIGTERM. On PostgreSQL each worker holds an advisory lock while
active, so a second copy waits as a standby instead of doing the work twice."""

from __future__ import annotations

import logging
import signal
import threading
import zlib
from collections.abc import Callable
from typing import Any

import psycopg

from stores.db import Database

log = logging.getLogger("gridflow.worker")


class SingleActive:
    """A PostgreSQL session advisory lock per worker name (always granted on SQLite)."""

    def __init__(self, db: Database, name: str) -> None:
        self.db, self.key = db, zlib.crc32(f"gridflow:{name}".encode())
        self.conn: Any = None

    def acquire(self) -> bool:
        if self.db.dialect != "postgres":
            return True
        import psycopg

        if self.conn is None:
            self.conn = psycopg.connect(self.db.conninfo, autocommit=True)
        row = self.conn.execute("SELECT pg_try_advisory_lock(%s)", (self.key,)).fetchone()
        return bool(row and row[0])

    def release(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None


def run_guarded(
    db: Database,
    name: str,
    body: Callable[[threading.Event], None],
    stop: threading.Event,
    standby_poll: float = 2.0,
) -> None:
    lock = SingleActive(db, name)
    try:
        while not stop.is_set():
            try:
                active = lock.acquire()
            except psycopg.Error:
                log.exception("%s: cannot reach the store for its lock", name)
                lock.release()
                active = False
            if active:
                log.info("%s: active", name)
                body(stop)
                return
            stop.wait(standby_poll)
    finally:
        lock.release()


def run(
    workers: dict[str, Callable[[threading.Event], None]],
    db: Database,
    stop: threading.Event | None = None,
) -> None:
    stop = stop or threading.Event()
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        signal.signal(signal.SIGINT, lambda *_: stop.set())
    threads = [
        threading.Thread(target=run_guarded, args=(db, name, body, stop), name=name, daemon=True)
        for name, body in workers.items()
    ]
    for t in threads:
        t.start()
    while any(t.is_alive() for t in threads) and not stop.is_set():
        stop.wait(0.5)
    stop.set()
    for t in threads:
        t.join(10)
