"""A worker renews its lease (and its host slot) while a fetch outlasts `workers.lease`.

The lease used to be taken once for `workers.lease`: a source whose fetch took longer (the
total timeout times the retries) was free again mid-refresh, and another worker, the
scheduler's next message or an `aggregator refresh` took it while the first still wrote.
Now the worker pushes the lease out every `lease / 3` while it refreshes, and a worker that
is killed stops doing so: its source is free one lease after the last renewal.

Real parts: `aggregator worker` as a subprocess, a fresh PostgreSQL schema, the local Redis
as broker and host limiter, a FixtureServer route that answers after SLOW seconds.
"""

from __future__ import annotations

import logging
import signal
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import redis
from sqlalchemy import Engine, create_engine, select

from aggregator.errors import ConfigError
from aggregator.hostslots import HostSlots
from aggregator.settings import load_settings
from aggregator.store import SqlStore, leases, open_store
from aggregator.store.schema import sources
from aggregator.store.timestamps import from_db
from aggregator.worker import LeaseKeeper
from tests.support_store import T0, make_source
from tests.support_workers import (
    Deployment,
    deployment,
    feed_body,
    refreshed_count,
    send_messages,
    stop,
    successful_fetches,
    wait_until,
)

if TYPE_CHECKING:
    import subprocess

    from tests.httpserver import FixtureServer

pytest_plugins = ("tests.httpserver", "tests.support_services")

LEASE = timedelta(seconds=2)
# The fixture server answers after this long: several leases, and within the timeouts.
SLOW = 10.0
SETTINGS = f"""
[fetch]
retries = 0
read_timeout = 30.0
total_timeout = 30.0
max_per_host = 1
[schedule]
tick_seconds = 1
[workers]
lease = "{int(LEASE.total_seconds())}s"
queue_timeout = "1m"
"""
SOURCE = "slow"


# --- leases.renew on both databases -----------------------------------------------------------


@pytest.fixture()
def store(database_url: str) -> Iterator[SqlStore]:
    opened = open_store(database_url)
    opened.sync_sources([make_source(SOURCE)], now=T0)
    yield opened
    opened.close()


def second(n: float) -> datetime:
    return T0 + timedelta(seconds=n)


def test_only_the_holder_renews_a_lease_and_a_lost_lease_stays_lost(store: SqlStore) -> None:
    engine = store.engine
    assert isinstance(
        leases.acquire(engine, SOURCE, owner="w1", now=second(0), ttl=LEASE), leases.Taken
    )
    # w1 renews as it goes: at 1 s its lease runs to 3 s, so w2 at 2.5 s finds it held
    assert leases.renew(engine, SOURCE, owner="w1", now=second(1), ttl=LEASE)
    held = leases.acquire(engine, SOURCE, owner="w2", now=second(2.5), ttl=LEASE)
    assert held == leases.Held(owner="w1", expires_at=second(1) + LEASE)
    # someone else's renewal changes nothing
    assert not leases.renew(engine, SOURCE, owner="w2", now=second(2.5), ttl=LEASE)
    # w1 stalled past its expiry; w2 takes the source, and w1's late renewal does not take
    # it back (nor push w2's expiry)
    assert isinstance(
        leases.acquire(engine, SOURCE, owner="w2", now=second(4), ttl=LEASE), leases.Taken
    )
    assert not leases.renew(engine, SOURCE, owner="w1", now=second(5), ttl=timedelta(hours=1))
    assert leases.holders(engine, now=second(5)) == {SOURCE: "w2"}
    assert leases.holders(engine, now=second(6.5)) == {}


def test_a_keeper_that_finds_its_lease_taken_warns_and_stops_renewing(
    store: SqlStore, caplog: pytest.LogCaptureFixture
) -> None:
    engine = store.engine
    lease = timedelta(seconds=1)  # renewed every third of a second
    now = datetime.now(UTC)
    assert isinstance(leases.acquire(engine, SOURCE, owner="w1", now=now, ttl=lease), leases.Taken)
    keeper = LeaseKeeper(engine, SOURCE, owner="w1", lease=lease, clock=lambda: datetime.now(UTC))
    with caplog.at_level(logging.WARNING, logger="aggregator.worker"), keeper:
        # w1 stalled (a frozen VM): its lease ran out and another worker took the source
        later = now + timedelta(minutes=1)
        taken = leases.acquire(engine, SOURCE, owner="w2", now=later, ttl=lease)
        assert isinstance(taken, leases.Taken)
        wait_until(lambda: bool(caplog.records), timeout=10, what="the warning")
        keeper._thread.join(timeout=10)  # it stops by itself: the lease is not its own
        assert not keeper._thread.is_alive()
    [record] = caplog.records
    assert record.levelno == logging.WARNING and record.name == "aggregator.worker"
    assert record.getMessage().startswith(f"{SOURCE}: lease lost during the refresh")
    assert "workers.lease = 1s" in record.getMessage()
    assert lease_row(engine) == ("w2", later + lease)  # w2's lease untouched


