"""Taking an action (domain.commands): what each refusal says, evidence cited with a
step, who may attach files, and the clocks of a suspended issue when a step stays or
leaves. The refusals' codes and texts are the HTTP contract's (docs/http.md,
docs/security.md, docs/workflow.md)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

import pytest

from domain.access import may_see
from domain.calendar import Calendars, WorkingCalendar
from domain.commands import require_may_attach
from domain.errors import (
    ForbiddenRole,
    OutsideJurisdiction,
    TransitionNotAllowed,
    UnknownAction,
    ValidationFailed,
)
from domain.service import IssueService
from domain.workflow import CLIENT_ACTIONS
from gridflow.container import issue_service
from gridflow.settings import Settings
from tests.support import (
    AUDITOR,
    HOUSING,
    LEADER,
    MONDAY_9,
    ORG,
    RESIDENT,
    STAFF,
    STREET,
    SYSTEM,
    WORKER,
    Clock,
    P,
    make_service,
    report,
)

PHOTO = {name: name[0] * 64 for name in ("a", "b", "c", "d")}  # SHA-256 ids, by name


def test_each_refusal_says_what_was_refused():
    svc = make_service()
    i = report(svc)
    with pytest.raises(UnknownAction) as unknown:
        svc.act(i, "fly", WORKER, {})
    assert unknown.value.message == "no action 'fly'"
    assert unknown.value.details == {"actions": list(CLIENT_ACTIONS)}
    with pytest.raises(UnknownAction):  # an action with no step of its own
        svc.act(i, "report", WORKER, {})
    with pytest.raises(ForbiddenRole) as role:
        svc.act(i, "verify", WORKER, {})
    assert role.value.message == "a grid_worker may not verify this issue"
    assert role.value.details == {"role": "grid_worker"}
    with pytest.raises(OutsideJurisdiction) as outside:
        svc.act(i, "handle_on_spot", P("grid_worker", "g2"), {})
    assert outside.value.message == "this issue is outside the jurisdiction of grid_worker@g2"
    with pytest.raises(TransitionNotAllowed) as state:
        svc.act(i, "resolve", WORKER, {"resolution": "done"})
    assert state.value.message == "resolve is not allowed: the issue is reported"
    assert state.value.details["state"] == "reported"
    assert "handle_on_spot" in state.value.details["allowed_actions"]


class Uploads:
    """Files uploaded to an issue, or staged by their uploader before any issue."""

    def __init__(self) -> None:
        self.files: dict[str, tuple[str | None, str]] = {}  # id -> (issue id, uploader)

    def unknown(self, issue_id: str | None, principal_id: str, ids: list[str]) -> list[str]:
        def known(e: str) -> bool:
            issue, uploader = self.files.get(e, ("", ""))
            if issue is None:  # staged: for its uploader to cite
                return uploader == principal_id
            return issue == issue_id

        return [e for e in ids if not known(e)]

    def link(self, issue_id: str, principal_id: str, ids: list[str]) -> None:
        for e in ids:
            self.files[e] = (issue_id, principal_id)

    def positions(self, ids: list[str]) -> dict[str, tuple[float, float]]:
        return {}


def test_a_step_cites_files_of_its_issue_or_staged_by_its_actor():
    # given an issue on the spot, with a photo uploaded to it by the leader, the worker's
    # own staged photo, someone else's staged photo and another issue's photo
    uploads = Uploads()
    svc = issue_service(Settings(database_url="memory://"), Clock(), evidence=uploads)
    svc.load_org(ORG)
    i = report(svc)
    other = report(svc)
    svc.act(i, "handle_on_spot", WORKER, {})
    uploads.files |= {
        PHOTO["a"]: (str(i), LEADER.id),
        PHOTO["b"]: (None, WORKER.id),
        PHOTO["c"]: (None, LEADER.id),
        PHOTO["d"]: (str(other), WORKER.id),
    }
    done = {"resolution": "done"}
    # then the worker may not cite the others' staged photo nor another issue's
    with pytest.raises(ValidationFailed) as refused:
        svc.act(i, "resolve", WORKER, {**done, "evidence": [PHOTO["a"], PHOTO["c"], PHOTO["d"]]})
    assert refused.value.fields == {
        "evidence.1": "not uploaded to this issue",
        "evidence.2": "not uploaded to this issue",
    }
    # and cites the issue's photo and their own staged one
    issue = svc.act(i, "resolve", WORKER, {**done, "evidence": [PHOTO["a"], PHOTO["b"]]}).issue
    assert issue.state == "resolved"


def test_files_are_attached_by_the_reporter_and_those_who_may_act_now():
    svc = make_service()
    org = svc.org()
    i = svc.get(
        svc.report(RESIDENT, {"grid_id": "g1", "category": "road", "description": "x"}).issue.id
    )
    require_may_attach(i, RESIDENT, org)  # the reporter
    require_may_attach(i, WORKER, org)  # may handle it on the spot
    with pytest.raises(ForbiddenRole) as nothing_to_do:
        require_may_attach(i, AUDITOR, org)  # sees it, takes no step
    assert nothing_to_do.value.message == "a auditor may take no action on this issue now"
    assert nothing_to_do.value.details == {"role": "auditor"}
    with pytest.raises(OutsideJurisdiction) as outside:
        require_may_attach(i, P("grid_worker", "g2"), org)  # a neighbouring grid
    assert outside.value.message == "this issue is outside the jurisdiction of grid_worker@g2"


def suspended(svc: IssueService, clock: Clock) -> Any:
    """An issue on the spot, suspended with the leader's approval on Monday 09:00."""
    i = report(svc)
    svc.act(i, "handle_on_spot", WORKER, {})
    svc.act(i, "suspend", WORKER, {"reason": "no access"})
    svc.act(i, "approve_suspension", LEADER, {})
    return i


