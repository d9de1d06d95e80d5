"""A superuser without the signing key rewrites an event, recomputes the chain and
deletes the checkpoints that no longer match: `audit verify` still finds it, by the
checkpoint each one promised and by a checkpoint kept outside the database."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import orjson
import pytest

from gridflow.cli import main
from gridflow.container import Container
from gridflow.settings import Settings
from projections import merkle
from projections.audit import ZERO
from projections.audit_read import checkpoints, verify
from tests.integration.test_audit import Superuser
from tests.support import HOUSING, ORG, STAFF, WORKER, Clock, report

EVERY = 5


def build(url: str, tmp_path: Path) -> Container:
    settings = Settings(
        database_url=url,
        audit_key_file=str(tmp_path / "audit.key"),
        evidence_dir=str(tmp_path / "evidence"),
        checkpoint_every=EVERY,
    )
    c = Container(settings, clock=Clock())
    c.service.load_org(ORG)
    for n in range(6):
        i = report(c.service, WORKER, description=f"issue {n}")
        c.service.act(i, "blow_whistle", STAFF, {"departments": ["housing"]})
        c.service.act(i, "report_in", HOUSING)
    c.audit.catch_up()
    return c


def rewrite(c: Container, index: int, keep_entries: int | None = None) -> None:
    """What a superuser can do without the key: change the event at leaf `index`,
    (optionally drop every event from `keep_entries` on), recompute leaves, chain and
    head, and delete every checkpoint the rewrite broke."""
    su = Superuser(c)
    events = list(c.audit.stream())

    def tamper(cur: Any) -> None:
        target = events[index]
        state = orjson.loads(target.state)
        state["data"] = {**state["data"], "note": "rewritten"}
        cur.execute(
            f"UPDATE {su.table} SET state = %s WHERE {su.pos} = %s",
            (orjson.dumps(state), target.position),
        )
        if keep_entries is not None:
            for row in events[keep_entries:]:
                su.delete(cur, row.position)
        cur.execute("DELETE FROM gridflow_audit_leaves")
        cur.execute("DELETE FROM gridflow_audit_trail")
        chain, frontier, last = ZERO, merkle.Frontier(), 0
        for i, row in enumerate(c.audit.rows(cur, 0)):
            leaf = row.leaf()
            chain = hashlib.sha256(chain + leaf).digest()
            frontier.append(leaf)
            last = row.position
            cur.execute(
                "INSERT INTO gridflow_audit_leaves VALUES (%s, %s, %s, %s)",
                (i, row.position, leaf.hex(), chain.hex()),
            )
        cur.execute(
            "UPDATE gridflow_audit_head SET size = %s, position = %s, chain = %s, "
            "frontier = %s WHERE id = 1",
            (
                frontier.size,
                last,
                chain.hex(),
                json.dumps([[h, x.hex()] for h, x in frontier.nodes]),
            ),
        )
        cur.execute("DELETE FROM gridflow_audit_checkpoints WHERE tree_size > %s", (index,))

    su.run(tamper)


def test_a_checkpoint_is_signed_at_every_promised_size(store_url: str, tmp_path: Path):
    c = build(store_url, tmp_path)
    sizes = [cp["tree_size"] for cp in checkpoints(c.audit)["checkpoints"]]
    size = len(list(c.audit.stream()))
    assert sizes == list(range(EVERY, size + 1, EVERY))
    result = verify(c.audit)
    assert result["ok"] and result["missing_checkpoint"] is None
    c.close()


def test_a_rewrite_with_the_later_checkpoints_deleted_is_found(store_url: str, tmp_path: Path):
    c = build(store_url, tmp_path)
    assert verify(c.audit)["ok"]
    rewrite(c, index=7)  # the checkpoint at 5 stays; the ones from 10 on are deleted
    result = verify(c.audit)
    assert result["first_bad_position"] is None  # the chain itself was recomputed
    assert not result["ok"] and result["missing_checkpoint"] == 10
    c.close()


def test_a_kept_checkpoint_finds_a_rewrite_that_also_cut_the_log_short(
    store_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
):
    c = build(store_url, tmp_path)
    kept = checkpoints(c.audit)["checkpoints"][-1]
    note = tmp_path / "kept.note"
    note.write_text(kept["note"])
    monkeypatch.setenv("GRIDFLOW_DATABASE_URL", store_url)
    monkeypatch.setenv("GRIDFLOW_AUDIT_KEY_FILE", str(tmp_path / "audit.key"))
    monkeypatch.setenv("GRIDFLOW_EVIDENCE_DIR", str(tmp_path / "evidence"))
    monkeypatch.setenv("GRIDFLOW_CHECKPOINT_EVERY", str(EVERY))
    assert main(["audit", "verify", "--checkpoint", str(note)]) == 0
    capsys.readouterr()

    # Rewrite leaf 7 and drop the log from leaf 9 on: the checkpoint at 5 promised
    # one at 10, which the shortened log no longer reaches.
    rewrite(c, index=7, keep_entries=9)
    assert verify(c.audit)["ok"]
    assert main(["audit", "verify", "--checkpoint", str(note)]) == 1
    out = json.loads(capsys.readouterr().out)
    assert not out["ok"]
    assert out["kept_checkpoints"] == [
        {"tree_size": kept["tree_size"], "problem": "the log verifies only 9 entries"}
    ]
    c.close()


def test_a_kept_checkpoint_finds_a_rewrite_before_it(store_url: str, tmp_path: Path):
    c = build(store_url, tmp_path)
    kept = checkpoints(c.audit)["checkpoints"][1]["note"]  # tree size 10
    rewrite(c, index=7)
    # Even with every later checkpoint gone and nothing promised missing, the
    # rewritten entries no longer reproduce the kept root.
    with c.audit.db.transaction() as cur:
        cur.execute("DELETE FROM gridflow_audit_checkpoints")
    result = verify(c.audit, [kept])
    assert not result["ok"]
    assert result["kept_checkpoints"] == [
        {"tree_size": 10, "problem": "the stored events do not reproduce its root"}
    ]
    forged = kept.replace("\n10\n", "\n11\n")
    assert verify(c.audit, [forged])["kept_checkpoints"][0]["problem"] == (
        "not a checkpoint signed by this log's key"
    )
    c.close()
