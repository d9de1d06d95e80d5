"""Ordering: with many writers committing at once while the projector follows, no event
is ever skipped (the recorder keeps positions committing in order)."""

from __future__ import annotations

import threading

from gridflow.container import Container
from gridflow.settings import Settings
from projections.queries import ListQuery
from tests.support import ORG, WORKER, Clock, P
from workers.projections import ProjectionWorker


def test_concurrent_writers_never_make_the_projector_skip_an_event(store_url: str):
    c = Container(Settings(database_url=store_url), clock=Clock())
    c.service.load_org(ORG)
    stop = threading.Event()
    follower = threading.Thread(
        target=ProjectionWorker(c.engine, c.wake, 0.05).follow, args=(stop,)
    )
    follower.start()
    writers = [Container(Settings(database_url=store_url), clock=Clock()) for _ in range(4)]

    def write(w: Container) -> None:
        for n in range(40):
            i = w.service.report(
                WORKER, {"grid_id": "g1", "category": "road", "description": f"pothole {n}"}
            ).issue.id
            w.service.act(i, "handle_on_spot", WORKER)

    threads = [threading.Thread(target=write, args=(w,)) for w in writers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    c.views.wait_for(c.service.head(), timeout=30)
    stop.set()
    c.wake.set()
    follower.join(10)
    items = c.views.issues(P("auditor", "c1"), ListQuery(limit=500, state="on_spot"), c.clock())[
        "items"
    ]
    assert len(items) == 160
    assert all(i["version"] == 2 for i in items)
    for w in writers:
        w.close()
    c.close()
