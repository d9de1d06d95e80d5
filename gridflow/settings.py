"""Configuration from the environment, read once at start into one settings object.

The `GRIDFLOW_*` variables are read and type-checked by pydantic-settings
(`Environment`): a bad value is refused at start with the variable's name and what is
wrong with it (`ConfigurationError`, one line on the command line). `Settings` is what
the composition root builds the service from; the rules' part of it is the domain's
`Policy`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from ipaddress import IPv4Network, IPv6Network, ip_network
from pathlib import Path
from typing import Annotated, Any, ClassVar
from urllib.parse import urlparse

from pydantic import Field, ValidationError
from pydantic_settings import BaseSettings, EnvSettingsSource, SettingsConfigDict, SettingsError
from pydantic_settings.sources import PydanticBaseSettingsSource
from pydantic_settings.sources.utils import parse_env_vars

from domain.calendar import DEFAULT_HOURS, DEFAULT_TIMEZONE, Calendars, WorkingCalendar, parse_hours
from domain.deadlines import LimitPolicy
from domain.policy import Policy

DEFAULT_DATABASE_URL = "sqlite:///./gridflow.db"
PREFIX = "GRIDFLOW_"


class ConfigurationError(ValueError):
    """A variable of the environment that cannot be used; the message names it."""


def origins(text: str) -> tuple[str, ...]:
    """Comma-separated web origins (`GRIDFLOW_CORS_ORIGINS`): `scheme://host[:port]`
    each, or `*` for any; ConfigurationError naming a bad one."""
    out = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        u = urlparse(part)
        if part != "*" and (
            u.scheme not in ("http", "https") or not u.hostname or u.path or u.query
        ):
            raise ConfigurationError(
                f"GRIDFLOW_CORS_ORIGINS: {part!r} is not an origin (scheme://host)"
            )
        out.append(part.rstrip("/"))
    return tuple(out)


def networks(text: str) -> tuple[IPv4Network | IPv6Network, ...]:
    """Comma-separated CIDRs (`GRIDFLOW_WEBHOOK_ALLOW_NETWORKS`); ConfigurationError
    naming a bad one."""
    out = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        try:
            out.append(ip_network(part, strict=False))
        except ValueError:
            raise ConfigurationError(
                f"GRIDFLOW_WEBHOOK_ALLOW_NETWORKS: {part!r} is not a CIDR"
            ) from None
    return tuple(out)


class Environment(BaseSettings):
    """The variables as given (README's table), each checked for its type and range.
    Empty values count as unset."""

    model_config = SettingsConfigDict(
        env_prefix=PREFIX, env_ignore_empty=True, extra="ignore", frozen=True
    )

    database_url: str = DEFAULT_DATABASE_URL
    timezone: str = DEFAULT_TIMEZONE
    working_hours: str = DEFAULT_HOURS
    calendar_file: Path | None = None
    deadlines: dict[str, str] = Field(default_factory=dict)
    followup_reply: str | None = None
    escalate_missed_small: bool = True
    transfer_cap: Annotated[int, Field(ge=0)] = 2
    projection_batch: Annotated[int, Field(ge=1)] = 2000
    audit_key: str | None = None
    audit_key_file: str | None = None
    audit_origin: str | None = None
    subject_key: str | None = None
    subject_key_file: str | None = None
    checkpoint_every: Annotated[int, Field(ge=1)] = 1000
    comparison_window_hours: Annotated[float, Field(gt=0)] = 72.0
    comparison_radius_m: Annotated[float, Field(gt=0)] = 300.0
    miss_warning_rate: Annotated[float, Field(ge=0, le=1)] = 0.3
    miss_warning_min_tickets: Annotated[int, Field(ge=0)] = 3
    late_entry_hours: Annotated[float, Field(ge=0)] = 2.0
    evidence_dir: str | None = None
    evidence_s3_bucket: str | None = None
    evidence_s3_endpoint: str | None = None
    evidence_max_bytes: Annotated[int, Field(ge=1)] = 10 << 20
    max_image_pixels: Annotated[int, Field(ge=1)] = 40_000_000
    max_import_rows: Annotated[int, Field(ge=1)] = 50_000
    rate_limit: Annotated[int, Field(ge=0)] = 6000
    group_commit: bool = True
    ready_stall_seconds: Annotated[float, Field(gt=0)] = 30.0
    webhook_allow_networks: str = ""
    cors_origins: str = ""
    satisfaction_basic_weight: Annotated[float, Field(ge=0, le=1)] = 0.9
    ranking_min_sample: Annotated[int, Field(ge=0)] = 10
    score_weights: dict[str, float] | None = None

    @classmethod
    def read(cls, environ: Mapping[str, str] | None = None) -> Environment:
        """From the process's environment, or only from `environ` when given."""
        try:
            if environ is None:
                return cls()
            return _Given.given(environ)()
        except ValidationError as exc:
            raise ConfigurationError(_first_problem(exc)) from None
        except SettingsError as exc:  # a JSON variable that is not JSON
            field = re.search(r'field "(\w+)"', str(exc))
            name = PREFIX + (field.group(1).upper() if field else "")
            raise ConfigurationError(f"{name}: not valid JSON ({exc.__cause__})") from None


class _Given(Environment):
    """An `Environment` read from a given mapping instead of the process's (tests, the
    benchmarks' child processes)."""

    environ: ClassVar[Mapping[str, str]] = {}

    @classmethod
    def given(cls, environ: Mapping[str, str]) -> type[Environment]:
        return type("GivenEnvironment", (cls,), {"environ": dict(environ)})

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, _MappingSource(settings_cls, cls.environ))


