"""Every client of the broker has a timeout: a broker host that stops answering (it takes the
TCP connection, or drops packets, and never replies) is an outage after that time, for the
scheduler's sends and for a worker's consumer, not a tick or a consumer thread that waits for
ever. The timeout is no limit on an idle worker: dramatiq's Redis consumer polls, and sleeps
between polls on the client's side, so a worker waiting longer than the timeout for a message
still gets it.

Real parts: a silent TCP server (tests/support_proxy.py) as the broker; the local Redis for
the idle worker.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import dramatiq
import pytest
from dramatiq.errors import BrokerConnectionError

from aggregator.app import App
from aggregator.errors import SendDeferred
from aggregator.settings import WorkerSettings
from aggregator.store import leases
from aggregator.worker import (
    BROKER_TIMEOUT_SECONDS,
    RABBITMQ_BLOCKED_TIMEOUTS,
    RABBITMQ_HEARTBEAT_SECONDS,
    WORKER_TIMEOUT_MS,
    BrokerUnreachable,
    Enqueuer,
    build_broker,
    declare,
)
from tests.support_config import write_config
from tests.support_proxy import SilentServer

pytest_plugins = ("tests.support_services",)

SHORT = 0.5  # the tests' timeout, in seconds


def workers(broker_url: str, queue: str = "q") -> WorkerSettings:
    return WorkerSettings(
        broker_url=broker_url,
        limiter_url=None,
        queue=queue,
        lease=timedelta(seconds=3),
        queue_timeout=timedelta(minutes=30),
    )


@pytest.fixture()
def silent_port() -> Iterator[int]:
    with SilentServer() as port:
        yield port


def silent_url(kind: str, port: int) -> str:
    if kind == "redis":
        return f"redis://127.0.0.1:{port}/0"
    return f"amqp://guest:guest@127.0.0.1:{port}/%2F"


# --- the settings ---------------------------------------------------------------------------


def test_the_redis_broker_client_times_out_and_an_idle_consumer_is_not_cut_short() -> None:
    broker = build_broker(workers("redis://127.0.0.1:6379/0"))
    try:
        kwargs = broker.client.connection_pool.connection_kwargs  # type: ignore[attr-defined]
        assert kwargs["socket_timeout"] == kwargs["socket_connect_timeout"]
        assert kwargs["socket_timeout"] == BROKER_TIMEOUT_SECONDS
        # The consumer's longest wait between two commands is on the client's side (it
        # sleeps up to its poll timeout): far below the socket's, which it never meets.
        assert WORKER_TIMEOUT_MS / 1000 < BROKER_TIMEOUT_SECONDS
    finally:
        broker.close()


def test_a_timeout_in_the_redis_url_is_kept() -> None:
    broker = build_broker(workers("redis://127.0.0.1:6379/0?socket_timeout=3"))
    try:
        kwargs = broker.client.connection_pool.connection_kwargs  # type: ignore[attr-defined]
        assert kwargs["socket_timeout"] == 3
    finally:
        broker.close()


def test_the_rabbitmq_connections_time_out_block_for_a_while_only_and_have_heartbeats() -> None:
    broker = build_broker(workers("amqp://guest:guest@127.0.0.1:5672/%2F"))
    try:
        parameters = broker.parameters  # type: ignore[attr-defined]
        assert parameters.socket_timeout == BROKER_TIMEOUT_SECONDS
        assert parameters.stack_timeout == BROKER_TIMEOUT_SECONDS * 1.5
        assert parameters.blocked_connection_timeout == (
            BROKER_TIMEOUT_SECONDS * RABBITMQ_BLOCKED_TIMEOUTS
        )
        # The server's proposal, and one when it proposes none.
        assert parameters.heartbeat(None, 30) == 30
        assert parameters.heartbeat(None, 0) == RABBITMQ_HEARTBEAT_SECONDS
    finally:
        broker.close()


def test_rabbitmq_settings_in_the_url_are_kept_for_each_url() -> None:
    first = "amqp://guest:guest@127.0.0.1:5672/%2F?heartbeat=5&blocked_connection_timeout=7"
    second = "amqp://guest:guest@127.0.0.2:5672/%2F"
    broker = build_broker(workers(f"{first};{second}"))
    try:
        kept, tuned = broker.parameters  # type: ignore[attr-defined]
        assert (kept.heartbeat, kept.blocked_connection_timeout) == (5, 7)
        assert kept.socket_timeout == BROKER_TIMEOUT_SECONDS
        assert tuned.heartbeat(None, 0) == RABBITMQ_HEARTBEAT_SECONDS
    finally:
        broker.close()


# --- a broker that stops answering -----------------------------------------------------------


@pytest.mark.parametrize("kind", ["redis", "rabbitmq"])
def test_a_silent_broker_fails_the_schedulers_send_within_its_timeout(
    kind: str, silent_port: int, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    config = write_config(
        tmp_path / "config",
        [{"id": "s0", "name": "S0", "url": "https://s0.example.org/feed", "kind": "feed",
          "org": "ngo"}],
    )  # fmt: skip
    env = {
        "AGGREGATOR_DATABASE_URL": f"sqlite:///{tmp_path / 'aggregator.sqlite'}",
        "AGGREGATOR_DATA_DIR": str(tmp_path / "var"),
        "AGGREGATOR_BROKER_URL": silent_url(kind, silent_port),
    }
    with App.open(config, env) as app:
        enqueuer = Enqueuer(app, timeout=SHORT)
        try:
            with (
                caplog.at_level(logging.WARNING, logger="aggregator.worker"),
                pytest.raises(BrokerUnreachable) as raised,
            ):
                enqueuer(["s0"])
        finally:
            enqueuer.close()
        # The service's tick takes it as the outage it is (one line, said by the enqueuer).
        assert isinstance(raised.value, SendDeferred)
        [line] = [r.getMessage() for r in caplog.records if "unreachable (" in r.getMessage()]
        timed_out = "TimeoutError" if kind == "redis" else "AMQPConnectorStackTimeout"
        assert f"127.0.0.1:{silent_port}" in line
        assert f"unreachable ({timed_out}" in line
        assert leases.holders(app.store.engine, now=app.clock()) == {}  # sent at a later tick


def test_a_silent_redis_broker_is_a_connection_error_for_a_workers_consumer(
    silent_port: int,
) -> None:
    """dramatiq's worker reconnects a consumer that raised its ConnectionClosed, and retries
    an acknowledgement that did; redis-py's TimeoutError it took for a bug of its own (the
    message never acknowledged), or it ended the consumer's thread."""
    broker = build_broker(workers(silent_url("redis", silent_port)), timeout=SHORT)
    try:
        declare(broker, "q", lambda source_id: None)
        consumer = broker.consume("q", prefetch=1, timeout=WORKER_TIMEOUT_MS)
        with pytest.raises(BrokerConnectionError, match="Timeout"):
            next(consumer)
        message = dramatiq.broker.MessageProxy(
            dramatiq.Message(
                queue_name="q",
                actor_name="refresh_source",
                args=("s0",),
                kwargs={},
                options={"redis_message_id": uuid.uuid4().hex},
            )
        )
        with pytest.raises(BrokerConnectionError, match="Timeout"):
            consumer.ack(message)
        with pytest.raises(BrokerConnectionError, match="Timeout"):
            consumer.nack(message)
        with pytest.raises(BrokerConnectionError, match="Timeout"):
            consumer.requeue([message])
    finally:
        broker.close()


def test_a_worker_idle_for_longer_than_the_timeout_still_gets_its_messages(
    own_redis_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    queue = f"test-{uuid.uuid4().hex[:10]}"
    broker = build_broker(workers(own_redis_url, queue), timeout=SHORT)
    done = threading.Event()
    actor = declare(broker, queue, lambda source_id: done.set())
    worker = dramatiq.Worker(broker, worker_threads=1, worker_timeout=WORKER_TIMEOUT_MS)
    with caplog.at_level(logging.WARNING):
        worker.start()
        try:
            # Idle for several timeouts, polling: no command of it may wait that long.
            assert not done.wait(SHORT * 4)
            actor.send("s0")
            assert done.wait(30), "the message was not processed"
        finally:
            worker.stop()
            broker.close()
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []
