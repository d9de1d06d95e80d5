"""The frozen monthly report (通报, spec/followup.md): computed once, three working days
after the month's end (so that the month's late callbacks and misses are in), with the
policy it was computed under written into it, and stored as an event — so that it reads
the same whenever it is asked for, whatever the configuration is by then.

One report per node and month: its aggregate's id is derived from both, so two
processes freezing it at once cannot both succeed (the store refuses the second).
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import suppress
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError

from domain.calendar import WorkingCalendar
from domain.errors import TransitionNotAllowed

if TYPE_CHECKING:
    from domain.service import IssueService

#: Working days after the month's end before its report is computed.
FREEZE_AFTER_WORKING_DAYS = 3


class ReportNotDue(TransitionNotAllowed):
    """The month's report is computed only once the month and its grace have passed."""

    code = "report_not_due"


def report_id(node: str, month: str) -> UUID:
    return uuid5(NAMESPACE_URL, f"gridflow:report:monthly:{node}:{month}")


def month_bounds(month: str) -> tuple[date, date]:
    """The first day of `month` (YYYY-MM) and of the month after."""
    first = date.fromisoformat(f"{month}-01")
    return first, (first + timedelta(days=32)).replace(day=1)


def due_at(month: str, calendar: WorkingCalendar) -> datetime:
    """The end (local midnight) of the third working day after the month, in the node's
    calendar: 30 November 2026 → 4 December 00:00 (1, 2, 3 December are working days)."""
    _, day = month_bounds(month)
    left = FREEZE_AFTER_WORKING_DAYS
    while True:
        if calendar.is_working_day(day):
            left -= 1
            if left == 0:
                break
        day += timedelta(days=1)
    return datetime.combine(day + timedelta(days=1), datetime.min.time(), calendar.tz)


class MonthlyReport(Aggregate):
    """A month's report as computed once; never changed afterwards."""

    def __init__(self, node: str, month: str, content: dict[str, Any]) -> None:
        self.node, self.month, self.content = node, month, content

    class Frozen(Aggregate.Created):
        node: str
        month: str
        content: dict[str, Any]

    @classmethod
    def freeze(cls, node: str, month: str, content: dict[str, Any], at: datetime) -> MonthlyReport:
        report: MonthlyReport = cls._create(
            cls.Frozen,
            id=report_id(node, month),
            node=node,
            month=month,
            content=content,
            timestamp=at,
        )
        return report


def monthly(
    svc: IssueService, node: str, month: str, compute: Callable[[], dict[str, Any]]
) -> dict[str, Any]:
    """`node`'s report of `month`: as stored, or — once it is due — computed by
    `compute`, frozen and stored. Before it is due: ReportNotDue (409)."""
    rid = report_id(node, month)
    try:
        stored: MonthlyReport = svc.app.repository.get(rid)
        return stored.content
    except AggregateNotFoundError:
        pass
    now = svc.clock()
    due = due_at(month, svc.policy.calendars.for_chain(svc.org().ancestors(node)))
    if now < due:
        raise ReportNotDue(
            f"the report of {month} is computed at {due.isoformat()}", due_at=due.isoformat()
        )
    content = {**compute(), "frozen_at": now.isoformat()}
    content["policy"]["freeze_after_working_days"] = FREEZE_AFTER_WORKING_DAYS
    with suppress(IntegrityError):  # another process froze it first: its report stands
        svc.app.save(MonthlyReport.freeze(node, month, content, now))
    report: MonthlyReport = svc.app.repository.get(rid)
    return report.content
