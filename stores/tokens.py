"""Bearer tokens: minted by the command line, stored only as SHA-256 hashes."""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from domain.principals import Principal, Role
from stores.db import Database


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class TokenInfo:
    token_id: str  # the first 12 hex digits of the hash: safe to show and to revoke by
    principal: Principal
    created_at: str
    expires_at: str | None
    revoked_at: str | None


def parse_duration(text: str) -> timedelta:
    units = {"m": 60, "h": 3600, "d": 86400}
    if len(text) < 2 or text[-1] not in units or not text[:-1].isdigit():
        raise ValueError(f"{text!r}: a duration such as 90d, 12h or 30m")
    return timedelta(seconds=int(text[:-1]) * units[text[-1]])


class TokenStore:
    CACHE_SECONDS = 5.0

    def __init__(self, db: Database) -> None:
        self.db = db
        self._cache: dict[str, tuple[float, Principal | None, datetime | None]] = {}

    def create(self, p: Principal, expires_in: timedelta | None = None) -> str:
        token = "gf_" + secrets.token_urlsafe(32)
        now = datetime.now(UTC)
        expires = (now + expires_in).isoformat() if expires_in else None
        with self.db.transaction() as cur:
            cur.execute(
                "INSERT INTO gridflow_tokens (token_hash, principal_id, role, scope, created_at, "
                "expires_at) VALUES (%s, %s, %s, %s, %s, %s)",
                (token_hash(token), p.id, p.role.value, p.scope, now.isoformat(), expires),
            )
        return token

    def principal(self, token: str, now: datetime | None = None) -> Principal | None:
        """The principal a live token stands for; None if unknown, expired or revoked.
        Lookups are kept `CACHE_SECONDS` (a revocation elsewhere shows within that time;
        one through this store at once); expiry is checked on every call."""
        key = token_hash(token)
        hit = self._cache.get(key)
        if hit is None or time.monotonic() - hit[0] >= self.CACHE_SECONDS:
            hit = (time.monotonic(), *self._lookup(key))
            if len(self._cache) > 10_000:
                self._cache.clear()
            self._cache[key] = hit
        _, principal, expires = hit
        if expires is not None and expires <= (now or datetime.now(UTC)):
            return None
        return principal

    def _lookup(self, key: str) -> tuple[Principal | None, datetime | None]:
        with self.db.transaction(write=False) as cur:
            cur.execute(
                "SELECT principal_id, role, scope, expires_at, revoked_at FROM gridflow_tokens "
                "WHERE token_hash = %s",
                (key,),
            )
            row = cur.fetchone()
        if row is None or row[4] is not None:
            return None, None
        expires = datetime.fromisoformat(row[3]) if row[3] is not None else None
        return Principal(row[0], Role(row[1]), row[2]), expires

    def is_resident(self, principal_id: str) -> bool:
        """Whether tokens were minted for this principal, every one as a resident (the
        tokens are the service's only record of who its principals are)."""
        with self.db.transaction(write=False) as cur:
            cur.execute(
                "SELECT DISTINCT role FROM gridflow_tokens WHERE principal_id = %s",
                (principal_id,),
            )
            roles = {r[0] for r in cur.fetchall()}
        return roles == {Role.RESIDENT.value}

    def revoke(self, token_or_id: str) -> int:
        """Revoke by the token itself, its id (hash prefix), or a principal id."""
        h = token_hash(token_or_id)
        self._cache.clear()
        now = datetime.now(UTC).isoformat()
        with self.db.transaction() as cur:
            cur.execute(
                "UPDATE gridflow_tokens SET revoked_at = %s WHERE revoked_at IS NULL AND "
                "(token_hash = %s OR (length(%s) = 12 AND substr(token_hash, 1, 12) = %s) "
                "OR principal_id = %s)",
                (now, h, token_or_id, token_or_id, token_or_id),
            )
            return int(cur.rowcount)

    def list(self) -> list[TokenInfo]:
        with self.db.transaction() as cur:
            cur.execute(
                "SELECT token_hash, principal_id, role, scope, created_at, expires_at, revoked_at "
                "FROM gridflow_tokens ORDER BY created_at"
            )
            rows: list[Any] = cur.fetchall()
        return [
            TokenInfo(r[0][:12], Principal(r[1], Role(r[2]), r[3]), r[4], r[5], r[6]) for r in rows
        ]
