"""`aggregator run` (with `--distributed` or without) whose store goes away and comes back:
what its log says.

What an operator expects: one ERROR naming the store and the reason when it becomes
unreachable, nothing more a tick while it stays down (DEBUG lines), one WARNING when it is
back, with how long it was away. The tick and the chores (digests) met the outage each, and
each said so at ERROR at every tick, two lines a tick for one outage.

Real parts: PostgreSQL reached through a TCP proxy of the test's own (tests/support_proxy.py),
cut while the service holds connections to it, and restored; Redis as the broker; a local
HTTP server as the sources; the service driven by `Service.step()` under a test clock.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from aggregator.app import App
from aggregator.schedule import Service
from aggregator.worker import Enqueuer
from tests.support_proxy import TcpProxy
from tests.support_schedule import FakeClock, Post, feed_source, rss, service_config

if TYPE_CHECKING:
    from tests.httpserver import FixtureServer

pytest_plugins = ("tests.httpserver", "tests.support_services")

START = datetime.fromisoformat("2025-06-02T06:50:00+02:00")  # the digest is due at 07:00
POST = Post(
    guid="n-1",
    title="Statement on the CSA Regulation",
    link="https://ngo.example/news/1",
    text="The Council should reject detection orders.",
    published=START - timedelta(hours=1),
)


@pytest.mark.parametrize("distributed", [True, False], ids=["distributed", "here"])
def test_a_store_outage_is_said_once_and_its_end_once(
    tmp_path: Path,
    postgres_url: str,
    own_redis_url: str,
    queue: str,
    http_server: FixtureServer,
    caplog: pytest.LogCaptureFixture,
    distributed: bool,
) -> None:
    http_server.add("/a.xml", body=rss("A", [POST]))
    config = service_config(
        tmp_path / "config", [feed_source("ngo-a", http_server.url("/a.xml"))], smtp_port=None
    )
    clock = FakeClock(START)
    with TcpProxy.to(postgres_url) as proxy:
        env = {
            "AGGREGATOR_DATABASE_URL": proxy.url(postgres_url),
            "AGGREGATOR_DATA_DIR": str(tmp_path / "var"),
            "AGGREGATOR_BROKER_URL": own_redis_url,
            "AGGREGATOR_WORKER_QUEUE": queue,
        }
        with App.open(config, env, clock=clock) as app:
            enqueuer = Enqueuer(app) if distributed else None
            try:
                service = Service(app, enqueue=enqueuer)

                def step_at(minutes: int) -> int:
                    clock.set(START + timedelta(minutes=minutes))
                    return asyncio.run(service.step()).refreshed

                with caplog.at_level(logging.DEBUG, logger="aggregator"):
                    assert step_at(0) == 1
                    proxy.cut()
                    for minutes in (1, 2, 11):  # 07:01: the digest is due meanwhile
                        assert step_at(minutes) == 0
                    proxy.restore()
                    assert step_at(12) == 0  # nothing due; the store answered
                    assert step_at(80) == 1  # the source's next fetch, an hour on
            finally:
                if enqueuer is not None:
                    enqueuer.close()
            store = app.store.url

    said = [
        (r.levelno, r.getMessage())
        for r in caplog.records
        if r.name.startswith("aggregator") and r.levelno >= logging.WARNING
    ]
    assert [level for level, _ in said] == [logging.ERROR, logging.WARNING], said
    down, back = (line for _, line in said)
    assert down.startswith(f"store {store} unreachable (OperationalError: ")
    assert down.endswith("): due sources and digests wait for it; retrying every tick (60s)")
    assert "\n" not in down
    assert back == f"store {store} reachable again (unreachable for 11m 0s)"


def test_sources_read_when_the_store_went_away_are_fetched_when_it_is_back(
    tmp_path: Path,
    postgres_url: str,
    http_server: FixtureServer,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # The store went away while a source was read: the refresh could not give its lease
    # back, and once the store was back this very service skipped the source for the
    # lease's hour as "read by another refresh" (itself), a line at every tick.
    import threading
    import time

    http_server.add("/a.xml", body=rss("A", [POST]), delay=1.5)
    config = service_config(
        tmp_path / "config", [feed_source("ngo-a", http_server.url("/a.xml"))], smtp_port=None
    )
    clock = FakeClock(START)
    with TcpProxy.to(postgres_url) as proxy:
        env = {
            "AGGREGATOR_DATABASE_URL": proxy.url(postgres_url),
            "AGGREGATOR_DATA_DIR": str(tmp_path / "var"),
        }
        with App.open(config, env, clock=clock) as app:
            service = Service(app)
            with caplog.at_level(logging.INFO, logger="aggregator"):
                first = threading.Thread(target=lambda: asyncio.run(service.step()))
                first.start()
                time.sleep(0.5)  # the source is being read
                proxy.cut()
                first.join(timeout=30)
                proxy.restore()
                clock.set(START + timedelta(minutes=1))
                assert asyncio.run(service.step()).refreshed == 1
                (health,) = app.health()
    assert health.last_status == "new"
    assert not [r for r in caplog.records if "another refresh is reading it" in r.getMessage()]
