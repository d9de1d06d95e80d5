"""The one end-to-end smoke test over a real server: `gridflow serve` in its own process,
driven over loopback HTTP through a small matter's whole life, its views caught up."""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.e2e.server import Service


def test_a_real_server_takes_a_small_matter_from_report_to_verified(tmp_path: Path) -> None:
    svc = Service(f"sqlite:///{tmp_path}/gridflow.db", tmp_path)
    svc.start()
    try:
        with httpx.Client(base_url=svc.base, timeout=10) as client:
            body = {"grid_id": "g1", "category": "sanitation", "description": "rubbish"}
            r = client.post("/issues", json=body, headers=svc.h("worker"))
            assert r.status_code == 201, r.text
            issue = r.json()["id"]
            for action, who, data, state in (
                ("handle_on_spot", "worker", {}, "on_spot"),
                ("resolve", "worker", {"resolution": "bins emptied"}, "resolved"),
                ("verify", "staff", {}, "closed"),
            ):
                r = client.post(f"/issues/{issue}/actions/{action}", json=data, headers=svc.h(who))
                assert (r.status_code, r.json()["state"]) == (200, state), r.text
            position = r.headers["X-Log-Position"]
            listed = client.get(f"/issues?after={position}", headers=svc.h("staff"))
            assert listed.status_code == 200
            assert [(i["id"], i["state"]) for i in listed.json()["items"]] == [(issue, "closed")]
            assert client.get("/readyz").status_code == 200
    finally:
        svc.stop()
