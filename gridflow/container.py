"""The composition root: builds the service's parts from the settings, once."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path

from api.deps import Services
from domain.service import Clock, IssueService, utc_now
from domain.settings import Settings
from projections.audit import AuditLog
from projections.comparison import ComparisonPolicy
from projections.db import Database
from projections.engine import Engine
from projections.evidence import BlobStore, DirectoryStore, Evidence, S3Store
from projections.idempotency import IdempotencyStore
from projections.outbox import Outbox
from projections.privacy import KeyVault, load_subject_key
from projections.ratelimit import RateLimiter
from projections.reader import ViewReader
from projections.signing import Signer, load_signer
from projections.tokens import TokenStore
from projections.webhooks import WebhookTargets
from workers.deadlines import DeadlineWorker
from workers.notifier import Notifier
from workers.patrol_misses import PatrolMissWorker


@dataclass
class Container:
    settings: Settings
    clock: Clock = utc_now
    service: IssueService = field(init=False)
    db: Database = field(init=False)
    tokens: TokenStore = field(init=False)
    idempotency: IdempotencyStore = field(init=False)
    engine: Engine = field(init=False)
    views: ViewReader = field(init=False)
    audit: AuditLog = field(init=False)
    wake: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        self.db = Database(self.settings.database_url)
        self.vault = KeyVault(self.db, self.subject_key())
        self.evidence = Evidence(
            self.db,
            self.blob_store(),
            self.settings.evidence_max_bytes,
            self.settings.max_image_pixels,
        )
        self.tokens = TokenStore(self.db)
        self.service = IssueService(
            self.settings,
            clock=self.clock,
            vault=self.vault,
            evidence=self.evidence,
            directory=self.tokens,
        )
        self.idempotency = IdempotencyStore(self.db)
        tz = self.settings.calendars.default.timezone
        self.engine = Engine(self.db, self.service.app.recorder, tz, self.settings.projection_batch)
        s = self.settings
        policy = ComparisonPolicy(
            s.comparison_window_hours,
            s.comparison_radius_m,
            s.miss_warning_rate,
            s.miss_warning_min_tickets,
            s.late_entry_hours,
        )
        self.views = ViewReader(
            self.db,
            self.engine,
            tz,
            s.score_weights,
            policy,
            s.ready_stall_seconds,
            s.satisfaction_basic_weight,
            s.ranking_min_sample,
        )
        signer = self.signer()
        self.audit = AuditLog(
            self.db, signer, signer.name, checkpoint_every=self.settings.checkpoint_every
        )
        origin = log_origin(self.audit.recorded_origin(), self.settings)
        self.audit.origin, self.audit.signer = origin, replace(signer, name=origin)
        self.outbox = Outbox(
            self.db,
            self.service.head,
            targets=WebhookTargets(self.settings.webhook_allow_networks),
        )
        self.limiter = RateLimiter(self.db, self.settings.rate_limit)
        self.notifier = Notifier(self.outbox, self.service, self.views)
        self.notify_wake = threading.Event()
        self.service.on_saved.append(self._saved)

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
        )

    def workers(self) -> dict[str, Callable[[threading.Event], None]]:
        deadlines = DeadlineWorker(self.service, self.views)
        return {
            "projections": lambda stop: self.engine.follow(stop, self.wake),
            "deadlines": deadlines.follow,
            "patrol_misses": PatrolMissWorker(self.service, self.views).follow,
            "audit": self.follow_audit,
            "notifications": lambda stop: self.notifier.follow(stop, self.notify_wake),
        }

    def follow_audit(
        self, stop: threading.Event, poll: float = 1.0, checkpoint_seconds: float = 60.0
    ) -> None:
        """Hash new events into the chain; sign a checkpoint at least every minute
        while the log grows."""
        import logging
        import time

        last = time.monotonic()
        while not stop.is_set():
            try:
                moved = self.audit.catch_up()
                if time.monotonic() - last >= checkpoint_seconds:
                    self.audit.checkpoint()
                    last = time.monotonic()
            except Exception:  # the store went away: log, wait, retry
                logging.getLogger("gridflow.audit").exception("audit step failed")
                moved = 0
            if not moved:
                stop.wait(poll)

    def now(self) -> datetime:
        return self.clock()

    def close(self) -> None:
        self.service.close()
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
