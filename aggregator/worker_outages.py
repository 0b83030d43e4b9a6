"""Outages of a worker's parts: the store, the limiter or the broker unreachable; and of
the scheduler's broker (`run --distributed`).

What an operator reads while a part is down: one line per source for the store and the
limiter ("<source>: store unreachable (<url>): <reason>; the message is retried in 2.0s"),
one line per reconnection attempt for the broker, and a line when the part answers again;
no tracebacks, which are for bugs. No message is dropped for an outage, however long. The
scheduler says once that its broker is unreachable and once that it is back (SendOutage).
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

import dramatiq
import dramatiq.worker
import pika.exceptions
import redis
import sqlalchemy.exc
from dramatiq.brokers.rabbitmq import RabbitmqBroker
from dramatiq.common import dq_name
from dramatiq.errors import BrokerConnectionError, ConnectionClosed, DramatiqError
from pika.adapters.utils.connection_workflow import AMQPConnectorException

from aggregator.outages import (
    OutageLog,
    causes,
    connection_lost,
    first_line,
    lasted_text,
    seconds_text,
)
from aggregator.urls import mask_password

# The worker's logger: an outage is the worker's to tell.
log = logging.getLogger("aggregator.worker")

# Retries of a message whose handler raised (store or broker down): a few, then give up;
# the scheduler sends the source again once its queued mark expires.
MAX_RETRIES = 5
MIN_BACKOFF_MS = 1_000
MAX_BACKOFF_MS = 60_000


def one_line(exc: BaseException) -> str:
    """The type and first line of `exc` (`first_line`), dramatiq's ConnectionClosed around
    the client's own error unwrapped."""
    if isinstance(exc, DramatiqError) and isinstance(exc.message, BaseException):
        exc = exc.message
    return first_line(exc)


# What a broker's client raises when the broker cannot be reached, stopped answering within
# its timeout, or dropped the connection: redis-py's errors (a timeout is not one of its
# ConnectionErrors), pika's, and dramatiq's own around either (RabbitMQ's after its retries).
# pika raises a connection whose handshake timed out (a broker that takes the TCP connection
# and says nothing) as an AMQPConnectorStackTimeout, which is no AMQPError, and dramatiq
# passes it on as it is.
BROKER_UNREACHABLE = (
    BrokerConnectionError,
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
    pika.exceptions.AMQPConnectionError,
    AMQPConnectorException,
    OSError,
)


@dataclass(frozen=True, slots=True, kw_only=True)
class Unreachable:
    """The store or the limiter could not be reached, or dropped the connection."""

    part: Literal["store", "limiter"]
    reason: str  # the client's words, on one line


def unreachable(exc: BaseException) -> Unreachable | None:
    """What `exc` (or an error it came from) says cannot be reached now: the store (a
    connection psycopg could not open or lost) or the limiter's Redis. None for any other
    error (a statement refused, a bug): those stay dramatiq's, logged with their traceback
    and retried MAX_RETRIES times."""
    for cause in causes(exc):
        if isinstance(cause, sqlalchemy.exc.DBAPIError) and connection_lost(cause):
            return Unreachable(part="store", reason=one_line(cause.orig or cause))
        if isinstance(cause, redis.exceptions.ConnectionError | redis.exceptions.TimeoutError):
            return Unreachable(part="limiter", reason=one_line(cause))
    return None


def said(exc: BaseException) -> str:
    """`exc` for a log line: on one line when it is an outage."""
    down = unreachable(exc)
    return f"{down.part} unreachable: {down.reason}" if down is not None else str(exc)


class Outage:
    """The store's or the limiter's outage as one worker process meets it.

    A message that meets it is put back with a delay as long as the outage has lasted so
    far (at least MIN_BACKOFF_MS, at most MAX_BACKOFF_MS, jittered): the attempts about
    double their spacing, as dramatiq's retries do, without being counted against
    MAX_RETRIES, so that an outage longer than five retries (31 s) loses no message.
    """

    def __init__(self, part: Literal["store", "limiter"], where: str) -> None:
        self.part = part
        self.where = where  # its URL, password masked
        self._since: float | None = None
        self._lock = threading.Lock()

    def met(self) -> timedelta:
        """The delay before a message that met the outage is tried again."""
        now = time.monotonic()
        with self._lock:
            if self._since is None:
                self._since = now
            lasted = now - self._since
        seconds = max(lasted, MIN_BACKOFF_MS / 1000) * random.uniform(1.0, 1.5)
        return timedelta(seconds=min(seconds, MAX_BACKOFF_MS / 1000))

    def reached(self) -> None:
        """The part answered: if it was unreachable, say once that it is back."""
        if self._since is None:  # the usual case, without the lock
            return
        with self._lock:
            since, self._since = self._since, None
        if since is not None:
            # A warning, as the lines it closes: shown at every level that showed them.
            log.warning(
                "%s %s reachable again (unreachable for %s)",
                self.part,
                self.where,
                lasted_text(time.monotonic() - since),
            )


