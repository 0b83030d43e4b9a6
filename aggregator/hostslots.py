"""Per-host politeness shared by every worker process on every machine, kept in Redis.

A host has `limit` slots; a fetch holds one. Each slot is a redis-py `Lock` (SET NX PX with
a random token, released by a compare-and-delete script), so:

- two workers can never hold the same slot (Redis decides, atomically);
- each holder's slot expires on its own `hold` after it was taken or last renewed (a fetch
  that outlasts `hold` renews it): a worker killed mid-fetch blocks its slot for at most
  that long. (Dramatiq's `ConcurrentRateLimiter` keeps one counter per key
  whose TTL every acquire and release pushes back, so on a busy host a killed worker's
  count would never expire; that is why it is not used here.)

Waiting is polling with a short jittered sleep, up to `wait`; then `HostBusy`, and the
message is retried later by the broker.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlsplit

import redis
import redis.exceptions

from aggregator.errors import AggregatorError

POLL_SECONDS = 0.05


class HostBusy(AggregatorError):
    """Every slot of a host stayed taken for the whole wait."""

    def __init__(self, host: str, waited: float) -> None:
        self.host = host
        super().__init__(f"every slot of {host!r} stayed busy for {waited:.1f}s")


class LimiterError(AggregatorError):
    """The limiter's Redis failed."""


def host_of(url: str) -> str:
    """The politeness key of a URL: its host and port, lower case."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    return f"{host}:{parts.port}" if parts.port else host


@dataclass(frozen=True, slots=True, kw_only=True)
class SlotStats:
    """How long acquiring took: the time politeness cost this fetch."""

    waited: float
    # Push the slot's expiry out to `hold` again, for a fetch that outlasts it; False when
    # the slot had expired and is someone else's now. Only while the slot is held.
    renew: Callable[[], bool]


class HostSlots:
    """`with slots.hold(url): fetch(url)` — at most `limit` holders per host, everywhere."""

    def __init__(
        self,
        client: redis.Redis,
        *,
        prefix: str,
        limit: int,
        hold: timedelta,
        wait: timedelta,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if limit < 1:
            raise ValueError("limit must be at least 1")
        self.client = client
        self.prefix = prefix
        self.limit = limit
        self.hold_seconds = hold.total_seconds()
        self.wait_seconds = wait.total_seconds()
        self._monotonic = monotonic
        self._sleep = sleep

    def _key(self, host: str, slot: int) -> str:
        return f"{self.prefix}:host:{host}:{slot}"

    def _try(self, host: str) -> redis.lock.Lock | None:
        slots = list(range(self.limit))
        random.shuffle(slots)  # spread holders over the slots: fewer failed SETs
        for slot in slots:
            lock: redis.lock.Lock = self.client.lock(
                self._key(host, slot), timeout=self.hold_seconds, thread_local=False
            )
            if lock.acquire(blocking=False):
                return lock
        return None

    @contextmanager
    def hold(self, url: str) -> Iterator[SlotStats]:
        host = host_of(url)
        started = self._monotonic()
        try:
            lock = self._try(host)
            while lock is None:
                waited = self._monotonic() - started
                if waited >= self.wait_seconds:
                    raise HostBusy(host, waited)
                self._sleep(POLL_SECONDS * (0.5 + random.random()))
                lock = self._try(host)
        except redis.exceptions.RedisError as exc:
            raise LimiterError(f"host limiter: {type(exc).__name__}: {exc}") from exc
        try:
            yield SlotStats(waited=self._monotonic() - started, renew=_renewer(lock))
        finally:
            try:
                lock.release()
            except redis.exceptions.LockNotOwnedError:
                pass  # held past `hold`: the slot had expired and may be someone else's now
            except redis.exceptions.RedisError as exc:
                raise LimiterError(f"host limiter: {type(exc).__name__}: {exc}") from exc

    def busy(self, url: str) -> int:
        """How many slots of the URL's host are held now (for tests and operators)."""
        host = host_of(url)
        keys = [self._key(host, slot) for slot in range(self.limit)]
        try:
            return int(self.client.exists(*keys))
        except redis.exceptions.RedisError as exc:
            raise LimiterError(f"host limiter: {type(exc).__name__}: {exc}") from exc


def _renewer(lock: redis.lock.Lock) -> Callable[[], bool]:
    def renew() -> bool:
        try:
            return lock.reacquire()
        except redis.exceptions.LockNotOwnedError:
            return False
        except redis.exceptions.RedisError as exc:
            raise LimiterError(f"host limiter: {type(exc).__name__}: {exc}") from exc

    return renew
