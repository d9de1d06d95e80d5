"""A log keeps the origin its checkpoints name (witnesses tell logs apart by it); a
new PostgreSQL log must be given one; a new SQLite log is `gridflow`."""

from __future__ import annotations

from pathlib import Path

import pytest

from gridflow.container import Container
from gridflow.settings import Settings
from tests.support import ORG, WORKER, Clock, report


def settings(url: str, tmp_path: Path, origin: str | None) -> Settings:
    return Settings(
        database_url=url,
        audit_key_file=str(tmp_path / "audit.key"),
        evidence_dir=str(tmp_path / "evidence"),
        audit_origin=origin,
    )


def test_a_log_keeps_the_origin_it_has(store_url: str, tmp_path: Path):
    c = Container(settings(store_url, tmp_path, "example.org/weihai"), clock=Clock())
    c.service.load_org(ORG)
    report(c.service, WORKER)
    c.audit.catch_up()
    c.audit.checkpoint()
    c.close()
    again = Container(settings(store_url, tmp_path, None), clock=Clock())
    assert again.audit.origin == again.audit.signer.name == "example.org/weihai"
    report(again.service, WORKER)
    again.audit.catch_up()
    note = again.audit.checkpoint()
    assert note is not None and note["note"].startswith("example.org/weihai\n")
    again.close()
    other = Container(settings(store_url, tmp_path, "example.org/other"), clock=Clock())
    with pytest.raises(ValueError, match="a log keeps its origin"):
        _ = other.audit  # the container builds its parts on first use (serve: at start)
    other.close()


def test_a_new_log_is_named(store_url: str, tmp_path: Path):
    if store_url.startswith("sqlite"):
        c = Container(settings(store_url, tmp_path, None), clock=Clock())
        assert c.audit.origin == "gridflow"
        c.close()
        return
    c = Container(settings(store_url, tmp_path, None), clock=Clock())
    with pytest.raises(ValueError, match="GRIDFLOW_AUDIT_ORIGIN"):
        _ = c.audit  # the container builds its parts on first use (serve: at start)
    c.close()
