"""Distributed refresh: Dramatiq actors over Redis or RabbitMQ. A front end, like cli.py.

    scheduler (aggregator run --distributed)            workers (aggregator worker), any machine
    due sources -> mark queued -> one message each  ->  refresh_source(id): lease, host slot,
                                                        App.refresh([source]), release

One message refreshes one source. What keeps it correct is in the store and in Redis, not in
the broker's delivery guarantees (at least once, never exactly once):

- a source is taken with a lease (store/leases.py): one worker at a time; a message for a
  source that is no longer due (a duplicate, a redelivery after success) does nothing; the
  worker renews the lease (and its host slot) every `workers.lease / 3` while it refreshes,
  so a fetch slower than the lease keeps its source, and a source held by a worker that died
  is taken again once its last renewal expires;
- items are unique per (source, identity), and save_refresh serialises writers of one source
  on its row, so a redelivered document is "unchanged", never a second copy;
- the per-host limit (`fetch.max_per_host`) is shared by every process (hostslots.py);
- the store or the limiter unreachable is no failure of a source: its message is put back
  for later, for as long as the outage lasts, and the log says so in one line per message;
  dramatiq's account of a broker outage is made one line per reconnection attempt
  (BrokerOutageLog), and the worker says when each part is reachable again;
- the broker unreachable for the scheduler: the sources it could not send lose their queued
  mark, so each tick tries them again; it says so once, and once when the broker is back
  (SendOutage). Every client of a broker has a timeout (BROKER_TIMEOUT_SECONDS): a broker
  host that stops answering is an outage, not a tick or a consumer thread waiting for ever.

Each worker process opens its own `App` (its own connection pool); the first to start
migrates the database under PostgreSQL's advisory lock while the others wait on it.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import resource
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Literal
from urllib.parse import parse_qs, urlsplit

import dramatiq
import dramatiq.worker
import pika.exceptions
import redis
from dramatiq.brokers.rabbitmq import RabbitmqBroker
from dramatiq.brokers.redis import RedisBroker
from sqlalchemy import Engine

from aggregator.app import App
from aggregator.durations import format_duration
from aggregator.errors import AggregatorError, HostHeld, SendDeferred
from aggregator.hostslots import HostBusy, HostSlots, LimiterError
from aggregator.logs import apply_log_level
from aggregator.models import Source, SourceResult
from aggregator.outages import seconds_text
from aggregator.settings import Settings, WorkerSettings
from aggregator.settings.app import SETTINGS_FILE, setting_origin
from aggregator.store import leases
from aggregator.store.engine import masked
from aggregator.store.sources import fetched_from
from aggregator.urls import mask_password
from aggregator.words import count
from aggregator.worker_outages import (
    BROKER_UNREACHABLE,
    MAX_BACKOFF_MS,
    MAX_RETRIES,
    MIN_BACKOFF_MS,
    BrokerOutageLog,
    BrokerWatch,
    Outage,
    SendOutage,
    WatchedConsumer,
    dramatiq_loggers,
    one_line,
    said,
    unreachable,
)

log = logging.getLogger("aggregator.worker")

ACTOR_NAME = "refresh_source"
# A host slot is waited for this long in the worker before the message is put back with a
# delay: a thread waiting on a busy host is a thread not refreshing other hosts.
SLOT_WAIT = timedelta(seconds=10)
# Redis broker: a worker that stopped sending heartbeats for this long is presumed dead
# (dramatiq's default is 60 s). Its unacknowledged messages (the sources it had taken from the
# queue, started or not) are put back only by the broker's "maintenance" of a queue, which
# dramatiq runs on a random 1 in 1,000 of the commands: a worker killed with -9 left its
# sources unfetched for up to `workers.queue_timeout`. Each process here runs it on a queue
# at most every REDIS_MAINTENANCE_SECONDS instead (idle workers poll every WORKER_TIMEOUT_MS),
# so a dead worker's messages go back within about heartbeat + maintenance time (~35 s).
REDIS_HEARTBEAT_MS = 30_000
REDIS_MAINTENANCE_SECONDS = 5.0
# A worker renews its lease this many times per `workers.lease` while it refreshes: one or
# two renewals may be late or fail (a slow database, a pause of the process) before it runs out.
RENEWALS_PER_LEASE = 3
# How long a worker's consumer waits for a message before polling the broker again.
WORKER_TIMEOUT_MS = 200
# How long any client of the broker waits for it to connect or to answer one command; then
# it is unreachable (a host that drops packets never refuses the connection). Redis: every
# command dramatiq sends is a short script, none blocks on the server (its consumer polls
# and sleeps between polls, at most WORKER_TIMEOUT_MS, on the client's side), so this is
# no limit on an idle worker's wait. RabbitMQ: the TCP connection (and 1.5 times this for
# TLS and the AMQP handshake), see RABBITMQ_* below.
BROKER_TIMEOUT_SECONDS = 10.0
# RabbitMQ: a connection the broker blocked (its memory or disk alarm) is given up after
# this many BROKER_TIMEOUT_SECONDS; pika waited for ever, and a send with it.
RABBITMQ_BLOCKED_TIMEOUTS = 3
# RabbitMQ heartbeat when the server proposes none (0): without one, a connection whose
# peer is gone is noticed only by TCP, hours later. The server's own proposal (RabbitMQ's
# default is 60 s) is taken otherwise.
RABBITMQ_HEARTBEAT_SECONDS = 60


class WorkerError(AggregatorError):
    """The broker could not be set up or reached."""


class BrokerUnreachable(WorkerError, SendDeferred):
    """The scheduler's sends met a broker it cannot reach: said once by its SendOutage, so
    the service's tick adds no error of its own (SendDeferred); the sources wait."""