def test_a_step_that_stays_leaves_a_suspended_issues_clocks_paused():
    clock = Clock()
    svc = make_service(clock=clock)
    i = suspended(svc, clock)
    clock.advance(hours=3)
    before = svc.get(i)
    issue = svc.act(i, "comment", STAFF, {"text": "owner away until Friday"}).issue
    (commented,) = svc.app.events.get(i, gt=before.version)
    assert "resumed_clocks" not in commented.facts
    (small,) = [d for d in issue.deadlines if d.key == "small_resolution"]
    assert issue.suspended_since == before.suspended_since
    assert small.paused_since is not None


def one_hour_a_day(clock: Clock) -> IssueService:
    """A service whose community m1 (grid g1's) works 13:00-14:00 only."""
    calendars = Calendars.from_config({"m1": {"hours": "13:00-14:00"}}, WorkingCalendar())
    svc = issue_service(Settings(database_url="memory://", calendars=calendars), clock)
    svc.load_org(ORG)
    return svc


def test_a_clock_ended_while_suspended_keeps_its_pause_in_the_grids_working_hours():
    # given a small matter of g1 suspended Monday 09:00, its clock due Tuesday 09:00
    clock = Clock()
    svc = one_hour_a_day(clock)
    i = suspended(svc, clock)
    # when the community takes it over at 15:00, ending the small-resolution clock
    clock.advance(hours=6)
    issue = svc.act(i, "coordinate", STAFF, {"lead_party": "property company"}).issue
    # then the clock keeps the pause as the grid's hours count it: Monday's one hour
    # paused moves its due time to the end of Tuesday's hour, 14:00 (default calendar: 15:00)
    (small,) = [d for d in issue.deadlines if d.key == "small_resolution"]
    assert (small.status, small.paused_seconds) == ("cancelled", 5 * 3600)


