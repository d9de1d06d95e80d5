"""The views' table of 12345 tickets (issue 15), beside `projections.views`' own and
written in the same transaction from the same summary rows: each hotline issue's ticket
and whether a return to the hotline (退单) waits for the street's approval. The rules'
SQL (projections.queries.RULE_SQL) reads it."""

from __future__ import annotations

from typing import Any

from stores.db import Cursor


def schema(p: str) -> list[str]:
    return [
        f"""CREATE TABLE IF NOT EXISTS {p}issue_hotline (
            issue_id TEXT PRIMARY KEY, ticket_no TEXT, return_pending BIGINT NOT NULL)""",
        f"""CREATE TABLE IF NOT EXISTS {p}hotline_repeats (
            ticket_no TEXT PRIMARY KEY, issue_id TEXT NOT NULL, at TEXT)""",
    ]


TABLES = ("issue_hotline", "hotline_repeats")


def store(cur: Cursor, p: str, rows: dict[str, dict[str, Any]]) -> None:
    tickets = [
        (row["id"], row.get("ticket_no"), int(bool(row.get("return_pending"))))
        for row in rows.values()
        if row["channel"] == "hotline"
    ]
    repeats = [
        (no, row["id"], row.get("repeat_times", {}).get(no))
        for row in rows.values()
        for no in row.get("repeats", [])
    ]
    ids = [(i,) for i in rows]
    cur.executemany(f"DELETE FROM {p}issue_hotline WHERE issue_id = %s", ids)
    cur.executemany(f"INSERT INTO {p}issue_hotline VALUES (%s, %s, %s)", tickets)
    cur.executemany(f"DELETE FROM {p}hotline_repeats WHERE issue_id = %s", ids)
    cur.executemany(f"INSERT INTO {p}hotline_repeats VALUES (%s, %s, %s)", repeats)


def closed_like(cur: Cursor, p: str, category: str, since: str) -> list[dict[str, Any]]:
    """Issues of `category` closed (last changed) since `since`, newest first: what a
    repeat complaint may repeat (domain.hotline.repeat_target chooses)."""
    cur.execute(
        f"SELECT id, address, lat, lon FROM {p}issues WHERE state = 'closed' AND category = %s "
        "AND updated_at >= %s ORDER BY updated_at DESC LIMIT 500",
        (category, since),
    )
    return [dict(zip(("id", "address", "lat", "lon"), r, strict=True)) for r in cur.fetchall()]


def merged_ticket(cur: Cursor, p: str, ticket_no: str) -> str | None:
    """The issue a ticket was merged into as a repeat complaint, if any."""
    cur.execute(f"SELECT issue_id FROM {p}hotline_repeats WHERE ticket_no = %s", (ticket_no,))
    found = cur.fetchone()
    return str(found[0]) if found else None