def is_redis(url: str) -> bool:
    return urlsplit(url).scheme in ("redis", "rediss")


def redis_client(url: str, *, timeout: float) -> redis.Redis:
    """A Redis client that gives up on connecting, or on one answer, after `timeout`
    seconds (options in the URL's query, such as ?socket_timeout=5, come first)."""
    return redis.Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout)


class _MaintainedRedisBroker(RedisBroker):
    """dramatiq's RedisBroker whose queue maintenance (putting back the unacknowledged
    messages of workers whose heartbeat expired) runs on each queue at most every
    REDIS_MAINTENANCE_SECONDS, on the next command for it, rather than by chance; that
    tells `watch` each time Redis answered a command (a worker's, see BrokerWatch); and
    whose client times out (dramatiq's own has redis-py's default: none before redis-py 8)."""

    def __init__(
        self, *, url: str, heartbeat_timeout: int, watch: BrokerWatch | None, timeout: float
    ) -> None:
        super().__init__(  # type: ignore[no-untyped-call]
            client=redis_client(url, timeout=timeout), heartbeat_timeout=heartbeat_timeout
        )
        self._command_queue = threading.local()
        self._maintained: dict[str, float] = {}
        self._maintained_lock = threading.Lock()
        self.watch = watch

    def _dispatch(self, command: str) -> Callable[..., object]:
        dispatch = super()._dispatch(command)  # type: ignore[no-untyped-call]

        def do_dispatch(queue_name: str, *args: object) -> object:
            # dramatiq asks _should_do_maintenance(command) within this call, in this thread.
            self._command_queue.name = queue_name
            asked = time.monotonic()
            answer = dispatch(queue_name, *args)
            if self.watch is not None:
                self.watch.answered(asked)
            return answer

        return do_dispatch

    def consume(
        self, queue_name: str, prefetch: int = 1, timeout: int = 5000
    ) -> dramatiq.broker.Consumer:
        # Not watched: its __next__ may answer from messages fetched before the outage.
        return WatchedConsumer(super().consume(queue_name, prefetch, timeout), None)

    def _should_do_maintenance(self, command: str) -> int:
        queue_name = getattr(self._command_queue, "name", None)
        if queue_name is None or command in ("ack", "nack"):
            return 0
        now = time.monotonic()
        with self._maintained_lock:
            last = self._maintained.get(queue_name)
            if last is not None and now - last < REDIS_MAINTENANCE_SECONDS:
                return 0
            self._maintained[queue_name] = now
        return 1

    def close(self) -> None:
        super().close()
        self.client.connection_pool.disconnect()


