"""A profile's first digest covers one period of its schedule, not the whole archive.

Real parts: the fixture HTTP server, the store (SQLite and PostgreSQL), the digest files; the
clock is the test's.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from aggregator.app import App
from aggregator.deliver.run import first_window_start
from aggregator.settings import DigestProfile
from tests.support_config import write_config
from tests.support_schedule import (
    FakeClock,
    Post,
    digest_profile,
    feed_source,
    rss,
    service_settings,
)

if TYPE_CHECKING:
    from tests.httpserver import FixtureServer

pytest_plugins = ("tests.httpserver",)

START = datetime(2026, 11, 2, 9, tzinfo=UTC)  # a Monday


def profile(cron: str) -> DigestProfile:
    return digest_profile(cron, name="p")


def test_one_period_of_the_schedule_back() -> None:
    now = START + timedelta(days=30)
    assert first_window_start(profile("0 7 * * *"), now) == now - timedelta(days=1)
    assert first_window_start(profile("0 8 * * 1"), now) == now - timedelta(days=7)
    assert first_window_start(profile("0 8 1 * *"), now) == now - timedelta(days=31)  # Dec


def test_a_schedule_firing_several_times_a_night_has_a_day_s_period() -> None:
    # Its next two fires are 15 minutes apart; its longest gap is the rest of the day.
    now = START + timedelta(days=30)  # 09:00 UTC, 10:00 in Brussels
    start = first_window_start(profile("*/15 2 * * *"), now)
    assert start == now - timedelta(hours=23, minutes=15)
    # A weekday profile's longest gap is the weekend.
    assert first_window_start(profile("0 7 * * 1-5"), now) == now - timedelta(days=3)


def test_a_profile_added_to_an_old_store_starts_with_its_period_not_the_archive(
    http_server: FixtureServer, tmp_path: Path, env: Path
) -> None:
    posts: list[Post] = []

    def publish(n: int, when: datetime) -> None:
        posts.append(
            Post(
                guid=f"p{n}",
                title=f"Statement {n}",
                link=f"https://ngo.example/{n}",
                text=f"Statement number {n} on child protection online.",
                published=when,
            )
        )
        http_server.clear("/feed.xml")
        http_server.add("/feed.xml", body=rss("NGO", posts))

    publish(1, START)
    url = http_server.add("/feed.xml", body=rss("NGO", posts))
    settings = service_settings(smtp_port=None, cron="0 7 * * *") + (
        '[digest.profiles.weekly]\ncron = "0 8 * * 1"\ntimezone = "Europe/Brussels"\n'
    )
    config = write_config(tmp_path / "config", [feed_source("ngo", url)], settings=settings)
    clock = FakeClock(START)
    seen: dict[str, list[str]] = {}
    with App.open(config, clock=clock) as app:
        for n, days in ((1, 0), (2, 26), (3, 30)):  # first seen a month, 4 days and 0 days ago
            clock.set(START + timedelta(days=days))
            if n > 1:
                publish(n, clock.now)
            asyncio.run(app.refresh(app.sources))
        clock.set(START + timedelta(days=30, hours=1))
        for name in ("daily", "weekly"):
            run = app.run_digest(name, send=False)
            seen[name] = [e.title for g in run.digest.groups for e in g.entries]
            assert run.digest.window_start > START
    assert seen["daily"] == ["Statement 3"]  # the last day's
    assert sorted(seen["weekly"]) == ["Statement 2", "Statement 3"]  # the last week's


def test_digest_without_profile_takes_the_only_one_configured(
    tmp_path: Path, env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from aggregator.cli import main

    settings = '[digest.profiles.weekly]\ncron = "0 8 * * 1"\n'
    config = write_config(
        tmp_path / "config",
        [feed_source("ngo", "https://ngo.example/feed.xml")],
        settings=settings,
    )
    main(["--config", str(config), "sources"])  # makes the store: --dry-run makes none
    assert main(["--config", str(config), "digest", "--dry-run"]) == 0
    assert "weekly" in capsys.readouterr().out


def test_digest_without_profile_among_several_without_daily_asks_for_one(
    tmp_path: Path, env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from aggregator.cli import main

    settings = (
        '[digest.profiles.weekly]\ncron = "0 8 * * 1"\n'
        '[digest.profiles.monthly]\ncron = "0 8 1 * *"\n'
    )
    config = write_config(
        tmp_path / "config", [feed_source("ngo", "https://ngo.example/feed.xml")], settings=settings
    )
    main(["--config", str(config), "sources"])  # makes the store: --dry-run makes none
    assert main(["--config", str(config), "digest", "--dry-run"]) == 2
    assert "name a digest profile with --profile: one of weekly, monthly" in capsys.readouterr().err
