"""Conditional requests (RFC 9110 §13): `If-Match` on actions, `If-None-Match` on reads.

An issue's entity tag is its version, `"<n>"` (strong). `If-Match` takes `*`, a list of
entity tags, or — the contract's own short form — a bare version number; it compares
strongly, so a weak tag (`W/"3"`) never matches (§13.1.1). `If-None-Match` compares
weakly (§13.1.2): `W/"3"` and `"3"` both match version 3."""

from __future__ import annotations

import re
from dataclasses import dataclass

from domain.errors import ValidationFailed

_TAG = re.compile(r'\s*(?:(W/)?"([\x21\x23-\x7e\x80-\xff]*)"|(\d{1,9}))\s*(?:,|$)')


@dataclass(frozen=True)
class Condition:
    any: bool  # `*`
    strong: frozenset[str]  # opaque tags compared strongly
    weak: frozenset[str]  # opaque tags of weak tags (for If-None-Match)

    def versions(self) -> frozenset[int]:
        return frozenset(int(t) for t in self.strong if t.isdigit() and len(t) <= 9)

    def matches_weakly(self, tag: str) -> bool:
        return self.any or tag in self.strong or tag in self.weak


def parse(header: str, name: str) -> Condition:
    """`*` or a comma-separated list of entity tags (bare version numbers too);
    422 `validation_failed` for anything else."""
    text = header.strip()
    if text == "*":
        return Condition(True, frozenset(), frozenset())
    strong: set[str] = set()
    weak: set[str] = set()
    pos = 0
    while pos < len(text):
        m = _TAG.match(text, pos)
        if m is None or m.end() == pos:
            raise ValidationFailed({name: 'entity tags such as "3", W/"3", or a bare version'})
        if m.group(3) is not None:
            strong.add(m.group(3))
        else:
            (weak if m.group(1) else strong).add(m.group(2))
        pos = m.end()
    if not strong and not weak:
        raise ValidationFailed({name: 'entity tags such as "3", W/"3", or a bare version'})
    return Condition(False, frozenset(strong), frozenset(weak))