def _heartbeat(connection: object, proposed: int) -> int:
    """pika's heartbeat: the server's proposal, or RABBITMQ_HEARTBEAT_SECONDS if it has none."""
    return proposed or RABBITMQ_HEARTBEAT_SECONDS


def tune_pika(parameters: pika.connection.Parameters, url: str, *, timeout: float) -> None:
    """Timeouts on a pika connection, for those its URL's query does not set: pika's socket
    timeout bounds the TCP connect only; the handshake, a blocked connection (a send waits
    for RabbitMQ to unblock it) and a peer that went silent are bounded here."""
    given = parse_qs(urlsplit(url).query)
    wanted: dict[str, object] = {
        "socket_timeout": timeout,
        "stack_timeout": timeout * 1.5,
        "blocked_connection_timeout": timeout * RABBITMQ_BLOCKED_TIMEOUTS,
        "heartbeat": _heartbeat,
    }
    for name, value in wanted.items():
        if name not in given:
            setattr(parameters, name, value)


class _RabbitmqBroker(RabbitmqBroker):
    """dramatiq's RabbitmqBroker whose consumers tell `watch` each time RabbitMQ answered,
    and whose connections time out (`tune_pika`)."""

    def __init__(self, *, url: str, watch: BrokerWatch | None, timeout: float) -> None:
        # confirm_delivery: send() returns once RabbitMQ has the message, so a scheduler
        # that marked a source queued has really queued it.
        super().__init__(url=url, confirm_delivery=True)
        # dramatiq takes several URLs separated by ";" (one connection parameters each).
        parameters = self.parameters if isinstance(self.parameters, list) else [self.parameters]
        for each, each_url in zip(parameters, url.split(";"), strict=True):
            tune_pika(each, each_url, timeout=timeout)
        self.watch = watch

    def consume(
        self, queue_name: str, prefetch: int = 1, timeout: int = 5000
    ) -> dramatiq.broker.Consumer:
        return WatchedConsumer(super().consume(queue_name, prefetch, timeout), self.watch)


def build_broker(
    workers: WorkerSettings,
    watch: BrokerWatch | None = None,
    *,
    timeout: float = BROKER_TIMEOUT_SECONDS,
) -> dramatiq.Broker:
    """The broker named by `workers.broker_url`, with dramatiq's default middleware, whose
    connections give up after `timeout`; a worker's tells `watch` when it answers again
    after an outage."""
    url = workers.broker_url
    try:
        if is_redis(url):
            return _MaintainedRedisBroker(
                url=url, heartbeat_timeout=REDIS_HEARTBEAT_MS, watch=watch, timeout=timeout
            )
        return _RabbitmqBroker(url=url, watch=watch, timeout=timeout)
    except Exception as exc:  # pika and redis raise many types; all mean "cannot use it"
        raise WorkerError(f"broker {mask_password(url)}: {type(exc).__name__}: {exc}") from exc


