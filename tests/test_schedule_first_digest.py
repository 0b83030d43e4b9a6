"""A profile's first digest: due at its first scheduled time after a service first ran with
it, which the store keeps, so that one missed while the service was down goes out on start;
one first seen after today's time waits for tomorrow's. On SQLite and PostgreSQL, with a
local HTTP server for the feed and aiosmtpd for the email; only the clock is a test clock."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from aggregator.app import App
from aggregator.schedule import Service
from tests.support_config import write_config
from tests.support_schedule import FakeClock, Post, feed_source, rss, service_settings
from tests.support_smtp import SmtpServer
from tests.support_smtp import smtp_server as smtp_server

if TYPE_CHECKING:
    from aggregator.store import SqlStore
    from tests.httpserver import FixtureServer

pytest_plugins = ("tests.httpserver",)


def utc(d: int, hh: int, mm: int, ss: int = 0) -> datetime:
    return datetime(2026, 11, d, hh, mm, ss, tzinfo=UTC)


@pytest.fixture()
def open_app(
    tmp_path: Path, database_url: str, http_server: FixtureServer, smtp_server: SmtpServer
) -> Callable[[FakeClock], App]:
    published = utc(27, 5, 0)
    post = Post(
        guid="https://ep.example/1",
        title="Committee vote on the CSA Regulation",
        link="https://ep.example/1",
        text="The committee adopted its report on detection orders.",
        published=published,
    )
    http_server.add("/ep.xml", body=rss("EP", [post]))
    settings = service_settings(smtp_port=smtp_server.port, cron="37 7 * * *", timezone="UTC")
    config = write_config(
        tmp_path / "config", [feed_source("ep", http_server.url("/ep.xml"))], settings=settings
    )
    env = {"AGGREGATOR_DATABASE_URL": database_url, "AGGREGATOR_DATA_DIR": str(tmp_path / "var")}
    return lambda clock: App.open(config, env, clock=clock)


def step(open_app: Callable[[FakeClock], App], clock: FakeClock) -> tuple[str, ...]:
    """One service start at the clock's time: what it does at once."""
    with open_app(clock) as app:
        return asyncio.run(Service(app).step()).digests


def test_a_first_digest_whose_time_passed_while_the_service_was_down_is_sent_on_start(
    open_app: Callable[[FakeClock], App], smtp_server: SmtpServer
) -> None:
    # Started at 07:36:39 with a new profile due at 07:37, stopped at 07:36:50, started
    # again at 07:37:20: the 07:37 digest was missed while down, and goes out now, once.
    clock = FakeClock(utc(27, 7, 36, 39))
    assert step(open_app, clock) == ()
    clock.set(utc(27, 7, 36, 50))
    assert step(open_app, clock) == ()
    assert smtp_server.accepted == []

    clock.set(utc(27, 7, 37, 20))
    assert step(open_app, clock) == ("daily",)
    assert len(smtp_server.accepted) == 1
    body = smtp_server.accepted[0].message.get_body(("plain",))
    assert body is not None and "Committee vote on the CSA Regulation" in body.get_content()
    with open_app(clock) as app:
        assert app.last_digest_end("daily") == utc(27, 7, 37, 20)

    clock.set(utc(27, 7, 40))
    assert step(open_app, clock) == ()  # once
    clock.set(utc(28, 7, 37))
    assert step(open_app, clock) == ("daily",)  # and the next day as usual


def test_a_profile_first_seen_after_todays_time_waits_for_tomorrow(
    open_app: Callable[[FakeClock], App], smtp_server: SmtpServer
) -> None:
    # Nothing was missed: the profile did not exist at 07:37. Sending at once would mail
    # a digest at an hour nobody chose.
    clock = FakeClock(utc(27, 7, 38))
    assert step(open_app, clock) == ()
    clock.set(utc(27, 9, 0))
    assert step(open_app, clock) == ()
    assert smtp_server.accepted == []
    clock.set(utc(28, 7, 37))
    assert step(open_app, clock) == ("daily",)
    assert len(smtp_server.accepted) == 1


def test_the_first_sighting_of_a_profile_is_kept_once(store: SqlStore) -> None:
    from aggregator.store.digests import profiles_first_seen

    first = utc(27, 7, 36, 39)
    assert profiles_first_seen(store.engine, ["daily"], now=first) == {"daily": first}
    later = first + timedelta(minutes=5)
    seen = profiles_first_seen(store.engine, ["daily", "legislation", "daily"], now=later)
    assert seen == {"daily": first, "legislation": later}
    assert profiles_first_seen(store.engine, [], now=later) == {}
