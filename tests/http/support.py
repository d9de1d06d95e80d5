"""An HTTP client on the real app, over a real store, with real tokens."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from fastapi.testclient import TestClient

from api.app import create_app
from domain.principals import Principal
from gridflow.container import Container
from gridflow.settings import Settings
from tests.support import ORG, Clock
from workers.projections import ProjectionWorker


class Api:
    def __init__(
        self, url: str, clock: Clock | None = None, settings: Settings | None = None
    ) -> None:
        self.clock = clock or Clock()
        self.container = Container(settings or Settings(database_url=url), clock=self.clock)
        self.container.service.load_org(ORG)
        self.client = TestClient(create_app(self.container.services()))
        self._tokens: dict[Principal, str] = {}
        # As `gridflow serve` does on SQLite: the projections follow the log in-process.
        self.stop = threading.Event()
        self.follower = threading.Thread(
            target=ProjectionWorker(self.container.engine, self.container.wake, 0.2).follow,
            args=(self.stop,),
            daemon=True,
        )
        self.follower.start()

    def token(self, p: Principal) -> str:
        if p not in self._tokens:
            self._tokens[p] = self.container.tokens.create(p)
        return self._tokens[p]

    def h(self, p: Principal, **extra: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(p)}", **extra}

    def report(self, p: Principal, **body: Any) -> dict[str, Any]:
        data = {"grid_id": "g1", "category": "sanitation", "description": "rubbish", **body}
        r = self.client.post("/issues", json=data, headers=self.h(p))
        assert r.status_code == 201, r.text
        return r.json()

    def act(
        self, issue: str, action: str, p: Principal, status: int = 200, **body: Any
    ) -> dict[str, Any]:
        r = self.client.post(f"/issues/{issue}/actions/{action}", json=body, headers=self.h(p))
        assert r.status_code == status, r.text
        return r.json()

    def close(self) -> None:
        self.stop.set()
        self.container.wake.set()
        self.follower.join(10)
        self.client.close()
        self.container.close()


@contextmanager
def api(url: str, clock: Clock | None = None, settings: Settings | None = None) -> Iterator[Api]:
    """The app on `url` (with `settings`, when given, instead of the defaults)."""
    a = Api(url, clock, settings)
    try:
        yield a
    finally:
        a.close()