def check_login(workers: WorkerSettings) -> None:
    """Fail fast on credentials the broker or the limiter's Redis refuses.

    A worker retries a broker it cannot reach, which is right in an outage; a refused
    login is a wrong URL or password, and retrying it only fills the log (pika writes a
    dozen lines a second). A broker not reachable yet is left to those retries.
    """
    refused = (
        pika.exceptions.ProbableAuthenticationError,
        pika.exceptions.ProbableAccessDeniedError,
        redis.exceptions.AuthenticationError,
        redis.exceptions.AuthorizationError,
    )
    targets = [("broker", workers.broker_url)]
    limiter = workers.limiter_url
    if limiter and limiter != workers.broker_url:
        targets.append(("limiter", limiter))
    pika_log = logging.getLogger("pika")
    level = pika_log.level
    for what, url in targets:
        # pika logs the refusal it raises, traceback and all, in six lines; this says it once.
        pika_log.setLevel(logging.CRITICAL + 1)
        try:
            if is_redis(url):
                client = redis_client(url, timeout=BROKER_TIMEOUT_SECONDS)
                try:
                    client.ping()
                finally:
                    client.close()
            else:
                parameters = pika.URLParameters(url)
                tune_pika(parameters, url, timeout=BROKER_TIMEOUT_SECONDS)
                pika.BlockingConnection(parameters).close()
        except refused as exc:
            setting = "workers.broker_url" if what == "broker" else "workers.limiter_url"
            raise WorkerError(
                f"{what} {mask_password(url)} refused the login ({type(exc).__name__}: {exc}): "
                f"check {setting} (AGGREGATOR_{setting.split('.')[1].upper()})"
            ) from exc
        except redis.exceptions.ResponseError as exc:
            # Reached, and answered: a setting the server refuses ("DB index is out of
            # range"), which no retry mends; retried, it logged a traceback every 3 s.
            setting = "workers.broker_url" if what == "broker" else "workers.limiter_url"
            raise WorkerError(
                f"{what} {mask_password(url)} refused the connection ({exc}): check {setting}"
                f" (AGGREGATOR_{setting.split('.')[1].upper()})"
            ) from exc
        except Exception as exc:  # unreachable: the worker's own retries take it from here
            reason = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            log.warning("%s %s not reachable yet (%s): retrying", what, mask_password(url), reason)
        finally:
            pika_log.setLevel(level)


def limiter_url(settings: Settings, env: Mapping[str, str]) -> str:
    """The Redis of the per-host limit: `workers.limiter_url`, else the broker's Redis. With
    a broker that is not Redis, a missing limiter is said of where the broker was set (the
    variable or the file's line), which is what made it required: it blamed aggregator.toml,
    also when nothing there named a broker."""
    workers = settings.workers
    if workers.limiter_url:
        return workers.limiter_url
    if is_redis(workers.broker_url):
        return workers.broker_url
    broker = setting_origin(settings.config_dir, env, "workers.broker_url")
    set_in = settings.config_dir / SETTINGS_FILE
    raise broker.error(
        f"workers.limiter_url is required with the broker {mask_password(workers.broker_url)}"
        " (not Redis): the per-host limit shared by all workers lives in Redis",
        f"workers.limiter_url = 'redis://host:6379/0' in {set_in}, or AGGREGATOR_LIMITER_URL",
    )


def declare(
    broker: dramatiq.Broker, queue: str, fn: Callable[[str], None]
) -> dramatiq.Actor[[str], None]:
    """The refresh actor on `broker` (senders declare it too, with a function never run)."""
    decorate = dramatiq.actor(
        actor_name=ACTOR_NAME,
        queue_name=queue,
        broker=broker,
        max_retries=MAX_RETRIES,
        min_backoff=MIN_BACKOFF_MS,
        max_backoff=MAX_BACKOFF_MS,
    )
    return decorate(fn)


def warn_if_the_store_is_local(engine: Engine, who: str) -> None:
    """A SQLite store is one file on one machine: workers elsewhere (or with another data
    dir) each write to a store of their own that the scheduler never reads, and nothing
    else shows it; several processes of one machine on the same file do work together, so
    this is said, not refused."""
    if engine.dialect.name != "sqlite":
        return
    log.warning(
        "%s: the store is SQLite (%s): only processes of this machine using this same file "
        "share its sources and results; workers on other machines need a shared database: "
        "set database_url (AGGREGATOR_DATABASE_URL) to the same postgresql+psycopg:// URL "
        "for the scheduler and every worker",
        who,
        masked(engine.url),
    )


