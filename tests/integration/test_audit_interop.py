"""An outside auditor's view of the tamper-evident log: an independent checker
(`tests/interop/tlog.py`, written from the C2SP and RFC 9162 texts, importing nothing
of the project) reads every checkpoint, leaf and proof over HTTP and checks them,
at older tree sizes as well as the newest, on both stores."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from gridflow.container import Container
from gridflow.settings import Settings
from tests.interop import tlog
from tests.support import AUDITOR, ORG, STAFF, SUPERVISOR, WORKER, Clock, report

EVERY = 5


def build(url: str, tmp_path: Path) -> Container:
    settings = Settings(
        database_url=url,
        audit_key_file=str(tmp_path / "audit.key"),
        evidence_dir=str(tmp_path / "evidence"),
        checkpoint_every=EVERY,
        audit_origin="example.org/weihai",
    )
    c = Container(settings, clock=Clock())
    c.service.load_org(ORG)
    for n in range(5):
        i = report(c.service, WORKER, description=f"issue {n}")
        c.service.act(i, "blow_whistle", STAFF, {"departments": ["housing"]})
    c.audit.catch_up()
    c.audit.checkpoint()  # and one at the head, between promised sizes
    return c


def http(c: Container) -> tuple[TestClient, tlog.Get]:
    client = TestClient(create_app(c.services()))
    headers = {"Authorization": f"Bearer {c.tokens.create(AUDITOR)}"}

    def get(path: str) -> Any:
        r = client.get(path, headers=headers)
        assert r.status_code == 200, (path, r.text)
        return r.json()

    return client, get


def test_an_independent_checker_verifies_every_checkpoint_and_proof(store_url: str, tmp_path: Path):
    c = build(store_url, tmp_path)
    client, get = http(c)
    checked = tlog.check_log(get, "example.org/weihai")
    size = get("/audit/checkpoints")["checkpoints"][-1]["tree_size"]
    assert size % EVERY != 0 and checked["checkpoints"] == size // EVERY + 1
    assert checked["inclusions"] == sum(n for n in [*range(EVERY, size + 1, EVERY), size])
    client.close()
    c.close()


def test_proofs_at_an_older_size_name_that_sizes_root(store_url: str, tmp_path: Path):
    c = build(store_url, tmp_path)
    client, get = http(c)
    first = get("/audit/checkpoints")["checkpoints"][0]
    leaf = get("/audit/leaves?start=0&limit=1")["items"][0]
    proof = get(
        f"/audit/proofs/inclusion?position={leaf['position']}&tree_size={first['tree_size']}"
    )
    assert proof["root_hash_base64"] == first["root_hash"]
    assert base64.b64encode(bytes.fromhex(proof["root_hash"])).decode() == first["root_hash"]
    cons = get(f"/audit/proofs/consistency?from={first['tree_size']}&to={first['tree_size'] + 1}")
    assert cons["old_root_base64"] == first["root_hash"]
    assert cons["new_root"] != proof["root_hash"]
    client.close()
    c.close()


def test_the_checker_rejects_a_proof_against_another_root(store_url: str, tmp_path: Path):
    c = build(store_url, tmp_path)
    client, get = http(c)
    cps = get("/audit/checkpoints")["checkpoints"]
    old, new = cps[0], cps[-1]
    leaf = get("/audit/leaves?start=1&limit=1")["items"][0]
    p = get(f"/audit/proofs/inclusion?position={leaf['position']}&tree_size={old['tree_size']}")
    path = [base64.b64decode(h) for h in p["audit_path_base64"]]
    leaf_hash = tlog.leaf_hash(base64.b64decode(leaf["leaf_input"]))
    assert leaf_hash.hex() == leaf["leaf_hash"]
    tlog.verify_inclusion(1, old["tree_size"], leaf_hash, path, base64.b64decode(old["root_hash"]))
    with pytest.raises(tlog.Rejected):
        tlog.verify_inclusion(
            1, old["tree_size"], leaf_hash, path, base64.b64decode(new["root_hash"])
        )
    client.close()
    c.close()


def test_leaf_bytes_are_for_auditors(store_url: str, tmp_path: Path):
    c = build(store_url, tmp_path)
    client = TestClient(create_app(c.services()))
    r = client.get(
        "/audit/leaves", headers={"Authorization": f"Bearer {c.tokens.create(SUPERVISOR)}"}
    )
    assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden_role"
    client.close()
    c.close()


def test_a_store_without_stored_subtrees_gets_them_and_proves_the_same(
    store_url: str, tmp_path: Path
):
    c = build(store_url, tmp_path)
    client, get = http(c)
    size = get("/audit/checkpoints")["checkpoints"][-1]["tree_size"]
    before = get(f"/audit/proofs/consistency?from=3&to={size}")
    with c.db.transaction() as cur:  # as earlier code left it: leaves, no subtrees
        cur.execute("DELETE FROM gridflow_audit_nodes")
    assert get(f"/audit/proofs/consistency?from=3&to={size}") == before  # from the leaves
    report(c.service, WORKER, description="one more")
    c.audit.catch_up()
    with c.db.transaction() as cur:
        cur.execute("SELECT COUNT(*) FROM gridflow_audit_nodes")
        n = size + 1  # a tree of n leaves has n - popcount(n) perfect subtrees above them
        assert cur.fetchone()[0] == n - bin(n).count("1")
    assert get(f"/audit/proofs/consistency?from=3&to={size}") == before
    client.close()
    c.close()
