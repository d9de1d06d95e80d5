"""Configuration from the environment, read once at start into one settings object."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from ipaddress import IPv4Network, IPv6Network, ip_network
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from domain.calendar import DEFAULT_HOURS, DEFAULT_TIMEZONE, Calendars, WorkingCalendar, parse_hours
from domain.deadlines import LimitPolicy

DEFAULT_DATABASE_URL = "sqlite:///./gridflow.db"


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


def origins(text: str) -> tuple[str, ...]:
    """Comma-separated web origins (`GRIDFLOW_CORS_ORIGINS`): `scheme://host[:port]`
    each, or `*` for any; ValueError naming a bad one."""
    out = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        u = urlparse(part)
        if part != "*" and (
            u.scheme not in ("http", "https") or not u.hostname or u.path or u.query
        ):
            raise ValueError(f"GRIDFLOW_CORS_ORIGINS: {part!r} is not an origin (scheme://host)")
        out.append(part.rstrip("/"))
    return tuple(out)


def networks(text: str) -> tuple[IPv4Network | IPv6Network, ...]:
    """Comma-separated CIDRs (`GRIDFLOW_WEBHOOK_ALLOW_NETWORKS`); ValueError naming a
    bad one."""
    out = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        try:
            out.append(ip_network(part, strict=False))
        except ValueError:
            raise ValueError(f"GRIDFLOW_WEBHOOK_ALLOW_NETWORKS: {part!r} is not a CIDR") from None
    return tuple(out)


def _flag(env: Mapping[str, str], name: str) -> bool:
    """A switch that is on unless set to 0, false or no."""
    return env.get(name, "true").lower() not in ("0", "false", "no")


@dataclass(frozen=True)
class Settings:
    database_url: str = DEFAULT_DATABASE_URL
    calendars: Calendars = field(default_factory=Calendars)
    limits: LimitPolicy = field(default_factory=LimitPolicy)
    escalate_missed_small: bool = True
    #: transfers before only a street officer transfers again (GRIDFLOW_TRANSFER_CAP)
    transfer_cap: int = 2
    score_weights: dict[str, float] | None = None
    #: units with fewer valid callbacks (or closed issues) in a period are not ranked
    ranking_min_sample: int = 10
    #: how much a "basically satisfied" callback counts in 满意率
    satisfaction_basic_weight: float = 0.9
    projection_batch: int = 2000
    audit_key: str | None = None
    audit_key_file: str | None = None
    #: the log's name in its checkpoints; None: the name the log already has (a new
    #: SQLite log: "gridflow"; a new PostgreSQL log must be given one)
    audit_origin: str | None = "gridflow"
    subject_key: str | None = None
    subject_key_file: str | None = None
    checkpoint_every: int = 1000
    comparison_window_hours: float = 72.0
    comparison_radius_m: float = 300.0
    miss_warning_rate: float = 0.3
    miss_warning_min_tickets: int = 3
    #: a patrol report recorded this long after its occurred_at is a late entry (补录)
    late_entry_hours: float = 2.0
    evidence_dir: str | None = None
    evidence_s3_bucket: str | None = None
    evidence_s3_endpoint: str | None = None
    evidence_max_bytes: int = 10 << 20
    max_image_pixels: int = 40_000_000
    max_import_rows: int = 50_000
    #: requests per minute per principal, shared by every process; 0 turns it off
    rate_limit: int = 6000
    group_commit: bool = True
    ready_stall_seconds: float = 30.0
    #: networks webhooks may be sent to although private, loopback, link-local, …
    webhook_allow_networks: tuple[IPv4Network | IPv6Network, ...] = ()
    #: web origins whose browser apps may call the API (CORS); none by default
    cors_origins: tuple[str, ...] = ()

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        default = WorkingCalendar(
            timezone=env.get("GRIDFLOW_TIMEZONE", DEFAULT_TIMEZONE),
            hours=parse_hours(env.get("GRIDFLOW_WORKING_HOURS", DEFAULT_HOURS)),
        )
        calendar_doc: dict[str, Any] = {}
        if env.get("GRIDFLOW_CALENDAR_FILE"):
            calendar_doc = json.loads(Path(env["GRIDFLOW_CALENDAR_FILE"]).read_text("utf-8"))
        limits = json.loads(env["GRIDFLOW_DEADLINES"]) if env.get("GRIDFLOW_DEADLINES") else {}
        if env.get("GRIDFLOW_FOLLOWUP_REPLY"):
            limits.setdefault("flag_reply", env["GRIDFLOW_FOLLOWUP_REPLY"])
        settings = cls(
            database_url=env.get("GRIDFLOW_DATABASE_URL", DEFAULT_DATABASE_URL),
            calendars=Calendars.from_config(calendar_doc, default),
            limits=LimitPolicy(limits),
            escalate_missed_small=_flag(env, "GRIDFLOW_ESCALATE_MISSED_SMALL"),
            transfer_cap=int(env.get("GRIDFLOW_TRANSFER_CAP", "2")),
            projection_batch=int(env.get("GRIDFLOW_PROJECTION_BATCH", "2000")),
            audit_key=env.get("GRIDFLOW_AUDIT_KEY") or None,
            audit_key_file=env.get("GRIDFLOW_AUDIT_KEY_FILE") or None,
            audit_origin=env.get("GRIDFLOW_AUDIT_ORIGIN") or None,
            subject_key=env.get("GRIDFLOW_SUBJECT_KEY") or None,
            subject_key_file=env.get("GRIDFLOW_SUBJECT_KEY_FILE") or None,
            checkpoint_every=int(env.get("GRIDFLOW_CHECKPOINT_EVERY", "1000")),
            comparison_window_hours=float(env.get("GRIDFLOW_COMPARISON_WINDOW_HOURS", "72")),
            comparison_radius_m=float(env.get("GRIDFLOW_COMPARISON_RADIUS_M", "300")),
            miss_warning_rate=float(env.get("GRIDFLOW_MISS_WARNING_RATE", "0.3")),
            miss_warning_min_tickets=int(env.get("GRIDFLOW_MISS_WARNING_MIN_TICKETS", "3")),
            late_entry_hours=float(env.get("GRIDFLOW_LATE_ENTRY_HOURS", "2")),
            evidence_dir=env.get("GRIDFLOW_EVIDENCE_DIR") or None,
            evidence_s3_bucket=env.get("GRIDFLOW_EVIDENCE_S3_BUCKET") or None,
            evidence_s3_endpoint=env.get("GRIDFLOW_EVIDENCE_S3_ENDPOINT") or None,
            evidence_max_bytes=int(env.get("GRIDFLOW_EVIDENCE_MAX_BYTES", str(10 << 20))),
            max_image_pixels=int(env.get("GRIDFLOW_MAX_IMAGE_PIXELS", "40000000")),
            max_import_rows=int(env.get("GRIDFLOW_MAX_IMPORT_ROWS", "50000")),
            rate_limit=int(env.get("GRIDFLOW_RATE_LIMIT", "6000")),
            group_commit=_flag(env, "GRIDFLOW_GROUP_COMMIT"),
            ready_stall_seconds=float(env.get("GRIDFLOW_READY_STALL_SECONDS", "30")),
            webhook_allow_networks=networks(env.get("GRIDFLOW_WEBHOOK_ALLOW_NETWORKS", "")),
            cors_origins=origins(env.get("GRIDFLOW_CORS_ORIGINS", "")),
            satisfaction_basic_weight=float(env.get("GRIDFLOW_SATISFACTION_BASIC_WEIGHT", "0.9")),
            ranking_min_sample=int(env.get("GRIDFLOW_RANKING_MIN_SAMPLE", "10")),
            score_weights=json.loads(env["GRIDFLOW_SCORE_WEIGHTS"])
            if env.get("GRIDFLOW_SCORE_WEIGHTS")
            else None,
        )
        settings.check_shared_configuration()
        return settings

    def check_shared_configuration(self) -> None:
        """On PostgreSQL, processes on several hosts share one log: each must sign with the
        same configured key and keep evidence where every host finds it. No default is
        made up silently in a process's working directory (SQLite keeps its defaults
        beside the store: one process owns it)."""
        if urlparse(self.database_url).scheme not in ("postgresql", "postgres"):
            return
        if not (self.audit_key or self.audit_key_file):
            raise ValueError(
                "PostgreSQL needs the audit signing key: set GRIDFLOW_AUDIT_KEY or "
                "GRIDFLOW_AUDIT_KEY_FILE, the same on every host (docs/deployment.md)"
            )
        if not (self.subject_key or self.subject_key_file or self.audit_key_file):
            raise ValueError(
                "PostgreSQL needs the subject key that keys reporters' subjects: set "
                "GRIDFLOW_SUBJECT_KEY (base64, 32 bytes or more) or GRIDFLOW_SUBJECT_KEY_FILE "
                "(or GRIDFLOW_AUDIT_KEY_FILE, beside which it is kept), the same on every host "
                "(docs/audit.md)"
            )
        if not (self.evidence_s3_bucket or self.evidence_dir):
            raise ValueError(
                "PostgreSQL needs evidence storage every host shares: set "
                "GRIDFLOW_EVIDENCE_S3_BUCKET, or GRIDFLOW_EVIDENCE_DIR on storage mounted on "
                "every host (docs/deployment.md)"
            )