# --- the scheduler's side -------------------------------------------------------------------


class Enqueuer:
    """`Service(app, enqueue=Enqueuer(app))`: due sources become messages, once each."""

    def __init__(self, app: App, *, timeout: float = BROKER_TIMEOUT_SECONDS) -> None:
        self.app = app
        self.workers = app.settings.workers
        self.broker = build_broker(self.workers, timeout=timeout)
        self.actor = declare(self.broker, self.workers.queue, _never_called)
        self.outage = SendOutage(
            self.workers.broker_url,
            tick_seconds=app.settings.schedule.tick_seconds,
            clock=app.clock,
        )
        warn_if_the_store_is_local(app.store.engine, "run --distributed")

    def __call__(self, source_ids: Sequence[str]) -> int:
        """Mark the due, unleased sources queued, then send one message per marked source.

        The broker unreachable: SendDeferred, said once (SendOutage), and the sources not
        sent lose their queued mark, so the next tick tries them again. Another failure of
        the broker's client: WorkerError, after the same."""
        marked = leases.mark_queued(
            self.app.store.engine,
            source_ids,
            now=self.app.clock(),
            ttl=self.workers.queue_timeout,
            early=self.app.due_slack(),
        )
        sent = 0
        try:
            for source_id in marked:
                self.actor.send(source_id)
                sent += 1
        except Exception as exc:  # the client's errors are many types (dramatiq's, pika's...)
            down = isinstance(exc, BROKER_UNREACHABLE)
            if down:  # said first: even if the store fails the unmarking too
                self.outage.met(one_line(exc))
            leases.unmark_queued(self.app.store.engine, marked[sent:])
            done = f"enqueue failed after {sent} of {count(len(marked), 'source')}"
            if down:
                raise BrokerUnreachable(f"{done}, the broker unreachable", sent=sent) from exc
            raise WorkerError(f"{done}: {one_line(exc)}") from exc
        if marked:
            self.outage.passed()
        return len(marked)

    def close(self) -> None:
        self.broker.close()


def _never_called(source_id: str) -> None:
    raise AssertionError("the enqueuer's actor runs only in workers")


# --- the worker's side ----------------------------------------------------------------------


@dataclass(kw_only=True)
class Stats:
    """Where a worker process's time went (wall seconds summed over its threads)."""

    messages: int = 0
    refreshed: int = 0
    failed: int = 0  # refreshed, with a per-source error
    not_due: int = 0  # duplicates and late redeliveries: nothing written
    held: int = 0  # another worker had it: put back until its lease expires
    host_busy: int = 0  # no host slot within SLOT_WAIT: put back
    unreachable: int = 0  # the store or the limiter was down: put back
    lease_seconds: float = 0.0  # taking and releasing leases
    slot_wait_seconds: float = 0.0  # waiting for a host slot (politeness)
    refresh_seconds: float = 0.0  # fetch + parse + store of refreshed sources
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, **amounts: float) -> None:
        with self._lock:
            for name, amount in amounts.items():
                setattr(self, name, getattr(self, name) + amount)

    def as_dict(self) -> dict[str, float]:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        with self._lock:
            values = {name: round(float(getattr(self, name)), 3) for name in STAT_NAMES}
        values["cpu_seconds"] = round(usage.ru_utime + usage.ru_stime, 3)
        return values


STAT_NAMES = (
    "messages",
    "refreshed",
    "failed",
    "not_due",
    "held",
    "host_busy",
    "unreachable",
    "lease_seconds",
    "slot_wait_seconds",
    "refresh_seconds",
)


Handled = Literal[
    "refreshed", "failed", "not asked", "not due", "held", "host busy", "unreachable", "unknown"
]


@dataclass(frozen=True, slots=True, kw_only=True)
class Outcome:
    status: Handled
    retry_at: datetime | None = None  # put the message back for this time


