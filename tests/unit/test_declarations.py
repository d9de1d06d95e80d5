"""Every place derived from the actions' declarations agrees with them, and a new action
is picked up everywhere by its declaration alone (docs/actions.md).

If one of these fails, a place was edited by hand: declare the change instead."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from fastapi import APIRouter, FastAPI
from fastapi.testclient import TestClient

from api import issues as issue_routes
from api.openapi import _inline, _schema, body_title
from api.workflow import form, workflow
from domain import actions as A
from domain import summary
from domain.declare import Action, Labels, Move
from domain.issue import EVENT_CLASSES, Issue
from domain.principals import Principal, Role
from domain.rules import FLAGGED, RULES
from domain.states import STATES
from domain.workflow import ACTION, CLIENT_ACTIONS, DECLARED, MACHINE, build_machine, mermaid
from projections.queries import RULE_SQL, queue_clause

ROOT = Path(__file__).resolve().parents[2]
STATIC = ROOT / "api" / "console" / "static"
DECLARED_IDS = [a.name for a in DECLARED]


@pytest.mark.parametrize("a", DECLARED, ids=DECLARED_IDS)
def test_each_declaration_is_whole(a: Action) -> None:
    assert a.name == a.event.ACTION and issubclass(a.event, Issue.Event)
    assert issubclass(a.data, A.ActionData)
    assert a.labels.zh and a.labels.en and a.labels.zh != a.labels.en
    assert all(s in STATES for m in a.moves for s in m.sources)
    assert all(m.dest == "=" or m.dest in STATES for m in a.moves)
    assert all(rule in RULES.values() for rule in a.rules)
    for role, conditions in a.queue.items():
        assert a.tiers_for(role) != (), f"{role} is queued for {a.name} but may not take it"
        assert all(rule in RULES.values() for rule in conditions)
    if a.client:
        assert a.decide is not None
    if a.example:
        A.parse(a.data, dict(a.example))  # the documented example is valid data
    if a.fold is not None:  # folds are the summary module's, named after the action
        assert getattr(summary, a.name) is a.fold


def test_the_issue_records_nothing_undeclared() -> None:
    assert set(EVENT_CLASSES) == {*ACTION, "duplicate_attached"}


@pytest.mark.parametrize("built", ["at import", "now"])
def test_the_transition_table_is_the_declared_moves(built: str) -> None:
    # built again here too: mutation testing changes only what runs during the tests
    machine = MACHINE if built == "at import" else build_machine(DECLARED)
    assert list(machine.states) == [str(s) for s in STATES]
    for a in DECLARED:
        for state in STATES:
            declared = {
                (m.dest if m.dest != "=" else state, (m.when,) if m.when else ())
                for m in a.moves
                if state in m.sources
            }
            allowed = {
                (t.dest or state, tuple(c.func for c in t.conditions))
                for t in machine.get_transitions(a.name, str(state))
            }
            assert allowed == declared, (a.name, state)
    assert set(machine.events) == {a.name for a in DECLARED if any(m.sources for m in a.moves)}


def test_the_committed_diagram_is_the_declared_one() -> None:
    assert mermaid() in (ROOT / "docs" / "workflow.md").read_text("utf-8")


def test_every_rule_has_its_sql() -> None:
    assert set(RULE_SQL) == set(RULES)


def test_the_openapi_document_has_one_typed_operation_per_action(
    client: TestClient,
) -> None:
    doc = client.get("/openapi.json").json()
    paths = doc["paths"]
    assert "/issues/{issue_id}/actions/{action}" not in paths
    for name in CLIENT_ACTIONS:
        op = paths[f"/issues/{{issue_id}}/actions/{name}"]["post"]
        assert op["operationId"] == name
        media = op["requestBody"]["content"]["application/json"]
        # A named component (`BlowWhistleBody`: what generated clients call it).
        ref = media["schema"]["$ref"].rsplit("/", 1)[1]
        schema = dict(doc["components"]["schemas"][ref])
        assert schema.pop("title") == ref == body_title(name)
        expected = _without_none(_inline(_schema(ACTION[name].data)))
        assert schema == {k: v for k, v in expected.items() if k != "title"}
        assert media.get("example", {}) == dict(ACTION[name].example)
    documented = {p.rsplit("/", 1)[1] for p in paths if p.startswith("/issues/{issue_id}/actions/")}
    assert documented == set(CLIENT_ACTIONS)


def _without_none(node: Any) -> Any:
    """As FastAPI writes the document: keys whose value is null left out."""
    if isinstance(node, dict):
        return {k: _without_none(v) for k, v in node.items() if v is not None}
    if isinstance(node, list):
        return [_without_none(v) for v in node]
    return node


def test_the_console_holds_no_action_of_its_own(client: TestClient) -> None:
    served = {a["name"]: a for a in client.get("/workflow").json()["actions"]}
    assert set(served) == set(ACTION)
    for name, a in served.items():
        assert a["labels"] == {"zh": ACTION[name].labels.zh, "en": ACTION[name].labels.en}
    code = (STATIC / "app.js").read_text("utf-8") + (STATIC / "index.html").read_text("utf-8")
    for name in CLIENT_ACTIONS:  # no form or label kept by hand
        assert not re.search(rf"\b{name}\s*:", code), name
        assert f"action.{name}" not in (STATIC / "i18n.js").read_text("utf-8")


def test_every_form_field_and_option_has_labels_in_both_languages() -> None:
    i18n = (STATIC / "i18n.js").read_text("utf-8")
    zh, en = i18n.split('"en": {', 1)
    for a in DECLARED:
        if not a.client:
            continue
        for f in form(a):
            for part in (zh, en):
                assert f'"field.{f.name}"' in part, (a.name, f.name)
                for option in f.options or []:
                    assert f'"opt.{option}"' in part, (a.name, option)


# -- a newcomer's action ------------------------------------------------------------------


class Remark(A.ActionData):
    text: A.Text


def _remark(issue: Any, p: Any, data: Any, ctx: Any, related: Any) -> Any:
    from domain.context import Decision

    return Decision(issue.state, issue.tier, {"text": data.text})


REMARK = Action(
    "remark",
    moves=(Move(("reported", "on_spot"), "="),),
    roles=frozenset({Role.GRID_LEADER}),
    data=Remark,
    event=Issue.Commented,
    labels=Labels("点评", "Remark"),
    decide=_remark,
    queue={Role.GRID_LEADER: (FLAGGED,)},
    example={"text": "seen on patrol"},
)


def test_a_new_declaration_is_picked_up_by_every_derived_place() -> None:
    declared = (*DECLARED, REMARK)
    machine = build_machine(declared)
    assert {t.dest or "reported" for t in machine.get_transitions("remark", "reported")} == {
        "reported"
    }
    remark_form = next(a for a in workflow(declared).actions if a.name == "remark")
    assert [(f.name, f.type, f.required) for f in remark_form.fields] == [
        ("text", "textarea", True)
    ]
    clause = queue_clause("gv1_", Principal("leader", Role.GRID_LEADER, "g1"), declared)
    assert clause is not None and "flagged = 1" in clause[0]
    router = APIRouter()
    issue_routes.add_action_routes(router, (REMARK,))
    app = FastAPI()
    app.include_router(router)
    op = app.openapi()["paths"]["/issues/{issue_id}/actions/remark"]["post"]
    assert op["operationId"] == "remark"
    assert op["requestBody"]["content"]["application/json"]["example"] == {"text": "seen on patrol"}


@pytest.fixture(scope="module")
def client() -> Any:
    from api.app import create_app
    from gridflow.container import Container
    from gridflow.settings import Settings

    c = Container(Settings(database_url="memory://"))
    with TestClient(create_app(c.services())) as tc:
        yield tc
    c.close()


def test_ratings_times_and_checklists_have_their_own_inputs() -> None:
    forms = {a.name: {f.name: f for f in a.fields} for a in workflow().actions}
    rating = forms["evaluate_department"]["timeliness"]
    assert (rating.type, rating.minimum, rating.maximum, rating.required) == ("number", 1, 5, True)
    assert forms["record_meeting"]["held_at"].type == "datetime"
    assert forms["resolve"]["checklist"].type == "checklist"
    assert forms["verify"]["checklist"].type == "checklist"
