"""Paging every list the same way: `limit` and an opaque `cursor` in, `next_cursor` in
the body and a `Link: <…>; rel="next"` header (RFC 8288) out."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import parse_qsl, urlencode

from fastapi import Request, Response

from domain.errors import ValidationFailed


def encode(kind: str, values: Sequence[Any]) -> str:
    raw = json.dumps([kind, *values], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode(kind: str, cursor: str) -> list[Any]:
    """The values of a cursor this list made; 422 for anything else."""
    try:
        values = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except ValueError:
        values = None
    if not isinstance(values, list) or not values or values[0] != kind:
        raise ValidationFailed({"cursor": "not a cursor of this list"})
    return values[1:]


def page(
    kind: str,
    items: list[dict[str, Any]],
    key: Callable[[dict[str, Any]], list[Any]],
    limit: int | None,
    cursor: str | None,
) -> tuple[list[dict[str, Any]], str | None]:
    """One page of a list already in its order (`key` its keyset, unique per item): the
    items after the cursor's, at most `limit` (all without one), and the next cursor."""
    if cursor is not None:
        last = decode(kind, cursor)
        at = next((i for i, item in enumerate(items) if key(item) == last), None)
        if at is None:  # the item left the list: resume after where it stood
            at = sum(1 for item in items if _before(key(item), last)) - 1
        items = items[at + 1 :]
    if limit is None or len(items) <= limit:
        return items, None
    shown = items[:limit]
    return shown, encode(kind, key(shown[-1]))


def _before(a: list[Any], b: list[Any]) -> bool:
    try:
        return bool(a <= b)
    except TypeError:
        return False


def link_next(request: Request, response: Response, next_cursor: str | None) -> None:
    """`Link: <same query, this cursor>; rel="next"` when there is a next page."""
    if next_cursor is None:
        return
    # `after` waits for the views (or, on /audit/events, is the old cursor): the next
    # page needs neither.
    params = [(k, v) for k, v in parse_qsl(request.url.query) if k not in ("after", "cursor")]
    query = urlencode([*params, ("cursor", next_cursor)])
    response.headers["Link"] = f'<{request.url.path}?{query}>; rel="next"'
