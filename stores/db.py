"""One small SQL gateway for the side tables and views, on SQLite and PostgreSQL.

Queries are written once with `%s` placeholders; on SQLite they become `?`.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Protocol

from stores.eventstore import store_env


class Cursor(Protocol):
    @property
    def rowcount(self) -> int: ...
    def execute(self, sql: str, params: Sequence[Any] = ...) -> Any: ...
    def executemany(self, sql: str, params: Sequence[Sequence[Any]]) -> Any: ...
    def fetchone(self) -> Any: ...
    def fetchall(self) -> list[Any]: ...


class Database:
    """Connects on first use (`open`), not when built."""

    def __init__(self, url: str, pool_size: int = 4) -> None:
        self.url, self.pool_size = url, pool_size
        self._opened = threading.Lock()
        self._keepalive: sqlite3.Connection | None = None
        self._pool: Any = None
        env = store_env(url)
        self.dialect = "sqlite" if env["PERSISTENCE_MODULE"].endswith("sqlite") else "postgres"
        if env["PERSISTENCE_MODULE"].endswith("popo"):
            self.dialect = "sqlite"
            env = {"SQLITE_DBNAME": f"file:gridflow-{id(self)}?mode=memory&cache=shared"}
        self._local = threading.local()
        if self.dialect == "sqlite":
            self.sqlite_path: str = env["SQLITE_DBNAME"]
        else:
            conninfo = (
                f"dbname={env['POSTGRES_DBNAME']} host={env['POSTGRES_HOST']} "
                f"port={env['POSTGRES_PORT']} user={env['POSTGRES_USER']}"
            )
            if env["POSTGRES_PASSWORD"]:
                conninfo += f" password={env['POSTGRES_PASSWORD']}"
            self.conninfo = conninfo

    def open(self) -> None:
        """Connect (once): PostgreSQL's pool; on SQLite a connection held open, which
        keeps a shared in-memory database alive."""
        with self._opened:
            if self.dialect == "sqlite" and self._keepalive is None:
                self._keepalive = self._sqlite()
            elif self.dialect == "postgres" and self._pool is None:
                from psycopg_pool import ConnectionPool

                self._pool = ConnectionPool(
                    self.conninfo,
                    min_size=1,
                    max_size=self.pool_size,
                    open=True,
                    timeout=5,
                    kwargs={"connect_timeout": 2},
                )

    @property
    def pool(self) -> Any:
        if self._pool is None:
            self.open()
        return self._pool

    def _sqlite(self) -> sqlite3.Connection:
        conn = sqlite3.connect(
            self.sqlite_path,
            uri=self.sqlite_path.startswith("file:"),
            timeout=10,
            check_same_thread=False,
            isolation_level=None,
        )
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        return conn

    def sql(self, text: str) -> str:
        return text.replace("%s", "?") if self.dialect == "sqlite" else text

    @contextmanager
    def transaction(self, write: bool = True) -> Iterator[Cursor]:
        """A cursor inside one transaction, committed on success. On SQLite a write
        transaction takes the write lock at once (no upgrade deadlocks later)."""
        if self.dialect == "sqlite":
            if self._keepalive is None:
                self.open()
            conn = getattr(self._local, "conn", None)
            if conn is None:
                conn = self._local.conn = self._sqlite()
            cur = conn.cursor()
            cur.execute("BEGIN IMMEDIATE" if write else "BEGIN")
            try:
                yield _SqliteCursor(cur)
                cur.execute("COMMIT")
            except BaseException:
                cur.execute("ROLLBACK")
                raise
        else:
            with self.pool.connection() as pconn, pconn.transaction(), pconn.cursor() as pcur:
                yield pcur

    def close(self) -> None:
        if self._pool is not None:
            self._pool.close()


class _SqliteCursor:
    def __init__(self, cur: sqlite3.Cursor) -> None:
        self._cur = cur

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        return self._cur.execute(sql.replace("%s", "?"), tuple(params))

    def executemany(self, sql: str, params: Sequence[Sequence[Any]]) -> Any:
        return self._cur.executemany(sql.replace("%s", "?"), [tuple(p) for p in params])

    def fetchone(self) -> Any:
        return self._cur.fetchone()

    @property
    def rowcount(self) -> int:
        return self._cur.rowcount

    def fetchall(self) -> list[Any]:
        return self._cur.fetchall()
