"""RFC 9110 as a client library or a browser relies on it: strong If-Match (lists,
weak tags, the bare version of the contract), If-None-Match and 304, Vary by the
caller, 405 with every allowed method, and CORS only for configured origins."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from gridflow.settings import Settings, origins
from tests.http.support import Api, api
from tests.support import STAFF, WORKER

APP = "https://app.example.org"


@pytest.fixture
def a(store_url: str) -> Iterator[Api]:
    with api(store_url) as client:
        yield client


def whistle(a: Api, if_match: str) -> tuple[int, dict]:
    issue = a.report(WORKER)
    r = a.client.post(
        f"/issues/{issue['id']}/actions/blow_whistle",
        json={"departments": ["housing"]},
        headers=a.h(STAFF, **{"If-Match": if_match}),
    )
    return r.status_code, r.json()


@pytest.mark.parametrize(
    ("if_match", "status"),
    [
        ('"1"', 200),
        ("1", 200),  # the contract's short form
        ('"7", "1"', 200),  # a list: one names the version
        ("*", 200),
        ('W/"1"', 412),  # weak tags never match If-Match
        ('W/"1", "7"', 412),
        ('"7"', 412),
    ],
)
def test_if_match_compares_strongly_and_takes_lists(a: Api, if_match: str, status: int):
    got, body = whistle(a, if_match)
    assert got == status, body
    if status == 412:
        assert body["error"]["code"] == "version_conflict"
        assert body["error"]["details"]["current_version"] == 1


def test_a_malformed_if_match_is_refused_and_changes_nothing(a: Api):
    issue = a.report(WORKER)
    r = a.client.post(
        f"/issues/{issue['id']}/actions/blow_whistle",
        json={"departments": ["housing"]},
        headers=a.h(STAFF, **{"If-Match": '"1'}),
    )
    assert r.status_code == 422 and "If-Match" in r.json()["error"]["details"]["fields"]
    again = a.client.get(f"/issues/{issue['id']}", headers=a.h(STAFF)).json()
    assert again["version"] == 1


def test_if_none_match_answers_304_until_the_issue_changes(a: Api):
    issue = a.report(WORKER)
    url = f"/issues/{issue['id']}"
    first = a.client.get(url, headers=a.h(STAFF))
    tag = first.headers["etag"]
    for header in (tag, f"W/{tag}", f'"9", {tag}', "*"):
        r = a.client.get(url, headers=a.h(STAFF, **{"If-None-Match": header}))
        assert r.status_code == 304 and r.content == b"", header
        assert r.headers["etag"] == tag
    a.act(issue["id"], "blow_whistle", STAFF, departments=["housing"])
    r = a.client.get(url, headers=a.h(STAFF, **{"If-None-Match": tag}))
    assert r.status_code == 200 and r.json()["version"] == 2 and r.headers["etag"] == '"2"'


def test_answers_that_differ_by_caller_say_so(a: Api):
    issue = a.report(WORKER)
    url = f"/issues/{issue['id']}"
    worker, staff = (a.client.get(url, headers=a.h(p)) for p in (WORKER, STAFF))
    assert worker.headers["etag"] == staff.headers["etag"]
    assert worker.json()["allowed_actions"] != staff.json()["allowed_actions"]
    for r in (worker, staff, a.client.get("/me/queue", headers=a.h(STAFF))):
        assert "authorization" in r.headers["vary"].lower()
    assert "private" in worker.headers["cache-control"]


def test_405_lists_every_allowed_method(a: Api):
    r = a.client.patch("/subscriptions", headers=a.h(STAFF))
    assert r.status_code == 405
    assert {m.strip() for m in r.headers["allow"].split(",")} >= {"GET", "POST"}
    r = a.client.delete("/issues", headers=a.h(STAFF))
    assert {m.strip() for m in r.headers["allow"].split(",")} >= {"GET", "POST"}


def test_no_cross_origin_calls_unless_configured(a: Api):
    r = a.client.options(
        "/issues",
        headers={"Origin": APP, "Access-Control-Request-Method": "POST"},
    )
    assert "access-control-allow-origin" not in r.headers
    r = a.client.get("/me/queue", headers=a.h(STAFF, Origin=APP))
    assert "access-control-allow-origin" not in r.headers


def test_a_configured_origin_gets_preflights_and_readable_headers(store_url: str):
    settings = Settings(database_url=store_url, cors_origins=(APP,))
    with api(store_url, settings=settings) as a:
        pre = a.client.options(
            "/issues/x/actions/blow_whistle",
            headers={
                "Origin": APP,
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "authorization, content-type, if-match",
            },
        )
        assert pre.status_code == 200
        assert pre.headers["access-control-allow-origin"] == APP
        assert "POST" in pre.headers["access-control-allow-methods"]
        assert "if-match" in pre.headers["access-control-allow-headers"].lower()
        issue = a.client.post(
            "/issues",
            json={"grid_id": "g1", "category": "sanitation", "description": "rubbish"},
            headers=a.h(WORKER, Origin=APP),
        )
        assert issue.status_code == 201
        assert issue.headers["access-control-allow-origin"] == APP
        assert "etag" in issue.headers["access-control-expose-headers"].lower()
        other = a.client.options(
            "/issues",
            headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
        )
        assert other.status_code == 400 and "access-control-allow-origin" not in other.headers


def test_cors_origins_are_read_from_the_environment():
    assert origins("https://a.example, http://localhost:3000") == (
        "https://a.example",
        "http://localhost:3000",
    )
    assert origins("") == ()
    with pytest.raises(ValueError, match="not an origin"):
        origins("a.example/path")
    env = {"GRIDFLOW_CORS_ORIGINS": "https://a.example"}
    assert Settings.from_env(env).cors_origins == ("https://a.example",)


@pytest.mark.parametrize(
    "authorization",
    [None, "", "Bearer", "Bearer   ", "Basic d29ya2VyOnB3", "Token abc", "Bearer not-a-token"],
)
def test_anything_but_a_known_bearer_token_is_401_with_the_bearer_challenge(
    a: Api, authorization: str | None
):
    headers = {} if authorization is None else {"Authorization": authorization}
    got = a.client.get("/me/queue", headers=headers)
    assert got.status_code == 401 and got.headers["www-authenticate"] == "Bearer"
    assert got.json()["error"]["code"] == "unauthenticated"


def test_the_scheme_is_case_insensitive_and_the_docs_offer_the_bearer_scheme(a: Api):
    token = a.token(WORKER)
    assert (
        a.client.get("/me/queue", headers={"Authorization": f"bearer {token}"}).status_code == 200
    )
    doc = a.client.get("/openapi.json").json()
    assert doc["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http",
        "scheme": "bearer",
        "description": "a token minted by `gridflow token create` (docs: Authentication)",
    }
    assert doc["paths"]["/me/queue"]["get"]["security"] == [{"bearerAuth": []}]
    assert doc["paths"]["/healthz"]["get"]["security"] == []
