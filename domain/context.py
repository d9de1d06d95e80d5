"""What a command consults besides the issue, and what it decides."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from domain.calendar import Calendars, WorkingCalendar
from domain.deadlines import LimitPolicy, new_deadline
from domain.organisation import Org


@dataclass
class Context:
    """What a command may consult besides the issue: time, organisation, policy."""

    now: datetime
    org: Org
    calendars: Calendars = field(default_factory=Calendars)
    limits: LimitPolicy = field(default_factory=LimitPolicy)
    escalate_missed_small: bool = True
    #: seals personal data before it enters an event (see domain.privacy)
    seal: Callable[[dict[str, Any]], dict[str, Any]] = field(default=lambda data: data)
    #: evidence ids a principal may not cite on an issue (see domain.ports.EvidenceIndex)
    evidence_unknown: Callable[[str | None, str, list[str]], list[str]] = field(
        default=lambda issue, principal, ids: []
    )
    #: whether a principal id names a resident (see domain.ports.Directory)
    is_resident: Callable[[str], bool] = field(default=lambda principal_id: False)
    #: transfers (转派) before only a street officer may transfer again (指定分拨)
    transfer_cap: int = 2
    #: the EXIF positions (WGS-84 lat, lon) of cited photos that have one (EvidenceIndex)
    photo_positions: Callable[[list[str]], dict[str, tuple[float, float]]] = field(
        default=lambda ids: {}
    )

    def check_evidence(self, issue_id: str | None, principal_id: str, ids: list[str]) -> None:
        from domain.errors import ValidationFailed

        unknown = set(self.evidence_unknown(issue_id, principal_id, ids))
        if unknown:
            raise ValidationFailed(
                {
                    f"evidence.{i}": "not uploaded to this issue"
                    for i, e in enumerate(ids)
                    if e in unknown
                }
            )

    def calendar(self, grid_id: str) -> WorkingCalendar:
        return self.calendars.for_chain(self.org.ancestors(grid_id))

    def deadline(
        self,
        kind: str,
        category: str,
        grid_id: str,
        department_id: str | None = None,
        grade: str | None = None,
        start: datetime | None = None,
        limits: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        """A deadline of `kind` starting now (or at `start`), by the category's limits
        where it has them (`limits`: as the issue's catalogue version had them)."""
        own = self.org.category_limits(category) if limits is None else limits
        limit = self.limits.limit(kind, own, grade)
        return new_deadline(kind, start or self.now, limit, self.calendar(grid_id), department_id)


@dataclass
class Decision:
    to_state: str
    tier: str | None
    data: dict[str, Any]
    facts: dict[str, Any] = field(default_factory=dict)
    starts: list[dict[str, Any]] = field(default_factory=list)
    ends: list[dict[str, Any]] = field(default_factory=list)

    def end(self, key: str, outcome: str = "met") -> None:
        self.ends.append({"key": key, "outcome": outcome})
