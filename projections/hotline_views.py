"""The views' table of 12345 tickets (issue 15), beside `projections.views`' own and
written in the same transaction from the same summary rows: each hotline issue's ticket
and whether a return to the hotline (退单) waits for the street's approval. The rules'
SQL (projections.queries.RULE_SQL) reads it."""

from __future__ import annotations

from typing import Any

from projections.db import Cursor


def schema(p: str) -> list[str]:
    return [
        f"""CREATE TABLE IF NOT EXISTS {p}issue_hotline (
            issue_id TEXT PRIMARY KEY, ticket_no TEXT, return_pending BIGINT NOT NULL)""",
    ]


TABLES = ("issue_hotline",)


def store(cur: Cursor, p: str, rows: dict[str, dict[str, Any]]) -> None:
    tickets = [
        (row["id"], row.get("ticket_no"), int(bool(row.get("return_pending"))))
        for row in rows.values()
        if row["channel"] == "hotline"
    ]
    cur.executemany(f"DELETE FROM {p}issue_hotline WHERE issue_id = %s", [(i,) for i in rows])
    cur.executemany(f"INSERT INTO {p}issue_hotline VALUES (%s, %s, %s)", tickets)
