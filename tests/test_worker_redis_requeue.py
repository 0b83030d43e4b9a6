"""Redis broker: the messages a worker killed with -9 had taken go back within heartbeat time.

dramatiq puts a dead worker's unacknowledged messages back only during a queue's
"maintenance", which it runs on a random 1 in 1,000 commands; build_broker's broker runs it on
every queue at most every REDIS_MAINTENANCE_SECONDS.
"""

from __future__ import annotations

import time
import uuid
from datetime import timedelta

import pytest

from aggregator import worker
from aggregator.settings import WorkerSettings
from aggregator.worker import build_broker, declare

pytest_plugins = ("tests.support_services",)

# A database of this test's own: its broker keys (heartbeats included) are flushed after.


def test_a_dead_consumer_s_unacked_messages_go_to_another_within_heartbeat_time(
    own_redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(worker, "REDIS_HEARTBEAT_MS", 1_000)
    monkeypatch.setattr(worker, "REDIS_MAINTENANCE_SECONDS", 0.5, raising=False)
    queue = f"test-{uuid.uuid4().hex[:10]}"
    settings = WorkerSettings(
        broker_url=own_redis_url,
        limiter_url=None,
        queue=queue,
        lease=timedelta(seconds=3),
        queue_timeout=timedelta(minutes=30),
    )
    dead = build_broker(settings)
    declare(dead, queue, lambda source_id: None)
    sent = {f"src-{n}" for n in range(3)}
    actor = dead.get_actor(worker.ACTOR_NAME)
    for source_id in sorted(sent):
        actor.send(source_id)
    # The worker takes all three from the queue, acknowledges none, and is killed: it just
    # stops talking to Redis (its heartbeat stops).
    taken = dead.consume(queue, prefetch=3, timeout=100)
    got = [message for message in (next(taken) for _ in range(20)) if message is not None]
    assert {message.args[0] for message in got} == sent
    dead.client.close()  # type: ignore[attr-defined]

    alive = build_broker(settings)
    declare(alive, queue, lambda source_id: None)
    consumer = alive.consume(queue, prefetch=10, timeout=100)
    received: set[str] = set()
    deadline = time.monotonic() + 6.0  # heartbeat 1 s + maintenance 0.5 s, with margin
    while received != sent and time.monotonic() < deadline:
        message = next(consumer)
        if message is not None:
            received.add(message.args[0])
            consumer.ack(message)
    consumer.close()
    alive.close()
    assert received == sent
