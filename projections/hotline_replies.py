"""Results back to the 12345 hotline (回单), read from the log: each hotline issue that
closed or was returned (退单) since a position, as its event recorded it
(`facts.hotline_reply`, domain.hotline). Read straight from the log, so a reply never
waits for the views and never differs from what was recorded."""

from __future__ import annotations

from typing import Any

from projections.records import Record, decode

#: Log entries scanned per request at most (the answer says where to go on from).
SCAN = 5000


def reply_of(r: Record) -> dict[str, Any] | None:
    found = r.facts.get("hotline_reply")
    if not found:
        return None
    return {
        "position": r.position,
        "ticket_no": found["ticket_no"],
        "issue_id": r.issue_id,
        "result": found["result"],
        "text": found.get("text"),
        "at": r.at,
        "by": r.actor,
    }


def replies(recorder: Any, since: int, limit: int = 500) -> dict[str, Any]:
    """Replies after `since`, at most `limit`; `next` is the position to ask from next."""
    items: list[dict[str, Any]] = []
    position = since
    scanned = 0
    while len(items) < limit and scanned < SCAN:
        batch = recorder.select_notifications(position + 1, min(500, SCAN - scanned))
        if not batch:
            break
        for n in batch:
            scanned += 1
            position = n.id
            r = decode(n)
            if isinstance(r, Record) and (found := reply_of(r)) is not None:
                items.append(found)
                if len(items) == limit:
                    break
    return {"items": items, "next": position}
