"""Named owners (责任人): every step of an issue has an assignee, the principal who owns
it — the actor of the last step that handled it by default (a grid worker's report, an
on-the-spot handling, a coordination, a whistle, a resolution), or whoever the unit's
leader names with `assign` (spec/followup.md, "Fair rankings and named owners").
Per-person figures (projections.owner_views) credit each outcome to the assignee."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from domain.actions import ActionData, Short
from domain.context import Context, Decision
from domain.errors import ValidationFailed
from domain.principals import Principal, Role

if TYPE_CHECKING:
    from domain.issue import Issue

#: Steps whose actor owns the issue from then on.
OWNING_ACTIONS = frozenset({"report", "handle_on_spot", "coordinate", "blow_whistle", "resolve"})
#: Roles whose steps make them no owner: they report, supervise or record for others.
NOT_OWNERS = frozenset(
    {
        Role.RESIDENT,
        Role.BUILDING_HEAD,
        Role.INTAKE,
        Role.SYSTEM,
        Role.CITY_SUPERVISOR,
        Role.AUDITOR,
        Role.ADMIN,
        Role.DEPARTMENT_OFFICER,
    }
)
#: The unit's leaders, who may name an assignee (grid leader, community, street).
ASSIGNERS = frozenset({Role.GRID_LEADER, Role.COMMUNITY_STAFF, Role.STREET_OFFICER})


def owner_after(current: str | None, action: str, actor: dict[str, str], data: Any) -> str | None:
    """The assignee once a step of `action` by `actor` is recorded."""
    if action == "assign":
        return str(data["principal_id"])
    if action in OWNING_ACTIONS and actor.get("role") not in NOT_OWNERS:
        return actor["id"]
    return current


class Assign(ActionData):
    principal_id: Short


def assign(issue: Issue, p: Principal, data: Assign, ctx: Context, _: Any) -> Decision:
    if ctx.is_resident(data.principal_id):
        raise ValidationFailed({"principal_id": "names a resident, not a member of staff"})
    if data.principal_id == issue.assignee:
        raise ValidationFailed({"principal_id": "is the assignee already"})
    return Decision(
        issue.state,
        issue.tier,
        data.model_dump(exclude_none=True),
        {"previous_assignee": issue.assignee},
    )
