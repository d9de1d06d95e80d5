"""Reading the audit log: verification, the trail, checkpoints, proofs, export."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from projections import merkle
from projections.audit import ZERO, AuditLog
from projections.audit_proofs import consistency, inclusion, leaves
from stores.signing import promised, verify_note

__all__ = ["checkpoints", "consistency", "export", "inclusion", "leaves", "trail", "verify"]


def verify(log: AuditLog, kept: Sequence[str] = ()) -> dict[str, Any]:
    """Recompute every hashed entry from the stored events and compare it with the
    recorded leaves, the chain and the signed checkpoints. The first position where the
    stored log differs from what was hashed is the first bad one: a changed event, a
    deleted one (the recorded position is missing), an inserted one (a stored event the
    chain never saw before later ones), or two reordered.

    Someone who can write the database but not sign could rewrite an event, recompute
    the chain and delete the checkpoints after it: every checkpoint promises the size of
    the next, so a broken promise is reported as `missing_checkpoint`. `kept` are
    checkpoint notes kept outside the database: the stored events must reproduce each
    one's root, so even a rewrite that also truncated the log is found."""
    with log.db.transaction(write=False) as cur:
        # The head first: a checkpoint is committed with the head that reached it, so
        # every checkpoint promised up to this size is there to read next.
        cur.execute("SELECT size FROM gridflow_audit_head WHERE id = 1")
        size = int(cur.fetchone()[0])
        cur.execute(
            "SELECT tree_size, root, note FROM gridflow_audit_checkpoints ORDER BY tree_size"
        )
        checkpoints = {int(n): (root, note) for n, root, note in cur.fetchall()}
    outside = [_kept(log, note) for note in kept]
    roots = {k["tree_size"]: k.pop("root") for k in outside if k["problem"] is None}
    reproduced: dict[int, bool] = {}
    recorded = _leaves(log, size)
    frontier = merkle.Frontier()
    chain = ZERO
    checked = 0
    first_bad: int | None = None
    stored = log.stream()
    for idx, (position, leaf_hex, chain_hex) in enumerate(recorded):
        row = next(stored, None)
        if row is None or row.position > position:  # the recorded event is gone
            first_bad = position
            break
        if row.position < position:  # an event slipped in where none was hashed
            first_bad = row.position
            break
        leaf = row.leaf()
        chain = hashlib.sha256(chain + leaf).digest()
        if leaf.hex() != leaf_hex or chain.hex() != chain_hex:
            first_bad = position
            break
        frontier.append(leaf)
        checked = idx + 1
        if checked in roots:
            reproduced[checked] = base64.b64encode(frontier.root()).decode() == roots[checked]
        if checked in checkpoints:
            root_hex, note = checkpoints[checked]
            signed = verify_note(note, log.signer.name, log.signer.public)
            if (
                frontier.root().hex() != root_hex
                or signed is None
                or base64.b64encode(frontier.root()).decode() not in signed
            ):
                first_bad = position
                break
    for k in outside:
        if k["problem"] is None and not reproduced.get(k["tree_size"], False):
            k["problem"] = (
                "the stored events do not reproduce its root"
                if k["tree_size"] in reproduced
                else f"the log verifies only {checked} entries"
            )
    missing = _missing_checkpoint(log, checkpoints, size)
    ok = first_bad is None and missing is None and all(k["problem"] is None for k in outside)
    return {
        "ok": ok,
        "checked": checked,
        "first_bad_position": first_bad,
        "head": chain.hex() if ok else None,
        "tree_size": size,
        "missing_checkpoint": missing,
        **({"kept_checkpoints": outside} if kept else {}),
    }


def _kept(log: AuditLog, note: str) -> dict[str, Any]:
    """A checkpoint note kept outside the database: its size and root, once its
    signature verifies with this log's key."""
    text = verify_note(note, log.signer.name, log.signer.public)
    lines = text.splitlines() if text else []
    if len(lines) < 3 or lines[0] != log.origin or not lines[1].isdigit():
        return {"tree_size": None, "problem": "not a checkpoint signed by this log's key"}
    return {"tree_size": int(lines[1]), "root": lines[2], "problem": None}


def _missing_checkpoint(
    log: AuditLog, checkpoints: dict[int, tuple[str, str]], size: int
) -> int | None:
    """The first tree size at which a promised checkpoint is not there (None: none is
    missing). Checkpoints signed before they made promises promise nothing."""
    if not checkpoints:
        return log.checkpoint_every if size >= log.checkpoint_every else None
    due: int | None = None
    for n in sorted(checkpoints):
        if due is not None and n > due:
            return due
        text = verify_note(checkpoints[n][1], log.signer.name, log.signer.public)
        due = promised(text) if text else None
    return due if due is not None and size >= due else None


