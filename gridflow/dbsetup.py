"""`gridflow db secure`: make the log append-only on PostgreSQL, even for the service.

The eventsourcing library's save takes `LOCK TABLE … IN EXCLUSIVE MODE`, which
PostgreSQL grants only with UPDATE, DELETE or TRUNCATE privilege, so privileges alone
cannot keep the service from rewriting its log. Instead the log's tables belong to an
owner role the service is not, and carry triggers that refuse UPDATE, DELETE and
TRUNCATE; only a table's owner (or a superuser) can drop or disable a trigger.

Run once as a superuser (or a role with CREATEROLE that owns the database):

    GRIDFLOW_DATABASE_URL=postgresql://postgres@db:5432/gridflow \\
        gridflow db secure --service-role gridflow_service

then run the service as that role:
`GRIDFLOW_DATABASE_URL=postgresql://gridflow_service@db:5432/gridflow gridflow serve`.
"""

from __future__ import annotations

import psycopg
from psycopg import sql

from stores.db import Database
from stores.eventstore import GridflowApplication, store_env
from stores.schema import migrate

APPEND_ONLY = (
    "gridflow_events",
    "gridflow_audit_leaves",
    "gridflow_audit_checkpoints",
    "gridflow_audit_trail",
)

_GUARD = """
CREATE OR REPLACE FUNCTION gridflow_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'gridflow: % on % refused: the log is append-only', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END $$
"""


def secure(url: str, service_role: str, owner_role: str = "gridflow_owner") -> list[str]:
    """Create the roles, the log's tables owned by `owner_role`, the guard triggers and
    the grants. Idempotent. Returns what it did, for the command line to print."""
    done: list[str] = []
    GridflowApplication(env=store_env(url)).close()  # the library creates its tables
    db = Database(url)
    try:
        done += [f"migration {m} applied" for m in migrate(db)]  # ours, as their owner
    finally:
        db.close()
    with psycopg.connect(url, autocommit=True) as conn:
        for role, login in ((owner_role, False), (service_role, True)):
            exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone()
            if not exists:
                conn.execute(
                    sql.SQL("CREATE ROLE {} " + ("LOGIN" if login else "NOLOGIN")).format(
                        sql.Identifier(role)
                    )
                )
                done.append(f"created role {role}")
        owner, service = sql.Identifier(owner_role), sql.Identifier(service_role)
        conn.execute(sql.SQL("GRANT USAGE, CREATE ON SCHEMA public TO {}").format(service))
        conn.execute(_GUARD)
        conn.execute(sql.SQL("ALTER FUNCTION gridflow_refuse_change() OWNER TO {}").format(owner))
        for table in APPEND_ONLY:
            t = sql.Identifier(table)
            conn.execute(sql.SQL("ALTER TABLE {} OWNER TO {}").format(t, owner))
            for name, when in (
                (f"{table}_no_update_delete", "BEFORE UPDATE OR DELETE ON {} FOR EACH ROW"),
                (f"{table}_no_truncate", "BEFORE TRUNCATE ON {} FOR EACH STATEMENT"),
            ):
                conn.execute(
                    sql.SQL("DROP TRIGGER IF EXISTS {} ON {}").format(sql.Identifier(name), t)
                )
                conn.execute(
                    sql.SQL(
                        "CREATE TRIGGER {} " + when + " EXECUTE FUNCTION gridflow_refuse_change()"
                    ).format(sql.Identifier(name), t)
                )
            # UPDATE only so that the library's LOCK TABLE … IN EXCLUSIVE MODE is granted;
            # the trigger refuses every actual update.
            conn.execute(sql.SQL("GRANT SELECT, INSERT, UPDATE ON {} TO {}").format(t, service))
            done.append(f"{table}: owned by {owner_role}, append-only for {service_role}")
        conn.execute(
            sql.SQL("GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {}").format(service)
        )
        for table in _service_tables(conn):
            conn.execute(
                sql.SQL("ALTER TABLE {} OWNER TO {}").format(sql.Identifier(table), service)
            )
    return done


#: yoyo-migrations' own tables: the service applies later migrations (stores.schema).
MIGRATION_TABLES = ("_yoyo_migration", "_yoyo_log", "_yoyo_version", "yoyo_lock")


def _service_tables(conn: psycopg.Connection) -> list[str]:
    """Tables the service keeps as its own: views, tokens, idempotency, audit head, the
    record of applied migrations."""
    rows = conn.execute(
        "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND "
        "(tablename LIKE 'gv%%' OR tablename LIKE 'gridflow_%%' OR tablename = ANY(%s)) "
        "AND tablename <> ALL(%s)",
        (list(MIGRATION_TABLES), [*list(APPEND_ONLY), "gridflow_snapshots"]),
    ).fetchall()
    return [r[0] for r in rows]
