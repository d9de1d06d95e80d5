"""What the domain needs from outside that does I/O, declared here, plugged in by the
composition root (gridflow/container.py)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from eventsourcing.persistence import Recording


class EvidenceIndex(Protocol):
    def unknown(self, issue_id: str | None, principal_id: str, ids: list[str]) -> list[str]:
        """Evidence ids neither uploaded to this issue nor staged by this principal."""
        ...

    def link(self, issue_id: str, principal_id: str, ids: list[str]) -> None:
        """Staged uploads cited by a recorded action now belong to its issue."""
        ...

    def positions(self, ids: list[str]) -> dict[str, tuple[float, float]]:
        """The EXIF positions (WGS-84 lat, lon) of these files, where they have one."""
        ...


class NoEvidence:
    """Accepts any well-formed id (unit tests, the in-memory store)."""

    def unknown(self, issue_id: str | None, principal_id: str, ids: list[str]) -> list[str]:
        return []

    def link(self, issue_id: str, principal_id: str, ids: list[str]) -> None:
        return None

    def positions(self, ids: list[str]) -> dict[str, tuple[float, float]]:
        return {}


class Directory(Protocol):
    def is_resident(self, principal_id: str) -> bool:
        """Whether the principal is known, and only ever as a resident."""
        ...


class NoDirectory:
    """Knows nobody (unit tests, the in-memory store): no report may name a resident."""

    def is_resident(self, principal_id: str) -> bool:
        return False


class SaveEvents(Protocol):
    """Saves the events in one transaction and answers their recordings (the library's
    `Application.save`, or a group commit that shares one transaction among commands)."""

    def __call__(self, events: Sequence[Any]) -> Sequence[Recording[Any]]: ...
