"""The side tables' schema, versioned: plain SQL migrations (stores/migrations/,
one file a version, the same SQL on SQLite and PostgreSQL) applied in order by
yoyo-migrations, which records what it applied (`_yoyo_migration`) and lets one
process apply at a time (`yoyo_lock`). Applied on start (gridflow.container) and by
`gridflow db migrate`.

The views (`gv<N>_*`) are not migrated: they are derived, and code that folds them
differently builds a new generation from the log (projections.generations).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from yoyo import read_migrations
from yoyo.backends.core.postgresql import PostgresqlPsycopgBackend
from yoyo.backends.core.sqlite3 import SQLiteBackend
from yoyo.connections import parse_uri
from yoyo.migrations import default_migration_table

from stores.db import Database

MIGRATIONS = Path(__file__).with_name("migrations")


def _backend(db: Database) -> Any:
    """yoyo's backend for `db`, connected as `db` connects (the URL's user and
    password, an in-memory SQLite store's shared name)."""
    db.open()  # an in-memory SQLite store lives while `db` holds its connection
    if db.dialect == "sqlite":
        path = db.sqlite_path

        class SQLite(SQLiteBackend):
            def connect(self, dburi: Any) -> sqlite3.Connection:
                conn = sqlite3.connect(path, uri=path.startswith("file:"), timeout=10)
                conn.isolation_level = None
                return conn

        backend: Any = SQLite(parse_uri("sqlite:///gridflow"), default_migration_table)
        backend.init_database()
        return backend
    import psycopg

    conninfo = db.conninfo

    class Postgres(PostgresqlPsycopgBackend):
        def connect(self, dburi: Any) -> Any:
            return psycopg.connect(conninfo, autocommit=True, connect_timeout=5)

    backend = Postgres(parse_uri("postgresql+psycopg://gridflow/gridflow"), default_migration_table)
    backend.init_database()
    return backend


def pending(db: Database) -> list[str]:
    """The migrations `db` has not had yet, in the order they would be applied."""
    backend = _backend(db)
    try:
        return [m.id for m in backend.to_apply(read_migrations(str(MIGRATIONS)))]
    finally:
        backend.connection.close()


def migrate(db: Database) -> list[str]:
    """Apply what `db` has not had yet; the migrations applied now (none: up to date)."""
    backend = _backend(db)
    try:
        migrations = read_migrations(str(MIGRATIONS))
        with backend.lock():
            todo = backend.to_apply(migrations)
            backend.apply_migrations(todo)
        return [m.id for m in todo]
    finally:
        backend.connection.close()
