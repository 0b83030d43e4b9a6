"""`run --distributed` whose broker goes away and comes back: what the scheduler's log says,
and what becomes of the sources due meanwhile.

What an operator expects: one WARNING when the broker becomes unreachable, nothing more a
tick while it stays down (a DEBUG line), one WARNING when it is back, with how long it was
away; the digest goes out at its time meanwhile; the sources due during the outage are not
left marked as queued (they would wait for `workers.queue_timeout`), and are sent at the
first tick the broker takes them.

Real parts: the local Redis or RabbitMQ reached through a TCP proxy of the test's own
(tests/support_proxy.py), cut while the scheduler holds a connection to it, and restored;
the service driven by `Service.step()` under a test clock.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import redis

from aggregator.app import App
from aggregator.schedule import Service
from aggregator.store import leases
from aggregator.urls import mask_password
from aggregator.worker import Enqueuer
from tests.support_config import write_config
from tests.support_proxy import TcpProxy
from tests.support_schedule import FakeClock, feed_source, service_settings
from tests.support_smtp import SmtpServer
from tests.support_workers import delete_rabbitmq_queues

pytest_plugins = ("tests.support_services",)

SOURCES = ["s0", "s1", "s2"]
START = datetime.fromisoformat("2025-06-02T06:50:00+02:00")  # the digest goes at 07:00


@pytest.fixture()
def smtp() -> Iterator[SmtpServer]:
    with SmtpServer() as server:
        yield server


@pytest.fixture(params=["redis", "rabbitmq"])
def broker_url(request: pytest.FixtureRequest) -> str:
    name = "own_redis_url" if request.param == "redis" else "rabbitmq_url"
    return str(request.getfixturevalue(name))


def queued_messages(broker_url: str, queue: str) -> int:
    """The messages waiting in the broker's queue (no worker takes them here)."""
    if broker_url.startswith("redis"):
        client = redis.Redis.from_url(broker_url)
        try:
            return int(client.hlen(f"dramatiq:{queue}.msgs"))
        finally:
            client.close()
    import pika  # type: ignore[import-untyped]

    connection = pika.BlockingConnection(pika.URLParameters(broker_url))
    try:
        declared = connection.channel().queue_declare(queue, passive=True)
        return int(declared.method.message_count)
    finally:
        connection.close()