class BrokerWatch:
    """A worker's broker as its consumers meet it. While it is down, each of dramatiq's
    consumer threads (a worker has two: its queue's and its delay queue's) reconnects every
    CONSUMER_RESTART_DELAY_SECS and logs each failure at CRITICAL; BrokerOutageLog makes
    that one WARNING line per attempt, and this says when the broker answers again."""

    def __init__(self, url: str) -> None:
        self.where = mask_password(url)
        self._since: float | None = None
        self._said_at = float("-inf")
        self._lock = threading.Lock()

    def lost(self, reason: str) -> str | None:
        """The line saying a reconnection attempt failed; None when another consumer's
        line said it for this attempt (the consumers reconnect in step)."""
        restart = float(dramatiq.worker.CONSUMER_RESTART_DELAY_SECS)
        now = time.monotonic()
        with self._lock:
            if self._since is None:
                self._since = now
            elif now - self._said_at < restart / 2:
                return None
            self._said_at = now
            lasted = now - self._since
        down = f"unreachable for {lasted_text(lasted)}" if lasted > 0 else "unreachable"
        return f"broker {self.where} {down} ({reason}): reconnecting in {seconds_text(restart)}"

    def answered(self, asked: float) -> None:
        """The broker answered a request sent at `asked` (time.monotonic()): if it was down
        since before that, say once that it is back. (An answer to a request sent before the
        outage was noticed proves nothing: another thread's may have met it since.)"""
        if self._since is None:  # every poll of the queue: the usual case, without the lock
            return
        with self._lock:
            since = self._since
            if since is None or asked < since:
                return
            self._since = None
        log.warning(
            "broker %s reachable again (unreachable for %s)",
            self.where,
            lasted_text(time.monotonic() - since),
        )


class SendOutage(OutageLog):
    """The broker as the scheduler's sends meet it (`run --distributed`): one WARNING when a
    send first fails, nothing more while it keeps failing (the tick's own line is at DEBUG),
    and one when a send goes through again (`OutageLog`)."""

    def __init__(self, url: str, *, tick_seconds: float, clock: Callable[[], datetime]) -> None:
        self.where = mask_password(url)
        super().__init__(
            f"broker {self.where}",
            waiting="due sources wait for it",
            tick_seconds=tick_seconds,
            clock=clock,
            logger=log,
        )


@contextmanager
def _as_connection_closed() -> Iterator[None]:
    """redis-py's connection errors and timeouts as dramatiq's ConnectionClosed: what
    dramatiq's worker meets as an outage (it reconnects the consumer; it tries an
    acknowledgement again until the broker is back). dramatiq's Redis consumer converts
    redis-py's ConnectionError in some calls only, and its TimeoutError in none: the worker
    took that for a bug of its own (a message processed but never acknowledged, "You've
    found a bug in Dramatiq"), or its consumer thread ended (raised while it closed)."""
    try:
        yield
    except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError) as exc:
        raise ConnectionClosed(exc) from None  # type: ignore[no-untyped-call]


class WatchedConsumer(dramatiq.broker.Consumer):
    """A broker's consumer, as dramatiq's worker expects it through an outage: one that
    tells `watch` each time the broker answered it (RabbitMQ's: each call of __next__ is
    a round trip; Redis's answers are seen in its broker's commands), and whose failures to
    reach Redis (timeouts included) are the BrokerConnectionError dramatiq handles; putting
    messages back at shutdown raised redis-py's own, and stopped Worker.stop half-way, with
    a traceback."""

    def __init__(self, consumer: dramatiq.broker.Consumer, watch: BrokerWatch | None) -> None:
        self.consumer = consumer
        self.watch = watch

    def __next__(self) -> dramatiq.broker.MessageProxy | None:
        asked = time.monotonic()
        with _as_connection_closed():
            message = next(self.consumer)
        if self.watch is not None:
            self.watch.answered(asked)
        return message

    def ack(self, message: dramatiq.broker.MessageProxy) -> None:
        with _as_connection_closed():
            self.consumer.ack(message)

    def nack(self, message: dramatiq.broker.MessageProxy) -> None:
        with _as_connection_closed():
            self.consumer.nack(message)

    def requeue(self, messages: Iterable[dramatiq.broker.MessageProxy]) -> None:
        with _as_connection_closed():
            self.consumer.requeue(messages)

    def close(self) -> None:
        self.consumer.close()


