"""`aggregator run` and its store in trouble: a SQLite file moved or deleted under it (the
service went on writing into the file nobody reads, silently, while the next command made a
new empty store at the path), a store another program holds locked (the lease writes waited
on the event loop), and what its log says of a digest and of a store error.

Real service steps over real SQLite files and a real HTTP server on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from aggregator.app import App
from aggregator.schedule import Service
from tests.support_schedule import FakeClock, Post, feed_source, rss, service_config

if TYPE_CHECKING:
    from tests.httpserver import FixtureServer

pytest_plugins = ("tests.httpserver",)

START = datetime(2025, 6, 2, 4, tzinfo=UTC)
POST = Post(
    guid="n-1",
    title="Statement on the CSA Regulation",
    link="https://ngo.example/news/1",
    text="The Council should reject detection orders.",
    published=START - timedelta(hours=1),
)


def test_a_store_file_moved_away_stops_the_service_until_it_is_back(
    tmp_path: Path, http_server: FixtureServer, caplog: pytest.LogCaptureFixture
) -> None:
    http_server.add("/a.xml", body=rss("A", [POST]))
    config = service_config(
        tmp_path / "config", [feed_source("ngo-a", http_server.url("/a.xml"))], smtp_port=None
    )
    data = tmp_path / "var"
    clock = FakeClock(START)
    with App.open(config, {"AGGREGATOR_DATA_DIR": str(data)}, clock=clock) as app:
        service = Service(app)
        assert asyncio.run(service.step()).refreshed == 1
        store = data / "aggregator.sqlite"
        moved = tmp_path / "moved"
        moved.mkdir()
        for path in data.glob("aggregator.sqlite*"):
            path.rename(moved / path.name)

        clock.set(START + timedelta(hours=2))  # the source is due again
        with caplog.at_level(logging.INFO, logger="aggregator"):
            assert asyncio.run(service.step()).refreshed == 0
            assert asyncio.run(service.step()).refreshed == 0
        errors = [r for r in caplog.records if r.levelno == logging.ERROR]
        assert len(errors) == 1  # said once, not at every tick
        assert f"the store file {store} no longer exists" in errors[0].getMessage()
        assert http_server.count("/a.xml") == 1

        caplog.clear()
        for path in moved.glob("aggregator.sqlite*"):
            path.rename(data / path.name)
        with caplog.at_level(logging.INFO, logger="aggregator"):
            assert asyncio.run(service.step()).refreshed == 1
        assert any("is back in place" in r.getMessage() for r in caplog.records)
        assert http_server.count("/a.xml") == 2


def test_a_new_file_at_the_store_s_path_is_not_the_store(
    tmp_path: Path, http_server: FixtureServer, caplog: pytest.LogCaptureFixture
) -> None:
    # Deleted, then made again by the next command (`aggregator sources`): the service's
    # connection still writes the deleted file.
    http_server.add("/a.xml", body=rss("A", []))
    config = service_config(
        tmp_path / "config", [feed_source("ngo-a", http_server.url("/a.xml"))], smtp_port=None
    )
    data = tmp_path / "var"
    with App.open(config, {"AGGREGATOR_DATA_DIR": str(data)}, clock=FakeClock(START)) as app:
        service = Service(app)
        for path in data.glob("aggregator.sqlite*"):
            path.unlink()
        App.open(config, {"AGGREGATOR_DATA_DIR": str(data)}).close()  # a new, empty store
        with caplog.at_level(logging.ERROR, logger="aggregator"):
            assert asyncio.run(service.step()).refreshed == 0
        assert "is another file now" in caplog.text
    assert http_server.count("/a.xml") == 0


def test_a_locked_store_does_not_stop_the_event_loop(
    tmp_path: Path, http_server: FixtureServer
) -> None:
    # The lease writes ran on the event loop: while another program held the store locked,
    # nothing else ran for up to the busy timeout (30 s): not a digest due, not a SIGTERM.
    import sqlite3
    import threading
    import time

    http_server.add("/a.xml", body=rss("A", []))
    config = service_config(
        tmp_path / "config", [feed_source("ngo-a", http_server.url("/a.xml"))], smtp_port=None
    )
    data = tmp_path / "var"
    held, release = threading.Event(), threading.Event()

    def hold_the_lock() -> None:
        conn = sqlite3.connect(data / "aggregator.sqlite", isolation_level=None)
        conn.execute("BEGIN EXCLUSIVE")
        held.set()
        release.wait(10)
        conn.execute("ROLLBACK")
        conn.close()

    async def scenario(service: Service) -> tuple[float, int]:
        gaps: list[float] = []
        tick = asyncio.create_task(service.tick())
        last = time.monotonic()
        for _ in range(30):  # 1.5 s of the lock held
            await asyncio.sleep(0.05)
            now = time.monotonic()
            gaps.append(now - last)
            last = now
        release.set()
        refreshed, _ = await tick
        return max(gaps), refreshed

    with App.open(config, {"AGGREGATOR_DATA_DIR": str(data)}, clock=FakeClock(START)) as app:
        locker = threading.Thread(target=hold_the_lock)
        locker.start()
        assert held.wait(5)
        try:
            longest, refreshed = asyncio.run(scenario(Service(app)))
        finally:
            release.set()
            locker.join()
    assert longest < 1.0  # the loop ran all along (the lease waited in a thread)
    assert refreshed == 1  # and the tick went on once the lock was gone


def test_a_digest_says_what_became_of_it_beside_another_profile_s_retried_email(
    tmp_path: Path, http_server: FixtureServer, caplog: pytest.LogCaptureFixture
) -> None:
    # The run of "weekly" retried "daily"'s queued email and logged that alone: nothing said
    # what became of "weekly" itself.
    from tests.support_config import write_config
    from tests.support_schedule import RECIPIENT, service_settings
    from tests.support_smtp import free_port

    http_server.add("/a.xml", body=rss("A", [POST]))
    settings = service_settings(smtp_port=free_port()) + (  # nothing listens: sends fail
        f'[digest.profiles.weekly]\nrecipients = ["{RECIPIENT}"]\ncron = "0 8 * * 1"\n'
        'include_tags = ["lang:de"]\n'  # nothing German: empty, nothing to send
    )
    config = write_config(
        tmp_path / "config", [feed_source("ngo-a", http_server.url("/a.xml"))], settings=settings
    )
    clock = FakeClock(START)
    with App.open(config, {"AGGREGATOR_DATA_DIR": str(tmp_path / "var")}, clock=clock) as app:
        service = Service(app)
        asyncio.run(service.tick())
        clock.set(START + timedelta(hours=1))
        profiles = {p.name: p for p in app.settings.digest.profiles}
        asyncio.run(service.digest(profiles["daily"]))  # its send fails: queued
        with caplog.at_level(logging.INFO, logger="aggregator"):
            asyncio.run(service.digest(profiles["weekly"]))
    lines = [r.getMessage() for r in caplog.records]
    assert any(line.startswith("digest daily (window to") for line in lines)  # the retry
    assert "digest weekly: 0 entries; nothing to send" in lines


def test_a_store_error_of_the_digest_path_is_one_line(tmp_path: Path) -> None:
    # "recording the digest profiles failed: (sqlite3.OperationalError) database is locked",
    # then "[SQL: BEGIN IMMEDIATE]" and a link on lines of their own, in the service's log.
    from aggregator.errors import StoreError
    from aggregator.store.digests import profiles_first_seen
    from aggregator.store.engine import create_store_engine

    engine = create_store_engine(f"sqlite:///{tmp_path / 'empty.sqlite'}")  # no tables
    try:
        with pytest.raises(StoreError) as caught:
            profiles_first_seen(engine, ["daily"], now=START)
    finally:
        engine.dispose()
    assert "\n" not in str(caught.value)
    assert "OperationalError: no such table" in str(caught.value)
