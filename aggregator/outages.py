"""Outages of the parts a long-running command depends on, as its log tells them: one line
when a part is first found unreachable, nothing more while it stays so, one when it answers
again, with how long it was away.

Light on purpose (no broker clients): `aggregator run` without `--distributed` uses it for
its store. The workers' own outages, and the broker's, are in worker_outages.py.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from datetime import datetime

import psycopg
import sqlalchemy.exc

# PostgreSQL's SQLSTATEs of a server that cannot be reached now: a connection exception
# (class 08), shutting down or starting up (57P01-57P03), no connection slot left (53300).
UNREACHABLE_SQLSTATES = ("08", "57P", "53300")


def causes(exc: BaseException) -> Iterator[BaseException]:
    """`exc`, then what it was raised from or while handling, outermost first."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def first_line(exc: BaseException) -> str:
    """The type and first line of `exc`: "OperationalError: connection failed: ... refused"
    (psycopg adds a hint, SQLAlchemy a link, each on a line of its own)."""
    name = type(exc).__name__
    # pika's connection errors say nothing in str(), all in repr(): "AMQPConnectionError: (...)"
    lines = (str(exc).strip() or repr(exc)).splitlines()
    first = lines[0].removeprefix(f"{name}: ").removeprefix(f"{name}()")
    # Without a full stop of its own (redis-py ends with one): the line goes on after it.
    first = first.removesuffix(".")
    return f"{name}: {first}" if first else name


def seconds_text(value: float) -> str:
    return f"{value:.1f}s" if value < 10 else f"{value:.0f}s"


def lasted_text(seconds: float) -> str:
    """How long an outage lasted, as an operator reads it: "4.2s", "2m 10s", "3h 5m"."""
    if seconds < 60:
        return seconds_text(seconds)
    minutes, rest = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes}m {rest}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes}m"


def connection_lost(error: sqlalchemy.exc.DBAPIError) -> bool:
    """Whether the store's `error` says it cannot be reached now (not that it refused a
    statement)."""
    if error.connection_invalidated:  # SQLAlchemy's own judgement of a dropped connection
        return True
    if not isinstance(error.orig, psycopg.OperationalError):
        return False
    # No SQLSTATE: the client's own failure (refused, timed out, closed by the peer).
    state = error.orig.sqlstate
    return state is None or state.startswith(UNREACHABLE_SQLSTATES)


def store_unreachable(exc: BaseException) -> str | None:
    """The reason, on one line, when `exc` (or an error it came from) says the store cannot
    be reached now; None for any other error."""
    for cause in causes(exc):
        if isinstance(cause, sqlalchemy.exc.DBAPIError) and connection_lost(cause):
            return first_line(cause.orig or cause)
    return None


class OutageLog:
    """A part as a service's ticks meet it. While it is down every tick tries it again and
    fails; the operator reads one line when it is first met (at `level`), nothing more
    while it lasts (the callers' own lines go to DEBUG), and one WARNING when it answers
    again. Timed by the service's clock; ticks may overlap, hence the lock."""

    def __init__(
        self,
        part: str,
        *,
        waiting: str,
        tick_seconds: float,
        clock: Callable[[], datetime],
        logger: logging.Logger,
        level: int = logging.WARNING,
    ) -> None:
        self.part = part  # "broker <url>", "store <url>" (passwords masked)
        self.waiting = waiting  # what waits for it: "due sources wait for it"
        self.tick_seconds = tick_seconds
        self.clock = clock
        self.log = logger
        self.level = level
        self._since: datetime | None = None
        self._lock = threading.Lock()

    def met(self, reason: str) -> bool:
        """The part could not be reached, for `reason` (one line): True when this is the
        start of the outage, said now; False while it lasts."""
        with self._lock:
            if self._since is not None:
                return False
            self._since = self.clock()
        self.log.log(
            self.level,
            "%s unreachable (%s): %s; retrying every tick (%s)",
            self.part,
            reason,
            self.waiting,
            seconds_text(self.tick_seconds),
        )
        return True

    def passed(self) -> None:
        """The part answered: if it was unreachable, say once that it is back."""
        with self._lock:
            since, self._since = self._since, None
        if since is not None:
            lasted = (self.clock() - since).total_seconds()
            self.log.warning(
                "%s reachable again (unreachable for %s)", self.part, lasted_text(lasted)
            )
