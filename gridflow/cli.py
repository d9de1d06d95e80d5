"""`gridflow`: the service's one command (see README and spec/api.md)."""

from __future__ import annotations

import argparse
import base64
import json
import os
import sqlite3
import sys
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

import psycopg
from eventsourcing.persistence import OperationalError as StoreOperationalError
from psycopg_pool import PoolTimeout

from domain.errors import DomainError
from domain.principals import Principal, Role
from domain.workflow import mermaid
from gridflow.container import Container
from gridflow.settings import DEFAULT_DATABASE_URL, Settings
from gridflow.startup import (
    TOKEN_HINT,
    load_demo,
    mint_demo_tokens,
    print_tokens,
    reachable,
    redacted,
    version,
)
from stores.tokens import parse_duration


def _read_document(path: str) -> Any:
    text = Path(path).read_text("utf-8")
    if path.endswith((".yaml", ".yml")):
        import yaml

        return yaml.safe_load(text)
    return json.loads(text)


def cmd_diagram(args: argparse.Namespace) -> int:
    print(mermaid(), end="")
    return 0


def cmd_org_load(args: argparse.Namespace) -> int:
    with _container() as c:
        position = c.service.load_org(_read_document(args.file))
    org_summary = "no change" if position is None else f"recorded at log position {position}"
    print(f"organisation loaded: {org_summary}")
    return 0


#: The longest a minted token lives: a leaked token must run out.
MAX_TOKEN_LIFE = timedelta(days=366)


def cmd_demo(args: argparse.Namespace) -> int:
    with _container() as c:
        if c.service.org().version != 0:
            raise ValueError(
                "the store already holds an organisation: the demo loads only into an empty "
                f"store (tokens: {TOKEN_HINT})"
            )
        load_demo(c)
        print_tokens(mint_demo_tokens(c))
    return 0


def token_life(text: str) -> timedelta:
    """`--expires`: positive and at most MAX_TOKEN_LIFE (no token lives for ever)."""
    life = parse_duration(text)
    if life <= timedelta(0):
        raise ValueError(f"--expires {text!r}: the expiry must be positive, e.g. 90d")
    if life > MAX_TOKEN_LIFE:
        raise ValueError(f"--expires {text!r}: at most {MAX_TOKEN_LIFE.days}d")
    return life


def cmd_token_create(args: argparse.Namespace) -> int:
    role = Role(args.role)
    if role is Role.SYSTEM:
        raise ValueError("--role system is the workers' own role and is never minted")
    life = token_life(args.expires)
    p = Principal(args.principal, role, args.scope)
    with _container() as c:
        org = c.service.org()
        if args.scope not in org.nodes and args.scope not in org.departments:
            raise ValueError(
                f"--scope {args.scope!r}: not an organisation node id or a department id"
            )
        token = c.tokens.create(p, life)
    print(f"token for {p.id} ({p.role}, scope {p.scope}):")
    print(token)
    return 0


def cmd_token_revoke(args: argparse.Namespace) -> int:
    with _container() as c:
        n = c.tokens.revoke(args.token)
    print(f"revoked {n} token(s)")
    return 0 if n else 1


def cmd_token_list(args: argparse.Namespace) -> int:
    with _container() as c:
        for t in c.tokens.list():
            status = "revoked" if t.revoked_at else f"expires {t.expires_at or 'never'}"
            print(
                f"{t.token_id}  {t.principal.id:<24} {t.principal.role:<19} "
                f"{t.principal.scope:<20} {status}"
            )
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    import logging

    from workers.runner import run

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    with _container() as c:
        workers = c.workers()
        if args.only:
            if args.only not in workers:
                raise ValueError(f"--only takes one of {', '.join(workers)}")
            workers = {args.only: workers[args.only]}
        print(f"gridflow worker: {', '.join(workers)}", flush=True)
        run(workers, c.db)
    return 0


