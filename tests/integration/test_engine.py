"""The projection engine (both stores): any projection that declares its tracking name
and how it folds a batch is read the log in order, its position recorded with what it
folded, and an event it cannot fold set aside under its name, or, for a projection
that may not skip one, retried."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from gridflow.container import Container
from gridflow.settings import Settings
from projections import quarantine
from stores.db import Cursor
from tests.support import ORG, WORKER, Clock


class Seen:
    """Writes down the position of every event it folds; refuses those in `refuse`."""

    name = "seen"
    generation = 0
    batch = 3

    def __init__(self, quarantine: str | None, refuse: frozenset[int] = frozenset()) -> None:
        self.quarantine, self.refuse = quarantine, refuse

    def fold(self, cur: Cursor, batch: Sequence[Any]) -> None:
        for n in batch:
            if n.id in self.refuse:
                raise ValueError(f"cannot fold {n.id}")
        cur.executemany("INSERT INTO seen (position) VALUES (%s)", [(n.id,) for n in batch])


@pytest.fixture
def c(store_url: str) -> Any:
    container = Container(Settings(database_url=store_url), clock=Clock())
    container.service.load_org(ORG)
    for n in range(4):
        container.service.report(
            WORKER, {"grid_id": "g1", "category": "road", "description": f"pothole {n}"}
        )
    with container.db.transaction() as cur:
        cur.execute("CREATE TABLE seen (position BIGINT PRIMARY KEY)")
    yield container
    container.close()


def seen(c: Container) -> list[int]:
    with c.db.transaction(write=False) as cur:
        cur.execute("SELECT position FROM seen ORDER BY position")
        return [int(p) for (p,) in cur.fetchall()]


def test_a_projection_folds_every_event_once_in_batches_and_keeps_its_position(c: Container):
    p = Seen("seen")
    with c.db.transaction() as cur:
        c.tracking.track(cur, p)
    head = c.service.head()
    assert c.tracking.step(p) == 3  # its own batch size
    assert c.tracking.catch_up(p) == head - 3
    assert c.tracking.position(p) == head
    assert c.tracking.catch_up(p) == 0  # nothing new: nothing folded twice
    assert seen(c) == list(range(1, head + 1))


def test_an_event_a_projection_cannot_fold_is_set_aside_under_its_name(c: Container):
    head = c.service.head()
    p = Seen("seen", refuse=frozenset({head - 1}))
    with c.db.transaction() as cur:
        c.tracking.track(cur, p)
    c.tracking.catch_up(p)
    assert c.tracking.position(p) == head
    assert head - 1 not in seen(c) and head in seen(c)
    aside = [q for q in quarantine.listed(c.db) if q.projection == "seen"]
    assert [q.position for q in aside] == [head - 1]
    assert "cannot fold" in aside[0].error


def test_a_projection_that_may_not_skip_an_event_stops_at_it(c: Container):
    head = c.service.head()
    p = Seen(None, refuse=frozenset({head}))
    with c.db.transaction() as cur:
        c.tracking.track(cur, p)
    with pytest.raises(ValueError, match="cannot fold"):
        c.tracking.catch_up(p)
    assert c.tracking.position(p) < head  # the failing batch left nothing behind
    assert seen(c) == list(range(1, c.tracking.position(p) + 1))
    assert quarantine.listed(c.db) == []
