"""On PostgreSQL the service's own role cannot rewrite its log."""

from __future__ import annotations

from urllib.parse import urlparse, urlunparse

import psycopg
import pytest

from gridflow.container import Container
from gridflow.dbsetup import secure
from gridflow.settings import Settings
from tests.support import ORG, WORKER, Clock, report

SERVICE, OWNER = "gridflow_test_service", "gridflow_test_owner"


def as_role(url: str, role: str) -> str:
    return urlunparse(
        urlparse(url)._replace(netloc=f"{role}@{urlparse(url).netloc.split('@')[-1]}")
    )


def test_the_service_role_appends_but_cannot_update_delete_or_truncate(postgres_url: str):
    secure(postgres_url, SERVICE, OWNER)
    service_url = as_role(postgres_url, SERVICE)
    c = Container(Settings(database_url=service_url), clock=Clock())
    c.service.load_org(ORG)
    i = report(c.service, WORKER)
    c.service.act(i, "handle_on_spot", WORKER)  # saving takes the table lock: granted
    c.audit.catch_up()
    c.audit.checkpoint()
    c.engine.catch_up()
    assert c.service.get(i).state == "on_spot"
    c.close()
    with psycopg.connect(service_url, autocommit=True) as conn:
        before = conn.execute(
            "SELECT count(*), max(notification_id) FROM gridflow_events"
        ).fetchone()
        for statement in (
            "UPDATE gridflow_events SET topic = 'x'",
            "DELETE FROM gridflow_events",
            "TRUNCATE gridflow_events",
            "DELETE FROM gridflow_audit_leaves",
            "UPDATE gridflow_audit_checkpoints SET root = 'x'",
            "DROP TRIGGER gridflow_events_no_update_delete ON gridflow_events",
            "ALTER TABLE gridflow_events DISABLE TRIGGER ALL",
            "DROP TABLE gridflow_events",
        ):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(statement)
        after = conn.execute(
            "SELECT count(*), max(notification_id) FROM gridflow_events"
        ).fetchone()
        assert after == before
    assert secure(postgres_url, SERVICE, OWNER)  # running the set-up again is harmless
