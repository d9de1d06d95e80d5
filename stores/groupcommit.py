"""Group commit: the events of concurrent commands saved in one transaction.

The library's save takes the log's table lock and commits once per call, so writers
queue behind each other one transaction at a time. Here a caller that finds a save in
progress queues its events instead; when that save ends, the first queued caller
becomes the leader and saves everything queued by then in one call. No thread of its
own and no waiting window: alone, a caller saves at once, as before.

One conflicting command must not fail the others: if the combined save raises the
store's IntegrityError, each command's events are saved again on their own and only
the one that conflicts gets the error. Two commands on the same aggregate never share
a batch (the second would be certain to conflict); it waits for the next one.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from eventsourcing.persistence import IntegrityError, Recording

Save = Callable[..., Sequence[Recording[Any]]]  # Application.save


@dataclass(eq=False)
class _Request:
    events: Sequence[Any]
    done: threading.Event = field(default_factory=threading.Event)
    lead: bool = False
    recordings: Sequence[Recording[Any]] = ()
    error: BaseException | None = None

    def ids(self) -> set[Any]:
        return {e.originator_id for e in self.events}


class GroupCommit:
    def __init__(self, save: Save, max_batch: int = 64) -> None:
        self._save = save
        self.max_batch = max_batch
        self._lock = threading.Lock()
        self._queue: list[_Request] = []
        self._busy = False
        #: batches and commands saved so far (bench.service_actions reports their ratio)
        self.batches = 0
        self.commands = 0

    @property
    def queued(self) -> int:
        """Commands waiting for the save in progress."""
        return len(self._queue)

    def save(self, events: Sequence[Any]) -> Sequence[Recording[Any]]:
        """Save `events` (one command's) and return their recordings, in order."""
        request = _Request(events)
        with self._lock:
            self._queue.append(request)
            lead = not self._busy
            self._busy = True
        if not lead:
            request.done.wait()
            lead = request.lead
        if lead:
            self._run()
        if request.error is not None:
            raise request.error
        return request.recordings

    def _run(self) -> None:
        """Save one batch, then hand the lead to the next queued caller, if any."""
        with self._lock:
            batch = self._take()
        failure: BaseException | None = None
        try:
            failure = self._commit(batch)
        finally:
            for r in batch:
                r.done.set()
            with self._lock:
                if failure is not None:
                    # The store is failing: those queued meanwhile would only wait out the
                    # same retries one batch after another; they hear it now.
                    for r in self._queue:
                        r.error = failure
                        r.done.set()
                    self._queue = []
                if self._queue:
                    self._queue[0].lead = True
                    self._queue[0].done.set()
                else:
                    self._busy = False

    def _take(self) -> list[_Request]:
        batch: list[_Request] = []
        seen: set[Any] = set()
        rest: list[_Request] = []
        for r in self._queue:
            ids = r.ids()
            if len(batch) < self.max_batch and not ids & seen:
                batch.append(r)
            else:
                rest.append(r)
            seen |= ids  # a later command on an aggregate waits behind an earlier one
        self._queue = rest
        return batch

    def _commit(self, batch: list[_Request]) -> BaseException | None:
        """Save the batch; the store's failure, if it failed other than by a conflict."""
        self.batches += 1
        self.commands += len(batch)
        try:
            recordings = self._save(*(e for r in batch for e in r.events))
        except IntegrityError as exc:
            if len(batch) == 1:
                batch[0].error = exc
                return None
            for r in batch:  # only the conflicting command fails
                try:
                    r.recordings = self._save(*r.events)
                except IntegrityError as alone:
                    r.error = alone
            return None
        except BaseException as exc:  # the store is down: each caller raises it again
            for r in batch:
                r.error = exc
            return exc
        start = 0
        for r in batch:
            r.recordings = recordings[start : start + len(r.events)]
            start += len(r.events)
        return None
