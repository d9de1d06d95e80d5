"""The states an issue moves through and the three tiers (三事三办), as types.

Both are `str` enums: events store their values as plain strings, and a value read back
from the log compares equal to its member.
"""

from __future__ import annotations

from enum import StrEnum


class State(StrEnum):
    REPORTED = "reported"
    ON_SPOT = "on_spot"
    COORDINATING = "coordinating"
    WHISTLE_BLOWN = "whistle_blown"
    JOINT_HANDLING = "joint_handling"
    RESOLVED = "resolved"
    CLOSED = "closed"
    REJECTED = "rejected"
    MERGED = "merged"


class Tier(StrEnum):
    SMALL = "small"  # 小事即时办
    BIG = "big"  # 大事协调办
    HARD = "hard"  # 难事吹哨办


STATES: tuple[State, ...] = tuple(State)
TERMINAL = frozenset({State.CLOSED, State.REJECTED, State.MERGED})
OPEN_STATES: tuple[State, ...] = tuple(s for s in STATES if s not in TERMINAL)
TIERS: tuple[Tier, ...] = tuple(Tier)
#: "its handling state": where an issue of a tier is handled.
HANDLING_STATE: dict[str, State] = {
    Tier.SMALL: State.ON_SPOT,
    Tier.BIG: State.COORDINATING,
    Tier.HARD: State.JOINT_HANDLING,
}
HANDLING_STATES: tuple[State, ...] = tuple(HANDLING_STATE.values())
TIER_RANK: dict[str | None, int] = {None: 0, Tier.SMALL: 1, Tier.BIG: 2, Tier.HARD: 3}