class LeaseKeeper:
    """Renews a worker's lease on one source, and its host slot while it holds one, every
    `lease / RENEWALS_PER_LEASE` in a thread of its own for as long as the refresh runs.

    A fetch may take far longer than `workers.lease` (the total timeout times the retries,
    with backoff); an unrenewed lease expired mid-refresh, and another worker (the scheduler
    queues an expired source again) or an operator's refresh read the source at the same
    time. A worker that is killed stops renewing: its source is free `lease` after the last
    renewal, as a crashed worker's was before.
    """

    def __init__(
        self,
        engine: Engine,
        source_id: str,
        *,
        owner: str,
        lease: timedelta,
        clock: Callable[[], datetime],
    ) -> None:
        self.engine = engine
        self.source_id = source_id
        self.owner = owner
        self.lease = lease
        self.clock = clock
        self.every = lease.total_seconds() / RENEWALS_PER_LEASE
        self._stop = threading.Event()
        # The slot's renewal is set and cleared under this lock, and runs under it: a slot is
        # never renewed after the refresh gave it back (redis-py refuses that).
        self._lock = threading.Lock()
        self._slot: Callable[[], bool] | None = None
        self._thread = threading.Thread(target=self._run, name=f"lease-{source_id}", daemon=True)

    def __enter__(self) -> LeaseKeeper:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join()

    @contextmanager
    def keeping_slot(self, renew: Callable[[], bool]) -> Iterator[None]:
        """Renew the host slot too, inside this block (while the slot is held)."""
        with self._lock:
            self._slot = renew
        try:
            yield
        finally:
            with self._lock:
                self._slot = None

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            if not self._renew_lease():
                return
            with self._lock:
                self._renew_slot()

    def _renew_lease(self) -> bool:
        """False once the lease is lost: renewing stops (it is someone else's now)."""
        try:
            held = leases.renew(
                self.engine,
                self.source_id,
                owner=self.owner,
                now=self.clock(),
                ttl=self.lease,
            )
        except AggregatorError as exc:  # the store unreachable for now: try again next time
            log.warning("%s: could not renew the lease: %s", self.source_id, said(exc))
            return True
        if not held:
            log.warning(
                "%s: lease lost during the refresh (not renewed within workers.lease = %s: "
                "the database was unreachable or this process stalled): another refresh may "
                "be reading this source at the same time",
                self.source_id,
                format_duration(self.lease),
            )
        return held

    def _renew_slot(self) -> None:
        if self._slot is None:
            return
        try:
            held = self._slot()
        except AggregatorError as exc:
            log.warning("%s: could not renew the host slot: %s", self.source_id, said(exc))
            return
        if not held:
            log.warning(
                "%s: host slot expired during the fetch: fetch.max_per_host may be exceeded",
                self.source_id,
            )
            self._slot = None


