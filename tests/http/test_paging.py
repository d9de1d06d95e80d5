"""Every list pages the same way: `limit` and `cursor` in, `next_cursor` and a
`Link: rel="next"` header out; `/audit/events` keeps `after`/`next_after`, and the
supervision lists answer everything without `limit`, as before."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from tests.http.support import Api, api
from tests.support import AUDITOR, STAFF, SUPERVISOR, WORKER


@pytest.fixture
def a(store_url: str) -> Iterator[Api]:
    with api(store_url) as client:
        yield client


def walk(a: Api, path: str, who: Any) -> list[list[Any]]:
    """Follow the Link headers from `path`; the items of each page."""
    pages: list[list[Any]] = []
    url: str | None = path
    while url is not None:
        r = a.client.get(url, headers=a.h(who))
        assert r.status_code == 200, r.text
        body = r.json()
        pages.append(body["items"])
        link = r.headers.get("link")
        assert (link is None) == (body["next_cursor"] is None)
        m = re.fullmatch(r'<([^>]+)>; rel="next"', link or "")
        url = m.group(1) if m else None
    return pages


def test_issue_lists_link_to_their_next_page(a: Api):
    ids = {a.report(WORKER)["id"] for _ in range(5)}
    head = a.container.service.head()
    pages = walk(a, f"/issues?limit=2&after={head}", STAFF)
    assert [len(p) for p in pages] == [2, 2, 1]
    assert {i["id"] for p in pages for i in p} == ids


def test_audit_events_take_a_cursor_and_keep_after(a: Api):
    for _ in range(3):
        a.report(WORKER)
    a.container.audit.catch_up()
    pages = walk(a, "/audit/events?limit=2", AUDITOR)
    positions = [e["position"] for p in pages for e in p]
    assert positions == sorted(positions) and len(positions) == 3
    old = a.client.get("/audit/events?limit=2", headers=a.h(AUDITOR)).json()
    rest = a.client.get(f"/audit/events?after={old['next_after']}", headers=a.h(AUDITOR)).json()
    assert [e["position"] for e in old["items"] + rest["items"]] == positions
    both = a.client.get("/audit/events?after=1&cursor=x", headers=a.h(AUDITOR))
    assert both.status_code == 422
    foreign = a.client.get("/audit/events?cursor=bm90LW91cnM", headers=a.h(AUDITOR))
    assert foreign.status_code == 422 and "cursor" in foreign.json()["error"]["details"]["fields"]


def test_the_board_pages_with_limit_and_answers_whole_without(a: Api):
    ids = []
    for _ in range(3):
        i = a.report(WORKER)["id"]
        a.act(i, "blow_whistle", STAFF, departments=["housing"])
        ids.append(i)
    head = a.container.service.head()
    whole = a.client.get(f"/supervision/escalations?after={head}", headers=a.h(SUPERVISOR))
    assert [i["id"] for i in whole.json()["items"]] == ids and "link" not in whole.headers
    pages = walk(a, "/supervision/escalations?limit=2", SUPERVISOR)
    assert [[i["id"] for i in p] for p in pages] == [ids[:2], ids[2:]]
