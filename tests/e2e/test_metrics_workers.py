"""Prometheus: the process's own figures, how far the workers are behind the log
(views, audit chain, webhook outbox), and under `serve --workers N` one set of request
counters summed over the processes."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.http.support import Api, api
from tests.support import AUDITOR, WORKER

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def a(store_url: str) -> Iterator[Api]:
    with api(store_url) as client:
        yield client


def samples(text: str) -> dict[str, float]:
    return {
        s.name + (str(sorted(s.labels.items())) if s.labels else ""): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_metrics_show_the_process_and_the_workers_backlogs(a: Api):
    a.report(WORKER)
    text = a.client.get("/metrics", headers=a.h(AUDITOR)).text
    got = samples(text)
    assert got["process_resident_memory_bytes"] > 0
    assert got["gridflow_log_head_position"] == a.container.service.head()
    assert got["gridflow_audit_lag_positions"] > 0  # nothing hashed yet: no audit worker here
    assert got["gridflow_outbox_backlog"] == 0
    a.container.audit.catch_up()
    a.container.views.wait_for(a.container.service.head(), timeout=30)
    got = samples(a.client.get("/metrics", headers=a.h(AUDITOR)).text)
    assert got["gridflow_audit_lag_positions"] == 0
    assert got["gridflow_projection_lag_positions"] == 0


SCRIPT = """
import sys
from fastapi.testclient import TestClient
from api.app import create_app
from gridflow.settings import Settings
from gridflow.container import Container
c = Container(Settings(database_url=sys.argv[1]))
client = TestClient(create_app(c.services()))
for _ in range(int(sys.argv[2])):
    assert client.get("/healthz").status_code == 200
if sys.argv[3] == "scrape":
    print(client.get("/metrics").text)
c.close()
"""


def test_the_processes_of_serve_workers_share_one_set_of_counters(tmp_path: Path):
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "metrics")}
    (tmp_path / "metrics").mkdir()
    url = f"sqlite:///{tmp_path}/g.db"

    def process(n: int, then: str) -> str:
        run = subprocess.run(
            [sys.executable, "-c", SCRIPT, url, str(n), then],
            env=env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert run.returncode == 0, run.stderr
        return run.stdout

    process(3, "-")
    process(2, "-")
    text = process(1, "scrape")
    key = "gridflow_http_requests_total" + str(
        sorted({"method": "GET", "route": "/healthz", "status": "200"}.items())
    )
    assert samples(text)[key] == 6  # three processes' requests, summed
    assert "gridflow_outbox_backlog" in text  # the store's figures once
