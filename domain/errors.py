"""One hierarchy of domain errors, each with a code of the HTTP contract and details.

`api/errors.py` maps each class to a status; nothing else catches them.
"""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    code = "domain_error"

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


class IssueNotFound(DomainError):
    code = "issue_not_found"


class UnknownAction(DomainError):
    code = "unknown_action"


class Forbidden(DomainError):
    """The caller may see the issue but may not take this action."""

    code = "forbidden"


class ForbiddenRole(Forbidden):
    code = "forbidden_role"


class OutsideJurisdiction(Forbidden):
    code = "outside_jurisdiction"


class ResolverCannotVerify(Forbidden):
    """Separation of duties: whoever resolved an issue never verifies it."""

    code = "resolver_cannot_verify"


class SeparationOfDuties(Forbidden):
    """Nobody records the callback of an issue they handled, or approves their own
    request (suspension, extension, escalation)."""

    code = "separation_of_duties"


class ValidationFailed(DomainError):
    """Bad data; `details["fields"]` maps each field path to its problem."""

    code = "validation_failed"

    def __init__(self, fields: dict[str, str], message: str = "invalid data") -> None:
        super().__init__(message, fields=fields)
        self.fields = fields


class TransitionNotAllowed(DomainError):
    code = "transition_not_allowed"


class CapReached(TransitionNotAllowed):
    """A cap of the workflow is reached (transfers, extensions): only a higher level may
    go on."""

    code = "cap_reached"


class TasksIncomplete(TransitionNotAllowed):
    """A hard matter is resolved only when every department not released has completed
    its task; `details["departments"]` names those that have not."""

    code = "tasks_incomplete"


class BeyondHolidayData(TransitionNotAllowed):
    """A working-time deadline falls due on a day the official holiday data does not
    cover: its miss is not recorded until the calendar file has that year."""


class VersionConflict(DomainError):
    """Another write got there first (stale `If-Match`, or retries ran out)."""

    code = "version_conflict"

    def __init__(self, message: str, *, current_version: int, stale: bool) -> None:
        super().__init__(message, current_version=current_version)
        self.stale = stale


class InvalidOrganisation(DomainError):
    code = "invalid_organisation"

    def __init__(self, problems: list[str]) -> None:
        super().__init__(f"{len(problems)} problem(s) in the organisation", problems=problems)
        self.problems = problems