def _broker_failure(record: logging.LogRecord) -> BaseException | None:
    """The exception of `record` when it says the broker could not be reached."""
    exc = record.exc_info[1] if record.exc_info else None
    return exc if isinstance(exc, (*BROKER_UNREACHABLE, pika.exceptions.AMQPError)) else None


def _reason(failure: BaseException | None, record: logging.LogRecord, arg: int = 0) -> str:
    """The error a record of dramatiq's is about: its exception, or its `arg`-th argument."""
    if failure is None and isinstance(record.args, tuple) and len(record.args) > arg:
        value = record.args[arg]
        return one_line(value) if isinstance(value, BaseException) else str(value)
    return one_line(failure) if failure is not None else "?"


def _rewrite(record: logging.LogRecord, message: str) -> None:
    """`record` as one line: `message`, at WARNING at most, without its traceback."""
    record.msg, record.args = message, None
    record.levelno = min(record.levelno, logging.WARNING)
    record.levelname = logging.getLevelName(record.levelno)
    record.exc_info = record.exc_text = record.stack_info = None


# dramatiq's lines about a broker it cannot reach (dramatiq/worker.py).
CONNECTION_ERROR = "Consumer encountered a connection error: %s"
UNEXPECTED_ERROR = "Consumer encountered an unexpected error."
RESTARTING = "Restarting consumer in"
NOT_ACKNOWLEDGED = "Failed to post_process_message("
ACK_LOST = "Failed to ack message: not in known tags."  # dramatiq/brokers/rabbitmq.py
NOT_PUT_BACK = "Failed to requeue messages on queue %r."  # at shutdown


class BrokerOutageLog(logging.Filter):
    """On dramatiq's loggers in a worker: its account of a broker outage made one WARNING
    line per reconnection attempt, without tracebacks.

    dramatiq logs each attempt of each consumer at CRITICAL, then "Restarting consumer in
    3.00 seconds." (and with a traceback when the client's error is not one it wraps);
    a message whose acknowledgement waits for the broker in three lines every 5 s, and one
    whose connection was lost meanwhile as "not in known tags"; other failures to reach the
    broker (closing a connection, putting messages back at shutdown) with a traceback. Any
    other record passes unchanged.
    """

    def __init__(self, watch: BrokerWatch) -> None:
        super().__init__()
        self.watch = watch

    def filter(self, record: logging.LogRecord) -> bool:
        failure = _broker_failure(record)
        if record.msg == CONNECTION_ERROR or (record.msg == UNEXPECTED_ERROR and failure):
            line = self.watch.lost(_reason(failure, record))
            if line is None:
                return False
            _rewrite(record, line)
        elif isinstance(record.msg, str) and record.msg.startswith(RESTARTING):
            return False  # said by the line before it: "reconnecting in 3.0s"
        elif isinstance(record.msg, str) and record.msg.startswith(NOT_ACKNOWLEDGED):
            message = record.args[0] if isinstance(record.args, tuple) and record.args else "?"
            _rewrite(
                record,
                f"{message}: not acknowledged yet, broker {self.watch.where} unreachable "
                f"({_reason(failure, record, 1)}): trying again every "
                f"{dramatiq.worker.POST_PROCESS_MESSAGE_RETRY_DELAY_SECS}s (if this worker "
                "stops first, the message is processed again)",
            )
        elif record.msg == ACK_LOST:
            _rewrite(
                record,
                "a message was done after the connection it came on was lost: RabbitMQ "
                "delivers it again, and a source already refreshed is found not due",
            )
        elif record.msg == NOT_PUT_BACK and failure is not None:
            queue = record.args[0] if isinstance(record.args, tuple) and record.args else "?"
            _rewrite(
                record,
                f"the messages of queue {queue!r} this worker had taken but not started are "
                f"not given back, broker {self.watch.where} unreachable ({one_line(failure)}): "
                "Redis gives them to another worker once this one's heartbeat has expired",
            )
        elif failure is not None:
            _rewrite(record, f"{record.getMessage()} {one_line(failure)}")
        return True


def dramatiq_loggers(broker: dramatiq.Broker, worker: dramatiq.Worker) -> list[logging.Logger]:
    """dramatiq's loggers that tell of a worker's broker outage: the consumer threads' (one
    per queue, named after it, created when the worker starts: named here beforehand, so
    that a broker down at start is said in our lines too), the worker's and the brokers'."""
    queues = broker.get_declared_queues() | broker.get_declared_delay_queues()
    queues |= {dq_name(name) for name in queues}
    names = [f"{dramatiq.worker.__name__}.ConsumerThread({name})" for name in sorted(queues)]
    names.append(f"{RabbitmqBroker.__module__}._RabbitmqConsumer")
    return [logging.getLogger(name) for name in names] + [worker.logger, broker.logger]
