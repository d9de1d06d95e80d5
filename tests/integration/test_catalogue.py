"""The category catalogue (派单目录), over HTTP on both stores: two levels of codes,
close-condition checklists and required photos checked at `resolve` and `verify`, and
an issue kept on the catalogue version it was reported under."""

from __future__ import annotations

from typing import Any

import pytest

from domain.errors import InvalidOrganisation
from tests.http.support import Api, api
from tests.images import photo
from tests.support import LEADER, ORG, WORKER

CONDITIONS = ["垃圾清运完毕", "地面冲洗干净"]
CATALOGUE: dict[str, Any] = {
    **ORG,
    "categories": [
        *ORG["categories"],
        {"code": "02", "name": "市容环境", "kind": "event"},
        {
            "code": "0201",
            "parent": "02",
            "name": "暴露垃圾",
            "kind": "event",
            "accept_conditions": ["公共区域内可见的垃圾堆放"],
            "close_conditions": CONDITIONS,
            "photos_required": ["resolve"],
            "default_department": "housing",
            "limits": {"small_resolution": "2h", "department_report_in.urgent": "20m"},
            "hotline_names": ["垃圾暴露"],
            "valid_from": "2026-01-01",
        },
    ],
}


def reported(a: Api) -> str:
    i = a.report(WORKER, category="0201", description="rubbish by the gate")["id"]
    a.act(i, "handle_on_spot", WORKER)
    return i


def upload(a: Api, i: str) -> str:
    r = a.client.post(
        f"/issues/{i}/evidence", files={"file": ("after.jpg", photo("green"))}, headers=a.h(WORKER)
    )
    assert r.status_code in (200, 201), r.text
    return str(r.json()["evidence_id"])


def test_resolve_needs_every_close_condition_and_the_after_photo(store_url: str):
    with api(store_url) as a:
        a.container.service.load_org(CATALOGUE)
        i = reported(a)
        shown = a.client.get(f"/issues/{i}", headers=a.h(WORKER)).json()
        assert shown["catalogue"]["close_conditions"] == CONDITIONS
        head = a.container.service.head()
        refused = a.act(i, "resolve", WORKER, status=422, resolution="cleared")["error"]
        assert set(refused["details"]["fields"]) == {
            "checklist.垃圾清运完毕",
            "checklist.地面冲洗干净",
            "evidence",
        }
        half = a.act(
            i,
            "resolve",
            WORKER,
            status=422,
            resolution="cleared",
            checklist={"垃圾清运完毕": True, "地面冲洗干净": False},
        )["error"]
        assert set(half["details"]["fields"]) == {"checklist.地面冲洗干净", "evidence"}
        assert a.container.service.head() == head  # refusals record nothing
        sha = upload(a, i)
        done = a.act(
            i,
            "resolve",
            WORKER,
            resolution="cleared",
            evidence=[sha],
            checklist={c: True for c in CONDITIONS},
        )
        assert done["state"] == "resolved"
        # The verifier confirms the same conditions on site.
        a.act(i, "verify", LEADER, status=422)
        closed = a.act(i, "verify", LEADER, checklist={c: True for c in CONDITIONS})
        assert closed["state"] == "closed"
        # The category's own limit, by its catalogue entry.
        clocks = {d["kind"]: d for d in done["deadlines"]}
        assert clocks["small_resolution"]["status"] == "met"


def test_a_catalogue_change_leaves_open_issues_on_their_version(store_url: str):
    with api(store_url) as a:
        a.container.service.load_org(CATALOGUE)
        old = reported(a)
        before = a.client.get(f"/issues/{old}", headers=a.h(WORKER)).json()["catalogue"]
        stricter = {
            **CATALOGUE,
            "categories": [
                {**c, "close_conditions": [*CONDITIONS, "周边无异味"], "photos_required": []}
                if c["code"] == "0201"
                else c
                for c in CATALOGUE["categories"]
            ],
        }
        a.container.service.load_org(stricter)
        new = reported(a)
        after = a.client.get(f"/issues/{new}", headers=a.h(WORKER)).json()["catalogue"]
        assert after["version"] > before["version"]
        # The open issue keeps the old version: two conditions and the photo.
        sha = upload(a, old)
        assert (
            a.act(
                old,
                "resolve",
                WORKER,
                resolution="cleared",
                evidence=[sha],
                checklist={c: True for c in CONDITIONS},
            )["state"]
            == "resolved"
        )
        # The new one has the third condition, and no photo to give.
        refused = a.act(
            new,
            "resolve",
            WORKER,
            status=422,
            resolution="cleared",
            checklist={c: True for c in CONDITIONS},
        )["error"]
        assert set(refused["details"]["fields"]) == {"checklist.周边无异味"}
        ok = {**{c: True for c in CONDITIONS}, "周边无异味": True}
        assert a.act(new, "resolve", WORKER, resolution="ok", checklist=ok)["state"] == "resolved"


def test_flat_categories_still_load_and_resolve_as_before(store_url: str):
    with api(store_url) as a:  # tests.support's ORG: code, name, limits only
        i = a.report(WORKER, category="road", description="pothole")["id"]
        a.act(i, "handle_on_spot", WORKER)
        assert a.act(i, "resolve", WORKER, resolution="filled")["state"] == "resolved"


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"parent": "nope"}, "unknown parent category"),
        ({"parent": "0201"}, "two levels of codes"),
        ({"kind": "thing"}, "kind"),
        ({"photos_required": ["after"]}, "photos_required"),
        ({"default_department": "nobody"}, "unknown default department"),
        ({"close_conditions": ["same", "same"]}, "close_conditions"),
    ],
)
def test_a_bad_catalogue_entry_is_refused_with_its_problem(change: dict[str, Any], problem: str):
    from tests.support import make_service

    svc = make_service()
    svc.load_org(CATALOGUE)
    bad = {**CATALOGUE, "categories": [{"code": "020101", "name": "x", **change}]}
    with pytest.raises(InvalidOrganisation) as refused:
        svc.load_org(bad)
    assert any(problem in p for p in refused.value.problems), refused.value.problems
