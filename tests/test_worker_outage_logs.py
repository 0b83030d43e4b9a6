"""A worker whose store, limiter or broker goes away and comes back: what its log says.

Real parts: `aggregator worker` as a subprocess and the local PostgreSQL, Redis and
RabbitMQ, the part under test reached through a TCP proxy of the test's own
(tests/support_proxy.py) that is cut (connections reset, new ones refused) and restored, so
that the machine's services stay up for everyone else.

What an operator judges the service by: no traceback; one line per message naming the
part that is unreachable, its URL and the client's reason; one WARNING line per
reconnection attempt to the broker; a line when the part answers again; and every source
refreshed once the outage is over, none twice. The outages begin while one source (the
slow feed) is being fetched, and the other messages arrive during them.
"""

from __future__ import annotations

import io
import logging
import re
import uuid
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import redis
import sqlalchemy
from sqlalchemy import create_engine, select

from aggregator.store.engine import create_store_engine, masked
from aggregator.store.schema import sources
from aggregator.urls import mask_password
from aggregator.worker_outages import MAX_BACKOFF_MS, BrokerOutageLog, BrokerWatch, unreachable
from tests.support_proxy import TcpProxy
from tests.support_smtp import free_port
from tests.support_workers import (
    Deployment,
    delete_rabbitmq_queues,
    deployment,
    feed_body,
    refreshed_count,
    send_messages,
    serve_feeds,
    stop,
    successful_fetches,
    wait_until,
    worker_settings,
)

if TYPE_CHECKING:
    from tests.httpserver import FixtureServer

pytest_plugins = ("tests.httpserver", "tests.support_services")

SLOW = 2.0  # seconds the first feed takes to answer: the outage begins during its fetch
# dramatiq's consumers try to reconnect every second instead of every 3 (its own setting).
RESTART_DELAY_MS = 1000
FEEDS = 3
# A message that met the outage is tried again up to MAX_BACKOFF_MS later (its delay grows
# with the outage, which a loaded machine makes longer): the refreshes after the outage get
# that long, and a minute more for themselves.
AFTER_OUTAGE = MAX_BACKOFF_MS / 1000 + 60
# A short lease: the slow fetch renews its lease and host slot (every second) during the outage.
SETTINGS = worker_settings(max_per_host=4, lease="3s")
STARTED = "thread(s) on queue"
LOG_LINE = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} [A-Z]+ ")


def slow_first(http_server: FixtureServer) -> list[dict[str, Any]]:
    feeds = serve_feeds(http_server, FEEDS)
    http_server.clear("/feeds/0")
    http_server.add(
        "/feeds/0",
        body=feed_body(0),
        content_type="application/rss+xml",
        etag='"0"',
        delay=SLOW,
    )
    return feeds


def lines_with(log: str, text: str) -> list[str]:
    return [line for line in log.splitlines() if text in line]


def assert_clean(log: str) -> None:
    """No traceback, nothing above WARNING, and every line a log record of its own."""
    assert "Traceback" not in log, log
    lines = log.splitlines()
    assert [line for line in lines if not LOG_LINE.match(line)] == [], log
    assert [line for line in lines if " ERROR " in line or " CRITICAL " in line] == [], log


def start_outage(
    d: Deployment, http_server: FixtureServer, proxy: TcpProxy, send: Callable[[list[str]], None]
) -> None:
    """The worker up, the slow source's message sent and its fetch begun, then the cut,
    and the other messages sent."""
    wait_until(lambda: STARTED in d.log("w"), timeout=60, what="the worker")
    send(["org-0000"])
    wait_until(lambda: http_server.count("/feeds/0") == 1, timeout=30, what="the slow fetch")
    proxy.cut()
    send([f"org-{n:04d}" for n in range(1, FEEDS)])