class Refresher:
    """One process's refresh of one source per message. Thread-safe; no dramatiq in here."""

    def __init__(self, app: App, slots: HostSlots, *, limiter_url: str) -> None:
        self.app = app
        self.slots = slots
        self.lease = app.settings.workers.lease
        self.queue_timeout = app.settings.workers.queue_timeout
        self.sources = {source.id: source for source in app.sources}
        self.stats = Stats()
        self.store_outage = Outage("store", masked(app.store.engine.url))
        self.limiter_outage = Outage("limiter", mask_password(limiter_url))

    def handle(self, source_id: str) -> Outcome:
        """Refresh the source if it is due and free. The store or the limiter unreachable is
        no failure of the source: one line says so, and the message is put back for later."""
        self.stats.add(messages=1)
        try:
            return self._handle(source_id)
        except Exception as exc:  # an outage, whatever wrapped it; anything else is raised
            down = unreachable(exc)
            if down is None:
                raise
            outage = self.store_outage if down.part == "store" else self.limiter_outage
            delay = outage.met()
            self.stats.add(unreachable=1)
            log.warning(
                "%s: %s unreachable (%s): %s; the message is retried in %s",
                source_id,
                down.part,
                outage.where,
                down.reason,
                seconds_text(delay.total_seconds()),
            )
            return Outcome(status="unreachable", retry_at=self.app.clock() + delay)

    def _handle(self, source_id: str) -> Outcome:
        source = self.sources.get(source_id)
        if source is None:  # removed from this worker's config, or added since it started
            log.warning(
                "%s: not in this worker's config, dropped (a source added since the worker"
                " started needs the worker restarted)",
                source_id,
            )
            # Its queued mark goes, so the next tick sends it again (to a worker that knows
            # it, maybe): kept, the source sat unfetched and unexplained until
            # workers.queue_timeout, over and over.
            leases.unmark_queued(self.app.store.engine, [source_id])
            return Outcome(status="unknown")
        engine = self.app.store.engine
        owner = leases.new_owner()
        started = time.perf_counter()
        now = self.app.clock()
        taken = leases.acquire(
            engine, source_id, owner=owner, now=now, ttl=self.lease, early=self.app.due_slack()
        )
        self.store_outage.reached()
        self.stats.add(lease_seconds=time.perf_counter() - started)
        if isinstance(taken, leases.NotDue):
            self.stats.add(not_due=1)
            return Outcome(status="not due")
        if isinstance(taken, leases.Held):
            self.stats.add(held=1)
            return Outcome(status="held", retry_at=max(taken.expires_at, now))
        keeper = LeaseKeeper(engine, source_id, owner=owner, lease=self.lease, clock=self.app.clock)
        # Put back on the queue (its host busy, the limiter down): marked queued, or the
        # scheduler sent it again at every tick, and the copies piled up for the outage.
        requeued = False
        try:
            with keeper:  # stopped before the release: a released lease is not renewed
                outcome = self._refresh(source, keeper)
                requeued = outcome.status == "host busy"
                return outcome
        except Exception as exc:
            down = unreachable(exc)
            requeued = down is not None and down.part != "store"
            raise
        finally:
            released = time.perf_counter()
            until = self.app.clock() + self.queue_timeout if requeued else None
            if not leases.release(engine, source_id, owner=owner, queued_until=until):
                log.warning("%s: lease had expired before the refresh ended", source_id)
            self.stats.add(lease_seconds=time.perf_counter() - released)

    def _refresh(self, source: Source, keeper: LeaseKeeper) -> Outcome:
        waiting = time.perf_counter()
        done: list[SourceResult] = []
        # The slot of the host asked: a source a 301 moved to another host is fetched there,
        # and its configured host's slot let workers ask the new one beyond max_per_host.
        with self.app.store.engine.connect() as conn:
            asked = fetched_from(conn, source.id, source.url)
        try:
            with self.slots.hold(asked) as slot, keeper.keeping_slot(slot.renew):
                self.limiter_outage.reached()
                self.stats.add(slot_wait_seconds=slot.waited)
                began = time.perf_counter()
                done = asyncio.run(self.app.refresh([source], leased=True))
                self.stats.add(refresh_seconds=time.perf_counter() - began)
        except HostBusy:
            self.limiter_outage.reached()
            self.stats.add(host_busy=1, slot_wait_seconds=time.perf_counter() - waiting)
            # The lease is released by the caller, so the source is free for whoever gets
            # the message back first.
            return Outcome(status="host busy", retry_at=self.app.clock())
        except LimiterError as exc:
            if not done:
                raise
            # Refreshed and stored; only giving back the slot failed: it expires on its own.
            log.warning(
                "%s: host slot not given back (%s): it expires within workers.lease (%s)",
                source.id,
                said(exc),
                format_duration(self.lease),
            )
        (result,) = done
        for warning in result.warnings:  # as the tick of a refresh in one process logs them
            log.warning("%s: %s", result.source_id, warning)
        if result.ok:
            self.stats.add(refreshed=1)
            return Outcome(status="refreshed")
        if isinstance(result.outcome, HostHeld):
            # Its host asked another source to wait (Retry-After): not asked, no failure of
            # the source, as a refresh in one process tells it.
            log.info("%s", result.error)
            return Outcome(status="not asked")
        log.warning("%s", result.error)
        self.stats.add(refreshed=1, failed=1)
        return Outcome(status="failed")


