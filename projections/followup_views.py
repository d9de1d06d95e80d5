"""The views' tables of follow-up (issue 14), beside `projections.views`' own and
written in the same transaction from the same summary rows (domain/summary.py folds
them): who took part in each issue (the queues' separation of duties), and the requests
and appeals that wait for a decision. The rules' SQL (projections.queries.RULE_SQL)
reads them."""

from __future__ import annotations

import json
from typing import Any

from projections.db import Cursor


def schema(p: str) -> list[str]:
    return [
        f"""CREATE TABLE IF NOT EXISTS {p}issue_people (
            issue_id TEXT NOT NULL, principal_id TEXT NOT NULL, part TEXT NOT NULL,
            PRIMARY KEY (issue_id, principal_id, part))""",
        f"CREATE INDEX IF NOT EXISTS {p}issue_people_p ON {p}issue_people (principal_id)",
        f"""CREATE TABLE IF NOT EXISTS {p}issue_requests (
            issue_id TEXT NOT NULL, kind TEXT NOT NULL, status TEXT NOT NULL, by_id TEXT,
            PRIMARY KEY (issue_id, kind))""",
        f"CREATE INDEX IF NOT EXISTS {p}issue_requests_k ON {p}issue_requests (kind, status)",
        f"""CREATE TABLE IF NOT EXISTS {p}followup_items (
            issue_id TEXT NOT NULL, flag_id TEXT NOT NULL, level TEXT NOT NULL,
            target TEXT NOT NULL, reason TEXT NOT NULL, grade TEXT, status TEXT NOT NULL,
            listed BIGINT NOT NULL, n BIGINT NOT NULL, opened_at TEXT NOT NULL,
            last_at TEXT NOT NULL, raised_by TEXT NOT NULL, reply_due_at TEXT,
            item_json TEXT NOT NULL, PRIMARY KEY (issue_id, flag_id))""",
        f"CREATE INDEX IF NOT EXISTS {p}followup_items_t ON {p}followup_items (target, status)",
        f"CREATE INDEX IF NOT EXISTS {p}followup_items_l ON {p}followup_items (level, status)",
    ]


TABLES = ("issue_people", "issue_requests", "followup_items")


def store(cur: Cursor, p: str, rows: dict[str, dict[str, Any]]) -> None:
    people, requests, items = [], [], []
    for row in rows.values():
        people += [(row["id"], who, "handled") for who in row.get("handled_by", [])]
        if row.get("whistle_holder"):
            people.append((row["id"], row["whistle_holder"], "whistle"))
        for it in row.get("followups", []):
            reply = row["deadlines"].get(f"flag_reply:{it['id']}") or {}
            items.append(
                (
                    row["id"],
                    it["id"],
                    it["level"],
                    it["target"],
                    it["reason"],
                    it.get("grade"),
                    it["status"],
                    int(it["listed"]),
                    it["count"],
                    it["opened_at"],
                    it["last_at"],
                    it["raised_by"],
                    reply.get("effective_due_at"),
                    json.dumps(it, ensure_ascii=False),
                )
            )
        appeal = row.get("appeal")
        if appeal is not None:
            requests.append((row["id"], "appeal", appeal["status"] or "open", None))
        for kind, asked in row.get("requests", {}).items():
            requests.append((row["id"], kind, asked["status"], asked["by"]))
    ids = [(i,) for i in rows]
    for table in TABLES:
        cur.executemany(f"DELETE FROM {p}{table} WHERE issue_id = %s", ids)
    cur.executemany(f"INSERT INTO {p}issue_people VALUES (%s, %s, %s)", people)
    cur.executemany(f"INSERT INTO {p}issue_requests VALUES (%s, %s, %s, %s)", requests)
    marks = ", ".join(["%s"] * 14)
    cur.executemany(f"INSERT INTO {p}followup_items VALUES ({marks})", items)