def test_leaving_while_suspended_credits_the_pause_in_the_grids_working_hours():
    # given community m1 working 13:00-14:00 only, and a joint matter suspended Monday 09:00
    clock = Clock()
    svc = one_hour_a_day(clock)
    i = report(svc)
    svc.act(i, "blow_whistle", STAFF, {"departments": ["housing"]})
    svc.act(i, "report_in", HOUSING, {})
    svc.act(i, "suspend", STAFF, {"reason": "waiting for the owner"})
    svc.act(i, "approve_suspension", STREET, {})
    # when another department is summoned at 15:00, leaving joint handling
    clock.advance(hours=6)
    before = svc.get(i)
    svc.act(i, "summon", STAFF, {"departments": ["police"]})
    # then the hard-resolution clock runs again: its 15 working days, due Monday 14
    # December 09:00, a time outside the grid's hours, now end with that day's hour, at
    # 14:00 (on the default calendar the 5 working hours paused would move it to 15:00)
    (summoned,) = svc.app.events.get(i, gt=before.version)
    assert summoned.facts["resumed_clocks"] == {"hard_resolution": 5 * 3600}
    hard = svc.get(i).open_deadline("hard_resolution")
    assert hard is not None and hard.effective_due == datetime(2026, 12, 14, 6, 0, tzinfo=UTC)


def test_a_retried_request_is_recognised_by_its_key_and_recorded_once():
    svc = make_service()
    i = report(svc)
    first = svc.act(i, "handle_on_spot", WORKER, {}, request_key="k-1")
    again = svc.act(i, "handle_on_spot", WORKER, {}, request_key="k-1")
    assert again.issue.version == first.issue.version
    assert [e.facts.get("request_key") for e in svc.app.events.get(i)] == [None, "k-1"]


def test_a_tasks_refusal_names_the_state_and_what_one_may_do_instead():
    # given a joint matter whose department has a task left
    svc = make_service()
    i = report(svc)
    whistle = {"departments": [{"department_id": "housing", "task": "pump the cellar"}]}
    svc.act(i, "blow_whistle", STAFF, whistle)
    svc.act(i, "report_in", HOUSING, {})
    # when the whistle holder resolves it, then it is refused with its state and actions
    with pytest.raises(TransitionNotAllowed) as refused:
        svc.act(i, "resolve", STAFF, {"resolution": "done"})
    assert refused.value.details["state"] == "joint_handling"
    assert "summon" in refused.value.details["allowed_actions"]
    assert "resolve" not in refused.value.details["allowed_actions"]
    assert refused.value.details["departments"] == ["housing"]


def test_a_step_that_ends_a_hotline_due_time_after_it_passed_misses_it():
    # given a ticket due at 12:00 Monday, whose verification's miss was recorded first
    clock = Clock()
    svc = make_service(clock=clock)
    body = {
        "grid_id": "g1",
        "category": "road",
        "description": "pothole",
        "channel": "hotline",
        "hotline": {"ticket_no": "T9", "due_at": "2026-11-23T12:00:00+08:00"},
    }
    i = svc.report(P("intake", "c1", "hotline-12345"), body).issue.id
    svc.act(i, "handle_on_spot", WORKER, {})
    svc.act(i, "resolve", WORKER, {"resolution": "filled"})
    clock.now = svc.get(i).open_deadline("verification").effective_due  # type: ignore[union-attr]
    svc.act(i, "miss_deadline", SYSTEM, {"deadline": "verification"})
    # when the leader verifies it after both due times
    issue = svc.act(i, "verify", LEADER, {}).issue
    # then the hotline's due time, ended by the reply, is missed
    (due,) = [d for d in issue.deadlines if d.key == "hotline_due"]
    assert due.status == "missed"


def test_a_merge_leaves_its_target_where_it_was_with_one_more_duplicate():
    # given a target handled on the spot (a small matter) and a duplicate reported after
    svc = make_service()
    target = report(svc)
    svc.act(target, "handle_on_spot", WORKER, {})
    duplicate = report(svc)
    # when the duplicate is merged into it
    svc.act(duplicate, "merge", LEADER, {"duplicate_of": str(target)})
    # then the target keeps its state and tier, and lists the duplicate
    kept = svc.get(target)
    assert (kept.state, kept.tier, kept.duplicates) == ("on_spot", "small", [str(duplicate)])


# -- report ---------------------------------------------------------------------------

ROAD = {"grid_id": "g1", "category": "road", "description": "pothole"}


def test_grid_staff_report_what_their_patrol_found_and_nobody_else_claims_a_patrol():
    svc = make_service()
    for p in (WORKER, LEADER, STAFF):
        assert svc.report(p, ROAD).issue.channel == "patrol"
    assert svc.report(WORKER, {**ROAD, "channel": "resident"}).issue.channel == "resident"
    assert svc.report(RESIDENT, ROAD).issue.channel == "resident"
    with pytest.raises(ValidationFailed) as refused:
        svc.report(RESIDENT, {**ROAD, "channel": "patrol"})
    assert refused.value.fields == {"channel": "only grid staff report on channel patrol"}


