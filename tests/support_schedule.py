"""Helpers for scheduler and end-to-end digest tests: a settable clock, small RSS documents,
and a config folder whose digest goes to a local SMTP server."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path
from xml.sax.saxutils import escape

from aggregator.settings import DigestProfile
from tests.support_config import write_config

RECIPIENT = "policy@ngo.example"
SENDER = "digest@aggregator.example"


class FakeClock:
    """A clock a test moves by hand; `App.open(..., clock=clock)` reads it."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def set(self, now: datetime) -> None:
        self.now = now.astimezone(UTC)


def real_now() -> datetime:
    """Where a service's fake clock starts when command-line runs beside it read the real
    clock: the real time, to the second."""
    return datetime.now(UTC).replace(microsecond=0)


@dataclass(frozen=True, slots=True, kw_only=True)
class Post:
    guid: str
    title: str
    link: str
    text: str
    published: datetime


def rss(title: str, posts: Sequence[Post]) -> bytes:
    entries = "".join(
        f"<item><guid>{escape(p.guid)}</guid><title>{escape(p.title)}</title>"
        f"<link>{escape(p.link)}</link><description>{escape(p.text)}</description>"
        f"<pubDate>{format_datetime(p.published.astimezone(UTC), usegmt=True)}</pubDate></item>"
        for p in posts
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        f"<title>{escape(title)}</title><link>https://example.org/</link>"
        f"<description>{escape(title)}</description>{entries}</channel></rss>"
    ).encode()


def service_settings(
    *,
    smtp_port: int | None,
    cron: str = "0 7 * * *",
    timezone: str = "Europe/Brussels",
    tick_seconds: int = 60,
    topic_order: Sequence[str] = (),
) -> str:
    """aggregator.toml: fast fetch timeouts, a one-hour fetch cadence, one `daily` profile."""
    smtp = (
        f'[smtp]\nhost = "127.0.0.1"\nport = {smtp_port}\nsecurity = "none"\n'
        f'sender = "{SENDER}"\ntimeout = 5.0\n'
        if smtp_port is not None
        else ""
    )
    order = ", ".join(f'"{t}"' for t in topic_order)
    return (
        "[fetch]\nretries = 0\nread_timeout = 5.0\ntotal_timeout = 10.0\n"
        f'[schedule]\nmin_interval = "10m"\nmax_interval = "1h"\ntick_seconds = {tick_seconds}\n'
        f"{smtp}"
        f"[digest]\ntopic_order = [{order}]\n"
        f'[digest.profiles.daily]\nrecipients = ["{RECIPIENT}"]\ncron = "{cron}"\n'
        f'timezone = "{timezone}"\n'
    )


def feed_source(id: str, url: str, *, org: str = "ngo", **extra: object) -> dict[str, object]:
    return {"id": id, "name": id.upper(), "url": url, "kind": "feed", "org": org, **extra}


def service_config(
    folder: Path,
    sources: Sequence[dict[str, object]],
    *,
    smtp_port: int | None,
    tags: str | None = None,
    cron: str = "0 7 * * *",
    tick_seconds: int = 60,
    topic_order: Sequence[str] = (),
) -> Path:
    settings = service_settings(
        smtp_port=smtp_port, cron=cron, tick_seconds=tick_seconds, topic_order=topic_order
    )
    return write_config(folder, sources, settings=settings, tags=tags)


def digest_profile(
    cron: str = "0 7 * * *", *, name: str = "daily", timezone: str = "Europe/Brussels"
) -> DigestProfile:
    """A profile as the deciding logic sees it: a schedule in a zone, no recipients."""
    return DigestProfile(
        name=name,
        recipients=(),
        include_tags=(),
        exclude_tags=(),
        cron=cron,
        timezone=timezone,
        subject_prefix="[t]",
    )
