"""Group commit: concurrent commands share one save; a conflict fails only its own."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

import pytest
from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, event
from eventsourcing.persistence import IntegrityError, OperationalError, Recording

from stores.groupcommit import GroupCommit


class Thing(Aggregate):
    @event("Noted")
    def note(self, text: str) -> None:
        self.text = text


class Gated:
    """The store's save, holding the first call until the test opens the gate, so that
    other commands queue behind it as they would behind a slow transaction."""

    def __init__(
        self, app: Application[Any], fail: Exception | None = None, fail_first: bool = False
    ) -> None:
        self.app, self.fail, self.fail_first = app, fail, fail_first
        self.gate = threading.Event()
        self.calls: list[int] = []

    def __call__(self, *events: Any) -> Sequence[Recording[Any]]:
        first = not self.calls
        self.calls.append(len(events))
        if first:
            self.gate.wait(5)
        if self.fail is not None and first == self.fail_first:
            raise self.fail
        return self.app.save(*events)


def run(gc: GroupCommit, gated: Gated, commands: list[list[Any]]) -> list[Any]:
    """Save the first command (held at the gate), queue the others one after another,
    open the gate; each command's recordings or error."""
    out: list[Any] = [None] * len(commands)

    def one(k: int) -> None:
        try:
            out[k] = gc.save(commands[k])
        except Exception as exc:
            out[k] = exc

    threads = [threading.Thread(target=one, args=(k,)) for k in range(len(commands))]
    threads[0].start()
    wait_for(lambda: len(gated.calls) == 1)
    for k, t in enumerate(threads[1:], 1):
        t.start()
        wait_for(lambda k=k: gc.queued == k)
    gated.gate.set()
    for t in threads:
        t.join(5)
    return out


def wait_for(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + 5
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.001)


@pytest.fixture
def app() -> Application[Any]:
    return Application(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})


def test_commands_queued_behind_a_save_are_saved_together(app: Application[Any]):
    gated = Gated(app)
    gc = GroupCommit(gated)
    things = [Thing() for _ in range(8)]
    out = run(gc, gated, [t.collect_events() for t in things])
    assert gated.calls == [1, 7]  # the first alone, the seven that queued in one save
    for thing, recordings in zip(things, out, strict=True):
        assert [r.domain_event.originator_id for r in recordings] == [thing.id]
        assert app.repository.get(thing.id).version == 1
    assert len({r[0].notification.id for r in out}) == 8


def test_a_conflicting_command_fails_alone(app: Application[Any]):
    taken = Thing()
    app.save(taken)
    twin = app.repository.get(taken.id)
    taken.note("first")
    app.save(taken)
    twin.note("stale")  # a second writer that loaded before the first saved
    gated = Gated(app)
    gc = GroupCommit(gated)
    others = [Thing() for _ in range(3)]
    out = run(
        gc,
        gated,
        [others[0].collect_events(), twin.collect_events()]
        + [t.collect_events() for t in others[1:]],
    )
    assert isinstance(out[1], IntegrityError)
    assert app.repository.get(taken.id).text == "first"
    for thing in others:
        assert app.repository.get(thing.id).version == 1
    assert gated.calls == [1, 3, 1, 1, 1]  # together, then each alone after the conflict


def test_two_commands_on_one_issue_never_share_a_save(app: Application[Any]):
    x = Thing()
    app.save(x)
    x.note("second")
    v2 = x.collect_events()
    x.note("third")
    v3 = x.collect_events()
    gated = Gated(app)
    gc = GroupCommit(gated)
    out = run(gc, gated, [Thing().collect_events(), v2, Thing().collect_events(), v3])
    assert not any(isinstance(o, Exception) for o in out)
    assert gated.calls == [1, 2, 1]  # v3 waits for the save after v2's
    assert app.repository.get(x.id).text == "third"


def test_a_store_failure_reaches_every_command_in_the_batch(app: Application[Any]):
    gated = Gated(app, fail=OperationalError("server closed the connection"))
    gc = GroupCommit(gated)
    things = [Thing() for _ in range(4)]
    out = run(gc, gated, [t.collect_events() for t in things])
    assert not isinstance(out[0], Exception)
    assert all(isinstance(o, OperationalError) for o in out[1:])
    assert app.repository.get(things[0].id).version == 1
    assert app.recorder.max_notification_id() == 1  # nothing of the failed batch


def test_when_the_store_fails_those_queued_meanwhile_hear_it_at_once(app: Application[Any]):
    # Each of their batches would wait out the same retries, one after another.
    gated = Gated(app, fail=OperationalError("server closed the connection"), fail_first=True)
    gc = GroupCommit(gated)
    out = run(gc, gated, [Thing().collect_events() for _ in range(5)])
    assert all(isinstance(o, OperationalError) for o in out)
    assert gated.calls == [1]  # one attempt at the store, not one per batch
    assert app.recorder.max_notification_id() is None
    thing = Thing()  # and once the store is back, saves go on as before
    assert gc.save(thing.collect_events())[0].notification.id == 1


def test_alone_a_command_is_saved_at_once(app: Application[Any]):
    gc = GroupCommit(app.save)
    thing = Thing()
    (recording,) = gc.save(thing.collect_events())
    assert recording.notification.id == 1
    assert gc.queued == 0 and (gc.batches, gc.commands) == (1, 1)
