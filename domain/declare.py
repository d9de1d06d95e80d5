"""The words an action is declared in, once (see `domain.workflow` for the declarations
and docs/actions.md for how to add one).

An action says where it may lead from which state, who may take it at which tier and
within which reach, what data it takes, which decision and event it records, the rules
beyond the table that must hold, whose queue it puts the issue in, how the views fold it,
and its labels. The transition table, the OpenAPI document, the console's forms, the
queues' SQL and the diagram are derived from these declarations, and a test checks that
every derived place agrees with them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Protocol

from domain.principals import Principal, Role

if TYPE_CHECKING:
    from domain.actions import ActionData
    from domain.context import Context, Decision
    from domain.errors import DomainError
    from domain.issue import Issue

#: Who may take an action: one set of roles, or one per tier where the spec says so.
Roles = frozenset[Role] | Mapping[str, frozenset[Role]]


@dataclass(frozen=True)
class Move:
    """From any of `sources` to `dest` ("=" stays in the state it is in); `when` names
    the condition the decision chooses by, shown in the diagram."""

    sources: tuple[str, ...]
    dest: str
    when: str | None = None


@dataclass(frozen=True)
class Labels:
    zh: str
    en: str


class Reach(StrEnum):
    """Which issues lie within a principal's jurisdiction for an action (beyond what a
    role reaches everywhere: supervisors, departments on what they were summoned to,
    residents on their own reports)."""

    NODE = "node"  # the issue's grid lies in the principal's node
    NODE_OR_REPORTER = "node_or_reporter"  # … or the principal reported it
    ANY_PART = "any_part"  # … or the principal's department was ever summoned to it


@dataclass(frozen=True)
class Rule:
    """A condition beyond the transition table (the issue is not suspended, the actor
    did not resolve it, …). `holds` decides it; `why` is the refusal's reason; `refuse`
    builds another error than 409 `transition_not_allowed` where the contract says so.
    Views that must agree (the queues) carry the same rule, by name, as SQL."""

    name: str
    why: str
    holds: Callable[[Issue, Principal], bool]
    refuse: Callable[[str], DomainError] | None = None
    #: what a refusal names beyond its reason (its `details`), e.g. the departments whose
    #: tasks are not done
    details: Callable[[Issue, Principal], dict[str, Any]] | None = None


class Counter(Protocol):
    """Counts `n` (default one; negative takes back) of `metric` (of a department, where
    it is one's) on the local day of `at` (a UTC time; default: the event's)."""

    def __call__(self, metric: str, dept: str = "", at: str | None = None, n: int = 1) -> None: ...


class Folded(Protocol):
    """What a view folds of an event (projections.records.Record): times as UTC strings."""

    @property
    def action(self) -> str: ...
    @property
    def at(self) -> str: ...
    @property
    def actor(self) -> dict[str, str]: ...
    @property
    def data(self) -> dict[str, Any]: ...
    @property
    def facts(self) -> dict[str, Any]: ...
    @property
    def to_state(self) -> str: ...


#: How the views fold an action into an issue's summary row, beyond state, tier and
#: deadlines (which every event carries): (row, event, state before, counter).
Fold = Callable[[dict[str, Any], Folded, str, Counter], None]
Decide = Callable[["Issue", Principal, Any, "Context", Any], "Decision"]


@dataclass(frozen=True)
class Action:
    name: str
    moves: tuple[Move, ...]
    roles: Roles
    data: type[ActionData]
    event: type[Issue.Event]
    labels: Labels
    decide: Decide | None = None
    rules: tuple[Rule, ...] = ()
    reach: Reach = Reach.NODE
    #: whose queue holds the issue while they may take this action, and on which further
    #: conditions (a role may take an action without it being a step they owe)
    queue: Mapping[Role, tuple[Rule, ...]] = field(default_factory=dict)
    fold: Fold | None = None
    example: Mapping[str, Any] = field(default_factory=dict)
    #: may a client request it at POST /issues/{id}/actions/{action}
    client: bool = True

    def roles_for(self, tier: str | None) -> frozenset[Role]:
        """The roles that may take the action on an issue of `tier` (any tier: None)."""
        if isinstance(self.roles, frozenset):
            return self.roles
        if tier is None:
            return frozenset().union(*self.roles.values())
        return self.roles.get(tier, frozenset())

    def tiers_for(self, role: Role) -> tuple[str, ...] | None:
        """The tiers at which `role` may take the action; None: at every tier."""
        if isinstance(self.roles, frozenset):
            return None if role in self.roles else ()
        return tuple(t for t, roles in self.roles.items() if role in roles)

    def sources(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(s for m in self.moves for s in m.sources))