@pytest.mark.postgres
@pytest.mark.slow
def test_a_store_outage_says_one_line_per_message_and_loses_none(
    tmp_path: Path, http_server: FixtureServer, postgres_url: str, own_redis_url: str
) -> None:
    feeds = slow_first(http_server)
    ids = [feed["id"] for feed in feeds]
    queue = f"test-{uuid.uuid4().hex[:10]}"
    engine = create_engine(postgres_url)
    with TcpProxy.to(postgres_url) as proxy:
        store = proxy.url(postgres_url)
        d = deployment(
            tmp_path,
            feeds,
            settings=SETTINGS,
            database_url=store,
            broker_url=own_redis_url,
            queue=queue,
        )
        worker = d.worker("w", threads=2)
        said = f": store unreachable ({masked(store)}): "
        try:
            start_outage(d, http_server, proxy, lambda s: send_messages(own_redis_url, queue, s))
            # Each message met the outage (the slow one when it stored what it fetched),
            # and the others were put back and met it again: retried, not dropped.
            wait_until(
                lambda: (
                    all(len(lines_with(d.log("w"), f"{i}{said}")) >= 2 for i in ids[1:])
                    and lines_with(d.log("w"), f"org-0000{said}") != []
                ),
                timeout=60,
                what="every message to meet the outage",
            )
            proxy.restore()
            wait_until(
                lambda: refreshed_count(engine) == FEEDS, timeout=AFTER_OUTAGE, what="the refreshes"
            )
        finally:
            stop(worker)
        log = d.log("w")
    try:
        assert successful_fetches(engine) == {i: 1 for i in ids}
    finally:
        engine.dispose()
    assert_clean(log)
    retried = re.compile(
        rf"WARNING MainProcess aggregator\.worker: org-\d{{4}}{re.escape(said)}"
        r"OperationalError: connection failed: .*Connection refused; "
        r"the message is retried in \d+(\.\d)?s$"
    )
    assert all(retried.search(line) for line in lines_with(log, said)), log
    # The slow source's lease could not be renewed meanwhile: said on one line too.
    assert lines_with(log, "org-0000: could not renew the lease: store unreachable: ") != []
    assert len(lines_with(log, f"store {masked(store)} reachable again (unreachable for ")) == 1
    assert all(lines_with(log, f"{i}: refreshed") for i in ids), log


@pytest.mark.postgres
@pytest.mark.slow
def test_a_limiter_outage_says_one_line_per_message_and_loses_none(
    tmp_path: Path, http_server: FixtureServer, postgres_url: str, own_redis_url: str
) -> None:
    feeds = slow_first(http_server)
    ids = [feed["id"] for feed in feeds]
    queue = f"test-{uuid.uuid4().hex[:10]}"
    engine = create_engine(postgres_url)
    with TcpProxy.to(own_redis_url) as proxy:
        limiter = proxy.url(own_redis_url)
        d = deployment(
            tmp_path,
            feeds,
            settings=SETTINGS,
            database_url=postgres_url,
            broker_url=own_redis_url,
            limiter_url=limiter,
            queue=queue,
        )
        worker = d.worker("w", threads=2)
        said = f": limiter unreachable ({limiter}): "
        try:
            start_outage(d, http_server, proxy, lambda s: send_messages(own_redis_url, queue, s))
            wait_until(
                lambda: (
                    all(len(lines_with(d.log("w"), f"{i}{said}")) >= 2 for i in ids[1:])
                    and "org-0000: refreshed" in d.log("w")
                ),
                timeout=60,
                what="every message to meet the outage",
            )
            # Each message put back left its source marked queued (or a worker holds it now),
            # never free: free and due, `run --distributed` sent it again at every tick.
            with engine.connect() as conn:
                owners = dict(
                    conn.execute(
                        select(sources.c.id, sources.c.lease_owner).where(sources.c.id.in_(ids[1:]))
                    ).all()
                )
            assert None not in owners.values(), owners
            proxy.restore()
            wait_until(
                lambda: refreshed_count(engine) == FEEDS, timeout=AFTER_OUTAGE, what="the refreshes"
            )
        finally:
            stop(worker)
        log = d.log("w")
    try:
        assert successful_fetches(engine) == {i: 1 for i in ids}
    finally:
        engine.dispose()
    assert_clean(log)
    retried = re.compile(
        rf"WARNING MainProcess aggregator\.worker: org-\d{{4}}{re.escape(said)}"
        r"ConnectionError: Error 111 connecting to 127\.0\.0\.1:\d+\. Connection refused; "
        r"the message is retried in \d+(\.\d)?s$"
    )
    assert all(retried.search(line) for line in lines_with(log, said)), log
    # The slow source was fetched and stored during the outage: only its slot could not be
    # renewed, nor given back (it expires on its own); refreshed, not "unreachable".
    assert lines_with(log, "org-0000: could not renew the host slot: limiter unreachable: ")
    assert lines_with(log, "org-0000: host slot not given back (limiter unreachable: ")
    assert lines_with(log, f"org-0000{said}") == []
    assert len(lines_with(log, f"limiter {limiter} reachable again (unreachable for ")) == 1
    assert all(lines_with(log, f"{i}: refreshed") for i in ids), log


