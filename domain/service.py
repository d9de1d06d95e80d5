"""The application service: one method per action, an injectable clock, and the log.

Each command loads the issue, lets the aggregate check and record, saves, and returns
the issue with its position in the log. A concurrent write that wins first is retried
on the fresh issue (with jittered back-off, for up to CONFLICT_BUDGET_SECONDS), unless
the caller named the version it expected.
"""

from __future__ import annotations

import itertools
import random
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid4

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.persistence import IntegrityError

from domain import commands
from domain.access import may_see, may_see_personal
from domain.context import Context
from domain.errors import (
    DomainError,
    IssueNotFound,
    UnknownAction,
    VersionConflict,
)
from domain.history import entries as history_entries
from domain.issue import Issue
from domain.organisation import ORGANISATION_ID, Org, Organisation
from domain.policy import Policy
from domain.ports import Directory, EvidenceIndex, NoDirectory, NoEvidence, SaveEvents
from domain.principals import Principal
from domain.privacy import PlainVault, Vault
from domain.workflow import CLIENT_ACTIONS

Clock = Callable[[], datetime]
RETRIES = 3  # the organisation's loads
# A command that loses the race for a version to another process is decided again on
# the fresh issue, after a jittered back-off (so that the two stop colliding), for as
# long as this budget lasts (and at least MIN_ATTEMPTS times, however slow the store).
CONFLICT_BUDGET_SECONDS = 5.0
MIN_ATTEMPTS = 3
BACKOFF_FIRST_SECONDS = 0.002
BACKOFF_MAX_SECONDS = 0.1
ISSUE_LOCK_STRIPES = 256
ORG_REFRESH_SECONDS = 1.0


def replay(aggregate: Any, events: Iterable[Any]) -> Any:
    """The library's projector without its per-event `isinstance` check against a
    runtime-checkable Protocol, which costs about 50 µs an event on Python 3.11 (most of
    loading an issue of 40 events); every event of ours has `mutate`."""
    for event in events:
        aggregate = event.mutate(aggregate)
    return aggregate


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Result:
    issue: Issue
    position: int


