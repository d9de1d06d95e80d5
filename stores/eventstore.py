"""The event store: the library's application over the configured database.

`GRIDFLOW_DATABASE_URL` is translated here into the eventsourcing library's persistence
settings; the domain's service is handed the opened application and never reads the
configuration itself.
"""

from __future__ import annotations

from urllib.parse import unquote, urlparse
from uuid import UUID

from eventsourcing.application import Application
from eventsourcing.persistence import ProgrammingError


def store_env(url: str) -> dict[str, str]:
    """`GRIDFLOW_DATABASE_URL` → the eventsourcing library's persistence settings."""
    parsed = urlparse(url)
    if parsed.scheme == "sqlite":
        path = unquote(url[len("sqlite:///") :]) if url.startswith("sqlite:///") else ""
        if not path:
            raise ValueError(f"{url!r}: expected sqlite:///PATH")
        if path == ":memory:":
            path = "file:gridflow?mode=memory&cache=shared"
        return {
            "PERSISTENCE_MODULE": "eventsourcing.sqlite",
            "SQLITE_DBNAME": path,
            "SQLITE_LOCK_TIMEOUT": "10",
        }
    if parsed.scheme in ("postgresql", "postgres"):
        return {
            "PERSISTENCE_MODULE": "eventsourcing.postgres",
            "POSTGRES_DBNAME": parsed.path.lstrip("/") or "postgres",
            "POSTGRES_HOST": parsed.hostname or "localhost",
            "POSTGRES_PORT": str(parsed.port or 5432),
            "POSTGRES_USER": unquote(parsed.username or "postgres"),
            "POSTGRES_PASSWORD": unquote(parsed.password or ""),
            "POSTGRES_POOL_SIZE": "4",
            "POSTGRES_MAX_OVERFLOW": "8",
            "POSTGRES_CONN_MAX_AGE": "600",
            # Fail fast when the server is gone: the library retries ten times, so a
            # long connect timeout would hold a request for minutes instead of a 503.
            "POSTGRES_CONNECT_TIMEOUT": "2",
        }
    if parsed.scheme == "memory":
        return {"PERSISTENCE_MODULE": "eventsourcing.popo"}
    raise ValueError(f"{url!r}: GRIDFLOW_DATABASE_URL is sqlite:///PATH or postgresql://…")


class GridflowApplication(Application[UUID]):
    """The event store: issues and the organisation share one log."""

    name = "gridflow"


def open_application(url: str) -> GridflowApplication:
    """The event store. A role that does not own the log's tables (see `gridflow db
    secure`) cannot run the library's CREATE … IF NOT EXISTS: it opens them as they are."""
    env = store_env(url)
    try:
        return GridflowApplication(env=env)
    except ProgrammingError as exc:
        if "must be owner" not in str(exc):
            raise
        return GridflowApplication(env={**env, "CREATE_TABLE": "n"})