def test_a_lease_of_no_time_is_refused_with_its_file_and_key(tmp_path: Path) -> None:
    # The floor every duration setting has (1 s): a renewal every third of it is still a
    # few database round trips a second at most.
    (tmp_path / "aggregator.toml").write_text('[workers]\nlease = "0s"\n', encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_settings(tmp_path, {})
    assert str(caught.value) == (
        f"{tmp_path / 'aggregator.toml'}:2: workers.lease: duration '0s' is too short "
        "(expected at least 1s)"
    )


# --- a worker process refreshing a slow source -----------------------------------------------


def lease_row(engine: Engine) -> tuple[str | None, datetime | None]:
    with engine.connect() as conn:
        owner, expires_at = conn.execute(
            select(sources.c.lease_owner, sources.c.lease_expires_at).where(sources.c.id == SOURCE)
        ).one()
    return owner, None if expires_at is None else from_db(expires_at)


def held_by_worker(engine: Engine, worker: subprocess.Popen[bytes]) -> bool:
    owner, _ = lease_row(engine)
    return owner is not None and f":{worker.pid}:" in owner


def start_slow_refresh(
    tmp_path: Path, server: FixtureServer, database_url: str, broker_url: str, queue: str
) -> tuple[Deployment, subprocess.Popen[bytes], Engine, datetime]:
    """A worker fetching the slow source: returns when the server has the request, with the
    expiry of the lease as the worker took it."""
    url = server.add("/slow.xml", body=feed_body(0), content_type="application/rss+xml", delay=SLOW)
    d = deployment(
        tmp_path,
        [{"id": SOURCE, "name": "Slow", "url": url, "kind": "feed", "org": "ngo"}],
        settings=SETTINGS,
        database_url=database_url,
        broker_url=broker_url,
        queue=queue,
    )
    worker = d.worker("worker", threads=1)
    engine = create_engine(database_url)
    wait_until(lambda: "thread(s) on queue" in d.log("worker"), timeout=60, what="the worker")
    send_messages(broker_url, queue, [SOURCE])
    wait_until(lambda: server.count("/slow.xml") == 1, timeout=30, what="the fetch to begin")
    owner, first_expiry = lease_row(engine)
    assert owner is not None and f":{worker.pid}:" in owner and first_expiry is not None
    return d, worker, engine, first_expiry


@pytest.mark.postgres
@pytest.mark.slow
def test_no_one_takes_a_source_from_a_worker_whose_fetch_outlasts_the_lease(
    tmp_path: Path, http_server: FixtureServer, postgres_url: str, redis_url: str, queue: str
) -> None:
    d, worker, engine, first_expiry = start_slow_refresh(
        tmp_path, http_server, postgres_url, redis_url, queue
    )
    try:
        # Past the lease as first taken, the fetch still running (the server answers later)
        wait_until(
            lambda: datetime.now(UTC) > first_expiry + timedelta(seconds=1),
            timeout=30,
            what="the first expiry",
        )
        now = datetime.now(UTC)
        assert refreshed_count(engine) == 0, "the fetch ended early: the test proves nothing"
        # another worker with a message for it, the scheduler's next tick, an operator's
        # `aggregator refresh`: none gets the source
        taker = leases.acquire(engine, SOURCE, owner="second-worker", now=now, ttl=LEASE)
        assert isinstance(taker, leases.Held), taker
        assert f":{worker.pid}:" in taker.owner and taker.expires_at > first_expiry
        assert leases.mark_queued(engine, [SOURCE], now=now, ttl=timedelta(minutes=1)) == []
        claimed = leases.claim(engine, [SOURCE], owner="operator", now=now, ttl=timedelta(hours=1))
        assert list(claimed) == [SOURCE]
        # and the host slot is still the worker's (fetch.max_per_host = 1)
        slots = HostSlots(
            redis.Redis.from_url(redis_url),
            prefix=f"aggregator:{queue}",
            limit=1,
            hold=LEASE,
            wait=timedelta(seconds=1),
        )
        assert slots.busy(http_server.base_url) == 1
        wait_until(lambda: refreshed_count(engine) == 1, timeout=60, what="the slow refresh")
        wait_until(lambda: lease_row(engine) == (None, None), timeout=10, what="the release")
        assert successful_fetches(engine) == {SOURCE: 1}
        assert http_server.count("/slow.xml") == 1
    finally:
        stop(worker)
        engine.dispose()
    log = d.log("worker")
    assert f"{SOURCE}: refreshed" in log
    for trouble in ("lease lost", "lease had expired", "could not renew", "slot expired"):
        assert trouble not in log, log


@pytest.mark.postgres
@pytest.mark.slow
def test_a_killed_workers_lease_expires_a_lease_after_its_last_renewal(
    tmp_path: Path, http_server: FixtureServer, postgres_url: str, redis_url: str, queue: str
) -> None:
    _, worker, engine, first_expiry = start_slow_refresh(
        tmp_path, http_server, postgres_url, redis_url, queue
    )
    try:

        def renewed() -> bool:
            _, expires_at = lease_row(engine)
            return expires_at is not None and expires_at > first_expiry

        wait_until(renewed, timeout=30, what="a renewal")
        worker.send_signal(signal.SIGKILL)
        worker.wait()
        killed_at = datetime.now(UTC)
        assert refreshed_count(engine) == 0, "the fetch ended early: the test proves nothing"
        _, expires_at = lease_row(engine)
        assert expires_at is not None
        # renewed up to the end, then no more: free at most one lease after the kill
        assert killed_at < expires_at <= killed_at + LEASE
        held = leases.acquire(engine, SOURCE, owner="second-worker", now=killed_at, ttl=LEASE)
        assert isinstance(held, leases.Held)

        def taken() -> bool:
            now = datetime.now(UTC)
            return isinstance(
                leases.acquire(engine, SOURCE, owner="second-worker", now=now, ttl=LEASE),
                leases.Taken,
            )

        wait_until(taken, timeout=30, what="the lease to expire")
        assert not held_by_worker(engine, worker)
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()
        engine.dispose()
