"""aggregator.toml: the service's settings, with environment overrides, as frozen records."""

from __future__ import annotations

import contextlib
import copy
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from aggregator.errors import ConfigError
from aggregator.settings.checks import (
    Boolean,
    BrokerUrl,
    Contact,
    CorsOrigin,
    CronExpression,
    DatabaseUrl,
    DataDir,
    Duration,
    EmailAddress,
    EnvText,
    HeaderText,
    Integer,
    NonEmpty,
    Number,
    RedisUrl,
    Slug,
    TagFilter,
    TagName,
    TimeZoneName,
    UserAgent,
    fail,
)
from aggregator.settings.report import to_config_error
from aggregator.settings.spec import PROFILE, default_of, env_overrides
from aggregator.settings.tomlfile import KeyLines, Loc, TomlFile, is_absent, read_toml

SETTINGS_FILE = "aggregator.toml"
DEFAULT_PROFILE = "daily"
Format = Literal["html", "text", "markdown", "json"]
LogLevel = Annotated[
    Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"],
    BeforeValidator(lambda value: value.upper() if isinstance(value, str) else value),
]
Port = Annotated[Integer, Field(ge=1, le=65535)]
# Seconds at most an hour (timeouts, the retry backoff): `inf` or 1e12 passed the check,
# then crashed the SMTP send (a timeout beyond time_t) or hung a refresh in its backoff.
MAX_SECONDS = 3_600
Seconds = Annotated[Number, Field(gt=0, le=MAX_SECONDS, allow_inf_nan=False)]
# Retries of one fetch at most: each waits up to twice as long as the one before.
MAX_RETRIES = 10
Count = Annotated[Integer, Field(ge=1)]
# fetch.max_bytes at most: the parsers' own ceiling (parse/guards.py MAX_DOCUMENT_BYTES, not
# imported here: that would load the parsers with the settings).
MAX_BODY_BYTES = 50 * 1024 * 1024
# Day counts at most (a century): `now - 999999 days` is before year 1.
MAX_DAYS = 36_500
# A scheduler tick at most a day: a longer one would outlast schedule.max_interval's default,
# and half of an absurd one (the early slack of `App.due_slack`) overflowed a float.
MAX_TICK_SECONDS = 86_400

# Keys that must never be in a file: files end up in version control and backups.
ENV_ONLY = {
    ("smtp", "password"): "AGGREGATOR_SMTP_PASSWORD",
    ("api", "token"): "AGGREGATOR_API_TOKEN",
}


# --- records handed to the rest of the service -------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class FetchSettings:
    user_agent: str
    contact: str | None
    connect_timeout: float
    read_timeout: float
    total_timeout: float
    max_connections: int
    max_per_host: int
    retries: int
    backoff_base: float
    max_bytes: int
    parse_processes: int  # 0: automatic (`aggregator.app.parse_processes`)


@dataclass(frozen=True, slots=True, kw_only=True)
class ScheduleSettings:
    min_interval: timedelta
    max_interval: timedelta
    max_backoff: timedelta
    tick_seconds: int


@dataclass(frozen=True, slots=True, kw_only=True)
class DedupeSettings:
    window_days: int


@dataclass(frozen=True, slots=True, kw_only=True)
class RetentionSettings:
    keep_days: int
    keep_digest_days: int


@dataclass(frozen=True, slots=True, kw_only=True)
class SmtpSettings:
    host: str
    port: int
    security: Literal["starttls", "tls", "none"]
    username: str | None
    password: str | None
    sender: str
    timeout: float


@dataclass(frozen=True, slots=True, kw_only=True)
class ApiSettings:
    host: str
    port: int
    token: str | None
    cors_origins: tuple[str, ...]
    cache_seconds: float = 2.0  # 0: no response cache


@dataclass(frozen=True, slots=True, kw_only=True)
class WorkerSettings:
    broker_url: str
    limiter_url: str | None  # None: the broker's Redis
    queue: str
    lease: timedelta
    queue_timeout: timedelta


@dataclass(frozen=True, slots=True, kw_only=True)
class DigestProfile:
    name: str
    recipients: tuple[str, ...]
    bcc: tuple[str, ...] = ()  # sent to, but named in no header the recipients see
    include_tags: tuple[str, ...]  # empty: every tag
    exclude_tags: tuple[str, ...]
    cron: str = "0 7 * * *"
    timezone: str = "Europe/Brussels"
    formats: tuple[str, ...] = ("html", "text", "markdown", "json")
    send_empty: bool = False
    subject_prefix: str


