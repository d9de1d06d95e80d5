"""The grid issue aggregate: its state and the events that change it.

Every event carries what replay needs and nothing replay must compute: the actor,
the action's data, the state and tier it leads to, the deadlines it starts (with their
due times) and ends (with their outcome), and a few derived facts. `apply` only
assigns; the checks live in `domain.commands`, which decides and then triggers.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar
from uuid import UUID

from eventsourcing.domain import Aggregate

from domain import approvals, callbacks, followups, joint
from domain.callbacks import HANDLING_ACTIONS
from domain.deadlines import Deadline
from domain.owners import owner_after
from domain.states import TERMINAL

if TYPE_CHECKING:
    from domain.context import Context
    from domain.organisation import Org
    from domain.principals import Principal


class Issue(Aggregate):
    #: who owns the issue's current step (domain.owners); a class default, so that
    #: snapshots taken before it existed load
    assignee: str | None = None

    def __init__(self) -> None:
        self.state = "reported"
        self.tier: str | None = None
        self.grid_id = ""
        self.original_grid_id = ""
        self.category = ""
        self.description = ""
        self.channel = ""
        self.location: dict[str, Any] | None = None
        self.reporter: dict[str, Any] | None = None
        self.reporter_principal: str | None = None
        self.reported_by: dict[str, str] = {}
        self.reported_at: datetime | None = None
        self.occurred_at: str | None = None
        self.deadlines: list[Deadline] = []
        self.departments: dict[str, dict[str, Any]] = {}
        self.grade: str | None = None
        self.coordination: dict[str, Any] | None = None
        self.resolution: str | None = None
        self.resolver_id: str | None = None
        self.suspended_since: datetime | None = None
        self.flags: list[str] = []
        self.merged_into: str | None = None
        self.duplicates: list[str] = []
        self.evidence: list[str] = []
        self.counts: dict[str, int] = {}
        #: someone to call back: a reporter's contact or account (docs/indicators.md)
        self.contact = False
        #: who handled, resolved or verified it (never its callback's recorder)
        self.handled_by: list[str] = []
        #: the current closure round (from a close to the next reopening) and its callbacks
        self.callback_round: dict[str, Any] | None = None
        #: the last valid dissatisfied callback and its appeal (不合理诉求)
        self.appeal: dict[str, Any] | None = None
        #: requests that somebody else decides, by kind (domain.approvals)
        self.requests: dict[str, dict[str, Any]] = {}
        #: approved suspensions: {from, to} (to None while it runs)
        self.suspensions: list[dict[str, Any]] = []
        #: who blew the whistle: {id, role}
        self.whistle_holder: dict[str, str] | None = None
        #: follow-up items (督办件, domain.followups)
        self.followups: list[dict[str, Any]] = []
        #: joint handling (domain.joint): the lead department, where to report in, meetings
        self.lead: str | None = None
        self.meet_at: dict[str, Any] | None = None
        self.meetings: list[dict[str, Any]] = []
        #: a 12345 ticket's own facts (domain.hotline), and what could not be matched
        #: while it waits for 分拨 at the intake's node
        self.hotline: dict[str, Any] | None = None
        self.unplaced: list[str] = []
        #: a pending return of the ticket to the hotline (退单), waiting for the street
        self.return_request: dict[str, Any] | None = None
        #: tickets merged into the issue as repeat complaints (their callers are reporters)
        self.repeats: list[str] = []
        #: the catalogue version the issue was reported (or placed) under, and its
        #: category's rules then (domain.catalogue)
        self.catalogue: dict[str, Any] | None = None
        #: when it last entered a terminal state (None while open); GeoReport's
        #: updated_datetime of a closed request
        self.closed_at: datetime | None = None
        #: a picture of the matter somewhere else (Open311's media_url)
        self.media_url: str | None = None

    # -- events -------------------------------------------------------------------

    class Event(Aggregate.Event):
        actor: dict[str, str]
        data: dict[str, Any]
        facts: dict[str, Any]
        to_state: str
        tier: str | None
        starts: list[dict[str, Any]]
        ends: list[dict[str, Any]]

        ACTION: ClassVar[str] = ""

        def apply(self, aggregate: Any) -> None:
            issue: Issue = aggregate
            if self.to_state != issue.state:
                issue.suspended_since = None
                approvals.lapse(issue, self.timestamp)
                for key, paused_seconds in self.facts.get("resumed_clocks", {}).items():
                    if (d := issue.open_deadline(key)) is not None:
                        d.paused_since, d.paused_seconds = None, paused_seconds
            if self.to_state not in TERMINAL:
                issue.closed_at = None
            elif issue.state not in TERMINAL or getattr(issue, "closed_at", None) is None:
                issue.closed_at = self.timestamp
            issue.state, issue.tier = self.to_state, self.tier
            for end in self.ends:
                d = issue.open_deadline(end["key"])
                if d is not None:
                    d.ended_at, d.outcome, d.paused_since = self.timestamp, end["outcome"], None
                    d.paused_seconds = end.get("paused_seconds", d.paused_seconds)
            issue.deadlines.extend(Deadline.started(start) for start in self.starts)
            if self.facts.get("flag"):  # recorded before follow-up items
                issue.flags.append(self.facts["flag"])
            if self.facts.get("followups"):
                followups.apply_ops(
                    issue.followups, self.facts["followups"], self.timestamp, self.actor["id"]
                )
            issue.evidence.extend(
                e for e in self.data.get("evidence", []) if e not in issue.evidence
            )
            issue.counts[self.ACTION] = issue.counts.get(self.ACTION, 0) + 1
            if self.ACTION in HANDLING_ACTIONS and self.actor["id"] not in issue.handled_by:
                issue.handled_by.append(self.actor["id"])
            issue.assignee = owner_after(issue.assignee, self.ACTION, self.actor, self.data)
            self.effect(issue)

        def effect(self, issue: Issue) -> None:
            """What this kind of event changes beyond state, tier and deadlines."""

    class Reported(Event, Aggregate.Created):
        ACTION = "report"
        class_version = 2

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            # v1 kept the reporter's phone as a bare string in data["reporter_phone"].
            data = state["data"]
            phone = data.pop("reporter_phone", None)
            if phone is not None and not data.get("reporter"):
                data["reporter"] = {"phone": phone}

        def effect(self, issue: Issue) -> None:
            data, facts = self.data, self.facts
            issue.grid_id = issue.original_grid_id = facts["grid_id"]
            issue.category = facts.get("category", data["category"])
            issue.description = data["description"]
            issue.hotline = facts.get("hotline")
            issue.catalogue = facts.get("catalogue")
            issue.unplaced = facts.get("unplaced", [])
            issue.channel = facts["channel"]
            issue.location = facts.get("location")
            issue.reporter = data.get("reporter")
            issue.reporter_principal = facts.get("reporter_principal")
            issue.reported_by, issue.reported_at = self.actor, self.timestamp
            issue.occurred_at = data.get("occurred_at")
            issue.media_url = data.get("media_url")
            issue.contact = bool(facts.get("contact", data.get("reporter") is not None))

    class HandledOnSpot(Event):
        ACTION = "handle_on_spot"

    class Coordinated(Event):
        ACTION = "coordinate"

        def effect(self, issue: Issue) -> None:
            issue.coordination = {
                "lead_party": self.data["lead_party"],
                "parties": self.data.get("parties", []),
            }

    class WhistleBlown(Event):
        ACTION = "blow_whistle"

        def effect(self, issue: Issue) -> None:
            issue.grade = self.data.get("grade", "standard")
            issue.whistle_holder = dict(self.actor)
            _summon(issue, self.data["departments"], self.timestamp)
            joint.summoned(issue, self.facts, self.data["departments"])

    class Acknowledged(Event):
        ACTION = "acknowledge"

        def effect(self, issue: Issue) -> None:
            issue.departments[self.facts["department_id"]]["acknowledged_at"] = self.timestamp

    class ReportedIn(Event):
        ACTION = "report_in"

        def effect(self, issue: Issue) -> None:
            dept = issue.departments[self.facts["department_id"]]
            dept["acknowledged_at"] = dept["acknowledged_at"] or self.timestamp
            dept["reported_in_at"] = self.timestamp
            dept["presence"] = self.facts.get("presence")

    class Summoned(Event):
        ACTION = "summon"

        def effect(self, issue: Issue) -> None:
            _summon(issue, self.data["departments"], self.timestamp)
            joint.summoned(issue, self.facts, self.data["departments"])

    class Resolved(Event):
        ACTION = "resolve"

        def effect(self, issue: Issue) -> None:
            issue.resolution, issue.resolver_id = self.data["resolution"], self.actor["id"]

    class Verified(Event):
        ACTION = "verify"

        def effect(self, issue: Issue) -> None:
            callbacks.open_round(issue, self.timestamp)

    class Reworked(Event):
        ACTION = "rework"

    class CallbackRecorded(Event):
        ACTION = "record_callback"

        def effect(self, issue: Issue) -> None:
            if "dissatisfied" in self.facts:
                issue.counts["dissatisfied"] = self.facts["dissatisfied"]
            callbacks.recorded(issue, self)

    class CallbackAppealed(Event):
        ACTION = "appeal_callback"

        def effect(self, issue: Issue) -> None:
            if issue.appeal is not None:
                issue.appeal["status"] = "pending"

    class AppealUpheld(Event):
        ACTION = "uphold_appeal"

        def effect(self, issue: Issue) -> None:
            if issue.appeal is not None:
                issue.appeal["status"] = "upheld"

    class AppealRejected(Event):
        ACTION = "reject_appeal"

        def effect(self, issue: Issue) -> None:
            if issue.appeal is not None:
                issue.appeal["status"] = "rejected"

    class Rejected(Event):
        ACTION = "reject"

    class Transferred(Event):
        ACTION = "transfer"

        def effect(self, issue: Issue) -> None:
            issue.grid_id = self.data["grid_id"]
            issue.category = self.data.get("category") or issue.category
            issue.unplaced = []
            if "catalogue" in self.facts:
                issue.catalogue = self.facts["catalogue"]

    class Released(Event):
        ACTION = "release"

        def effect(self, issue: Issue) -> None:
            issue.departments[self.data["department_id"]]["released_at"] = self.timestamp
            joint.released(issue.departments, self.data["department_id"])

    # joint handling (domain.joint) ---------------------------------------------------

    class PresenceConfirmed(Event):
        ACTION = "confirm_presence"

        def effect(self, issue: Issue) -> None:
            issue.departments[self.data["department_id"]]["presence"] = "confirmed"

    class TaskCompleted(Event):
        ACTION = "complete_task"

        def effect(self, issue: Issue) -> None:
            dept = issue.departments[self.facts["department_id"]]
            dept["task_completed_at"], dept["task_result"] = self.timestamp, self.data["result"]

    class MeetingRecorded(Event):
        ACTION = "record_meeting"

        def effect(self, issue: Issue) -> None:
            issue.meetings.append({**self.data, "recorded_by": self.actor["id"]})

    class DepartmentEvaluated(Event):
        ACTION = "evaluate_department"

        def effect(self, issue: Issue) -> None:
            issue.departments[self.data["department_id"]]["evaluation"] = {
                k: self.data[k] for k in joint.EVALUATION
            }

    class SummonsContested(Event):
        ACTION = "contest_summons"

        def effect(self, issue: Issue) -> None:
            issue.departments[self.facts["department_id"]]["contest"] = "pending"

    # 12345 both ways (domain.hotline) -------------------------------------------------

    class ReturnRequested(Event):
        ACTION = "return_to_hotline"

        def effect(self, issue: Issue) -> None:
            issue.return_request = {"reason": self.data["reason"], "by": self.actor["id"]}

    class ReturnApproved(Event):
        ACTION = "approve_return"

    class RepeatComplained(Event):
        ACTION = "repeat_complaint"

        def effect(self, issue: Issue) -> None:
            issue.repeats.append(self.data["ticket_no"])
            issue.contact = issue.contact or bool(self.data.get("reporter"))

    class SummonsUpheld(Event):
        ACTION = "uphold_summons"

        def effect(self, issue: Issue) -> None:
            issue.departments[self.data["department_id"]]["contest"] = "upheld"

    class Merged(Event):
        ACTION = "merge"

        def effect(self, issue: Issue) -> None:
            issue.merged_into = self.data["duplicate_of"]

    class DuplicateAttached(Event):
        """Recorded on the target of a merge, in the same transaction as `Merged`."""

        ACTION = "duplicate_attached"

        def effect(self, issue: Issue) -> None:
            issue.duplicates.append(self.facts["duplicate"])

    class Urged(Event):
        ACTION = "urge"

    class Flagged(Event):
        ACTION = "flag"

    class FlagReplied(Event):
        ACTION = "reply_flag"

    class FlagCleared(Event):
        ACTION = "clear_flag"

    class PatrolMissRaised(Event):
        ACTION = "raise_patrol_miss"

    class Assigned(Event):
        ACTION = "assign"  # the assignee follows from the event (domain.owners)

    class Suspended(Event):
        """A request since issue 14; recorded before, a suspension at once."""

        ACTION = "suspend"

        def effect(self, issue: Issue) -> None:
            if "requested" in self.facts:
                approvals.requested(issue, self)
            else:
                _pause(issue, self)

    class SuspensionApproved(Event):
        ACTION = "approve_suspension"

        def effect(self, issue: Issue) -> None:
            approvals.decided(issue, "suspension", "approved")
            _pause(issue, self)

    class SuspensionDenied(Event):
        ACTION = "deny_suspension"

        def effect(self, issue: Issue) -> None:
            approvals.decided(issue, "suspension", "denied")

    class ExtensionRequested(Event):
        ACTION = "request_extension"

        def effect(self, issue: Issue) -> None:
            approvals.requested(issue, self)

    class ExtensionApproved(Event):
        ACTION = "approve_extension"

        def effect(self, issue: Issue) -> None:
            approvals.decided(issue, "extension", "approved")
            for key, seconds in self.facts["extended"].items():
                d = issue.open_deadline(key)
                if d is not None:
                    d.extended_seconds += seconds
                    d.extensions += 1

    class ExtensionDenied(Event):
        ACTION = "deny_extension"

        def effect(self, issue: Issue) -> None:
            approvals.decided(issue, "extension", "denied")

    class EscalationRequested(Event):
        ACTION = "request_escalation"

        def effect(self, issue: Issue) -> None:
            approvals.requested(issue, self)

    class EscalationApproved(Event):
        ACTION = "approve_escalation"

        def effect(self, issue: Issue) -> None:
            approvals.decided(issue, "escalation", "approved")
            issue.coordination = {
                "lead_party": self.data.get("lead_party"),
                "parties": self.data.get("parties", []),
            }

    class EscalationDenied(Event):
        ACTION = "deny_escalation"

        def effect(self, issue: Issue) -> None:
            approvals.decided(issue, "escalation", "denied")

    class Resumed(Event):
        ACTION = "resume"

        def effect(self, issue: Issue) -> None:
            _resume(issue, self)

    class Commented(Event):
        ACTION = "comment"

    class DeadlineMissed(Event):
        ACTION = "miss_deadline"

        def effect(self, issue: Issue) -> None:
            for d in reversed(issue.deadlines):  # not one this event started again
                if (
                    d.key == self.data["deadline"]
                    and not d.missed
                    and d.started_at < self.timestamp
                ):
                    d.missed = True
                    break
            if self.facts.get("resumed"):  # the suspension's allowance ran out
                _resume(issue, self)
            if self.data["deadline"] == "callback" and issue.callback_round is not None:
                issue.callback_round["judged"] = True

    # -- commands -----------------------------------------------------------------

    @classmethod
    def reported(
        cls,
        issue_id: UUID,
        *,
        actor: dict[str, str],
        data: dict[str, Any],
        facts: dict[str, Any],
        starts: list[dict[str, Any]],
        at: datetime,
    ) -> Issue:
        """A new issue, as `domain.commands.report` decided it after every check."""
        issue: Issue = cls._create(
            cls.Reported,
            id=issue_id,
            actor=actor,
            data=data,
            facts=facts,
            to_state="reported",
            tier=None,
            starts=starts,
            ends=[],
            timestamp=at,
        )
        return issue

    def take(
        self,
        action: str,
        p: Principal,
        data: Any,
        ctx: Context,
        related: Issue | None = None,
        request_key: str | None = None,
    ) -> None:
        """Take `action` as `p`: every check in the contract's order, then the event (the
        rules are in domain.commands, the declarations in domain.workflow)."""
        from domain import commands  # built on this class: imported when first used

        commands.take(self, action, p, data, ctx, related, request_key)

    def allowed_actions(self, p: Principal, org: Org) -> list[str]:
        """The actions `p` could take now (their data aside)."""
        from domain import commands

        return commands.allowed_actions(self, p, org)

    # -- reading ------------------------------------------------------------------

    def open_deadline(self, key: str) -> Deadline | None:
        """The latest deadline with this key whose step has not ended."""
        for d in reversed(self.deadlines):
            if d.key == key and d.running:
                return d
        return None

    def open_deadlines(self) -> list[Deadline]:
        return [d for d in self.deadlines if d.running]

    def active_departments(self) -> dict[str, dict[str, Any]]:
        return {k: v for k, v in self.departments.items() if v["released_at"] is None}


def _resume(issue: Issue, event: Issue.Event) -> None:
    issue.suspended_since = None
    approvals.end_suspension(issue, event.timestamp)
    for key, paused_seconds in event.facts["paused_seconds"].items():
        d = issue.open_deadline(key)
        if d is not None:
            d.paused_since, d.paused_seconds = None, paused_seconds


def _pause(issue: Issue, event: Issue.Event) -> None:
    issue.suspended_since = event.timestamp
    issue.suspensions.append({"from": event.timestamp, "to": None})
    for key in event.facts["paused"]:
        d = issue.open_deadline(key)
        if d is not None:
            d.paused_since = event.timestamp


def _summon(issue: Issue, departments: list[str], at: datetime) -> None:
    for dept in departments:
        issue.departments[dept] = {
            "department_id": dept,
            "summoned_at": at,
            "acknowledged_at": None,
            "reported_in_at": None,
            "released_at": None,
        }


EVENT_CLASSES: dict[str, type[Issue.Event]] = {
    cls.ACTION: cls
    for cls in vars(Issue).values()
    if isinstance(cls, type) and issubclass(cls, Issue.Event) and cls.ACTION
}
