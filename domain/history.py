"""An issue's history as auditors read it: every event in order, with everything it
holds — its data, its facts, the deadlines it started and ended, the state and tier
before and after — personal data aside."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

HIDDEN: dict[str, Any] = {"hidden": True}

#: Facts that name a person rather than the matter (shown only with contact details).
PERSONAL_FACTS = ("reporter_principal",)


def entries(
    events: Iterable[Any],
    personal: bool,
    reveal: Callable[[dict[str, Any] | None], dict[str, Any] | None],
) -> list[dict[str, Any]]:
    """One entry per event. `personal`: the reader may see contact details, which
    `reveal` opens from their sealed form; otherwise they show as `{"hidden": true}`."""
    rows: list[dict[str, Any]] = []
    state: str | None = None
    tier: str | None = None
    for e in events:
        data = e.data
        if "reporter" in data:
            data = {**data, "reporter": reveal(data["reporter"]) if personal else HIDDEN}
        facts = dict(e.facts)
        if not personal:
            for key in PERSONAL_FACTS:
                if key in facts:
                    facts[key] = HIDDEN
        rows.append(
            {
                "version": e.originator_version,
                "action": e.ACTION,
                "actor": e.actor,
                "at": e.timestamp,
                "from_state": state,
                "to_state": e.to_state,
                "data": data,
                "from_tier": tier,
                "tier": e.tier,
                "facts": facts,
                "deadlines_started": [dict(s) for s in e.starts],
                "deadlines_ended": [dict(x) for x in e.ends],
            }
        )
        state, tier = e.to_state, e.tier
    return rows