class _MappingSource(EnvSettingsSource):
    def __init__(self, settings_cls: type[BaseSettings], environ: Mapping[str, str]) -> None:
        self._given = environ
        super().__init__(settings_cls)

    def _load_env_vars(self) -> Mapping[str, str | None]:
        return parse_env_vars(
            self._given, self.case_sensitive, self.env_ignore_empty, self.env_parse_none_str
        )


def _first_problem(exc: ValidationError) -> str:
    """`GRIDFLOW_TRANSFER_CAP: Input should be greater than or equal to 0 (got '-1')`."""
    error = exc.errors()[0]
    head, *path = error["loc"] or ("",)
    name = ".".join([PREFIX + str(head).upper(), *map(str, path)])
    got = error.get("input")
    shown = f" (got {got!r})" if isinstance(got, str | int | float) else ""
    return f"{name}: {error['msg']}{shown}"


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

    @property
    def policy(self) -> Policy:
        """The rules' part, for the domain's service."""
        return Policy(self.calendars, self.limits, self.escalate_missed_small, self.transfer_cap)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Read from the process's environment, or only from `environ` when given;
        ConfigurationError naming the variable when one cannot be used."""
        env = Environment.read(environ)
        limits = dict(env.deadlines)
        if env.followup_reply:
            limits.setdefault("flag_reply", env.followup_reply)
        settings = cls(
            database_url=env.database_url,
            calendars=_calendars(env),
            limits=_named("GRIDFLOW_DEADLINES", LimitPolicy, limits),
            escalate_missed_small=env.escalate_missed_small,
            transfer_cap=env.transfer_cap,
            projection_batch=env.projection_batch,
            audit_key=env.audit_key,
            audit_key_file=env.audit_key_file,
            audit_origin=env.audit_origin,
            subject_key=env.subject_key,
            subject_key_file=env.subject_key_file,
            checkpoint_every=env.checkpoint_every,
            comparison_window_hours=env.comparison_window_hours,
            comparison_radius_m=env.comparison_radius_m,
            miss_warning_rate=env.miss_warning_rate,
            miss_warning_min_tickets=env.miss_warning_min_tickets,
            late_entry_hours=env.late_entry_hours,
            evidence_dir=env.evidence_dir,
            evidence_s3_bucket=env.evidence_s3_bucket,
            evidence_s3_endpoint=env.evidence_s3_endpoint,
            evidence_max_bytes=env.evidence_max_bytes,
            max_image_pixels=env.max_image_pixels,
            max_import_rows=env.max_import_rows,
            rate_limit=env.rate_limit,
            group_commit=env.group_commit,
            ready_stall_seconds=env.ready_stall_seconds,
            webhook_allow_networks=networks(env.webhook_allow_networks),
            cors_origins=origins(env.cors_origins),
            satisfaction_basic_weight=env.satisfaction_basic_weight,
            ranking_min_sample=env.ranking_min_sample,
            score_weights=env.score_weights,
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
            raise ConfigurationError(
                "PostgreSQL needs the audit signing key: set GRIDFLOW_AUDIT_KEY or "
                "GRIDFLOW_AUDIT_KEY_FILE, the same on every host (docs/deployment.md)"
            )
        if not (self.subject_key or self.subject_key_file or self.audit_key_file):
            raise ConfigurationError(
                "PostgreSQL needs the subject key that keys reporters' subjects: set "
                "GRIDFLOW_SUBJECT_KEY (base64, 32 bytes or more) or GRIDFLOW_SUBJECT_KEY_FILE "
                "(or GRIDFLOW_AUDIT_KEY_FILE, beside which it is kept), the same on every host "
                "(docs/audit.md)"
            )
        if not (self.evidence_s3_bucket or self.evidence_dir):
            raise ConfigurationError(
                "PostgreSQL needs evidence storage every host shares: set "
                "GRIDFLOW_EVIDENCE_S3_BUCKET, or GRIDFLOW_EVIDENCE_DIR on storage mounted on "
                "every host (docs/deployment.md)"
            )


def _named(variable: str, build: Any, *args: Any) -> Any:
    """`build(*args)`, its ValueError (or a missing file) named after the variable."""
    try:
        return build(*args)
    except (ValueError, KeyError, OSError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
        raise ConfigurationError(f"{variable}: {reason}") from None


def _calendars(env: Environment) -> Calendars:
    default = WorkingCalendar(
        timezone=env.timezone,
        hours=_named("GRIDFLOW_WORKING_HOURS", parse_hours, env.working_hours),
    )
    _named("GRIDFLOW_TIMEZONE", lambda: default.tz)
    document: dict[str, Any] = {}
    if env.calendar_file is not None:
        path = env.calendar_file
        document = _named("GRIDFLOW_CALENDAR_FILE", lambda: json.loads(path.read_text("utf-8")))
    return _named("GRIDFLOW_CALENDAR_FILE", Calendars.from_config, document, default)
