"""The views' table of joint handling (issue 15), beside `projections.views`' own and
written in the same transaction from the same summary rows (domain/summary.py and
domain/joint.py fold them): each summoned department's part — lead, task, presence at
报到, contest of the summons. The rules' SQL (projections.queries.RULE_SQL) reads it."""

from __future__ import annotations

from typing import Any

from stores.db import Cursor


def schema(p: str) -> list[str]:
    return [
        f"""CREATE TABLE IF NOT EXISTS {p}issue_joint (
            issue_id TEXT NOT NULL, department_id TEXT NOT NULL, lead BIGINT NOT NULL,
            task_pending BIGINT NOT NULL, presence TEXT, contest TEXT,
            released BIGINT NOT NULL, PRIMARY KEY (issue_id, department_id))""",
        f"CREATE INDEX IF NOT EXISTS {p}issue_joint_d ON {p}issue_joint (department_id)",
    ]


TABLES = ("issue_joint",)


def store(cur: Cursor, p: str, rows: dict[str, dict[str, Any]]) -> None:
    parts = []
    for row in rows.values():
        lead = row.get("lead")
        if lead is None and row["departments"]:  # folded before leads: the first leads
            lead = next(iter(row["departments"]))
        for dept, d in row["departments"].items():
            pending = bool(d.get("task")) and d.get("task_completed_at") is None
            parts.append(
                (
                    row["id"],
                    dept,
                    int(dept == lead),
                    int(pending),
                    d.get("presence"),
                    d.get("contest"),
                    int(d["released_at"] is not None),
                )
            )
    cur.executemany(f"DELETE FROM {p}issue_joint WHERE issue_id = %s", [(i,) for i in rows])
    cur.executemany(f"INSERT INTO {p}issue_joint VALUES (%s, %s, %s, %s, %s, %s, %s)", parts)