class Residents:
    def is_resident(self, principal_id: str) -> bool:
        return principal_id == RESIDENT.id


def test_a_report_for_a_known_resident_is_theirs_to_follow():
    svc = issue_service(Settings(database_url="memory://"), Clock(), directory=Residents())
    svc.load_org(ORG)
    building_head = P("building_head", "g1")
    for_her = {**ROAD, "reporter": {"name": "Wang", "principal_id": RESIDENT.id}}
    i = svc.report(building_head, for_her).issue.id
    assert svc.get(i).reporter_principal == RESIDENT.id
    assert may_see(RESIDENT, svc.get(i), svc.org())  # she follows it
    with pytest.raises(ValidationFailed) as refused:
        svc.report(building_head, {**ROAD, "reporter": {"principal_id": WORKER.id}})
    assert refused.value.fields == {"reporter.principal_id": "names no resident"}


def test_who_may_not_report_or_settle_is_told_so():
    svc = make_service()
    with pytest.raises(ForbiddenRole) as auditor:
        svc.report(AUDITOR, ROAD)
    assert auditor.value.message == "a auditor may not report issues"
    assert auditor.value.details == {"role": "auditor"}
    with pytest.raises(ForbiddenRole) as settle:
        svc.report(STAFF, {**ROAD, "settled_on_spot": True, "resolution": "filled"})
    assert settle.value.message == "only grid workers and grid leaders settle matters on the spot"
    with pytest.raises(ValidationFailed) as ticket:
        svc.report(WORKER, {**ROAD, "hotline": {"ticket_no": "T1"}})
    assert ticket.value.fields == {"hotline": "only the hotline desk (intake) gives ticket facts"}


def test_a_report_cites_only_files_its_reporter_staged():
    uploads = Uploads()
    svc = issue_service(Settings(database_url="memory://"), Clock(), evidence=uploads)
    svc.load_org(ORG)
    uploads.files |= {PHOTO["a"]: (None, WORKER.id), PHOTO["b"]: (None, LEADER.id)}
    with pytest.raises(ValidationFailed) as refused:
        svc.report(WORKER, {**ROAD, "evidence": [PHOTO["a"], PHOTO["b"]]})
    assert refused.value.fields == {"evidence.1": "not uploaded to this issue"}
    assert svc.report(WORKER, {**ROAD, "evidence": [PHOTO["a"]]}).issue.evidence


def test_a_report_placed_by_its_address_lies_in_that_grid():
    by_address = {**ROAD, "grid_id": None, "location": {"address": "幸福路1号"}}
    assert make_service().report(STAFF, by_address).issue.grid_id == "g2"


def test_a_ticket_is_placed_by_the_hotlines_names_and_else_waits_at_the_desk():
    svc = make_service()
    desk = P("intake", "c1", "hotline-12345")
    ticket = {"description": "pothole", "channel": "hotline", "hotline": {"ticket_no": "T1"}}
    # the hotline's own name of a category is mapped through the catalogue
    named = svc.report(desk, {**ticket, "grid_id": "g1", "category": "Damaged road"}).issue
    assert (named.grid_id, named.category, named.unplaced) == ("g1", "road", [])
    # a ticket whose place and category match nothing waits at the desk's node
    lost = {**ticket, "location": {"address": "nowhere 9"}, "category": "Stray dogs"}
    waiting = svc.report(desk, lost).issue
    assert (waiting.grid_id, waiting.category) == ("c1", "")
    assert waiting.unplaced == ["category", "location.address"]
    # and a report that is no ticket names a category by its code
    with pytest.raises(ValidationFailed) as refused:
        svc.report(WORKER, {**ROAD, "category": "Damaged road"})
    assert refused.value.fields == {"category": "no category 'Damaged road'"}