def test_a_broker_outage_is_said_once_and_the_sources_go_out_when_it_is_back(
    tmp_path: Path,
    database_url: str,
    broker_url: str,
    smtp: SmtpServer,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # The digest is sent however empty: nothing is refreshed here (no worker runs).
    settings = service_settings(smtp_port=smtp.port) + (
        'send_empty = true\n[workers]\nqueue_timeout = "2m"\n'
    )
    config = write_config(
        tmp_path / "config",
        [feed_source(source_id, f"https://{source_id}.example.org/feed") for source_id in SOURCES],
        settings=settings,
    )
    queue = f"test-{uuid.uuid4().hex[:10]}"
    clock = FakeClock(START)
    with TcpProxy.to(broker_url) as proxy:
        env = {
            "AGGREGATOR_DATABASE_URL": database_url,
            "AGGREGATOR_DATA_DIR": str(tmp_path / "var"),
            "AGGREGATOR_BROKER_URL": proxy.url(broker_url),
            "AGGREGATOR_WORKER_QUEUE": queue,
        }
        where = mask_password(proxy.url(broker_url))
        try:
            with App.open(config, env, clock=clock) as app:
                enqueuer = Enqueuer(app)
                try:
                    run_through_an_outage(app, Service(app, enqueue=enqueuer), proxy, clock, caplog)
                finally:
                    enqueuer.close()
                assert leases.holders(app.store.engine, now=clock()) == dict.fromkeys(
                    SOURCES, leases.QUEUED
                )
            # Three messages before the outage, and the three due during it, once each.
            assert queued_messages(broker_url, queue) == 2 * len(SOURCES)
        finally:
            if not broker_url.startswith("redis"):
                delete_rabbitmq_queues(broker_url, queue)

    ours = [r for r in caplog.records if r.name.startswith("aggregator")]
    said = [r for r in ours if r.levelno >= logging.WARNING and r.getMessage().startswith("broker")]
    assert [(r.levelno, r.getMessage()) for r in said] == [
        (logging.WARNING, said[0].getMessage()),
        (
            logging.WARNING,
            f"broker {where} reachable again (unreachable for 8m 0s)",
        ),
    ]
    down = said[0].getMessage()
    assert down.startswith(f"broker {where} unreachable (")
    assert down.endswith("): due sources wait for it; retrying every tick (60s)")
    assert "\n" not in down
    assert [r.getMessage() for r in ours if r.levelno >= logging.ERROR] == []
    assert len(smtp.accepted) == 1  # the digest went out at 07:00, the broker down


def run_through_an_outage(
    app: App,
    service: Service,
    proxy: TcpProxy,
    clock: FakeClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    def step_at(minutes: int) -> tuple[int, tuple[str, ...]]:
        clock.set(START + timedelta(minutes=minutes))
        report = asyncio.run(service.step())
        return report.refreshed, report.digests

    with caplog.at_level(logging.DEBUG, logger="aggregator"):
        assert step_at(0) == (3, ())  # the scheduler's connection to the broker is open
        proxy.cut()
        # 06:53: the queued marks have expired (workers.queue_timeout), the sources are due
        # again and cannot be sent: they are not left marked.
        assert step_at(3) == (0, ())
        assert leases.holders(app.store.engine, now=clock()) == {}
        first_tick_of_the_outage = len(caplog.records)
        assert step_at(4) == (0, ())
        assert step_at(10) == (0, ("daily",))  # 07:00: the digest goes on
        quiet = caplog.records[first_tick_of_the_outage:]
        ticks = [r for r in quiet if r.name == "aggregator.schedule" and "tick" in r.getMessage()]
        assert [r.levelno for r in ticks] == [logging.DEBUG, logging.DEBUG]
        assert all(r.name != "aggregator.worker" for r in quiet)
        assert leases.holders(app.store.engine, now=clock()) == {}
        proxy.restore()
        # 07:01: sent at once, not after workers.queue_timeout.
        assert step_at(11) == (3, ())


def test_due_sources_all_queued_are_said_once_not_at_every_tick(
    tmp_path: Path,
    database_url: str,
    own_redis_url: str,
    smtp: SmtpServer,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # No worker runs: the sources sent at the first tick stay queued. "3 sources due, 0 sent
    # to the workers" came at INFO every tick for as long as no worker took them.
    settings = service_settings(smtp_port=smtp.port) + '[workers]\nqueue_timeout = "10m"\n'
    config = write_config(
        tmp_path / "config",
        [feed_source(source_id, f"https://{source_id}.example.org/feed") for source_id in SOURCES],
        settings=settings,
    )
    clock = FakeClock(START)
    env = {
        "AGGREGATOR_DATABASE_URL": database_url,
        "AGGREGATOR_DATA_DIR": str(tmp_path / "var"),
        "AGGREGATOR_BROKER_URL": own_redis_url,
        "AGGREGATOR_WORKER_QUEUE": f"test-{uuid.uuid4().hex[:10]}",
    }
    with App.open(config, env, clock=clock) as app:
        enqueuer = Enqueuer(app)
        try:
            service = Service(app, enqueue=enqueuer)
            with caplog.at_level(logging.DEBUG, logger="aggregator.schedule"):
                for minutes in (0, 1, 2, 3):
                    clock.set(START + timedelta(minutes=minutes))
                    asyncio.run(service.step())
        finally:
            enqueuer.close()
    ticks = [
        (r.levelno, r.getMessage())
        for r in caplog.records
        if r.name == "aggregator.schedule" and "sent to the workers" in r.getMessage()
    ]
    assert [level for level, _ in ticks] == [
        logging.INFO,
        logging.INFO,
        logging.DEBUG,
        logging.DEBUG,
    ]
    assert ticks[0][1] == "tick: 3 sources due, 3 sent to the workers"
    assert ticks[1][1].endswith("0 sent to the workers (all queued already: waiting for a worker)")
