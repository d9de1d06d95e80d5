"""The tamper-evident log: tampering is found at the right position; exports verify
offline; a later checkpoint provably extends an earlier one."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from gridflow.container import Container
from gridflow.settings import Settings
from projections import merkle
from projections.audit_read import checkpoints, consistency, export, inclusion, verify
from tests.support import HOUSING, ORG, STAFF, WORKER, Clock, report

ROOT = Path(__file__).resolve().parents[2]
VERIFIER = ROOT / "tools" / "verify_audit_export.py"


def build(url: str) -> Container:
    c = Container(Settings(database_url=url), clock=Clock())
    c.service.load_org(ORG)
    for n in range(6):
        i = report(c.service, WORKER, description=f"issue {n}")
        c.service.act(i, "blow_whistle", STAFF, {"departments": ["housing"]})
        c.service.act(i, "report_in", HOUSING)
    c.audit.catch_up()
    c.audit.checkpoint()
    return c


class Superuser:
    """Raw access to the events table, bypassing the append-only triggers."""

    def __init__(self, c: Container) -> None:
        self.c = c
        self.pg = c.db.dialect == "postgres"
        self.table = "gridflow_events" if self.pg else "stored_events"
        self.pos = "notification_id" if self.pg else "rowid"

    def run(self, fn: Any) -> None:
        with self.c.db.transaction() as cur:
            if self.pg:
                cur.execute("SET LOCAL session_replication_role = replica")
            fn(cur)

    def row(self, cur: Any, position: int) -> tuple[Any, ...]:
        cur.execute(
            f"SELECT originator_id, originator_version, topic, state FROM {self.table} "
            f"WHERE {self.pos} = %s",
            (position,),
        )
        return tuple(cur.fetchone())

    def delete(self, cur: Any, position: int) -> None:
        cur.execute(f"DELETE FROM {self.table} WHERE {self.pos} = %s", (position,))

    def insert(self, cur: Any, position: int, row: tuple[Any, ...]) -> None:
        cur.execute(
            f"INSERT INTO {self.table} ({self.pos}, originator_id, originator_version, "
            "topic, state) VALUES (%s, %s, %s, %s, %s)",
            (position, *row),
        )


def positions(c: Container) -> list[int]:
    return [r.position for r in c.audit.stream()]


def test_an_untouched_log_verifies(store_url: str):
    c = build(store_url)
    result = verify(c.audit)
    assert result["ok"] and result["checked"] == len(positions(c)) and result["head"]
    assert result["first_bad_position"] is None


def test_one_changed_byte_is_found_at_its_position(store_url: str):
    c = build(store_url)
    p = positions(c)[7]
    su = Superuser(c)

    def flip(cur: Any) -> None:
        state = bytes(su.row(cur, p)[3])
        changed = state.replace(b"housing", b"Housing", 1)
        assert changed != state
        cur.execute(f"UPDATE {su.table} SET state = %s WHERE {su.pos} = %s", (changed, p))

    su.run(flip)
    assert verify(c.audit)["first_bad_position"] == p


def test_a_deleted_event_is_found(store_url: str):
    c = build(store_url)
    p = positions(c)[5]
    Superuser(c).run(lambda cur: Superuser(c).delete(cur, p))
    result = verify(c.audit)
    assert not result["ok"] and result["first_bad_position"] == p


def test_an_inserted_event_is_found(store_url: str):
    c = Container(Settings(database_url=store_url), clock=Clock())
    c.service.load_org(ORG)
    ids = [report(c.service, WORKER, description=f"issue {n}") for n in range(5)]
    su = Superuser(c)
    gap = positions(c)[3]
    kept: list[tuple[Any, ...]] = []
    su.run(lambda cur: kept.append(su.row(cur, gap)))
    su.run(lambda cur: su.delete(cur, gap))  # a gap, as a failed insert leaves one
    c.audit.catch_up()
    c.audit.checkpoint()
    assert verify(c.audit)["ok"]
    su.run(lambda cur: su.insert(cur, gap, kept[0]))  # slipped in afterwards
    assert verify(c.audit)["first_bad_position"] == gap
    assert ids


def test_two_reordered_events_are_found(store_url: str):
    c = build(store_url)
    a, b = positions(c)[4], positions(c)[9]
    su = Superuser(c)

    def swap(cur: Any) -> None:
        ra, rb = su.row(cur, a), su.row(cur, b)
        su.delete(cur, a)
        su.delete(cur, b)
        su.insert(cur, a, rb)
        su.insert(cur, b, ra)

    su.run(swap)
    assert verify(c.audit)["first_bad_position"] == a


def test_proofs_check_against_the_signed_roots(store_url: str):
    c = build(store_url)
    cps = checkpoints(c.audit)["checkpoints"]
    size = cps[-1]["tree_size"]
    p = positions(c)[3]
    proof = inclusion(c.audit, p, size)
    # RFC 9162 section 2.1.3.2: fold the audit path into a root.
    r, fn, sn = bytes.fromhex(proof["leaf_hash"]), proof["leaf_index"], size - 1
    for sibling in map(bytes.fromhex, proof["audit_path"]):
        assert sn != 0
        if fn & 1 or fn == sn:
            r = merkle.node_hash(sibling, r)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            r = merkle.node_hash(r, sibling)
        fn, sn = fn >> 1, sn >> 1
    assert sn == 0 and r.hex() == proof["root_hash"]
    assert base64.b64encode(bytes.fromhex(proof["root_hash"])).decode() == cps[-1]["root_hash"]
    proof2 = consistency(c.audit, 5, size)
    assert proof2["new_root"] == proof["root_hash"] and proof2["proof"]


def run_verifier(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(VERIFIER), *args], capture_output=True, text=True, timeout=120
    )


def test_an_export_verifies_offline_and_a_tampered_one_does_not(store_url: str, tmp_path: Path):
    c = build(store_url)
    first = tmp_path / "first.jsonl"
    export(c.audit, first)
    key = base64.b64encode(c.audit.signer.public).decode()
    ok = run_verifier(str(first), "--key", key)
    assert ok.returncode == 0, ok.stdout + ok.stderr

    lines = first.read_text().splitlines()
    at = next(
        i
        for i, line in enumerate(lines)
        if '"topic": "domain.issue:Issue.Reported"' in line and i > 3
    )
    event = json.loads(lines[at])
    state = base64.b64decode(event["state"]).replace(b"issue", b"ISSUE", 1)
    assert base64.b64decode(event["state"]) != state
    event["state"] = base64.b64encode(state).decode()
    lines[at] = json.dumps(event)
    tampered = tmp_path / "tampered.jsonl"
    tampered.write_text("\n".join(lines) + "\n")
    bad = run_verifier(str(tampered), "--key", key)
    assert bad.returncode == 1 and f"position {event['position']}" in bad.stdout

    for n in range(3):  # the log grows; a new export must extend the first
        report(c.service, WORKER, description=f"later {n}")
    second = tmp_path / "second.jsonl"
    export(c.audit, second)
    extends = run_verifier(str(second), "--key", key, "--previous", str(first))
    assert extends.returncode == 0 and "extends" in extends.stdout, extends.stdout
    forged = run_verifier(str(second), "--key", base64.b64encode(bytes(32)).decode())
    assert forged.returncode == 1