def test_a_report_outside_the_reporters_scope_names_the_grid():
    with pytest.raises(OutsideJurisdiction) as outside:
        make_service().report(P("grid_worker", "g2"), ROAD)
    assert outside.value.message == "grid g1 is outside the jurisdiction of grid_worker@g2"


def test_what_a_report_settles_or_a_ticket_says_is_not_kept_as_the_reports_data():
    svc = issue_service(Settings(database_url="memory://"), Clock())
    cones = {"code": "cones", "name": "Cones", "limits": {}, "close_conditions": ["cleared"]}
    svc.load_org({**ORG, "categories": [*ORG["categories"], cones]})
    body = {**ROAD, "category": "cones"}
    settled = {
        **body,
        "settled_on_spot": True,
        "resolution": "gone",
        "checklist": {"cleared": True},
    }
    i = svc.report(WORKER, settled).issue.id
    reported, *steps = svc.app.events.get(i)
    assert reported.data == {"evidence": [], **body}
    assert [type(e).__name__ for e in steps] == ["HandledOnSpot", "Resolved"]
    assert steps[1].data["checklist"] == {"cleared": True}  # kept where it belongs
    ticket = {**ROAD, "channel": "hotline", "hotline": {"ticket_no": "T1"}}
    j = svc.report(P("intake", "c1", "hotline-12345"), ticket).issue.id
    assert "hotline" not in next(iter(svc.app.events.get(j))).data


class Sealing:
    """Seals a reporter's details as a string no one reads without opening it."""

    def seal(self, data: dict[str, Any]) -> dict[str, Any]:
        return {"sealed": json.dumps(data, sort_keys=True)}

    def open(self, sealed: dict[str, Any] | None) -> dict[str, Any] | None:
        return json.loads(sealed["sealed"]) if sealed else None


def test_a_reporters_contact_details_are_sealed_before_they_are_recorded():
    svc = issue_service(Settings(database_url="memory://"), Clock(), vault=Sealing())
    svc.load_org(ORG)
    i = svc.report(WORKER, {**ROAD, "reporter": {"name": "Wang", "phone": "13800000000"}}).issue.id
    (reported,) = svc.app.events.get(i)
    assert reported.data["reporter"] == {"sealed": '{"name": "Wang", "phone": "13800000000"}'}
    assert "13800000000" not in json.dumps(
        {k: v for k, v in reported.data.items() if k != "reporter"}
    )


def test_the_triage_clock_follows_the_categorys_own_limit():
    clock = Clock()
    svc = issue_service(Settings(database_url="memory://"), clock)
    quick = {"code": "gas", "name": "Gas smell", "limits": {"triage": "1h"}}
    svc.load_org({**ORG, "categories": [*ORG["categories"], quick]})
    i = svc.report(WORKER, {**ROAD, "category": "gas"}).issue.id
    triage = svc.get(i).open_deadline("triage")
    assert triage is not None and triage.due_at == clock.now + timedelta(hours=1)


def test_a_report_keeps_its_id_time_and_category_version_and_a_photo_when_required():
    # given a category that asks for a photo at report
    clock = Clock()
    svc = issue_service(Settings(database_url="memory://"), clock)
    dumping = {"code": "dumping", "name": "Dumping", "limits": {}, "photos_required": ["report"]}
    svc.load_org({**ORG, "categories": [*ORG["categories"], dumping]})
    body = {**ROAD, "category": "dumping"}
    # then a patrol report without one is refused, a ticket is not (it has no photo)
    with pytest.raises(ValidationFailed) as refused:
        svc.report(WORKER, body)
    assert refused.value.fields == {"evidence": "cite the photo this category requires at report"}
    desk = P("intake", "c1", "hotline-12345")
    svc.report(desk, {**body, "channel": "hotline", "hotline": {"ticket_no": "T1"}})
    # and a report with one is recorded under the id asked for, at the service's time,
    # with the category as the catalogue's current version has it
    asked = uuid4()
    issue = svc.report(WORKER, {**body, "evidence": [PHOTO["a"]]}, issue_id=asked).issue
    assert issue.id == asked and svc.get(asked).reported_at == MONDAY_9
    assert issue.catalogue == {
        "version": svc.org().version,
        "code": "dumping",
        "photos_required": ["report"],
    }
