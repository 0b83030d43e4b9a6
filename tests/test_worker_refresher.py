"""A worker's refresh of one source, in the process: a source whose host asked another
source to wait (Retry-After) is "not asked", as a refresh in one process tells it (the worker
logged a WARNING and "failed", and counted a failure); and the host slot taken is that of the
host asked, where a 301 moved the source (the configured host's let workers ask the new one
beyond fetch.max_per_host). A real HTTP server on 127.0.0.1, the limiter on the machine's Redis.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from aggregator.worker import open_refresher
from tests.support_config import write_config
from tests.support_schedule import Post, feed_source, real_now, rss
from tests.support_services import queue as queue
from tests.support_services import redis_url as redis_url
from tests.support_workers import worker_settings

if TYPE_CHECKING:
    from tests.httpserver import FixtureServer

pytest_plugins = ("tests.httpserver",)


def worker_env(tmp_path: Path, redis_url: str, queue: str) -> dict[str, str]:
    """A worker's environment: SQLite under tmp_path, the machine's Redis as broker and limiter."""
    return {
        "AGGREGATOR_DATA_DIR": str(tmp_path / "var"),
        "AGGREGATOR_BROKER_URL": redis_url,
        "AGGREGATOR_WORKER_QUEUE": queue,
    }


def test_a_source_its_host_holds_is_not_asked_and_no_failure(
    tmp_path: Path,
    http_server: FixtureServer,
    redis_url: str,
    queue: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    post = Post(
        guid="b-1",
        title="Statement",
        link="https://ngo.example/b/1",
        text="A statement on the regulation.",
        published=real_now(),
    )
    http_server.add("/a.xml", status=429, headers={"Retry-After": "120"}, content_type="text/plain")
    http_server.add("/b.xml", body=rss("B", [post]))
    config = write_config(
        tmp_path / "config",
        [feed_source("a", http_server.url("/a.xml")), feed_source("b", http_server.url("/b.xml"))],
        settings=worker_settings(max_per_host=2),
    )
    refresher = open_refresher(config, worker_env(tmp_path, redis_url, queue))
    try:
        assert refresher.handle("a").status == "failed"  # rate limited: the source's own
        caplog.clear()
        with caplog.at_level(logging.INFO, logger="aggregator.worker"):
            outcome = refresher.handle("b")
        assert outcome.status == "not asked"
        said = [r for r in caplog.records if r.name == "aggregator.worker"]
        assert said and all(r.levelno == logging.INFO for r in said), said
        assert "asked us to wait" in said[0].getMessage()
        assert refresher.stats.failed == 1  # a's alone
    finally:
        refresher.app.close()
    assert http_server.count("/b.xml") == 0


def test_a_worker_takes_the_slot_of_the_host_a_301_moved_its_source_to(
    tmp_path: Path, http_server: FixtureServer, redis_url: str, queue: str
) -> None:
    # The slot was the configured host's, and the request went to the moved one: workers
    # asked the new host beyond fetch.max_per_host.
    from datetime import timedelta

    from aggregator.models import CacheValidators

    http_server.add("/old.xml", body=rss("M", []))
    moved_to = "http://feeds.example.net/m.xml"
    config = write_config(
        tmp_path / "config",
        [feed_source("m", http_server.url("/old.xml"))],
        settings=worker_settings(max_per_host=1),
    )
    refresher = open_refresher(config, worker_env(tmp_path, redis_url, queue))
    try:
        now = refresher.app.clock()
        refresher.app.store.save_refresh(  # as a refresh that met a 301 records it
            "m",
            [],
            now=now - timedelta(hours=2),
            seconds=0.1,
            validators=CacheValidators(),
            url=http_server.url("/old.xml"),
            permanent_url=moved_to,
            next_fetch_at=now - timedelta(hours=1),
            seen=0,
        )
        refresher.slots.wait_seconds = 0.5
        with refresher.slots.hold(moved_to):  # another worker asks the new host now
            assert refresher.handle("m").status == "host busy"
    finally:
        refresher.app.close()
    assert http_server.count("/old.xml") == 0


def test_a_message_for_a_source_the_worker_does_not_know_gives_back_its_queued_mark(
    tmp_path: Path, http_server: FixtureServer, redis_url: str, queue: str
) -> None:
    # A source added after the workers started: the scheduler (with the new config) marked
    # it queued; the worker dropped the message and the mark stayed until queue_timeout.
    from datetime import timedelta

    from aggregator.app import App
    from aggregator.store import leases
    from aggregator.store.schema import sources

    http_server.add("/a.xml", body=rss("A", []))
    http_server.add("/new.xml", body=rss("New", []))
    env = worker_env(tmp_path, redis_url, queue)
    old = write_config(
        tmp_path / "old",
        [feed_source("a", http_server.url("/a.xml"))],
        settings=worker_settings(max_per_host=2),
    )
    new = write_config(
        tmp_path / "new",
        [
            feed_source("a", http_server.url("/a.xml")),
            feed_source("new", http_server.url("/new.xml")),
        ],
        settings=worker_settings(max_per_host=2),
    )
    refresher = open_refresher(old, env)
    scheduler = App.open(new, env)
    try:
        engine = scheduler.store.engine
        now = scheduler.clock()
        assert leases.mark_queued(engine, ["new"], now=now, ttl=timedelta(minutes=30)) == ["new"]
        assert refresher.handle("new").status == "unknown"
        with engine.connect() as conn:
            owner = conn.execute(
                sources.select()
                .with_only_columns(sources.c.lease_owner)
                .where(sources.c.id == "new")
            ).scalar_one()
        assert owner is None  # the next tick sends it again
    finally:
        scheduler.close()
        refresher.app.close()
