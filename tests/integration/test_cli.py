"""The command line: demo, org load, tokens, diagram."""

from __future__ import annotations

import json

import pytest

from domain.errors import IssueNotFound
from domain.workflow import STATES, mermaid
from gridflow import demo
from gridflow.cli import main
from gridflow.container import Container
from gridflow.settings import Settings


@pytest.fixture
def db_env(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path}/cli.db"
    monkeypatch.setenv("GRIDFLOW_DATABASE_URL", url)
    return url


def test_demo_loads_issues_in_every_state_and_prints_a_token_per_role(db_env, capsys):
    assert main(["demo"]) == 0
    out = capsys.readouterr().out
    for role in demo.PRINCIPALS:
        assert f"  {role} " in out
    c = Container(Settings(database_url=db_env))
    states = set()
    for n in range(1, 100):
        try:
            states.add(c.service.get(demo.demo_issue_id(n)).state)
        except IssueNotFound:
            break
    assert states == set(STATES)
    c.close()


def test_org_load_refuses_a_bad_file_whole_and_lists_every_problem(db_env, tmp_path, capsys):
    bad = tmp_path / "org.json"
    bad.write_text(
        json.dumps(
            {
                "nodes": [
                    {"id": "c1", "name": "City", "kind": "city", "parent": None},
                    {"id": "g1", "name": "Grid", "kind": "grid", "parent": "c1"},
                    {"id": "x", "name": "X", "kind": "planet", "parent": None},
                ],
                "departments": [{"id": "c1", "name": "dup"}],
            }
        )
    )
    assert main(["org", "load", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "kind: one of" in err and "parent must be a community" in err and "twice" in err
    good = tmp_path / "good.json"
    good.write_text(json.dumps(demo.organisation()))
    assert main(["org", "load", str(good)]) == 0
    assert main(["org", "load", str(good)]) == 0
    assert "no change" in capsys.readouterr().out


def test_tokens_are_minted_listed_and_revoked(db_env, capsys):
    assert main(["demo"]) == 0  # a token's scope is a node of the loaded organisation
    assert (
        main(
            [
                "token",
                "create",
                "--principal",
                "p1",
                "--role",
                "grid_worker",
                "--scope",
                demo.GRID,
                "--expires",
                "1d",
            ]
        )
        == 0
    )
    token = capsys.readouterr().out.strip().splitlines()[-1]
    assert token.startswith("gf_")
    assert main(["token", "list"]) == 0
    listing = capsys.readouterr().out
    assert "p1" in listing and token not in listing  # only ids, never the token
    assert main(["token", "revoke", token]) == 0
    c = Container(Settings(database_url=db_env))
    assert c.tokens.principal(token) is None
    c.close()


def test_diagram_prints_the_table(capsys):
    assert main(["diagram"]) == 0
    out = capsys.readouterr().out
    assert out == mermaid()
    for state in STATES:
        assert state in out


def test_audit_verify_export_and_replay(db_env, tmp_path, capsys):
    assert main(["demo"]) == 0
    assert main(["audit", "verify"]) == 0
    assert '"ok": true' in capsys.readouterr().out
    out = tmp_path / "log.jsonl"
    assert main(["audit", "export", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "signed checkpoint" in printed and out.stat().st_size > 0
    issue = str(demo.demo_issue_id(4))  # the water-leak whistle
    assert main(["audit", "replay", issue, "--version", "2"]) == 0
    replay = capsys.readouterr().out
    assert "at version 2: whistle_blown" in replay
    assert " blow_whistle " in replay and " acknowledge " not in replay


def test_the_version_flag_prints_the_installed_version(capsys):
    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0
    assert capsys.readouterr().out.strip().startswith("gridflow 0.")


def test_an_unreachable_store_is_one_line_not_a_traceback(monkeypatch, capsys):
    for name, value in {
        "GRIDFLOW_DATABASE_URL": "postgresql://nobody:secret@127.0.0.1:1/nothing",
        "GRIDFLOW_AUDIT_KEY": "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
        "GRIDFLOW_AUDIT_ORIGIN": "gridflow",
        "GRIDFLOW_SUBJECT_KEY": "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
        "GRIDFLOW_EVIDENCE_DIR": "/srv/shared/evidence",
    }.items():
        monkeypatch.setenv(name, value)
    assert main(["token", "list"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: the store at postgresql://nobody:***@")
    assert "secret" not in err[0] and "Traceback" not in err[0]


def test_token_list_opens_only_the_tokens_not_the_views(db_env, capsys):
    assert main(["demo"]) == 0
    c = Container(Settings(database_url=db_env))
    c.engine.catch_up()
    with c.db.transaction() as cur:  # views built by other code: the next start rebuilds
        cur.execute("UPDATE gridflow_view_schema SET version = 'older code'")
    capsys.readouterr()
    assert main(["token", "list"]) == 0
    assert "grid-worker-zhang" in capsys.readouterr().out
    with c.db.transaction(write=False) as cur:
        cur.execute("SELECT version FROM gridflow_view_schema")
        assert [v for (v,) in cur.fetchall()] == ["older code"]  # not rebuilt for a listing
        cur.execute("SELECT active FROM gridflow_view_generation")
        assert cur.fetchone()[0] == 1
    c.close()


def test_report_monthly_freezes_once_and_reads_the_same(db_env, tmp_path, capsys):
    assert main(["demo"]) == 0
    capsys.readouterr()
    args = ["report", "monthly", "--month", "2025-01", "--node", "weihai"]
    assert main([*args, "--format", "csv"]) == 0
    first = capsys.readouterr().out
    assert first.lstrip("\ufeff").startswith("section,row,field,value\n")
    assert "report,,month,2025-01" in first
    assert main([*args, "--format", "csv"]) == 0
    assert capsys.readouterr().out == first
    assert main([*args, "--format", "xlsx"]) == 2  # a workbook needs a file
    out = tmp_path / "r.xlsx"
    assert main([*args, "--format", "xlsx", "--out", str(out)]) == 0
    assert out.read_bytes()[:2] == b"PK"
    assert main(["report", "monthly", "--month", "2025-13"]) == 2
