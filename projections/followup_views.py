"""The views' tables of follow-up (issue 14), beside `projections.views`' own and
written in the same transaction from the same summary rows (domain/summary.py folds
them): who took part in each issue (the queues' separation of duties), and the requests
and appeals that wait for a decision. The rules' SQL (projections.queries.RULE_SQL)
reads them."""

from __future__ import annotations

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
    ]


TABLES = ("issue_people", "issue_requests")


def store(cur: Cursor, p: str, rows: dict[str, dict[str, Any]]) -> None:
    people, requests = [], []
    for row in rows.values():
        people += [(row["id"], who, "handled") for who in row.get("handled_by", [])]
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
