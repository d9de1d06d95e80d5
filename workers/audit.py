"""The audit worker: hashes new events into the chain and writes the trail, and signs
a checkpoint at least every `checkpoint_seconds` while the log grows (besides those
signed at the sizes each checkpoint promises)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from projections.audit import AuditLog
from workers.loop import run


class AuditWorker:
    name = "audit"

    def __init__(
        self,
        audit: AuditLog,
        checkpoint_seconds: float = 60.0,
        poll: float = 1.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.audit, self.checkpoint_seconds, self.poll = audit, checkpoint_seconds, poll
        self.monotonic = monotonic
        self.last_checkpoint = monotonic()

    def step(self) -> int:
        moved = self.audit.catch_up()
        if self.monotonic() - self.last_checkpoint >= self.checkpoint_seconds:
            self.audit.checkpoint()
            self.last_checkpoint = self.monotonic()
        return moved

    def follow(self, stop: threading.Event) -> None:
        run(self.name, self.step, stop, stop.wait, self.poll)
