"""What the service waits for: a server's Retry-After, for the source that drew it and for
the other sources of its host (README "Fetching"), and a failed source's backoff, never
sooner than its interval nor below `schedule.min_interval`.

Real parts: a local HTTP server (one host for all sources), the command line for
`aggregator sources`, SQLite and PostgreSQL. Only the service's clock is fake.
"""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from aggregator.app import App
from aggregator.cli import main
from aggregator.schedule import Service
from tests.support_schedule import FakeClock, Post, feed_source, real_now, rss, service_config

if TYPE_CHECKING:
    from tests.httpserver import FixtureServer

pytest_plugins = ("tests.httpserver",)

POSTED = datetime(2026, 3, 2, 6, 0, tzinfo=UTC)


TICK = 20  # seconds: a source is picked up to 10 s before its time


def feed(name: str) -> bytes:
    post = Post(
        guid=f"https://{name}.example/1",
        title=f"{name} statement on the CSA Regulation",
        link=f"https://{name}.example/1",
        text="A statement about detection orders.",
        published=POSTED,
    )
    return rss(name, [post])


def listed(capsys: pytest.CaptureFixture[str], config: Path) -> dict[str, dict[str, object]]:
    assert main(["--config", str(config), "sources", "--json"]) == 0
    return {s["id"]: s for s in json.loads(capsys.readouterr().out)["sources"]}


def test_a_held_host_is_asked_nothing_before_the_hold_ends_and_then_at_once(
    env: Path,
    http_server: FixtureServer,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Before the fix, b (on a's host) was picked at its next fetch time while a's server's
    # wait was on, and again half a tick before the wait ended: each time logged as rate
    # limited and counted failed ("tick: refreshed 3 sources, 2 failed"); `sources` showed
    # its next fetch before the wait's end; and a itself was fetched a tick late.
    start = real_now()
    rss_type = "application/rss+xml"
    a = http_server.add("/a.xml", body=feed("a"), content_type=rss_type, times=1)
    b = http_server.add("/b.xml", body=feed("b"), content_type=rss_type)
    folder = env / "config"
    entries = [feed_source("a", a, interval="10m"), feed_source("b", b, interval="10m")]
    config = service_config(folder, entries, smtp_port=None, tick_seconds=TICK)
    clock = FakeClock(start)
    with App.open(config, clock=clock) as app, caplog.at_level(logging.INFO):
        service = Service(app)
        assert asyncio.run(service.step()).refreshed == 2

        # a, refreshed by hand five minutes on, is asked to wait 20 minutes: the host is
        # held until then, beyond b's next fetch (and a's backoff, 10 to 15 minutes).
        http_server.add("/a.xml", status=429, headers={"Retry-After": "1200"}, times=1)
        http_server.add("/a.xml", body=feed("a"), content_type=rss_type)
        clock.set(start + timedelta(minutes=5))
        [limited] = asyncio.run(app.refresh(app.select_sources(["a"])))
        assert limited.status == "rate limited"
        state = app.store.fetch_state("a")
        assert state is not None and state.retry_after is not None
        ends = state.retry_after
        assert ends == state.next_fetch_at

        clock.set(start + timedelta(minutes=10, seconds=5))  # b's time, inside the hold
        report = asyncio.run(service.step())
        assert (report.refreshed, report.failed) == (0, 0)
        assert http_server.count("/b.xml") == 1
        health = listed(capsys, config)
        assert health["b"]["held"] is not None
        assert datetime.fromisoformat(str(health["b"]["next_fetch"])) == ends
        assert datetime.fromisoformat(str(health["a"]["next_fetch"])) == ends

        # The tick just before the end of the wait: both asked, at its end, neither failed.
        clock.set(ends - timedelta(seconds=0.5))
        report = asyncio.run(service.step())
        assert (report.refreshed, report.failed) == (2, 0)
        assert http_server.count("/a.xml") == 3 and http_server.count("/b.xml") == 2
    assert not [r for r in caplog.records if "held:" in r.getMessage()]
    assert not [r for r in caplog.records if "rate limited" in r.getMessage()]


def test_a_failed_source_is_not_fetched_again_sooner_than_its_interval(
    env: Path, http_server: FixtureServer
) -> None:
    # min_interval is the "shortest time between two fetches of one source, whatever the
    # source asks"; before the fix, the first retry after a failure came after half to all
    # of the interval (a 1m source that answered 500 was asked again 45 s later).
    start = real_now()
    url = http_server.add("/a.xml", status=500)
    folder = env / "config"
    config = service_config(folder, [feed_source("a", url, interval="10m")], smtp_port=None)
    clock = FakeClock(start)
    with App.open(config, clock=clock) as app:
        service = Service(app)
        assert asyncio.run(service.step()).failed == 1
        state = app.store.fetch_state("a")
        assert state is not None and state.next_fetch_at is not None
        assert start + timedelta(minutes=10) <= state.next_fetch_at
        assert state.next_fetch_at <= start + timedelta(minutes=15, seconds=1)
        clock.set(start + timedelta(minutes=9, seconds=29))
        assert asyncio.run(service.step()).refreshed == 0
        assert http_server.count("/a.xml") == 1
        # The second failure: twice the interval, and up to half of it more.
        clock.set(state.next_fetch_at)
        assert asyncio.run(service.step()).failed == 1
        second = app.store.fetch_state("a")
        assert second is not None and second.next_fetch_at is not None
        wait = second.next_fetch_at - state.next_fetch_at
        assert timedelta(minutes=20) <= wait <= timedelta(minutes=30, seconds=1)