@dataclass(frozen=True, slots=True, kw_only=True)
class DigestSettings:
    topic_order: tuple[str, ...]
    profiles: tuple[DigestProfile, ...]  # never empty
    # smtp.sender, also without smtp.host: the From of the messages the outbox keeps then.
    mail_from: str | None = None

    def profile(self, name: str) -> DigestProfile:
        for profile in self.profiles:
            if profile.name == name:
                return profile
        raise KeyError(name)


@dataclass(frozen=True, slots=True, kw_only=True)
class Settings:
    config_dir: Path
    data_dir: Path  # absolute
    database_url: str
    log_level: str
    fetch: FetchSettings
    schedule: ScheduleSettings
    dedupe: DedupeSettings
    retention: RetentionSettings
    smtp: SmtpSettings | None  # None: digests are written to the outbox folder
    api: ApiSettings
    digest: DigestSettings
    workers: WorkerSettings


# --- the file's schema; defaults come from the SETTINGS table -----------------------------


class _Table(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)


class _Fetch(_Table):
    user_agent: UserAgent = Field(default=default_of("fetch.user_agent"))
    contact: Contact | None = Field(default=default_of("fetch.contact"))
    connect_timeout: Seconds = Field(default=default_of("fetch.connect_timeout"))
    read_timeout: Seconds = Field(default=default_of("fetch.read_timeout"))
    total_timeout: Seconds = Field(default=default_of("fetch.total_timeout"))
    max_connections: Count = Field(default=default_of("fetch.max_connections"))
    max_per_host: Count = Field(default=default_of("fetch.max_per_host"))
    retries: Annotated[Integer, Field(ge=0, le=MAX_RETRIES)] = Field(
        default=default_of("fetch.retries")
    )
    backoff_base: Seconds = Field(default=default_of("fetch.backoff_base"))
    max_bytes: Count = Field(default=default_of("fetch.max_bytes"), le=MAX_BODY_BYTES)
    parse_processes: Annotated[Integer, Field(ge=0)] = Field(
        default=default_of("fetch.parse_processes")
    )


class _Schedule(_Table):
    min_interval: Duration = Field(default=default_of("schedule.min_interval"))
    max_interval: Duration = Field(default=default_of("schedule.max_interval"))
    max_backoff: Duration = Field(default=default_of("schedule.max_backoff"))
    tick_seconds: Count = Field(default=default_of("schedule.tick_seconds"), le=MAX_TICK_SECONDS)

    @field_validator("max_interval")
    @classmethod
    def _not_before_min(cls, value: timedelta, info: ValidationInfo) -> timedelta:
        # A field's check, not the table's: the error then names max_interval and its line,
        # where the table's named [schedule] alone. (min_interval is read first.)
        low = info.data.get("min_interval")
        if isinstance(low, timedelta) and low > value:
            raise fail(
                "schedule.min_interval is longer than schedule.max_interval",
                "min_interval <= max_interval",
            )
        return value


class _Dedupe(_Table):
    window_days: Count = Field(default=default_of("dedupe.window_days"), le=MAX_DAYS)


class _Retention(_Table):
    keep_days: Count = Field(default=default_of("retention.keep_days"), le=MAX_DAYS)
    keep_digest_days: Count = Field(default=default_of("retention.keep_digest_days"), le=MAX_DAYS)


class _Smtp(_Table):
    host: NonEmpty | None = Field(default=default_of("smtp.host"))
    port: Port = Field(default=default_of("smtp.port"))
    security: Literal["starttls", "tls", "none"] = Field(default=default_of("smtp.security"))
    username: str | None = Field(default=default_of("smtp.username"))
    password: str | None = Field(default=default_of("smtp.password"))
    sender: EmailAddress | None = Field(default=default_of("smtp.sender"))
    timeout: Seconds = Field(default=default_of("smtp.timeout"))

    @model_validator(mode="after")
    def _sender_with_host(self) -> _Smtp:
        if self.host and not self.sender:
            raise fail("smtp.sender is required when smtp.host is set", "sender = 'a@example.org'")
        return self


class _Api(_Table):
    host: NonEmpty = Field(default=default_of("api.host"))
    port: Port = Field(default=default_of("api.port"))
    token: str | None = Field(default=default_of("api.token"))
    cors_origins: tuple[CorsOrigin, ...] = Field(default=default_of("api.cors_origins"))
    cache_seconds: Annotated[Number, Field(ge=0)] = Field(default=default_of("api.cache_seconds"))