class IssueService:
    """The application service over an opened event store (`stores.eventstore`). `save`
    replaces the store's own save (the group commit of `stores.groupcommit`)."""

    def __init__(
        self,
        app: Application[UUID],
        policy: Policy | None = None,
        clock: Clock = utc_now,
        vault: Vault | None = None,
        evidence: EvidenceIndex | None = None,
        directory: Directory | None = None,
        save: SaveEvents | None = None,
    ) -> None:
        self.app = app
        self.policy = policy or Policy()
        self.clock = clock
        self.vault: Vault = vault or PlainVault()
        self.evidence: EvidenceIndex = evidence or NoEvidence()
        self.directory: Directory = directory or NoDirectory()
        self._save_events: SaveEvents = save or (lambda events: app.save(*events))
        # Commands on one issue within this process take turns (load, decide, save), so
        # they never race each other; other processes' races are retried.
        self._issue_locks = [threading.Lock() for _ in range(ISSUE_LOCK_STRIPES)]
        self._org_lock = threading.Lock()
        self._org_aggregate: Organisation | None = None
        self._org = Org()
        self._org_checked = float("-inf")
        #: called with the new log position after every save (wakes in-process workers)
        self.on_saved: list[Callable[[int], None]] = []
        #: saves lost to another process's write of the same version (bench.contention)
        self.lost_races = 0

    def close(self) -> None:
        self.app.close()

    # -- organisation ---------------------------------------------------------------

    def org(self) -> Org:
        """The organisation, fast-forwarded to the newest change in the log at most once
        every `ORG_REFRESH_SECONDS` (a load in another process shows within that time;
        a load through this service at once)."""
        if time.monotonic() - self._org_checked < ORG_REFRESH_SECONDS:
            return self._org
        with self._org_lock:  # callers wait for the refresh rather than read a stale one
            now = time.monotonic()
            if now - self._org_checked < ORG_REFRESH_SECONDS:
                return self._org  # refreshed by another thread while this one waited
            agg = self._org_aggregate
            newer = list(self.app.events.get(ORGANISATION_ID, gt=agg.version if agg else None))
            if newer:
                agg = replay(agg, newer)
                self._org_aggregate = agg
                self._org = Org(agg)
            self._org_checked = now
            return self._org

    def load_org(self, document: Mapping[str, Any]) -> int | None:
        """Record the organisation file's changes; the log position, or None if none."""
        for _ in range(RETRIES):
            try:
                agg: Organisation = self._load(ORGANISATION_ID)
            except AggregateNotFoundError:
                agg = Organisation.new()
            agg.change(document, timestamp=self.clock())
            if not agg.pending_events:
                return None
            try:
                position = self._save(agg)
                self._org_checked = float("-inf")
                return position
            except IntegrityError:
                continue
        raise VersionConflict(
            "the organisation changed concurrently", current_version=0, stale=False
        )

    # -- commands -------------------------------------------------------------------

    def context(self) -> Context:
        s = self.policy
        return Context(
            self.clock(),
            self.org(),
            s.calendars,
            s.limits,
            s.escalate_missed_small,
            self.vault.seal,
            self.evidence.unknown,
            self.directory.is_resident,
            s.transfer_cap,
            self.evidence.positions,
        )

    def report(self, p: Principal, data: Any, *, issue_id: UUID | None = None) -> Result:
        """Record a new issue. A given `issue_id` that already exists raises
        VersionConflict (ids derived from idempotency keys and ticket numbers)."""
        issue = commands.report(issue_id or uuid4(), p, data, self.context())
        try:
            return Result(issue, self._save(issue))
        except IntegrityError:
            raise VersionConflict(
                "an issue with this id exists", current_version=1, stale=False
            ) from None

    def as_reported(self, issue_id: UUID) -> Result:
        """An issue as its report left it — one event, or three when it was settled on the
        spot (domain.commands.report) — for a retry of a report recorded before a crash
        whose answer was never kept."""
        events = list(self.app.events.get(issue_id))
        first = events[0]
        same_step = [
            e
            for e in events[1:3]
            if e.timestamp == first.timestamp  # type: ignore[attr-defined]
            and e.actor == first.actor  # type: ignore[attr-defined]
        ]
        settled = [e.ACTION for e in same_step] == ["handle_on_spot", "resolve"]  # type: ignore[attr-defined]
        return Result(self.get(issue_id, version=3 if settled else 1), self.head())

    def report_many(
        self, p: Principal, items: list[tuple[UUID, Any]], batch: int = 500
    ) -> list[tuple[str, Any]]:
        """Report many issues with given ids (hotline tickets), saved a batch to a
        transaction. For each item: ("created", Result), ("duplicate", None) when the id
        exists (or an earlier item has it), or ("error", DomainError). Each issue is
        recorded whole or not at all."""
        ctx = self.context()
        out: list[tuple[str, Any]] = [("error", None)] * len(items)
        pending: list[tuple[int, Issue]] = []
        seen: set[UUID] = set()
        for k, (issue_id, data) in enumerate(items):
            if issue_id in seen:
                out[k] = ("duplicate", None)
                continue
            try:
                pending.append((k, commands.report(issue_id, p, data, ctx)))
                seen.add(issue_id)
            except DomainError as exc:
                out[k] = ("error", exc)
        for start in range(0, len(pending), batch):
            chunk = [
                (k, issue, issue.collect_events()) for k, issue in pending[start : start + batch]
            ]
            saved = self._save_new(chunk)
            for k, issue, _ in chunk:
                position = saved.get(issue.id)
                out[k] = (
                    ("duplicate", None)
                    if position is None
                    else ("created", Result(issue, position))
                )
            if saved:
                for listener in self.on_saved:
                    listener(max(saved.values()))
        return out

    def _save_new(self, chunk: list[tuple[int, Issue, Any]]) -> dict[UUID, int]:
        """Save the chunk's new issues in one transaction, leaving out those that exist
        (imported before, or by another import meanwhile: then one by one). The last
        position of each issue saved."""

        def save(part: list[tuple[int, Issue, Any]]) -> dict[UUID, int]:
            recordings = self.app.save(*(e for _, _, events in part for e in events))
            return {r.domain_event.originator_id: r.notification.id for r in recordings}

        try:
            return save(chunk)
        except IntegrityError:
            fresh = [c for c in chunk if not self._exists(c[1].id)]
        try:
            return save(fresh) if fresh else {}
        except IntegrityError:
            saved: dict[UUID, int] = {}
            for c in fresh:
                try:
                    saved |= save([c])
                except IntegrityError:
                    continue
            return saved

    def exists(self, issue_id: UUID) -> bool:
        """Whether an issue with this id is recorded."""
        return self._exists(issue_id)

    def _exists(self, issue_id: UUID) -> bool:
        return bool(self.app.recorder.select_events(issue_id, limit=1))

    def act(
        self,
        issue_id: UUID,
        action: str,
        p: Principal,
        data: Any = None,
        *,
        expected_version: int | None = None,
        client: bool = False,
        request_key: str | None = None,
    ) -> Result:
        """Take `action`. `client`: the caller is outside the service (no system-only
        actions); `request_key` is kept on the event so a retry can be recognised."""
        with self._issue_locks[issue_id.int % len(self._issue_locks)]:
            return self._act(issue_id, action, p, data, expected_version, client, request_key)

    def _act(
        self,
        issue_id: UUID,
        action: str,
        p: Principal,
        data: Any,
        expected_version: int | None,
        client: bool,
        request_key: str | None,
    ) -> Result:
        deadline = time.monotonic() + CONFLICT_BUDGET_SECONDS
        for attempt in itertools.count(1):
            issue, recorded = self._load_for_request(issue_id, p, request_key)
            if recorded is not None:  # a retry of a request already recorded
                return recorded
            if client and action not in CLIENT_ACTIONS:
                raise UnknownAction(f"no action {action!r}", actions=list(CLIENT_ACTIONS))
            before = issue.version
            related = self._merge_target(data, p) if action == "merge" else None
            issue.take(action, p, data, self.context(), related, request_key)
            if expected_version is not None and expected_version != before:
                raise VersionConflict(
                    f"the issue is at version {before}, not {expected_version}",
                    current_version=before,
                    stale=True,
                )
            try:
                return Result(issue, self._save(issue, related))
            except IntegrityError:
                self.lost_races += 1
                spent = attempt >= MIN_ATTEMPTS and time.monotonic() >= deadline
                if expected_version is not None or spent:
                    current: int = self._load(issue_id).version
                    raise VersionConflict(
                        "another change to this issue was recorded first",
                        current_version=current,
                        stale=expected_version is not None,
                    ) from None
                # full jitter: a random wait up to a bound that doubles with each loss
                cap = min(BACKOFF_MAX_SECONDS, BACKOFF_FIRST_SECONDS * 2 ** (attempt - 1))
                time.sleep(random.uniform(0, cap))
        raise AssertionError("unreachable")  # pragma: no cover

    def _load_for_request(
        self, issue_id: UUID, p: Principal, request_key: str | None
    ) -> tuple[Issue, Result | None]:
        """The issue now, and, if an event of it carries `request_key`, the issue as that
        event left it: read from the same events, so that a request recorded by another
        process in between is seen either here or as a conflict when saving."""
        if request_key is None:
            return self.get(issue_id, p), None
        events = list(self.app.events.get(issue_id))
        if not events:
            raise IssueNotFound(f"no issue {issue_id}")
        issue: Issue = replay(None, events)
        if not may_see(p, issue, self.org()):
            raise IssueNotFound(f"no issue {issue_id}")
        for e in reversed(events):
            if getattr(e, "facts", {}).get("request_key") == request_key:
                then = replay(None, events[: e.originator_version])
                return issue, Result(then, self.head())
        return issue, None

    def head(self) -> int:
        """The newest position in the log."""
        return self.app.recorder.max_notification_id() or 0

    def _merge_target(self, data: Any, p: Principal) -> Issue | None:
        target = data.get("duplicate_of") if isinstance(data, Mapping) else None
        try:
            return self.get(UUID(str(target)), p) if target else None
        except (ValueError, IssueNotFound):
            return None

    def _save(self, *aggregates: Issue | Organisation | None) -> int:
        events = [e for a in aggregates if a is not None for e in a.collect_events()]
        recordings = self._save_events(events)
        position = max(r.notification.id for r in recordings)
        for r in recordings:
            cited = getattr(r.domain_event, "data", {}).get("evidence")
            if cited:
                actor = r.domain_event.actor["id"]  # type: ignore[attr-defined]
                self.evidence.link(str(r.domain_event.originator_id), actor, cited)
        for listener in self.on_saved:
            listener(position)
        return position

    # -- reading --------------------------------------------------------------------

    def _load(self, aggregate_id: UUID, version: int | None = None) -> Any:
        """The aggregate replayed from the log (AggregateNotFoundError if it has none)."""
        return self.app.repository.get(aggregate_id, version=version, projector_func=replay)

    def get(
        self,
        issue_id: UUID,
        p: Principal | None = None,
        *,
        version: int | None = None,
        as_of: datetime | None = None,
    ) -> Issue:
        """The issue now, at a version, or as it was at a time (replayed from the log).
        Unknown, or not visible to `p`: IssueNotFound."""
        try:
            issue: Issue = self._load(issue_id)
            if p is not None and not may_see(p, issue, self.org()):
                raise IssueNotFound(f"no issue {issue_id}")
            if as_of is not None:
                events = [e for e in self.app.events.get(issue_id) if e.timestamp <= as_of]  # type: ignore[attr-defined]
                if not events:
                    raise IssueNotFound(f"issue {issue_id} did not exist at {as_of.isoformat()}")
                version = events[-1].originator_version
            if version is not None and version != issue.version:
                if not 1 <= version <= issue.version:
                    raise IssueNotFound(f"issue {issue_id} has no version {version}")
                issue = self._load(issue_id, version=version)
            return issue
        except AggregateNotFoundError:
            raise IssueNotFound(f"no issue {issue_id}") from None

    def allowed_actions(self, issue: Issue, p: Principal) -> list[str]:
        return issue.allowed_actions(p, self.org())

    def require_may_attach(self, issue: Issue, p: Principal) -> None:
        """Forbidden unless `p` reported the issue or may act on it now (evidence)."""
        commands.require_may_attach(issue, p, self.org())

    def history(self, issue_id: UUID, p: Principal) -> list[dict[str, Any]]:
        """Every event of the issue in order: the audit trail read from the log."""
        issue = self.get(issue_id, p)
        personal = may_see_personal(p, issue, self.org())
        return history_entries(self.app.events.get(issue_id), personal, self.vault.open)

    def may_see(self, p: Principal, issue: Issue) -> bool:
        return may_see(p, issue, self.org())
