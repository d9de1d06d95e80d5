"""What a client may put into the log: text without control characters, and times a
view can compute with.

Events are kept for ever and every view folds them, so anything refused here is a value
that would break a view or a reader later (PostgreSQL's text columns refuse NUL; a
year-1 time with an offset cannot be turned into UTC; XML 1.0 cannot carry most C0
controls even escaped). The same rules clean old stored events on read
(`projections.records`), so a store written before them recovers on upgrade.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

#: C0 controls but tab and newline (a CR of CRLF is folded into the newline), DEL, C1
#: controls, lone surrogates and the two noncharacters U+FFFE and U+FFFF.
_FORBIDDEN = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")

#: Times of the past that clients give (`occurred_at`, `received_at`, `called_at`).
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
AHEAD = timedelta(days=1)
#: Times of the future that clients give (due times, `until`).
HORIZON = timedelta(days=5 * 365 + 1)


def text_problem(value: str) -> str | None:
    """Why `value` cannot be recorded, or None."""
    m = _FORBIDDEN.search(value.replace("\r\n", "\n"))
    if m is None:
        return None
    return (
        f"control character U+{ord(m.group()):04X} at offset {m.start()}: "
        "text may hold tab and newline, no other control characters"
    )


def clean_text(value: str) -> str:
    """A validator: the text with CRLF as LF; ValueError naming the first bad character."""
    problem = text_problem(value)
    if problem:
        raise ValueError(problem)
    return value.replace("\r\n", "\n")


def text_problems(value: Any, path: str = "") -> Iterator[tuple[str, str]]:
    """Every string (keys included) of a JSON-like document that cannot be recorded, as
    (path, problem)."""
    if isinstance(value, str):
        if problem := text_problem(value):
            yield path or "body", problem
    elif isinstance(value, dict):
        for k, v in value.items():
            where = f"{path}.{k}" if path else str(k)
            if isinstance(k, str) and (problem := text_problem(k)):
                yield escape_controls(where), f"in the key: {problem}"
            else:
                yield from text_problems(v, where)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from text_problems(v, f"{path}.{i}" if path else str(i))


def escape_controls(text: str) -> str:
    """`text` with each character that cannot be recorded written as an escape."""
    return _FORBIDDEN.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def as_utc(value: datetime) -> datetime | None:
    """The instant in UTC, or None when it has no offset or cannot be represented."""
    if value.tzinfo is None or value.utcoffset() is None:
        return None
    try:
        return value.astimezone(UTC)
    except (OverflowError, ValueError):
        return None


def past_time_problem(value: datetime, now: datetime | None = None) -> str | None:
    """Why a time of the past a client gives cannot be recorded, or None: it needs an
    offset, must not be before 2000-01-01, nor more than a day after `now`."""
    at = as_utc(value)
    if at is None:
        if value.tzinfo is None:
            return "needs a UTC offset"
        return "is not a time that can be represented in UTC"
    if at < EARLIEST:
        return "must not be before 2000-01-01"
    if now is not None and at > now + AHEAD:
        return "must not be more than a day ahead of the service's clock"
    return None


def future_time_problem(value: datetime, now: datetime) -> str | None:
    """Why a time of the future a client gives (a due time, `until`) cannot be recorded:
    it needs an offset and must lie within five years of `now`."""
    at = as_utc(value)
    if at is None:
        return "needs a UTC offset" if value.tzinfo is None else "is not a representable time"
    if abs(at - now) > HORIZON:
        return "must lie within five years of now"
    return None
