"""The store's "generation": a value that changes whenever the stored data may have changed.

The response cache (microcache.py) keeps an answer only while the generation it was built
under is current, so a page is never served stale after a write it can observe:

- writes through this process's engine (a refresh by the scheduler in the server, POST
  /api/v1/refresh, tests): a counter bumped when a connection that committed goes back to
  the pool. That is *after* the commit completed, so a reader that read the old counter
  before its query may have missed the write, and its entry is thrown away; bumping at the
  commit event instead would fire before the commit, and a query in between could store a
  pre-write page under the new counter.
- writes by other processes on SQLite (`aggregator run`, a cron'd `refresh`, other
  workers): `PRAGMA data_version` on a dedicated read-only connection, which changes
  whenever any other connection committed to the database file. It reads the WAL index
  in shared memory: microseconds, cheap enough to ask on every request.
- writes by other processes on PostgreSQL are not observed: there the cache's TTL
  (`api.cache_seconds`) bounds how long they may go unseen.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Hashable
from typing import Any
from urllib.parse import quote

from sqlalchemy import Connection, Engine, event

from aggregator.errors import StoreError

WROTE = "aggregator_committed"  # key in the pooled connection's info dict

Generation = Callable[[], Hashable]


class CommitCounter:
    """Counts commits through one engine, each counted once its connection is checked in."""

    def __init__(self, engine: Engine) -> None:
        self._lock = threading.Lock()
        self._value = 0

        @event.listens_for(engine, "commit")
        def _committed(conn: Connection) -> None:
            conn.info[WROTE] = True

        @event.listens_for(engine, "checkin")
        def _checked_in(_dbapi_conn: Any, record: Any) -> None:
            if record is not None and record.info.pop(WROTE, False):
                with self._lock:
                    self._value += 1

    @property
    def value(self) -> int:
        return self._value


class DataVersion:
    """`PRAGMA data_version` of a SQLite file, on a connection of its own (read-only)."""

    def __init__(self, database: str) -> None:
        self.database = database
        self._conn: sqlite3.Connection | None = None

    def __call__(self) -> int:
        if self._conn is None:
            uri = (
                self.database
                if self.database.startswith("file:")
                else ("file:" + quote(self.database) + "?mode=ro")
            )
            try:
                self._conn = sqlite3.connect(uri, uri=True, check_same_thread=False)
            except sqlite3.Error as exc:
                raise StoreError(f"cannot open {self.database} to watch it: {exc}") from exc
        row = self._conn.execute("PRAGMA data_version").fetchone()
        return int(row[0])

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


def in_memory(database: str) -> bool:
    return database in ("", ":memory:") or database.startswith("file::memory:")


def store_generation(engine: Engine) -> tuple[Generation, Callable[[], None]]:
    """The generation function for the store behind `engine`, and how to release it."""
    counter = CommitCounter(engine)
    database = engine.url.database or ""
    if engine.dialect.name != "sqlite" or in_memory(database):
        # In memory: one connection in one process, so the counter sees every write.
        return (lambda: counter.value), lambda: None
    version = DataVersion(database)
    return (lambda: (counter.value, version())), version.close
