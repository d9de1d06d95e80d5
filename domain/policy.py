"""The workflow's configurable rules (workflow.md: "limits are configuration, per
category where a category needs its own"; the missed small matter's escalation is
"policy, configurable"): what the aggregate's checks and clocks read besides the
organisation. Built from the environment by the composition root (gridflow/settings.py);
the domain never reads the environment itself."""

from __future__ import annotations

from dataclasses import dataclass, field

from domain.calendar import Calendars
from domain.deadlines import LimitPolicy


@dataclass(frozen=True)
class Policy:
    calendars: Calendars = field(default_factory=Calendars)
    limits: LimitPolicy = field(default_factory=LimitPolicy)
    #: a missed small-matter deadline escalates the issue to `coordinating`
    escalate_missed_small: bool = True
    #: transfers (转派) after which only a street officer transfers an issue
    transfer_cap: int = 2
