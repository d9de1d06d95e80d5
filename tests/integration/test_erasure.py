"""Erasing a reporter's contact details keeps the chain verifying, and the phone number
is then absent from the stored events, every view, the history answer and an export."""

from __future__ import annotations

from pathlib import Path

from projections.audit_read import export, verify
from projections.views import TABLES
from tests.http.support import api
from tests.support import RESIDENT, STAFF, P

PHONE = "13912345678"


def test_erasure(store_url: str, tmp_path: Path):
    with api(store_url) as a:
        issue = a.report(RESIDENT, reporter={"name": "Wang", "phone": PHONE})
        i = issue["id"]
        a.act(i, "coordinate", STAFF, lead_party="property company")
        seen = a.client.get(f"/issues/{i}", headers=a.h(STAFF)).json()["reporter"]
        assert seen == {"name": "Wang", "phone": PHONE}
        history = a.client.get(f"/issues/{i}/history", headers=a.h(STAFF)).json()["events"]
        assert history[0]["data"]["reporter"]["phone"] == PHONE
        outsider = a.client.get(f"/issues/{i}", headers=a.h(P("grid_worker", "g2"))).json()
        assert outsider["reporter"] is None  # sees the issue, not the person

        admin = P("admin", "c1")
        r = a.client.post("/privacy/erasures", json={"phone": PHONE}, headers=a.h(admin))
        assert r.status_code == 200 and r.json() == {"erased": True}
        assert (
            a.client.post(
                "/privacy/erasures", json={"phone": PHONE}, headers=a.h(STAFF)
            ).status_code
            == 403
        )

        c = a.container
        c.engine.catch_up()
        c.audit.catch_up()
        c.audit.checkpoint()
        assert a.client.get(f"/issues/{i}", headers=a.h(STAFF)).json()["reporter"] == {
            "erased": True
        }
        text = a.client.get(f"/issues/{i}/history", headers=a.h(STAFF)).text
        assert PHONE not in text and '"erased":true' in text
        assert verify(c.audit)["ok"]
        out = tmp_path / "export.jsonl"
        export(c.audit, out)
        assert PHONE not in out.read_text()
        prefix = f"gv{c.engine.active()}_"
        tables = ["gridflow_audit_trail", *(prefix + t for t in TABLES)]
        for row in c.audit.stream():
            assert PHONE.encode() not in row.state and b"Wang" not in row.state
        with c.db.transaction(write=False) as cur:
            for table in tables:
                cur.execute(f"SELECT * FROM {table}")
                assert PHONE not in str(cur.fetchall()), table
        events = a.client.get(f"/audit/events?issue={i}", headers=a.h(P("auditor", "c1")))
        assert PHONE not in events.text
