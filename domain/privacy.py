"""Personal data (reporters' contact details) is kept sealed in the log.

The domain only declares what it needs; the vault that encrypts per person, and forgets
a person's key on an erasure request, is plugged in from outside (stores/privacy.py).
Erasing destroys the key, never an event, so the audit chain still verifies.
"""

from __future__ import annotations

from typing import Any, Protocol

ERASED: dict[str, Any] = {"erased": True}


class Vault(Protocol):
    def seal(self, data: dict[str, Any]) -> dict[str, Any]:
        """The form the log keeps: `{"sealed": …, "subject": …}`."""
        ...

    def open(self, sealed: dict[str, Any] | None) -> dict[str, Any] | None:
        """The contact details again; `ERASED` once the person's key is gone."""
        ...


class PlainVault:
    """No sealing (unit tests and the in-memory store): data stays as given."""

    def seal(self, data: dict[str, Any]) -> dict[str, Any]:
        return data

    def open(self, sealed: dict[str, Any] | None) -> dict[str, Any] | None:
        return sealed