def cmd_rebuild(args: argparse.Namespace) -> int:
    from projections.verify import rebuild_and_verify

    with _container() as c:
        head = c.service.head()
        if args.verify:
            diffs = rebuild_and_verify(c.engine, head)
            if not diffs:
                print(f"rebuilt views equal the live views (log position {c.engine.position()})")
                return 0
            for table, rows in diffs.items():
                for side, row in rows:
                    print(f"{table}: {side}: {row}")
            return 1
        step = max(1, head // 20)
        seen = [0]

        def progress(position: int) -> None:
            if position - seen[0] >= step:
                seen[0] = position
                print(f"  {position}/{head}", flush=True)

        generation = c.engine.rebuild(switch=True, progress=progress)
        print(f"views rebuilt from the log as generation {generation}, now live")
    return 0


def cmd_quarantine_list(args: argparse.Namespace) -> int:
    from projections import quarantine

    with _container() as c:
        aside = quarantine.current(c.db, c.engine.active())
    if not aside:
        print("no events set aside")
    for q in aside:
        kind = q.topic.rsplit(".", 1)[-1]
        print(f"{q.projection:<12} position {q.position:<10} {q.event_id} v{q.version} {kind}")
        print(f"    {q.error}")
    return 0


def cmd_quarantine_retry(args: argparse.Namespace) -> int:
    """Fold set-aside events again (after an upgrade that can fold them): the views by a
    rebuild, so that they still equal one; the outbox and the trail event by event."""
    from projections import quarantine

    with _container() as c:
        aside = [
            q
            for q in quarantine.current(c.db, c.engine.active())
            if args.position is None or q.position == args.position
        ]
        if any(q.projection == "views" for q in aside):
            c.engine.rebuild(switch=True)
        covers = c.service.org().covers
        for q in aside:
            try:
                if q.projection == "outbox":
                    c.outbox.retry(c.service.app.recorder, covers, q.position)
                elif q.projection == "audit_trail":
                    c.audit.retry_trail(q.position)
            # A fold may fail in any way (as in projections.quarantine): the event stays
            # set aside; the store's own failure is raised.
            except Exception as exc:
                if quarantine.transient(exc):
                    raise
        left = [
            q
            for q in quarantine.current(c.db, c.engine.active())
            if args.position is None or q.position == args.position
        ]
    print(f"{len(aside) - len(left)} of {len(aside)} set-aside event(s) folded; {len(left)} left")
    for q in left:
        print(f"  {q.projection} position {q.position}: {q.error}")
    return 0 if not left else 1


def cmd_db_migrate(args: argparse.Namespace) -> int:
    """Bring the side tables to this code's schema (also done on every start)."""
    from stores.db import Database
    from stores.schema import migrate

    url = Settings.from_env().database_url
    reachable(url)
    db = Database(url)
    try:
        applied = migrate(db)
    finally:
        db.close()
    for m in applied:
        print(f"applied {m}")
    print(f"{redacted(url)}: up to date" + (f" ({len(applied)} applied)" if applied else ""))
    return 0


def cmd_db_secure(args: argparse.Namespace) -> int:
    from gridflow.dbsetup import secure

    url = Settings.from_env().database_url
    if not url.startswith("postgres"):
        raise ValueError("db secure is for PostgreSQL: set GRIDFLOW_DATABASE_URL")
    for line in secure(url, args.service_role, args.owner_role):
        print(line)
    print(
        f"run the service as {args.service_role}: GRIDFLOW_DATABASE_URL=postgresql://"
        f"{args.service_role}@HOST:PORT/DB gridflow serve"
    )
    return 0


def cmd_audit_verify(args: argparse.Namespace) -> int:
    from projections.audit_read import verify

    kept = [Path(f).read_text("utf-8") for f in args.checkpoint or []]
    with _container() as c:
        c.audit.catch_up()
        result = verify(c.audit, kept)
    print(json.dumps(result, indent=2))
    return 0 if result["ok"] else 1


def cmd_audit_export(args: argparse.Namespace) -> int:
    from projections.audit_read import export

    with _container() as c:
        result = export(c.audit, Path(args.out))
        key = base64.b64encode(c.audit.signer.public).decode()
    print(
        f"wrote {result['events']} events and {result['checkpoints']} signed checkpoint(s) "
        f"to {result['file']}"
    )
    print(f"public key (base64): {key}")
    print(f"verify offline: python tools/verify_audit_export.py {args.out} --key {key}")
    return 0


def cmd_audit_replay(args: argparse.Namespace) -> int:
    from datetime import datetime
    from uuid import UUID

    from domain.principals import Principal

    auditor = Principal("cli-auditor", Role.AUDITOR, "*")
    with _container() as c:
        as_of = datetime.fromisoformat(args.at) if args.at else None
        if as_of is not None and as_of.tzinfo is None:
            raise ValueError("--at needs a UTC offset, e.g. 2026-11-23T10:00:00+08:00")
        issue = c.service.get(UUID(args.issue), auditor, version=args.version, as_of=as_of)
        history = [h for h in c.service.history(issue.id, auditor) if h["version"] <= issue.version]
        org = c.service.org()
    print(
        f"issue {issue.id} at version {issue.version}: {issue.state}"
        f" (tier {issue.tier or '-'}), grid {issue.grid_id}, category {issue.category}"
    )
    print(f"  {issue.description}")
    for dl in issue.deadlines:
        print(f"  deadline {dl.key}: due {dl.due_at.isoformat()} ({dl.status})")
    for dept, d in issue.departments.items():
        name = org.departments.get(dept, {}).get("name", dept)
        print(f"  department {name}: reported in {d['reported_in_at'] or '-'}")
    print("events:")
    for h in history:
        print(
            f"  v{h['version']:<3} {h['at'].isoformat()}  {h['action']:<16} "
            f"{h['actor']['id']} ({h['actor']['role']})  {h['from_state'] or '-'} -> "
            f"{h['to_state']}  {json.dumps(h['data'], ensure_ascii=False)}"
        )
    return 0


def cmd_privacy_erase(args: argparse.Namespace) -> int:
    if not (args.phone or args.name or args.email):
        raise ValueError("give --phone, --email or --name")
    with _container() as c:
        erased = c.vault.erase(args.phone, args.name, args.email)
    print(
        "erased: the key is destroyed"
        if erased
        else "no sealed data for this person; later reports by them will not be kept"
    )
    return 0


def cmd_intake_hotline(args: argparse.Namespace) -> int:
    from api.intake import run_import
    from domain.intake import parse_csv

    text = Path(args.file).read_text("utf-8")
    rows = parse_csv(text) if args.file.endswith(".csv") else json.loads(text)

    def progress(done: int, total: int) -> None:
        print(f"\r  {done}/{total} rows", end="", file=sys.stderr, flush=True)

    with _container() as c:
        org = c.service.org()
        scope = args.scope or next(n for n, v in org.nodes.items() if v["kind"] == "city")
        desk = Principal(args.principal, Role.INTAKE, scope)
        result = run_import(c.services(), desk, rows, progress)
    print(file=sys.stderr)
    for row in result["rows"]:
        if row["status"] == "error":
            print(f"row {row['row']} ({row['ticket_no']}): {row['reason']}")
    counts = result["counts"]
    print(f"created {counts['created']}, duplicate {counts['duplicate']}, error {counts['error']}")
    return 0 if counts["error"] == 0 else 1


def cmd_compare(args: argparse.Namespace) -> int:
    from datetime import date, timedelta

    with _container() as c:
        c.engine.catch_up()
        org = c.service.org()
        node = args.node or next(n for n, v in org.nodes.items() if v["kind"] == "city")
        day = date.fromisoformat(args.date) if args.date else c.now().date()
        result = c.views.patrol_misses(node, day, day + timedelta(days=1), c.now())
    print(
        f"{node} {day}: {result['hotline']} hotline ticket(s), {result['misses']} missed "
        f"by the patrol"
    )
    for item in result["items"]:
        flag = "  WARNING" if item["warning"] else ""
        print(
            f"  {item['grid_id']:<24} {item['hotline']:>4} tickets {item['misses']:>4} missed "
            f"({item['miss_rate']:.0%}){flag}"
        )
    return 0


def cmd_report_monthly(args: argparse.Namespace) -> int:
    """The frozen monthly report of a node, as `GET /supervision/reports/monthly` gives
    it: computed and stored once it is due, read as stored afterwards."""
    import json
    import re

    from domain import reports
    from projections import monthly

    if not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", args.month):
        raise ValueError(f"--month {args.month!r}: a month, YYYY-MM")
    with _container() as c:
        c.engine.catch_up()
        org = c.service.org()
        node = args.node or next(n for n, v in org.nodes.items() if v["kind"] == "city")
        if node not in org.nodes:
            raise ValueError(f"--node {node!r}: no such node")
        report = reports.monthly(
            c.service, node, args.month, lambda: c.views.monthly(node, args.month, c.now())
        )
    if args.format == "json":
        data = (json.dumps(report, ensure_ascii=False, indent=1, sort_keys=True) + "\n").encode()
    elif args.format == "csv":
        data = monthly.render_csv(report)
    else:
        data = monthly.render_xlsx(report)
    if args.out:
        Path(args.out).write_bytes(data)
        print(f"{node} {args.month}: written to {args.out}")
    elif args.format == "xlsx":
        raise ValueError("--format xlsx needs --out FILE")
    else:
        sys.stdout.buffer.write(data)
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from gridflow.serve import serve

    return serve(args)


class _container:
    def __enter__(self) -> Container:
        settings = Settings.from_env()
        reachable(settings.database_url)
        self.c = Container(settings)
        return self.c

    def __exit__(self, *exc: object) -> None:
        self.c.close()


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="gridflow", description=__doc__)
    ap.add_argument("--version", action="version", version=f"gridflow {version()}")
    sub = ap.add_subparsers(dest="command", required=True)
    s = sub.add_parser("serve", help="run the HTTP service (with SQLite, the workers too)")
    s.add_argument("--host", default="127.0.0.1")
    s.add_argument("--port", type=int, default=8000)
    s.add_argument("--no-demo", action="store_true", help="never load the demo city")
    s.add_argument("--demo", action="store_true", help="load the demo city even on PostgreSQL")
    s.add_argument(
        "--workers",
        type=int,
        default=1,
        help="HTTP worker processes (PostgreSQL; run `gridflow worker` beside)",
    )
    s.set_defaults(func=cmd_serve)
    sub.add_parser("diagram", help="print the workflow state diagram (mermaid)").set_defaults(
        func=cmd_diagram
    )
    sub.add_parser("demo", help="load the demo city, print one token per role").set_defaults(
        func=cmd_demo
    )
    org = sub.add_parser("org", help="the organisation").add_subparsers(dest="org", required=True)
    load = org.add_parser("load", help="load or update the organisation from a JSON/YAML file")
    load.add_argument("file")
    load.set_defaults(func=cmd_org_load)
    w = sub.add_parser("worker", help="background workers: projections, deadlines, …")
    w.add_argument(
        "--only",
        help="run one worker: projections, deadlines, patrol_misses, audit or notifications",
    )
    w.set_defaults(func=cmd_worker)
    proj = sub.add_parser("projections", help="the views").add_subparsers(dest="p", required=True)
    rb = proj.add_parser("rebuild", help="rebuild every view from the log, beside, then switch")
    rb.add_argument("--verify", action="store_true", help="compare with the live views instead")
    rb.set_defaults(func=cmd_rebuild)
    qua = proj.add_parser(
        "quarantine", help="events a projection could not fold and set aside"
    ).add_subparsers(dest="q", required=True)
    qua.add_parser("list", help="list them with their errors").set_defaults(
        func=cmd_quarantine_list
    )
    retry = qua.add_parser("retry", help="fold them again (after an upgrade that can)")
    retry.add_argument("--position", type=int, help="only the event at this log position")
    retry.set_defaults(func=cmd_quarantine_retry)
    aud = sub.add_parser("audit", help="the tamper-evident log").add_subparsers(
        dest="audit", required=True
    )
    ver = aud.add_parser("verify", help="recompute the chain over the stored log")
    ver.add_argument(
        "--checkpoint",
        action="append",
        metavar="NOTE",
        help="a file holding a checkpoint note kept outside the database (repeatable)",
    )
    ver.set_defaults(func=cmd_audit_verify)
    exp = aud.add_parser("export", help="the log with hashes and checkpoints, for offline checks")
    exp.add_argument("--out", required=True)
    exp.set_defaults(func=cmd_audit_export)
    rep = aud.add_parser("replay", help="an issue as it was, with the events that led there")
    rep.add_argument("issue")
    at = rep.add_mutually_exclusive_group()
    at.add_argument("--at", help="RFC 3339 time with offset")
    at.add_argument("--version", type=int)
    rep.set_defaults(func=cmd_audit_replay)
    intake = sub.add_parser("intake", help="bulk intake").add_subparsers(
        dest="intake", required=True
    )
    hot = intake.add_parser("hotline", help="import 12345 tickets (JSON array or .csv)")
    hot.add_argument("file")
    hot.add_argument("--principal", default="hotline-12345")
    hot.add_argument("--scope", help="the desk's jurisdiction (default: the city)")
    hot.set_defaults(func=cmd_intake_hotline)
    cmp_ = sub.add_parser("compare", help="reverse comparison: patrol misses of a day")
    cmp_.add_argument("--node")
    cmp_.add_argument("--date", help="YYYY-MM-DD (default today)")
    cmp_.set_defaults(func=cmd_compare)
    reports_ = sub.add_parser("report", help="reports").add_subparsers(dest="report", required=True)
    mon = reports_.add_parser("monthly", help="the frozen monthly report (通报) of a node")
    mon.add_argument("--month", required=True, help="YYYY-MM")
    mon.add_argument("--node", help="default: the city")
    mon.add_argument("--format", choices=("json", "csv", "xlsx"), default="json")
    mon.add_argument("--out", help="write to this file (required for xlsx)")
    mon.set_defaults(func=cmd_report_monthly)
    priv = sub.add_parser("privacy", help="personal data").add_subparsers(
        dest="privacy", required=True
    )
    er = priv.add_parser("erase", help="forget a reporter's contact details")
    er.add_argument("--phone")
    er.add_argument("--name")
    er.add_argument("--email")
    er.set_defaults(func=cmd_privacy_erase)
    dbp = sub.add_parser("db", help="database set-up").add_subparsers(dest="db", required=True)
    mig = dbp.add_parser("migrate", help="bring the side tables to this version's schema")
    mig.set_defaults(func=cmd_db_migrate)
    sec = dbp.add_parser("secure", help="make the log append-only for the service's role")
    sec.add_argument("--service-role", default="gridflow_service")
    sec.add_argument("--owner-role", default="gridflow_owner")
    sec.set_defaults(func=cmd_db_secure)
    tok = sub.add_parser("token", help="bearer tokens").add_subparsers(dest="token", required=True)
    create = tok.add_parser("create", help="mint a token; printed as the last line")
    create.add_argument("--principal", required=True)
    create.add_argument("--role", required=True, choices=[r.value for r in Role])
    create.add_argument("--scope", required=True, help="an organisation node or department id")
    create.add_argument("--expires", default="90d", help="e.g. 90d, 12h; at most 366d")
    create.set_defaults(func=cmd_token_create)
    revoke = tok.add_parser("revoke", help="revoke by token, token id or principal id")
    revoke.add_argument("token")
    revoke.set_defaults(func=cmd_token_revoke)
    tok.add_parser("list", help="list tokens (ids, never the tokens)").set_defaults(
        func=cmd_token_list
    )
    return ap


#: What the store's drivers raise when it cannot be reached (a one-line error, not a
#: traceback).
STORE_UNREACHABLE: tuple[type[Exception], ...] = (
    psycopg.OperationalError,
    PoolTimeout,
    StoreOperationalError,
    sqlite3.OperationalError,
)


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return int(args.func(args))
    except STORE_UNREACHABLE as exc:
        url = redacted(os.environ.get("GRIDFLOW_DATABASE_URL", DEFAULT_DATABASE_URL))
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        print(f"error: the store at {url} cannot be reached: {reason}", file=sys.stderr)
        return 2
    except DomainError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        for problem in exc.details.get("problems", []):
            print(f"  - {problem}", file=sys.stderr)
        for field, why in exc.details.get("fields", {}).items():
            print(f"  - {field}: {why}", file=sys.stderr)
        return 2
    except (OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
