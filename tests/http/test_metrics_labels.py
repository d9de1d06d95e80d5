"""/metrics keeps a bounded set of series, whatever clients send."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.http.support import Api, api
from tests.support import WORKER


@pytest.fixture
def a(tmp_path: Path) -> Iterator[Api]:
    with api(f"sqlite:///{tmp_path}/metrics.db") as a:
        yield a


def _series(text: str, name: str) -> list[str]:
    series = re.compile(rf"{name}(_bucket|_count|_sum)?{{")
    return [line for line in text.splitlines() if series.match(line)]


def test_made_up_actions_methods_and_paths_add_no_series(a: Api) -> None:
    issue = a.report(WORKER)["id"]
    a.act(issue, "comment", WORKER, text="seen")

    def scrape() -> str:
        return str(a.client.get("/metrics").text)

    def made_up(n: int) -> None:
        a.client.post(f"/issues/{issue}/actions/no_such_action_{n}", json={}, headers=a.h(WORKER))
        a.client.request(f"BREW{n}", "/issues", headers=a.h(WORKER))
        a.client.get(f"/nowhere/{n}")

    made_up(0)
    scrape()  # the scrape's own series
    before = scrape()
    for n in range(1, 30):
        made_up(n)
    after = scrape()
    for name in (
        "gridflow_actions_total",
        "gridflow_http_requests_total",
        "gridflow_http_request_duration_seconds",
    ):
        assert len(_series(after, name)) == len(_series(before, name)), name
    assert "no_such_action" not in after and "BREW" not in after and "/nowhere" not in after
    assert 'gridflow_actions_total{action="unknown",outcome="client_error"} 30.0' in after
    assert 'gridflow_actions_total{action="comment",outcome="ok"} 1.0' in after
