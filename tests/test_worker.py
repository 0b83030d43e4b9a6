"""Distributed refresh end to end: worker processes, the scheduler, Redis and PostgreSQL.

Real parts only: `aggregator worker` and `aggregator run --distributed` as subprocesses, the
local Redis as broker and host limiter, a fresh PostgreSQL schema, feeds from FixtureServer.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from sqlalchemy import Engine, create_engine

from aggregator.store import leases
from tests.conftest import ROOT
from tests.support_workers import (
    SHARING_EVERY,
    Deployment,
    cluster_partition,
    delete_rabbitmq_queues,
    deployment,
    expected_items,
    item_keys,
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
pytestmark = [pytest.mark.postgres, pytest.mark.slow]

FEEDS = 200
MAX_PER_HOST = 4  # FixtureServer is one host: at most this many requests at once, in all


def single_process_partition(tmp_path: Path, d: Deployment, database_url: str) -> object:
    """The same config refreshed by one `aggregator refresh` into another schema."""
    done = subprocess.run(
        [sys.executable, "-m", "aggregator", "--config", str(d.config), "refresh", "--json"],
        env={**os.environ, **d.env, "AGGREGATOR_DATABASE_URL": database_url},
        cwd=ROOT,
        capture_output=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    engine = create_engine(database_url)
    try:
        return cluster_partition(engine)
    finally:
        engine.dispose()


def log_count(d: Deployment, names: list[str], text: str) -> int:
    return sum(d.log(name).count(text) for name in names)


def test_two_workers_and_the_scheduler_refresh_200_feeds_once_each(
    tmp_path: Path,
    http_server: FixtureServer,
    postgres_url: str,
    baseline_postgres_url: str,
    redis_url: str,
    queue: str,
) -> None:
    feeds = serve_feeds(http_server, FEEDS, delay=0.05)  # so requests overlap
    d = deployment(
        tmp_path,
        feeds,
        # A lease long enough not to run out under a loaded CI machine: once one had, the
        # source was queued again and its mark could outlive the workers (the lease's own
        # expiry is tested in test_leases.py and by the crash test below).
        settings=worker_settings(max_per_host=MAX_PER_HOST, lease="30s"),
        database_url=postgres_url,
        broker_url=redis_url,
        queue=queue,
    )
    first, second = d.worker("w1", threads=3), d.worker("w2", threads=3)
    scheduler = d.scheduler()
    engine = create_engine(postgres_url)
    try:
        wait_until(lambda: refreshed_count(engine) == FEEDS, timeout=90, what="200 refreshes")
        # Every message again, while the workers run: duplicates write nothing.
        # Every message again, as a broker redelivery or a second scheduler would send it.
        send_messages(redis_url, queue, [f["id"] for f in feeds])
        wait_until(
            lambda: log_count(d, ["w1", "w2"], ": not due") >= FEEDS,
            timeout=60,
            what="the duplicate messages",
        )
    finally:
        stop(scheduler, first, second)
    try:
        keys = item_keys(engine)
        assert len(keys) == len(set(keys)) == expected_items(FEEDS)
        assert successful_fetches(engine) == {f["id"]: 1 for f in feeds}
        assert all(http_server.count(f"/feeds/{n}") == 1 for n in range(FEEDS))
        # the per-host limit held across both processes (6 threads in all), and was used
        assert 2 <= http_server.peak_concurrency <= MAX_PER_HOST
        # both workers took part
        assert log_count(d, ["w1"], ": refreshed") > 0 and log_count(d, ["w2"], ": refreshed") > 0
        assert leases.holders(engine, now=datetime.now(UTC)) == {}
        distributed = cluster_partition(engine)
    finally:
        engine.dispose()
    # the joint statement of every tenth feed, ingested by workers at once, is one cluster
    assert max(len(cluster) for cluster in distributed) >= FEEDS // SHARING_EVERY
    assert distributed == single_process_partition(tmp_path, d, baseline_postgres_url)


def held_by(engine: Engine, pid: int) -> list[str]:
    owners = leases.holders(engine, now=datetime.now(UTC))
    return sorted(s for s, owner in owners.items() if f":{pid}:" in owner)


def test_a_killed_workers_sources_are_refreshed_by_the_other(
    tmp_path: Path, http_server: FixtureServer, postgres_url: str, redis_url: str, queue: str
) -> None:
    feeds = serve_feeds(http_server, FEEDS, delay=0.1)
    d = deployment(
        tmp_path,
        feeds,
        settings=worker_settings(max_per_host=6, lease="2s", queue_timeout="3s"),
        database_url=postgres_url,
        broker_url=redis_url,
        queue=queue,
    )
    victim, survivor = d.worker("victim", threads=3), d.worker("survivor", threads=3)
    scheduler = d.scheduler()
    engine = create_engine(postgres_url)
    try:
        wait_until(lambda: refreshed_count(engine) >= 30, timeout=60, what="a first refreshes")
        # Freeze the victim to see what it holds, then kill it: a crash mid-refresh.
        while True:
            victim.send_signal(signal.SIGSTOP)
            orphans = held_by(engine, victim.pid)
            if orphans:
                break
            victim.send_signal(signal.SIGCONT)
            time.sleep(0.02)
        victim.send_signal(signal.SIGKILL)
        victim.wait()
        done_at_kill = refreshed_count(engine)
        assert done_at_kill < FEEDS
        wait_until(lambda: refreshed_count(engine) == FEEDS, timeout=90, what="the rest")
    finally:
        stop(scheduler, survivor)
        if victim.poll() is None:
            victim.kill()
    try:
        keys = item_keys(engine)
        assert len(keys) == len(set(keys)) == expected_items(FEEDS)
        # nothing doubled: one stored fetch per source, even for those fetched twice
        assert successful_fetches(engine) == {f["id"]: 1 for f in feeds}
        refetched = [n for n in range(FEEDS) if http_server.count(f"/feeds/{n}") > 1]
        assert {f"org-{n:04d}" for n in refetched} <= set(orphans)
        assert leases.holders(engine, now=datetime.now(UTC)) == {}
    finally:
        engine.dispose()
    assert "stats" not in d.log("victim")  # it really died, without a clean stop
    assert d.log("survivor").count(": refreshed") >= FEEDS - done_at_kill


def test_rabbitmq_broker_refreshes_every_source_once(
    tmp_path: Path,
    http_server: FixtureServer,
    postgres_url: str,
    rabbitmq_url: str,
    redis_url: str,
    queue: str,
) -> None:
    feeds = serve_feeds(http_server, 40, delay=0.02)
    d = deployment(
        tmp_path,
        feeds,
        settings=worker_settings(max_per_host=3),
        database_url=postgres_url,
        broker_url=rabbitmq_url,
        limiter_url=redis_url,
        queue=queue,
    )
    first, second = d.worker("w1", threads=2), d.worker("w2", threads=2)
    scheduler = d.scheduler()
    engine = create_engine(postgres_url)
    try:
        wait_until(lambda: refreshed_count(engine) == len(feeds), timeout=60, what="40 refreshes")
        # Every message again, as a broker redelivery or a second scheduler would send it.
        send_messages(rabbitmq_url, queue, [f["id"] for f in feeds])
        wait_until(
            lambda: log_count(d, ["w1", "w2"], ": not due") >= len(feeds),
            timeout=60,
            what="the duplicate messages",
        )
    finally:
        stop(scheduler, first, second)
        delete_rabbitmq_queues(rabbitmq_url, queue)
    try:
        keys = item_keys(engine)
        assert len(keys) == len(set(keys)) == expected_items(len(feeds))
        assert successful_fetches(engine) == {f["id"]: 1 for f in feeds}
        assert all(http_server.count(f"/feeds/{n}") == 1 for n in range(len(feeds)))
        assert http_server.peak_concurrency <= 3
    finally:
        engine.dispose()
    assert log_count(d, ["w1"], ": refreshed") > 0 and log_count(d, ["w2"], ": refreshed") > 0
