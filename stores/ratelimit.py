"""A rate limit per principal, shared by every process of the service through the
database: `limit` requests per minute (fixed one-minute windows of the wall clock).

Each process takes *leases* of the window's allowance from one counter row per
principal and window, and spends them in memory: the first lease of a window is a
hundredth of the limit, each next one doubles what the process holds, up to a tenth of
the limit. A principal costs a process one small write a minute when it makes few
requests, a handful when it makes thousands. Leases are never handed out beyond the
limit, so all processes together never let more than `limit` requests through in a
window; an allowance leased by one process and not spent there is lost for that window
(at most a tenth of the limit per process). On PostgreSQL the lease commits without
waiting for the disk: a counter lost in a crash only lets a few requests more through.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from stores.db import Database

WINDOW = 60  # seconds
_LEASE = (
    "INSERT INTO gridflow_rate (principal_id, window_start, hits) VALUES (%s, %s, %s) "
    "ON CONFLICT (principal_id, window_start) DO UPDATE "
    "SET hits = gridflow_rate.hits + excluded.hits RETURNING hits"
)


@dataclass
class _Allowance:
    window: int
    left: int = 0  # leased here and not spent yet
    leased: int = 0  # leased here in this window (the next lease doubles it)
    spent_out: bool = False  # the window's whole allowance is leased out
    lock: threading.Lock = field(default_factory=threading.Lock)


class RateLimiter:
    def __init__(self, db: Database, limit: int, clock: Callable[[], float] = time.time) -> None:
        self.db, self.limit, self.clock = db, limit, clock
        self.first_lease = max(1, limit // 100)
        self.most_per_lease = max(1, limit // 10)
        self._allowances: dict[str, _Allowance] = {}
        self._lock = threading.Lock()
        self._swept = 0

    def hit(self, principal_id: str) -> int | None:
        """Count one request; None if it may go on, else the seconds to wait."""
        if self.limit <= 0:
            return None
        now = self.clock()
        window = int(now // WINDOW)
        with self._lock:
            a = self._allowances.get(principal_id)
            if a is None or a.window != window:
                if len(self._allowances) >= 10_000:  # forget the principals of past windows
                    self._allowances = {
                        p: x for p, x in self._allowances.items() if x.window == window
                    }
                a = self._allowances[principal_id] = _Allowance(window)
        with a.lock:  # one lease at a time per principal; others go on meanwhile
            if a.left == 0 and not a.spent_out:
                self._lease(principal_id, a)
            if a.left > 0:
                a.left -= 1
                return None
        return max(1, math.ceil((window + 1) * WINDOW - now))

    def _lease(self, principal_id: str, a: _Allowance) -> None:
        want = min(self.most_per_lease, max(self.first_lease, a.leased))
        with self.db.transaction() as cur:
            if self.db.dialect == "postgres":  # a counter lost in a crash costs nothing
                cur.execute("SET LOCAL synchronous_commit TO OFF")
            cur.execute(_LEASE, (principal_id, a.window, want))
            total = int(cur.fetchone()[0])
            if a.window > self._swept:  # once a window per process: old rows go
                self._swept = a.window
                cur.execute("DELETE FROM gridflow_rate WHERE window_start < %s", (a.window - 1,))
        a.leased += want
        a.left += max(0, min(want, self.limit - (total - want)))
        a.spent_out = total >= self.limit