# A limiter command is a SET or a short script: one that has not answered in this time is
# a limiter that stopped answering (a host dropping packets, not refusing them), and the
# worker's thread says so (an outage, see worker_outages.py) instead of waiting for ever.
LIMITER_TIMEOUT_SECONDS = 10.0


def limiter_client(url: str, *, timeout: float = LIMITER_TIMEOUT_SECONDS) -> redis.Redis:
    return redis_client(url, timeout=timeout)


def open_refresher(config_dir: Path, env: dict[str, str] | None = None) -> Refresher:
    """This process's App (its own pool; migrates under the advisory lock) and host slots."""
    app = App.open(config_dir, os.environ if env is None else env, log_level=apply_log_level)
    try:
        settings: Settings = app.settings
        limiter = limiter_url(settings, os.environ if env is None else env)
        slots = HostSlots(
            limiter_client(limiter),
            prefix=f"aggregator:{settings.workers.queue}",
            limit=settings.fetch.max_per_host,
            hold=settings.workers.lease,
            wait=SLOT_WAIT,
        )
    except BaseException:
        app.close()
        raise
    return Refresher(app, slots, limiter_url=limiter)


def run_worker(
    config_dir: Path,
    *,
    threads: int,
    stop: threading.Event,
    env: dict[str, str] | None = None,
    started: Callable[[], None] | None = None,
) -> Stats:
    """Consume refresh messages with `threads` threads until `stop` is set; `started` is
    called once consuming has begun."""
    refresher = open_refresher(config_dir, env)
    workers = refresher.app.settings.workers
    watch = BrokerWatch(workers.broker_url)
    broker = build_broker(workers, watch)

    def refresh_source(source_id: str) -> None:
        outcome = refresher.handle(source_id)
        if outcome.status != "unreachable":  # that one has its warning line already
            log.info("%s: %s", source_id, outcome.status)
        if outcome.retry_at is not None:
            # A new message rather than an exception: nothing failed, it is just not now.
            delay = outcome.retry_at - refresher.app.clock()
            put_back(source_id, max(int(delay.total_seconds() * 1000), 0) + 500)

    def put_back(source_id: str, delay_ms: int) -> None:
        try:
            actor.send_with_options(args=(source_id,), delay=delay_ms)
        except BROKER_UNREACHABLE as exc:
            # The broker down too: the source is due still, so the scheduler sends it
            # again (its queued mark, if it is left, expires after workers.queue_timeout).
            log.warning(
                "%s: not put back in the queue, broker %s unreachable (%s): left to the scheduler",
                source_id,
                watch.where,
                one_line(exc),
            )

    actor = declare(broker, workers.queue, refresh_source)
    worker = dramatiq.Worker(broker, worker_threads=threads, worker_timeout=WORKER_TIMEOUT_MS)
    outage_log = BrokerOutageLog(watch)
    loggers = dramatiq_loggers(broker, worker)
    for logger in loggers:
        logger.addFilter(outage_log)
    try:
        # Before the line saying it consumes, so whoever waits for that line has seen this.
        warn_if_the_store_is_local(refresher.app.store.engine, f"worker {os.getpid()}")
        worker.start()
        log.info(
            "worker %s: %d thread(s) on queue %r, broker %s",
            os.getpid(),
            threads,
            workers.queue,
            watch.where,
        )
        if started is not None:
            started()
        stop.wait()
    finally:
        worker.stop(timeout=int(refresher.lease.total_seconds() * 1000))
        broker.close()
        refresher.app.close()
        for logger in loggers:
            logger.removeFilter(outage_log)
        log.info("worker %s stats: %s", os.getpid(), json.dumps(refresher.stats.as_dict()))
    return refresher.stats