class _Workers(_Table):
    broker_url: BrokerUrl = Field(default=default_of("workers.broker_url"))
    limiter_url: RedisUrl | None = Field(default=default_of("workers.limiter_url"))
    queue: Slug = Field(default=default_of("workers.queue"))
    lease: Duration = Field(default=default_of("workers.lease"))
    queue_timeout: Duration = Field(default=default_of("workers.queue_timeout"))


class _Profile(_Table):
    recipients: tuple[EmailAddress, ...] = Field(default=default_of(f"{PROFILE}.recipients"))
    bcc: tuple[EmailAddress, ...] = Field(default=default_of(f"{PROFILE}.bcc"))
    include_tags: tuple[TagFilter, ...] = Field(default=default_of(f"{PROFILE}.include_tags"))
    exclude_tags: tuple[TagFilter, ...] = Field(default=default_of(f"{PROFILE}.exclude_tags"))
    cron: CronExpression = Field(default=default_of(f"{PROFILE}.cron"))
    timezone: TimeZoneName = Field(default=default_of(f"{PROFILE}.timezone"))
    formats: tuple[Format, ...] = Field(default=default_of(f"{PROFILE}.formats"), min_length=1)
    send_empty: Boolean = Field(default=default_of(f"{PROFILE}.send_empty"))
    subject_prefix: HeaderText = Field(default=default_of(f"{PROFILE}.subject_prefix"))


class _Digest(_Table):
    topic_order: tuple[TagName, ...] = Field(default=default_of("digest.topic_order"))
    profiles: dict[Slug, _Profile] = Field(default_factory=dict)


class SettingsFile(_Table):
    """The whole of aggregator.toml."""

    data_dir: DataDir = Field(default=default_of("data_dir"))
    database_url: DatabaseUrl | None = Field(default=default_of("database_url"))
    log_level: LogLevel = Field(default=default_of("log_level"))
    fetch: _Fetch = Field(default_factory=_Fetch)
    schedule: _Schedule = Field(default_factory=_Schedule)
    dedupe: _Dedupe = Field(default_factory=_Dedupe)
    retention: _Retention = Field(default_factory=_Retention)
    smtp: _Smtp = Field(default_factory=_Smtp)
    api: _Api = Field(default_factory=_Api)
    digest: _Digest = Field(default_factory=_Digest)
    workers: _Workers = Field(default_factory=_Workers)


# --- loading ------------------------------------------------------------------------------


def resolve_config_dir(cli_value: str | None, env: Mapping[str, str]) -> Path:
    """`--config DIR`, else $AGGREGATOR_CONFIG, else ./config."""
    if cli_value:
        return Path(cli_value)
    return Path(env.get("AGGREGATOR_CONFIG") or "config")


def _reject_secrets(file: TomlFile) -> None:
    for (table, key), variable in ENV_ONLY.items():
        section = file.data.get(table)
        if isinstance(section, dict) and key in section:
            raise ConfigError(
                file.name,
                f"{table}.{key} must not be written in a config file "
                "(files end up in version control and backups)",
                line=file.lines.line_of((table, key)),
                key=f"{table}.{key}",
                expected=f"the environment variable {variable}",
            )


def _apply_env(data: dict[str, Any], env: Mapping[str, str]) -> dict[Loc, str]:
    """Write the environment's values over the file's; return where each one went."""
    applied: dict[Loc, str] = {}
    for variable, name in env_overrides().items():
        value = env.get(variable, "")
        if not value:  # an empty variable means unset, as docker-compose's `VAR=` does
            continue
        *tables, key = name.split(".")
        target = data
        for table in tables:
            existing = target.get(table)
            target[table] = existing if isinstance(existing, dict) else {}
            target = target[table]
        target[key] = EnvText(value)
        applied[tuple(name.split("."))] = variable
    return applied


def _profile(name: str, model: _Profile) -> DigestProfile:
    return DigestProfile(name=name, **model.model_dump())