@pytest.mark.postgres
@pytest.mark.slow
@pytest.mark.parametrize("kind", ["redis", "rabbitmq"])
def test_a_broker_outage_says_one_warning_per_attempt_and_loses_nothing(
    kind: str,
    request: pytest.FixtureRequest,
    tmp_path: Path,
    http_server: FixtureServer,
    postgres_url: str,
    own_redis_url: str,
) -> None:
    broker = own_redis_url if kind == "redis" else str(request.getfixturevalue("rabbitmq_url"))
    feeds = slow_first(http_server)
    ids = [feed["id"] for feed in feeds]
    queue = f"test-{uuid.uuid4().hex[:10]}"
    engine = create_engine(postgres_url)
    with TcpProxy.to(broker) as proxy:
        where = mask_password(proxy.url(broker))
        d = deployment(
            tmp_path,
            feeds,
            settings=SETTINGS,
            database_url=postgres_url,
            broker_url=proxy.url(broker),
            limiter_url=own_redis_url,
            queue=queue,
        )
        d = replace(d, env={**d.env, "dramatiq_restart_delay": str(RESTART_DELAY_MS)})
        worker = d.worker("w", threads=2)
        attempt = f"): broker {where} unreachable"  # after the consumer thread's logger name
        try:
            # The messages sent during the outage wait in the broker itself (not proxied).
            start_outage(d, http_server, proxy, lambda s: send_messages(broker, queue, s))
            wait_until(
                lambda: (
                    len(lines_with(d.log("w"), attempt)) >= 3
                    and "refresh_source('org-0000'): not acknowledged yet" in d.log("w")
                ),
                timeout=60,
                what="reconnection attempts, and the slow source's acknowledgement",
            )
            proxy.restore()
            wait_until(
                lambda: refreshed_count(engine) == FEEDS, timeout=AFTER_OUTAGE, what="the refreshes"
            )
            wait_until(
                lambda: f"broker {where} reachable again" in d.log("w"),
                timeout=30,
                what="the line saying the broker is back",
            )
        finally:
            stop(worker)
            if kind == "rabbitmq":
                delete_rabbitmq_queues(broker, queue)
        log = d.log("w")
    try:
        assert successful_fetches(engine) == {i: 1 for i in ids}
    finally:
        engine.dispose()
    assert http_server.count("/feeds/0") == 1  # refreshed during the outage, not again after
    assert_clean(log)
    assert "Consumer encountered" not in log and "Restarting consumer" not in log, log
    attempts = lines_with(log, attempt)
    again = f": reconnecting in {RESTART_DELAY_MS / 1000:.1f}s"
    assert all(" WARNING " in line and line.endswith(again) for line in attempts), attempts
    # One line per attempt, not one per consumer thread: no two say the same time down.
    lasted = [re.search(r"unreachable (for \S+ )?\(", line).group(1) for line in attempts]  # type: ignore[union-attr]
    assert len(lasted) == len(set(lasted)), attempts
    assert len(lines_with(log, f"broker {where} reachable again (unreachable for ")) == 1
    acknowledgement = lines_with(log, "refresh_source('org-0000'): not acknowledged yet, broker")
    assert acknowledgement and all(" WARNING " in line for line in acknowledgement)
    assert all(lines_with(log, f"{i}: refreshed") for i in ids), log


