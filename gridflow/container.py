"""The composition root: builds the service's parts from the settings, once."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from functools import cached_property
from pathlib import Path

from api.deps import Services
from domain.ports import Directory, EvidenceIndex
from domain.privacy import Vault
from domain.service import Clock, IssueService, utc_now
from gridflow.settings import Settings
from projections.audit import AuditLog
from projections.comparison import ComparisonPolicy
from projections.engine import Engine
from projections.generations import ViewGenerations
from projections.outbox import Outbox
from projections.reader import ViewReader
from projections.webhooks import WebhookTargets
from stores.db import Database
from stores.eventstore import GridflowApplication, open_application
from stores.evidence import BlobStore, DirectoryStore, Evidence, S3Store
from stores.groupcommit import GroupCommit
from stores.idempotency import IdempotencyStore
from stores.privacy import KeyVault, load_subject_key
from stores.ratelimit import RateLimiter
from stores.schema import migrate
from stores.signing import Signer, load_signer
from stores.tokens import TokenStore
from workers.audit import AuditWorker
from workers.deadlines import DeadlineWorker
from workers.notifier import Notifier
from workers.patrol_misses import PatrolMissWorker
from workers.projections import ProjectionWorker


def issue_service(
    settings: Settings,
    clock: Clock = utc_now,
    *,
    vault: Vault | None = None,
    evidence: EvidenceIndex | None = None,
    directory: Directory | None = None,
) -> IssueService:
    """The application service over the configured store, with group commit unless
    `GRIDFLOW_GROUP_COMMIT` turns it off."""
    app = open_application(settings.database_url)
    save = GroupCommit(app.save).save if settings.group_commit else None
    return IssueService(app, settings.policy, clock, vault, evidence, directory, save)


class Container:
    """Builds each part the first time it is asked for, and only what that part needs:
    `gridflow token list` opens the store and the token table, not the views. Nothing
    is built (no connection, no file) until then."""

    def __init__(self, settings: Settings, clock: Clock = utc_now) -> None:
        self.settings, self.clock = settings, clock
        #: set by every save: wakes the in-process workers at once (SQLite has no NOTIFY)
        self.wake = threading.Event()
        self.notify_wake = threading.Event()

    @cached_property
    def db(self) -> Database:
        db = Database(self.settings.database_url)
        migrate(db)  # the side tables as this code needs them (stores/migrations)
        return db

    @cached_property
    def vault(self) -> KeyVault:
        vault = KeyVault(self.db, self.subject_key())
        vault.check_key()
        return vault

    @cached_property
    def evidence(self) -> Evidence:
        s = self.settings
        return Evidence(self.db, self.blob_store(), s.evidence_max_bytes, s.max_image_pixels)

    @cached_property
    def tokens(self) -> TokenStore:
        return TokenStore(self.db)

    @cached_property
    def service(self) -> IssueService:
        gc = self.group_commit
        service = IssueService(
            self.app,
            self.settings.policy,
            self.clock,
            vault=self.vault,
            evidence=self.evidence,
            directory=self.tokens,
            save=gc.save if gc else None,
        )
        service.on_saved.append(self._saved)
        return service

    @cached_property
    def app(self) -> GridflowApplication:
        """The event store (the log)."""
        return open_application(self.settings.database_url)

    @cached_property
    def group_commit(self) -> GroupCommit | None:
        """Shares one transaction among concurrent commands (`GRIDFLOW_GROUP_COMMIT`)."""
        return GroupCommit(self.app.save) if self.settings.group_commit else None

    @cached_property
    def idempotency(self) -> IdempotencyStore:
        return IdempotencyStore(self.db)

    @cached_property
    def tracking(self) -> Engine:
        """The projection engine: runs the views, the outbox and the audit chain."""
        return Engine(self.db, self.service.app.recorder)

    @cached_property
    def engine(self) -> ViewGenerations:
        """The views' generations (folded by `tracking`), brought to this code's schema."""
        tz = self.settings.calendars.default.timezone
        views = ViewGenerations(self.db, self.tracking, tz, self.settings.projection_batch)
        views.upgrade()
        return views

    @cached_property
    def views(self) -> ViewReader:
        s = self.settings
        policy = ComparisonPolicy(
            s.comparison_window_hours,
            s.comparison_radius_m,
            s.miss_warning_rate,
            s.miss_warning_min_tickets,
            s.late_entry_hours,
        )
        return ViewReader(
            self.db,
            self.engine,
            s.calendars.default.timezone,
            s.score_weights,
            policy,
            s.ready_stall_seconds,
            s.satisfaction_basic_weight,
            s.ranking_min_sample,
        )

    @cached_property
    def audit(self) -> AuditLog:
        s = self.settings
        signer = self.signer()
        audit = AuditLog(
            self.db, self.tracking, signer, signer.name, checkpoint_every=s.checkpoint_every
        )
        origin = log_origin(audit.recorded_origin(), s)
        audit.origin, audit.signer = origin, replace(signer, name=origin)
        return audit

    @cached_property
    def outbox(self) -> Outbox:
        targets = WebhookTargets(self.settings.webhook_allow_networks)
        return Outbox(self.db, self.tracking, self.service.head, targets=targets)

    @cached_property
    def limiter(self) -> RateLimiter:
        return RateLimiter(self.db, self.settings.rate_limit)

    @cached_property
    def notifier(self) -> Notifier:
        return Notifier(self.outbox, self.service, self.views)

    def _saved(self, position: int) -> None:
        """A save wakes the in-process workers at once (SQLite has no NOTIFY)."""
        self.wake.set()
        self.notify_wake.set()

    def blob_store(self) -> BlobStore:
        s = self.settings
        if s.evidence_s3_bucket:
            return S3Store(s.evidence_s3_bucket, endpoint=s.evidence_s3_endpoint)
        directory = s.evidence_dir
        if directory is None:
            url = s.database_url
            directory = (
                url.removeprefix("sqlite:///") + ".evidence"
                if url.startswith("sqlite:///")
                else "gridflow-evidence"
            )
            if url.startswith("memory:"):
                import tempfile

                directory = tempfile.mkdtemp(prefix="gridflow-evidence-")
        return DirectoryStore(directory)

    def signer(self) -> Signer:
        """The checkpoint key: from configuration, else a key file beside the SQLite
        store (or `gridflow-audit.key`), created on first use."""
        s = self.settings
        key_file = s.audit_key_file
        if not key_file and s.database_url.startswith("sqlite:///"):
            key_file = s.database_url.removeprefix("sqlite:///") + ".audit-key"
        if s.database_url.startswith("memory:") and not s.audit_key:
            from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

            return Signer(s.audit_origin or DEFAULT_ORIGIN, Ed25519PrivateKey.generate())
        return load_signer(s.audit_origin or DEFAULT_ORIGIN, s.audit_key, key_file)

    def subject_key(self) -> bytes:
        """The key of reporters' subjects (docs/audit.md): from configuration, else a key
        file beside the audit key (beside the SQLite file: `gridflow.db.subject-key`),
        created on first use; the store remembers which key it was (KeyVault). Settings
        built in code for PostgreSQL without one use `./gridflow-subject.key`, as the
        audit key does; `Settings.from_env` (every command) refuses that."""
        s = self.settings
        if s.database_url.startswith("memory:") and not (s.subject_key or s.subject_key_file):
            return os.urandom(32)
        path = s.subject_key_file
        if path is None and s.audit_key_file:
            path = str(Path(s.audit_key_file).with_name("gridflow-subject.key"))
        elif path is None:
            url = s.database_url
            sqlite = url.startswith("sqlite:///")
            path = url.removeprefix("sqlite:///") + ".subject-key" if sqlite else None
        return load_subject_key(s.subject_key, path or "gridflow-subject.key")

    def services(self) -> Services:
        readiness = {"views": lambda: self.views.readiness(self.service.head())}
        return Services(
            service=self.service,
            tokens=self.tokens,
            idempotency=self.idempotency,
            views=self.views,
            audit=self.audit,
            vault=self.vault,
            evidence=self.evidence,
            outbox=self.outbox,
            readiness=readiness,
            limiter=self.limiter if self.settings.rate_limit > 0 else None,
            cors_origins=self.settings.cors_origins,
            max_import_rows=self.settings.max_import_rows,
        )

    def workers(self) -> dict[str, Callable[[threading.Event], None]]:
        """Each worker by name; its parts are built when it starts (`--only` builds one)."""
        return {
            "projections": lambda stop: ProjectionWorker(self.engine, self.wake).follow(stop),
            "deadlines": lambda stop: DeadlineWorker(self.service, self.views).follow(stop),
            "patrol_misses": lambda stop: PatrolMissWorker(self.service, self.views).follow(stop),
            "audit": lambda stop: AuditWorker(self.audit).follow(stop),
            "notifications": lambda stop: self.notifier.follow(stop, self.notify_wake),
        }

    def now(self) -> datetime:
        return self.clock()

    def close(self) -> None:
        """Close what was built (nothing, if nothing was)."""
        if "service" in self.__dict__:
            self.service.close()
        if "db" in self.__dict__:
            self.db.close()


DEFAULT_ORIGIN = "gridflow"


def log_origin(recorded: str | None, s: Settings) -> str:
    """The name the log's checkpoints carry: the one it has (a log keeps it: witnesses
    tell logs apart by it), else the configured one, else on a new SQLite log
    `gridflow`. A new PostgreSQL log must be given one (`GRIDFLOW_AUDIT_ORIGIN`), and
    one that names another than its log's is refused."""
    if recorded is not None:
        if s.audit_origin is not None and s.audit_origin != recorded:
            raise ValueError(
                f"GRIDFLOW_AUDIT_ORIGIN is {s.audit_origin!r} but this log's checkpoints are "
                f"signed as {recorded!r}: a log keeps its origin (unset it, or set {recorded!r})"
            )
        return recorded
    if s.audit_origin is not None:
        return s.audit_origin
    if s.is_sqlite or s.database_url.startswith("memory:"):
        return DEFAULT_ORIGIN
    raise ValueError(
        "a new PostgreSQL log needs its name for checkpoints: set GRIDFLOW_AUDIT_ORIGIN "
        "(e.g. example.org/weihai-gridflow; docs/audit.md)"
    )
