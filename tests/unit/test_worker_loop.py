"""The loop every worker runs: it goes on while there is work, waits when there is
none, and outlives a failing step (the store away for a while)."""

from __future__ import annotations

import threading

from workers.loop import run


def test_the_loop_waits_only_when_a_step_did_nothing_and_survives_a_failing_step():
    stop = threading.Event()
    results: list[int | Exception] = [2, 1, 0, RuntimeError("store away"), 5, 0]
    waits: list[float] = []
    steps = 0

    def step() -> int:
        nonlocal steps
        steps += 1
        r = results.pop(0)
        if isinstance(r, Exception):
            raise r
        return r

    def wait(timeout: float) -> None:
        waits.append(timeout)
        if not results:
            stop.set()

    run("test", step, stop, wait, 0.25)
    assert steps == 6
    assert waits == [0.25, 0.25, 0.25]  # after the empty step, the failure, the last


def test_a_stopped_loop_does_nothing():
    stop = threading.Event()
    stop.set()
    calls: list[str] = []
    run("test", lambda: calls.append("step") or 0, stop, lambda t: calls.append("wait"), 1.0)
    assert calls == []