@pytest.mark.postgres
@pytest.mark.slow
def test_a_worker_stopped_while_its_redis_broker_is_down_exits_cleanly(
    tmp_path: Path, http_server: FixtureServer, postgres_url: str, own_redis_url: str
) -> None:
    """The messages it had taken in hand cannot be given back: one line, not a traceback
    that ended dramatiq's shutdown half-way (and the worker's with it, without its stats)."""
    feeds = slow_first(http_server)
    queue = f"test-{uuid.uuid4().hex[:10]}"
    # Waiting before the worker starts: its first fetch takes two (its prefetch with one
    # thread), the slow one, begun, and one in hand.
    send_messages(own_redis_url, queue, [feed["id"] for feed in feeds])
    with TcpProxy.to(own_redis_url) as proxy:
        where = proxy.url(own_redis_url)
        d = deployment(
            tmp_path,
            feeds,
            settings=SETTINGS,
            database_url=postgres_url,
            broker_url=where,
            limiter_url=own_redis_url,
            queue=queue,
        )
        d = replace(d, env={**d.env, "dramatiq_restart_delay": str(RESTART_DELAY_MS)})
        worker = d.worker("w", threads=1)
        try:
            wait_until(lambda: http_server.count("/feeds/0") == 1, timeout=60, what="the fetch")
            proxy.cut()
            wait_until(
                lambda: f"): broker {where} unreachable" in d.log("w"),
                timeout=30,
                what="the outage",
            )
        finally:
            stop(worker)
        log = d.log("w")
    assert worker.returncode == 0, log
    assert_clean(log)
    assert f"not started are not given back, broker {where} unreachable (ConnectionError: " in log
    assert " stats: " in log


# --- the same, in this process: what the proxy cannot provoke on demand ---------------------


def test_dramatiq_records_of_an_unreachable_broker_become_one_warning_line() -> None:
    url = "amqp://guest:secret@127.0.0.1:5672/%2F"
    out = io.StringIO()
    logger = logging.getLogger(f"dramatiq.worker.ConsumerThread(test-{uuid.uuid4().hex[:8]})")
    handler = logging.StreamHandler(out)
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    logger.addHandler(handler)
    logger.propagate = False
    logger.addFilter(BrokerOutageLog(BrokerWatch(url)))
    try:
        # An error dramatiq does not wrap as a connection error: CRITICAL, traceback.
        try:
            raise redis.exceptions.TimeoutError("Timeout reading from socket")
        except redis.exceptions.TimeoutError:
            logger.critical("Consumer encountered an unexpected error.", exc_info=True)
        logger.info("Restarting consumer in %0.2f seconds.", 3.0)
        try:
            raise ValueError("a bug")
        except ValueError:
            logger.critical("Consumer encountered an unexpected error.", exc_info=True)
    finally:
        logger.removeHandler(handler)
    lines = out.getvalue().splitlines()
    assert lines[0] == (
        "WARNING broker amqp://guest:***@127.0.0.1:5672/%2F unreachable "
        "(TimeoutError: Timeout reading from socket): reconnecting in 3.0s"
    )
    # A bug is no outage: dramatiq's record, traceback and all.
    assert lines[1] == "CRITICAL Consumer encountered an unexpected error."
    assert lines[2] == "Traceback (most recent call last):"
    assert "secret" not in out.getvalue()


def test_a_store_refusing_a_statement_is_no_outage(database_url: str) -> None:
    engine = create_store_engine(database_url)
    try:
        with pytest.raises(sqlalchemy.exc.DBAPIError) as refused, engine.connect() as conn:
            conn.execute(sqlalchemy.text("select * from no_such_table"))
    finally:
        engine.dispose()
    assert unreachable(refused.value) is None  # dramatiq's: a traceback, MAX_RETRIES


def test_a_store_that_does_not_answer_is_an_outage() -> None:
    engine = create_store_engine(f"postgresql+psycopg://nobody@127.0.0.1:{free_port()}/x")
    try:
        with pytest.raises(sqlalchemy.exc.DBAPIError) as refused, engine.connect():
            pass
    finally:
        engine.dispose()
    down = unreachable(refused.value)
    assert down is not None and down.part == "store"
    assert down.reason.startswith("OperationalError: connection failed: ")
    assert "\n" not in down.reason
