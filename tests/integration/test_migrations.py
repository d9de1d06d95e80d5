"""The side tables' schema is versioned (stores/migrations/, applied on start and by
`gridflow db migrate`), on both stores: from an empty database, and from the previous
release's schema (the fixture store), whose positions, tokens and chain carry over."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path
from typing import Any

import psycopg
import pytest

from domain.principals import Principal, Role
from gridflow.cli import main
from gridflow.container import Container
from gridflow.settings import Settings
from stores.db import Database
from stores.schema import migrate, pending
from tests.integration.test_fixture_store import DB, FIXTURE, restore
from tests.support import Clock, process_env

ALL = ["0001.side-tables", "0002.tracking", "0003.audit-nodes"]


def test_an_empty_database_is_brought_to_the_schema_by_the_command(
    store_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
):
    for name, value in process_env(store_url, tmp_path).items():
        monkeypatch.setenv(name, value)
    assert main(["db", "migrate"]) == 0
    out = capsys.readouterr().out
    assert all(f"applied {m}" in out for m in ALL)
    assert main(["db", "migrate"]) == 0  # nothing left to apply
    assert "applied" not in capsys.readouterr().out.replace("up to date", "")
    c = Container(Settings.from_env(), clock=Clock())
    try:
        token = c.tokens.create(Principal("admin", Role.ADMIN, "c1"))
        assert c.tokens.principal(token) == Principal("admin", Role.ADMIN, "c1")
        assert pending(c.db) == []
    finally:
        c.close()


def test_a_store_of_the_previous_release_keeps_its_positions(store_url: str, tmp_path: Path):
    root = tmp_path / "fixture"
    shutil.copytree(FIXTURE, root, ignore=shutil.ignore_patterns("postgres.sql", "*.json"))
    if store_url.startswith("sqlite"):
        store_url = f"sqlite:///{root / DB}"
    else:
        restore(store_url)
    db = Database(store_url)
    try:
        with db.transaction(write=False) as cur:
            cur.execute("SELECT generation, position FROM gridflow_view_positions")
            views = {int(g): int(p) for g, p in cur.fetchall()}
            cur.execute("SELECT position FROM gridflow_outbox_position")
            outbox = int(cur.fetchone()[0])
            cur.execute("SELECT position FROM gridflow_audit_head")
            audit = int(cur.fetchone()[0])
        assert pending(db) == ALL
        assert migrate(db) == ALL
        with db.transaction(write=False) as cur:
            cur.execute("SELECT projection, generation, position FROM gridflow_tracking")
            tracked = {(n, int(g)): int(p) for n, g, p in cur.fetchall()}
            cur.execute("SELECT COUNT(*) FROM gridflow_tokens")
            tokens = int(cur.fetchone()[0])
        assert tracked == {
            **{("views", g): p for g, p in views.items()},
            ("outbox", 0): outbox,
            ("audit", 0): audit,
        }
        assert tokens > 0  # what the log cannot rebuild is still there
        assert migrate(db) == []
        gone = (sqlite3.OperationalError, psycopg.errors.UndefinedTable)
        with pytest.raises(gone), db.transaction(write=False) as cur:  # taken over
            cur.execute("SELECT * FROM gridflow_view_positions")
    finally:
        db.close()
    assert audit > 0 and views, "the fixture store has positions to carry over"