def _build(model: SettingsFile, config_dir: Path) -> Settings:
    data_dir = Path(model.data_dir)
    # Relative to the working directory, fixed now: the service may chdir later.
    data_dir = data_dir if data_dir.is_absolute() else Path.cwd() / data_dir
    smtp = model.smtp
    profiles = tuple(_profile(name, profile) for name, profile in model.digest.profiles.items())
    return Settings(
        config_dir=config_dir,
        data_dir=data_dir,
        database_url=model.database_url or f"sqlite:///{data_dir}/aggregator.sqlite",
        log_level=model.log_level,
        fetch=FetchSettings(**model.fetch.model_dump()),
        schedule=ScheduleSettings(**model.schedule.model_dump()),
        dedupe=DedupeSettings(**model.dedupe.model_dump()),
        retention=RetentionSettings(**model.retention.model_dump()),
        smtp=SmtpSettings(**smtp.model_dump()) if smtp.host and smtp.sender else None,
        api=ApiSettings(**model.api.model_dump()),
        digest=DigestSettings(
            topic_order=model.digest.topic_order,
            profiles=profiles or (_profile(DEFAULT_PROFILE, _Profile()),),
            mail_from=smtp.sender,
        ),
        workers=WorkerSettings(**model.workers.model_dump()),
    )


@dataclass(frozen=True, slots=True)
class SettingOrigin:
    """Where a setting's value came from: an environment variable, a line of aggregator.toml,
    or (its default) nowhere but aggregator.toml, where it would be written."""

    file: str  # "environment", or the settings file's path
    line: int | None
    key: str  # the variable, or the setting's dotted name
    variable: str | None  # the variable that set it, if one did

    def error(self, message: str, expected: str) -> ConfigError:
        return ConfigError(self.file, message, line=self.line, key=self.key, expected=expected)


def setting_origin(config_dir: Path, env: Mapping[str, str], name: str) -> SettingOrigin:
    """Where `name` ("workers.broker_url") was set, as `load_settings` read it: a problem
    found after loading (a folder that cannot be made, a setting another one requires) is
    then said of the variable or line the operator has to change, not of a file that may
    not even hold it. Meant for error paths: it reads the file again."""
    for variable, setting in env_overrides().items():
        if setting == name and env.get(variable, ""):
            return SettingOrigin("environment", None, variable, variable)
    path = config_dir / SETTINGS_FILE
    try:
        line = KeyLines(path.read_text(encoding="utf-8-sig")).exact(tuple(name.split(".")))
    except (OSError, UnicodeDecodeError):
        line = None
    return SettingOrigin(str(path), line, name, None)


def make_data_dir(settings: Settings, env: Mapping[str, str]) -> None:
    """Make `data_dir` if missing. A folder the OS refuses (a read-only or foreign parent, a
    dangling symbolic link, a name too long) is a mistake in the setting: said of
    `data_dir` or AGGREGATOR_DATA_DIR, with the path and the OS's reason, exit 2. Left to
    the store, it was a store error (exit 3) about the database URL, naming neither."""
    path = settings.data_dir
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        if exc.filename is not None and Path(exc.filename) != path:
            reason += f" at {str(exc.filename)!r}"
        if path.is_symlink():
            reason += f" (a symbolic link to {os.readlink(path)!r}, which leads nowhere)"
        origin = setting_origin(settings.config_dir, env, "data_dir")
        raise origin.error(
            f"cannot create data_dir {str(path)!r}: {reason}",
            "a folder this process can create and write, for the SQLite file, digests and"
            " the outbox",
        ) from exc


def check_data_dir(settings: Settings, env: Mapping[str, str]) -> None:
    """What `make_data_dir` and the first write would meet, for `sources check`, leaving
    nothing behind: the folders missing are made and removed again, and an existing folder
    is written a file to, and the file removed (as root, permission bits say nothing)."""
    path = settings.data_dir
    missing = [folder for folder in (path, *path.parents) if not folder.exists()]
    try:
        make_data_dir(settings, env)
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as exc:
        origin = setting_origin(settings.config_dir, env, "data_dir")
        raise origin.error(
            f"cannot write in data_dir {str(path)!r}: {exc.strerror or exc}",
            "a folder this process can write, for the SQLite file, digests and the outbox",
        ) from exc
    finally:
        for folder in missing:  # the deepest first
            with contextlib.suppress(OSError):
                folder.rmdir()


def load_settings(config_dir: Path, env: Mapping[str, str]) -> Settings:
    """Read config_dir/aggregator.toml (defaults when absent), apply the environment, validate."""
    path = config_dir / SETTINGS_FILE
    file = None if is_absent(path) else read_toml(path)  # a folder there is said, not skipped
    data: dict[str, Any] = copy.deepcopy(file.data) if file else {}
    if file:
        _reject_secrets(file)
    from_env = _apply_env(data, env)
    try:
        model = SettingsFile.model_validate(data)
    except ValidationError as exc:
        raise to_config_error(exc, file, str(path), SettingsFile, from_env) from exc
    return _build(model, config_dir)