def _leaves(log: AuditLog, size: int) -> list[tuple[int, str, str]]:
    out: list[tuple[int, str, str]] = []
    while len(out) < size:
        with log.db.transaction(write=False) as cur:
            cur.execute(
                "SELECT position, leaf, chain FROM gridflow_audit_leaves WHERE idx >= %s "
                "ORDER BY idx LIMIT 50000",
                (len(out),),
            )
            batch = [(int(p), leaf, c) for p, leaf, c in cur.fetchall()]
        if not batch:
            break
        out.extend(batch)
    return out


def checkpoints(log: AuditLog) -> dict[str, Any]:
    with log.db.transaction(write=False) as cur:
        cur.execute(
            "SELECT tree_size, root, at, note FROM gridflow_audit_checkpoints ORDER BY tree_size"
        )
        rows = cur.fetchall()
    return {
        "format": "C2SP tlog-checkpoint (signed note, Ed25519)",
        "origin": log.origin,
        "public_key": base64.b64encode(log.signer.public).decode(),
        "verifier_key": log.signer.verifier_key,
        "checkpoints": [
            {
                "tree_size": int(n),
                "root_hash": base64.b64encode(bytes.fromhex(r)).decode(),
                "time": at,
                "note": note,
            }
            for n, r, at, note in rows
        ],
    }


def trail(
    log: AuditLog,
    *,
    after: int = 0,
    limit: int = 100,
    actor: str | None = None,
    grids: list[str] | None = None,
    department: str | None = None,
    issue: str | None = None,
    start: str | None = None,
    end: str | None = None,
    stored: bool = True,
) -> list[dict[str, Any]]:
    """The trail; without `stored`, a reporter's sealed details show as hidden."""
    where: list[str] = ["t.position > %s"]
    args: list[Any] = [after]
    for clause, value in (
        ("t.actor_id = %s", actor),
        ("t.issue_id = %s", issue),
        ("t.at >= %s", start),
        ("t.at < %s", end),
        ("t.departments LIKE %s", f"%,{department},%" if department else None),
    ):
        if value is not None:
            where.append(clause)
            args.append(value)
    if grids is not None:
        if not grids:
            return []
        where.append(f"t.grid_id IN ({', '.join(['%s'] * len(grids))})")
        args.extend(grids)
    with log.db.transaction(write=False) as cur:
        cur.execute(
            "SELECT t.position, t.idx, t.issue_id, t.version, t.action, t.actor_id, t.actor_role, "
            "t.at, t.from_state, t.to_state, t.grid_id, t.data, l.leaf, e.topic "
            f"FROM gridflow_audit_trail t JOIN gridflow_audit_leaves l ON l.idx = t.idx "
            f"JOIN {log.events_table} e ON e.{log.position_col} = t.position "
            f"WHERE {' AND '.join(where)} ORDER BY t.position LIMIT %s",
            [*args, limit],
        )
        rows = cur.fetchall()
    return [
        {
            "position": int(r[0]),
            "leaf_index": int(r[1]),
            "issue_id": r[2],
            "version": int(r[3]),
            "action": r[4],
            "event_type": r[13],
            "actor": {"id": r[5], "role": r[6]},
            "at": r[7],
            "from_state": r[8],
            "to_state": r[9],
            "grid_id": r[10],
            "data": _shown(json.loads(r[11]), stored),
            "leaf_hash": r[12],
        }
        for r in rows
    ]


def _shown(data: dict[str, Any], stored: bool) -> dict[str, Any]:
    if stored or "reporter" not in data:
        return data
    return {**data, "reporter": {"hidden": True}}


def export(log: AuditLog, out: Path) -> dict[str, Any]:
    """Write the log as JSON lines: a header with the public key, every hashed event
    with its stored bytes (base64) and leaf hash, then the signed checkpoints."""
    log.catch_up()
    log.checkpoint()
    cps = checkpoints(log)
    written = 0
    with out.open("w", encoding="utf-8") as f:
        f.write(
            json.dumps(
                {
                    "format": "gridflow-audit-export/1",
                    "origin": log.origin,
                    "key_name": log.signer.name,
                    "public_key": cps["public_key"],
                    "verifier_key": cps["verifier_key"],
                    "leaf": "SHA-256(0x00 || id16 || version u64be || topic length "
                    "u16be || topic || state)",
                }
            )
            + "\n"
        )
        size = cps["checkpoints"][-1]["tree_size"] if cps["checkpoints"] else 0
        recorded = _leaves(log, size)
        rows = log.stream()
        for idx, (position, leaf_hex, _) in enumerate(recorded):
            row = next(rows)
            while row.position < position:
                row = next(rows)
            f.write(
                json.dumps(
                    {
                        "index": idx,
                        "position": row.position,
                        "originator_id": row.originator_id.hex,
                        "originator_version": row.version,
                        "topic": row.topic,
                        "state": base64.b64encode(row.state).decode(),
                        "leaf_hash": leaf_hex,
                    }
                )
                + "\n"
            )
            written += 1
        for cp in cps["checkpoints"]:
            f.write(json.dumps({"checkpoint": cp["note"], "tree_size": cp["tree_size"]}) + "\n")
    return {"events": written, "checkpoints": len(cps["checkpoints"]), "file": str(out)}
