"""The one declared table of every setting: name, type, default, environment variable, help.

The pydantic models take their defaults from here (`default_of`), docs/settings.md is
generated from here (`settings_reference_markdown`), and tests check that every field of
the models is declared here and that the README and docs mention every setting.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

PROFILE = "digest.profiles.<name>"


@dataclass(frozen=True, slots=True, kw_only=True)
class SettingSpec:
    name: str  # dotted path in aggregator.toml, e.g. "fetch.read_timeout"
    type: str  # as a user writes it: "duration", "integer", "list of strings", ...
    default: object  # None: unset
    env: str | None
    help: str
    in_file: bool = True  # False: only the environment (or the command line) may set it


def _s(
    name: str,
    type: str,
    default: object,
    help: str,
    *,
    env: str | None = None,
    in_file: bool = True,
) -> SettingSpec:
    return SettingSpec(name=name, type=type, default=default, env=env, help=help, in_file=in_file)


SETTINGS: tuple[SettingSpec, ...] = (
    _s(
        "config_dir",
        "path",
        "config",
        "Folder holding aggregator.toml, sources.toml and tags.toml (also `--config DIR`).",
        env="AGGREGATOR_CONFIG",
        in_file=False,
    ),
    _s(
        "data_dir",
        "path",
        "var",
        "Folder for the database, digests and the email outbox; relative to the working dir.",
        env="AGGREGATOR_DATA_DIR",
    ),
    _s(
        "database_url",
        "string",
        None,
        "SQLAlchemy URL (sqlite:/// or postgresql+psycopg://). "
        "Unset: sqlite:///{data_dir}/aggregator.sqlite. A SQLite URL must name a file "
        "(sqlite:///, sqlite:///:memory: are refused: an in-memory database loses everything).",
        env="AGGREGATOR_DATABASE_URL",
    ),
    _s(
        "log_level",
        "string",
        "INFO",
        "DEBUG, INFO, WARNING, ERROR or CRITICAL: the log lines of run, worker and serve;"
        " the one-shot commands log on stderr at DEBUG only.",
        env="AGGREGATOR_LOG_LEVEL",
    ),
    _s(
        "fetch.user_agent",
        "string",
        "aggregator/0.1",
        "User-Agent product token sent with every request.",
    ),
    _s(
        "fetch.contact",
        "string",
        None,
        "Contact added to the User-Agent ('mailto:ops@example.org' or an https:// URL), "
        "so publishers can reach the operator instead of blocking.",
        env="AGGREGATOR_CONTACT",
    ),
    _s("fetch.connect_timeout", "seconds", 10.0, "Timeout to open a connection."),
    _s("fetch.read_timeout", "seconds", 30.0, "Timeout between two reads of a response."),
    _s(
        "fetch.total_timeout",
        "seconds",
        60.0,
        "Timeout for a whole fetch (redirects included, retries excluded), from when its "
        "request has a connection: waiting for a busy host does not count.",
    ),
    _s("fetch.max_connections", "integer", 20, "Concurrent requests overall."),
    _s("fetch.max_per_host", "integer", 2, "Concurrent requests to one host."),
    _s(
        "fetch.retries",
        "integer",
        2,
        "Retries of a transient failure (timeout, 5xx), at most 10.",
    ),
    _s(
        "fetch.backoff_base",
        "seconds",
        1.0,
        "Retry delays are drawn at random up to this, the bound doubling on each retry (to"
        " at most 300 seconds).",
    ),
    _s(
        "fetch.max_bytes",
        "integer",
        10 * 1024 * 1024,
        "Largest response body accepted, after decompression (at most 52428800, 50 MB).",
    ),
    _s(
        "fetch.parse_processes",
        "integer",
        0,
        "Worker processes that parse, tag and fingerprint fetched documents. 0: one fewer "
        "than the CPUs (the refreshing process stores on the last one), at least one.",
        env="AGGREGATOR_PARSE_PROCESSES",
    ),
    _s(
        "schedule.min_interval",
        "duration",
        "5m",
        "Shortest time between two fetches of one source, whatever the source asks.",
    ),
    _s("schedule.max_interval", "duration", "1d", "Longest time between two fetches."),
    _s("schedule.max_backoff", "duration", "12h", "Longest delay after repeated failures."),
    _s(
        "schedule.tick_seconds",
        "integer",
        60,
        "How often the scheduler looks for due sources (at most 86400, a day).",
    ),
    _s("dedupe.window_days", "integer", 30, "How far back new items are compared for duplicates."),
    _s("retention.keep_days", "integer", 365, "Items older than this are deleted."),
    _s(
        "retention.keep_digest_days",
        "integer",
        30,
        "Items shown in a digest of the last N days are kept, whatever their age "
        "(retention.keep_days does not delete them).",
    ),
    _s(
        "smtp.host",
        "string",
        None,
        "SMTP server. Unset: digests go to .eml files in {data_dir}/outbox.",
        env="AGGREGATOR_SMTP_HOST",
    ),
    _s("smtp.port", "integer", 587, "SMTP port.", env="AGGREGATOR_SMTP_PORT"),
    _s("smtp.security", "string", "starttls", "starttls, tls (implicit TLS) or none."),
    _s("smtp.username", "string", None, "SMTP login.", env="AGGREGATOR_SMTP_USERNAME"),
    _s(
        "smtp.password",
        "string",
        None,
        "SMTP password: from the environment only, never from a file.",
        env="AGGREGATOR_SMTP_PASSWORD",
        in_file=False,
    ),
    _s(
        "smtp.sender",
        "string",
        None,
        "From address, bare or 'Name <a@example.org>'; required when smtp.host is set; "
        "without smtp.host, the From of the outbox's .eml files.",
    ),
    _s("smtp.timeout", "seconds", 30.0, "SMTP connection timeout."),
    _s(
        "api.host",
        "string",
        "127.0.0.1",
        "Address the JSON API listens on.",
        env="AGGREGATOR_API_HOST",
    ),
    _s("api.port", "integer", 8080, "Port the JSON API listens on.", env="AGGREGATOR_API_PORT"),
    _s(
        "api.token",
        "string",
        None,
        "Bearer token for POST /api/v1/refresh, the API's only write (reads are open): "
        "from the environment only. Unset: the refresh endpoint is refused.",
        env="AGGREGATOR_API_TOKEN",
        in_file=False,
    ),
    _s(
        "api.cors_origins",
        "list of strings",
        [],
        "Origins allowed to call the API from a browser: each scheme://host[:port] as a "
        'browser sends it (lower case, no path, no default port), or "*" for any.',
    ),
    _s(
        "api.cache_seconds",
        "seconds",
        2.0,
        "Lists and feeds are answered from memory for at most this long; on SQLite a write "
        "by any process drops them at once, on PostgreSQL a write by this process does. "
        "0: no cache.",
    ),
    _s(
        "workers.broker_url",
        "string",
        "redis://127.0.0.1:6379/0",
        "Task broker of `aggregator worker` and `aggregator run --distributed`: "
        "redis://host:port/db or amqp://user:password@host:port/vhost (RabbitMQ).",
        env="AGGREGATOR_BROKER_URL",
    ),
    _s(
        "workers.limiter_url",
        "string",
        None,
        "Redis holding the per-host limit shared by all workers (redis://...). "
        "Unset: the broker's Redis; required with an amqp:// broker.",
        env="AGGREGATOR_LIMITER_URL",
    ),
    _s(
        "workers.queue",
        "string",
        "aggregator-refresh",
        "Queue name of refresh messages; deployments sharing a broker use different names.",
        env="AGGREGATOR_WORKER_QUEUE",
    ),
    _s(
        "workers.lease",
        "duration",
        "1m",
        "A worker's hold on a source (and its host slot), renewed every third of this while "
        "it refreshes, so a fetch may take longer; a crashed worker's source is refreshed "
        "again this long after its last renewal.",
    ),
    _s(
        "workers.queue_timeout",
        "duration",
        "30m",
        "A source enqueued but not started within this time is enqueued again "
        "(a lost message, or a worker killed before it began).",
    ),
    _s(
        "digest.topic_order",
        "list of strings",
        [],
        "Topic tags in the order digest sections appear; other tags follow alphabetically.",
    ),
    _s(
        f"{PROFILE}.recipients",
        "list of strings",
        [],
        "Email addresses of one digest profile (bare or 'Name <a@example.org>'). "
        "None configured: a 'daily' profile of everything.",
    ),
    _s(
        f"{PROFILE}.bcc",
        "list of strings",
        [],
        "Addresses the digest is also sent to, named in no header the others see "
        "(a profile with bcc alone is addressed to 'undisclosed-recipients').",
    ),
    _s(f"{PROFILE}.include_tags", "list of strings", [], "Only items with one of these tags."),
    _s(f"{PROFILE}.exclude_tags", "list of strings", [], "Never items with one of these tags."),
    _s(
        f"{PROFILE}.cron",
        "cron",
        "0 7 * * *",
        "When the digest is built (5-field cron, or @daily, @weekly...).",
    ),
    _s(
        f"{PROFILE}.timezone", "string", "Europe/Brussels", "IANA zone of `cron` and of the window."
    ),
    _s(
        f"{PROFILE}.formats",
        "list of strings",
        ["html", "text", "markdown", "json"],
        "Renderings produced: html, text, markdown, json.",
    ),
    _s(f"{PROFILE}.send_empty", "boolean", False, "Send a digest even when nothing is new."),
    _s(f"{PROFILE}.subject_prefix", "string", "[aggregator]", "Start of the email subject."),
)

_BY_NAME = {spec.name: spec for spec in SETTINGS}


def default_of(name: str) -> Any:
    """The declared default of a setting; a KeyError means the table and the models drifted.

    Typed `Any` because it feeds pydantic field defaults of every type.
    """
    default = _BY_NAME[name].default
    return list(default) if isinstance(default, list) else default


def env_overrides() -> dict[str, str]:
    """Environment variable -> dotted setting name, for the settings the environment may set."""
    return {spec.env: spec.name for spec in SETTINGS if spec.env and spec.name != "config_dir"}


def _toml_literal(value: object) -> str:
    if value is None:
        return "unset"
    if isinstance(value, bool):
        return "`true`" if value else "`false`"
    if isinstance(value, str):
        return f'`"{value}"`'
    if isinstance(value, list):
        return "`[" + ", ".join(f'"{item}"' for item in value) + "]`"
    return f"`{value}`"


def settings_reference_markdown() -> str:
    """A Markdown table of SETTINGS; docs/settings.md holds its output (a test keeps it current)."""
    lines = [
        "# Settings reference",
        "",
        "Generated from `aggregator.settings.SETTINGS` by `settings_reference_markdown()`; "
        "do not edit by hand.",
        "Settings live in `aggregator.toml` of the config folder; environment variables win over "
        'the file. Durations are written `"90s"`, `"30m"`, `"2h"`, `"1d"` or as whole '
        'minutes, and are at most `"365d"` (a year); seconds (timeouts, the retry backoff) '
        "are a number above 0 and at most 3600 (an hour).",
        "",
        "| setting | environment | type | default | meaning |",
        "|---|---|---|---|---|",
    ]
    for spec in SETTINGS:
        env = f"`{spec.env}`" if spec.env else ""
        meaning = spec.help if spec.in_file else f"{spec.help} *(not read from the file)*"
        lines.append(
            f"| `{spec.name}` | {env} | {spec.type} | {_toml_literal(spec.default)} | {meaning} |"
        )
    return "\n".join(lines) + "\n"
