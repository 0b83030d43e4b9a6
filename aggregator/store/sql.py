"""`SqlStore`: the one Store implementation, for SQLite and PostgreSQL alike.

It owns the engine and the transactions; the SQL itself lives in sources.py and items.py.
Every public method turns SQLAlchemy's errors into `StoreError`, naming the database
(password masked) and the driver's message (never the statement: it may hold item text).
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import sqlite3
import sys
import threading
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Concatenate, ParamSpec, TypeVar

import sqlalchemy.exc
from sqlalchemy import Engine, text
from sqlalchemy.engine import Connection

from aggregator.errors import SourceError, StoreDataError, StoreError
from aggregator.models import (
    CacheValidators,
    Item,
    NotModifiedRecord,
    Refreshed,
    Revision,
    Rhythm,
    Source,
    SourceHealth,
    StoredItem,
)
from aggregator.store import items as item_sql
from aggregator.store import sources as source_sql
from aggregator.store.conflicts import store_error
from aggregator.store.engine import (
    SQLITE_PRAGMAS,
    WRITE_OPTION,
    create_store_engine,
    describe,
    masked,
    sqlite_file,
)
from aggregator.store.migrate import upgrade

if TYPE_CHECKING:  # the dedupe stage is imported by the first write that needs it
    from aggregator.dedupe.records import Fingerprint

log = logging.getLogger(__name__)

P = ParamSpec("P")
R = TypeVar("R")

# Items per page of iter_items: memory stays flat however large the archive.
PAGE_SIZE = 500


def wrap_errors(
    method: Callable[Concatenate[SqlStore, P], R],
) -> Callable[Concatenate[SqlStore, P], R]:
    @functools.wraps(method)
    def wrapper(self: SqlStore, /, *args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return method(self, *args, **kwargs)
        except sqlalchemy.exc.SQLAlchemyError as exc:
            message = f"{method.__name__} failed on {self.url}: {describe(exc)}"
            if _refuses_the_data(exc):
                raise StoreDataError(message, reason=describe(exc)) from exc
            raise store_error(message, exc) from exc

    return wrapper


# SQLSTATE classes of errors about the values written, not the database: 22 data exception
# (a NUL in a text, a value out of range), 54 program limit exceeded (an index row over
# PostgreSQL's 2,704 bytes).
_DATA_SQLSTATE_CLASSES = ("22", "54")


def _refuses_the_data(exc: sqlalchemy.exc.SQLAlchemyError) -> bool:
    if isinstance(exc, sqlalchemy.exc.DataError):
        return True
    sqlstate = getattr(getattr(exc, "orig", None), "sqlstate", None) or ""
    return sqlstate[:2] in _DATA_SQLSTATE_CLASSES


DEFAULT_WINDOW = timedelta(days=30)
# pg_advisory_xact_lock key for cluster assignment ("aggclust" as a 64-bit integer).
CLUSTER_LOCK_KEY = int.from_bytes(b"aggclust", "big") & 0x7FFF_FFFF_FFFF_FFFF


class SqlStore:
    """The store over SQLAlchemy Core. Build it with `open_store`."""

    def __init__(self, engine: Engine, *, dedupe_window: timedelta = DEFAULT_WINDOW) -> None:
        self.engine = engine
        # Dedupe only compares items first seen within this window of each other.
        self.dedupe_window = dedupe_window
        self.dialect: str = engine.dialect.name
        self.url = masked(engine.url)
        # Transactions that write take SQLite's write lock at BEGIN (see engine.py).
        self._batch = threading.local()  # .conn: the open write_batch of this thread
        self._writer = engine.execution_options(**{WRITE_OPTION: True})
        self._catching_up = threading.Lock()  # one search-time catch-up at a time

    def __repr__(self) -> str:
        return f"SqlStore({self.url!r})"

    def _write(self) -> AbstractContextManager[Connection]:
        batch: Connection | None = getattr(self._batch, "conn", None)
        if batch is not None:
            return _savepoint(batch)
        return self._writer.begin()

    @contextlib.contextmanager
    def write_batch(self) -> Iterator[None]:
        """Make this thread's writes inside one transaction, each write in a savepoint.

        A commit costs more than a source's rows, and a refresh writes hundreds of sources a
        second. Each write method still applies whole or not at all: one that fails rolls back
        to its savepoint and the batch goes on. Nothing is durable before the block ends, so a
        caller reports the writes' results only after it. Nested use joins the outer batch.
        The batch's new and changed items are deduped together when it ends, before it
        commits (`_cluster_batch`).
        """
        if getattr(self._batch, "conn", None) is not None:
            yield
            return
        committed: Callable[[], None] | None = None
        try:
            with self._writer.begin() as conn:
                self._batch.conn = conn
                self._batch.unclustered = []
                try:
                    yield
                    lost = conn.info.get(_BATCH_LOST)
                    if lost is not None:  # whatever the caller made of the write's error
                        raise BatchLost(f"write batch failed on {self.url}: {lost}") from lost
                    committed = self._cluster_batch(conn, self._batch.unclustered)
                finally:
                    conn.info.pop(_BATCH_LOST, None)
                    self._batch.conn = None
                    self._batch.unclustered = None
        except sqlalchemy.exc.SQLAlchemyError as exc:
            raise store_error(f"write batch failed on {self.url}: {describe(exc)}", exc) from exc
        if committed is not None:
            committed()

    def _cluster_batch(
        self, conn: Connection, saved: Sequence[_Unclustered]
    ) -> Callable[[], None] | None:
        """Dedupe the new and changed items of a write batch in one call, before it commits.

        One call for the batch's sources instead of one each: its lookups and writes go in a
        few statements for all of them, and the cluster lock is held from here to the commit
        only. Should it fail, each source's items are clustered on their own, so one source's
        bad data costs only its own items their folding (they stay stored, each in its own
        cluster, and the failure is logged).
        """
        if not saved:
            return None
        twice = _saved_twice(saved)
        try:
            with _savepoint(conn):
                self._cluster(
                    conn,
                    [item_id for one in saved for item_id in one.item_ids],
                    now=max(one.now for one in saved),
                    fingerprints={k: v for one in saved for k, v in one.fingerprints.items()},
                    new_rows=[
                        row for one in saved if one.source_id not in twice for row in one.new_rows
                    ],
                )
            return self._after_commit(conn)
        except (sqlalchemy.exc.SQLAlchemyError, StoreError) as exc:  # rolled back to it
            log.warning("dedupe of a write batch failed, each source alone: %s", describe(exc))
        for one in saved:
            try:
                with _savepoint(conn):
                    self._cluster(
                        conn,
                        one.item_ids,
                        now=one.now,
                        fingerprints=one.fingerprints,
                        new_rows=() if one.source_id in twice else one.new_rows,
                    )
            except (sqlalchemy.exc.SQLAlchemyError, StoreError) as exc:
                log.error(
                    "dedupe of %d new or changed items of %s failed, left unfolded: %s",
                    len(one.item_ids),
                    one.source_id,
                    describe(exc),
                )
        return self._after_commit(conn)

    def _after_commit(self, conn: Connection) -> Callable[[], None] | None:
        """What dedupe does once the batch has committed (`clusters.after_commit`), or
        nothing if finding that out fails: the next batch reads the rows back instead."""
        from aggregator.store.clusters import after_commit

        try:
            with _savepoint(conn):
                return after_commit(conn)
        except sqlalchemy.exc.SQLAlchemyError as exc:
            log.warning("dedupe's index will read this batch back: %s", describe(exc))
            return None

    def _read(self) -> AbstractContextManager[Connection]:
        return self.engine.connect()

    def close(self) -> None:
        self.engine.dispose()

    def _cluster(
        self,
        conn: Connection,
        item_ids: Sequence[int],
        *,
        now: datetime,
        fingerprints: Mapping[int, Fingerprint] | None = None,
        new_rows: Sequence[item_sql.NewRow] = (),
    ) -> None:
        """Dedupe, in the transaction that stored the items: both commit, or neither."""
        # Imported with the first new item: the dedupe stage (numpy and the decision rules)
        # is not needed by a refresh where every source is unchanged.
        from aggregator.store.clusters import assign_clusters

        if self.dialect == "postgresql":
            # Concurrent writers (worker processes) would each miss the other's uncommitted
            # copy of the same statement; one transaction-scoped lock makes them take turns.
            # SQLite needs none: BEGIN IMMEDIATE already serialises writers.
            conn.execute(text("select pg_advisory_xact_lock(:key)"), {"key": CLUSTER_LOCK_KEY})
        assign_clusters(
            conn,
            item_ids,
            now=now,
            window=self.dedupe_window,
            fingerprints=fingerprints,
            new_rows=new_rows,
        )

    @wrap_errors
    def sync_sources(self, sources: Sequence[Source], *, now: datetime) -> None:
        if getattr(self._batch, "conn", None) is None:
            with self._read() as conn:
                if source_sql.in_sync(conn, sources):
                    return  # no write transaction (on SQLite, no write lock) for nothing
        with self._write() as conn:
            source_sql.sync(conn, sources, now=now)

    @wrap_errors
    def source_health(self, ids: Sequence[str] | None = None) -> list[SourceHealth]:
        with self._read() as conn:
            return source_sql.health(conn, ids)

    @wrap_errors
    def fetch_state(self, source_id: str) -> SourceHealth | None:
        found = self.fetch_states([source_id])
        return found[0] if found else None

    @wrap_errors
    def fetch_states(self, ids: Sequence[str]) -> list[SourceHealth]:
        with self._read() as conn:
            return source_sql.health(conn, ids, counts=False)

    @wrap_errors
    def fetch_log_mark(self) -> int:
        """Where the fetch log ends now: `logged_since` reads what a refresh logs after it."""
        with self._read() as conn:
            return source_sql.fetch_log_mark(conn)

    @wrap_errors
    def logged_since(self, mark: int, source_ids: Sequence[str]) -> list[source_sql.LoggedFetch]:
        with self._read() as conn:
            return source_sql.logged_since(conn, mark, source_ids)

    @wrap_errors
    def known_hashes(self, source_id: str) -> dict[str, str]:
        with self._read() as conn:
            return item_sql.known_hashes(conn, source_id)

    @wrap_errors
    def save_refresh(
        self,
        source_id: str,
        items: Sequence[Item],
        *,
        now: datetime,
        seconds: float,
        validators: CacheValidators,
        url: str,
        permanent_url: str | None,
        next_fetch_at: datetime,
        seen: int,
        warnings: Sequence[str] = (),
        fingerprints: Mapping[str, Fingerprint] | None = None,
        document_digest: str | None = None,
        rhythm: Rhythm | None = None,
    ) -> Refreshed:
        foreign = [item.identity for item in items if item.source_id != source_id]
        if foreign:
            raise StoreError(
                f"save_refresh({source_id!r}, {url}): items of another source: {foreign[:3]}"
            )
        # In a write batch, dedupe waits for the batch's end (`_cluster_batch`): the items
        # are clustered before the batch commits, so items and clusters still commit together.
        deferred: list[_Unclustered] | None = getattr(self._batch, "unclustered", None)
        with self._write() as conn:
            reading = source_sql.lock(conn, source_id)
            saved = item_sql.save(conn, source_id, items, now=now, reread=reading is not None)
            given = fingerprints or {}
            fingerprinted = {
                item_id: given[identity]
                for item_id, identity in zip(
                    saved.changed_ids, saved.changed_identities, strict=True
                )
                if identity in given
            }
            if saved.changed_ids and deferred is None:
                self._cluster(
                    conn,
                    saved.changed_ids,
                    now=now,
                    fingerprints=fingerprinted,
                    new_rows=saved.new_rows,
                )
            status = "new" if saved.new else "updated" if saved.updated else "unchanged"
            source_sql.record_success(
                conn,
                source_id,
                status=status,
                now=now,
                validators=validators,
                permanent_url=permanent_url,
                next_fetch_at=next_fetch_at,
                seen=seen,
                document_digest=document_digest,
                warnings=(*warnings, *saved.warnings),
                read_with=reading,
                rhythm=rhythm,
            )
            source_sql.log_fetch(
                conn,
                source_sql.fetch_log_row(
                    source_id,
                    now=now,
                    seconds=seconds,
                    status=status,
                    new=saved.new,
                    updated=saved.updated,
                ),
            )
        if saved.changed_ids and deferred is not None:  # its savepoint stood
            deferred.append(
                _Unclustered(source_id, saved.changed_ids, fingerprinted, now, saved.new_rows)
            )
        return Refreshed(
            new=saved.new,
            updated=saved.updated,
            unchanged=saved.unchanged,
            seen=seen,
            warnings=(*warnings, *saved.warnings),
        )

    @wrap_errors
    def retag(self, tags_by_item: Mapping[int, Sequence[str]], *, now: datetime) -> None:
        """Replace the tags of the given items, in one transaction."""
        with self._write() as conn:
            item_sql.retag(conn, tags_by_item, now=now)

    @wrap_errors
    def record_not_modified(
        self,
        source_id: str,
        *,
        now: datetime,
        seconds: float,
        next_fetch_at: datetime,
        permanent_url: str | None = None,
        validators: CacheValidators | None = None,
    ) -> None:
        with self._write() as conn:
            source_sql.record_not_modified(
                conn,
                source_id,
                now=now,
                next_fetch_at=next_fetch_at,
                permanent_url=permanent_url,
                validators=validators,
            )
            source_sql.log_fetch(
                conn,
                source_sql.fetch_log_row(
                    source_id, now=now, seconds=seconds, status="not modified"
                ),
            )

    @wrap_errors
    def record_not_modified_many(self, records: Sequence[NotModifiedRecord]) -> None:
        with self._write() as conn:
            source_sql.record_not_modified_many(conn, records)

    @wrap_errors
    def record_failure(
        self,
        source_id: str,
        error: SourceError,
        *,
        now: datetime,
        seconds: float,
        next_fetch_at: datetime,
    ) -> None:
        with self._write() as conn:
            source_sql.record_failure(conn, source_id, error, now=now, next_fetch_at=next_fetch_at)
            source_sql.log_fetch(
                conn,
                source_sql.fetch_log_row(
                    source_id,
                    now=now,
                    seconds=seconds,
                    status=source_sql.failure_status(error),
                    error=error,
                ),
            )

    @wrap_errors
    def make_rereads_due(self, readings: Mapping[str, str], *, now: datetime) -> None:
        with self._read() as conn:
            due = source_sql.reread_due(conn, readings, now=now)
        if due:
            with self._write() as conn:
                source_sql.make_due(conn, due, now=now)

    @wrap_errors
    def apply_readings(self, readings: Mapping[str, str]) -> None:
        with self._read() as conn:
            todo = source_sql.readings_to_apply(conn, readings)
        if todo:
            with self._write() as conn:
                source_sql.apply_readings(conn, todo)

    @wrap_errors
    def waiting_sources(self, *, now: datetime) -> list[SourceHealth]:
        with self._read() as conn:
            return source_sql.waiting(conn, now=now)

    @wrap_errors
    def postpone(self, source_id: str, *, until: datetime) -> None:
        with self._write() as conn:
            source_sql.postpone(conn, source_id, until=until)

    def catch_up_search(self, *, wait: float | None = None) -> int:
        """Bring the full-text index up to date before a search: the items stored since the
        last one (SQLite; `store.search.catch_up`). Returns how many were indexed. A store it
        cannot write to (another writer past the busy timeout, a read-only file) is logged
        and searched as it is: the search then misses only what waits. `wait`: seconds to
        wait for another writer at most, instead of the store's busy timeout (a search
        answered on the index as it is beats one that waits out a long refresh)."""
        from aggregator.store import search

        if self.dialect != "sqlite":  # PostgreSQL's index is written with each row
            return 0
        try:
            with self._read() as conn:
                if not search.index_behind(conn):
                    return 0
            if wait is None or getattr(self._batch, "conn", None) is not None:
                with self._write() as conn:
                    indexed = search.catch_up(conn)
            elif not self._catching_up.acquire(blocking=False):
                return 0  # another search of this process is taking them in: not twice
            else:
                try:
                    indexed = self._catch_up_waiting(wait)
                finally:
                    self._catching_up.release()
        except sqlalchemy.exc.SQLAlchemyError as exc:
            # Another writer for longer than a search waits is no fault (a refresh, a
            # prune): said, not warned of, when the search asked to wait that little.
            level = logging.INFO if wait is not None and "locked" in str(exc) else logging.WARNING
            log.log(
                level,
                "full-text index of %s not brought up to date, searching it as it is: %s",
                self.url,
                describe(exc),
            )
            return 0
        log.debug("full-text index took in %d items", indexed)
        return indexed

    def _catch_up_waiting(self, wait: float) -> int:
        from aggregator.store import search

        with self._writer.connect() as conn:
            # Before BEGIN IMMEDIATE, which waits for the write lock as the pragma says.
            driver = conn.connection.driver_connection
            assert driver is not None
            driver.execute(f"PRAGMA busy_timeout={max(int(wait * 1000), 0)}")
            try:
                with conn.begin():
                    return search.catch_up(conn)
            finally:
                driver.execute(SQLITE_PRAGMAS[0])  # the store's own busy timeout again

    @wrap_errors
    def due_source_ids(self, *, now: datetime, early: timedelta = timedelta(0)) -> list[str]:
        with self._read() as conn:
            return source_sql.due(conn, now=now, early=early)

    def iter_items(
        self,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        source_ids: Sequence[str] | None = None,
        changed_since: datetime | None = None,
    ) -> Iterator[StoredItem]:
        # Keyset paging, one short read per page: no transaction (or SQLite read snapshot)
        # stays open while the caller works through millions of items.
        after: tuple[datetime, int] | None = None
        while True:
            batch = self._page(since, until, source_ids, after, changed_since)
            yield from batch
            if len(batch) < PAGE_SIZE:
                return
            after = (batch[-1].first_seen, batch[-1].id)

    @wrap_errors
    def _page(
        self,
        since: datetime | None,
        until: datetime | None,
        source_ids: Sequence[str] | None,
        after: tuple[datetime, int] | None,
        changed_since: datetime | None = None,
    ) -> list[StoredItem]:
        with self._read() as conn:
            return item_sql.page(
                conn,
                since=since,
                until=until,
                source_ids=source_ids,
                after=after,
                limit=PAGE_SIZE,
                changed_since=changed_since,
            )

    @wrap_errors
    def get_item(self, item_id: int) -> StoredItem | None:
        with self._read() as conn:
            return item_sql.get(conn, item_id)

    @wrap_errors
    def revisions(self, item_id: int) -> list[Revision]:
        with self._read() as conn:
            return item_sql.revisions(conn, item_id)

    @wrap_errors
    def item_count(self) -> int:
        with self._read() as conn:
            return item_sql.count(conn)


@dataclass(frozen=True, slots=True)
class _Unclustered:
    """A source's items saved in a write batch, to be deduped at its end."""

    source_id: str
    item_ids: Sequence[int]
    fingerprints: Mapping[int, Fingerprint]
    now: datetime
    new_rows: Sequence[item_sql.NewRow] = ()


def _saved_twice(saved: Sequence[_Unclustered]) -> set[str]:
    """The sources saved more than once in a write batch. A later save may have changed,
    renamed or redated the new items of an earlier one: their rows are read back from the
    database, not taken from `new_rows`."""
    counts = Counter(one.source_id for one in saved)
    return {source_id for source_id, count in counts.items() if count > 1}


class BatchLost(StoreError):
    """The database ended a write batch's transaction itself: every write of the batch is
    gone, those that had succeeded too."""


# Where `_savepoint` leaves the BatchLost of its batch (the connection's info), for the
# batch's later writes and for `write_batch`, which must not commit as if they stood.
_BATCH_LOST = "aggregator.batch_lost"


@contextlib.contextmanager
def _savepoint(conn: Connection) -> Iterator[Connection]:
    lost = conn.info.get(_BATCH_LOST)
    if lost is not None:
        raise lost
    nested = conn.begin_nested()
    try:
        yield conn
    except BaseException as exc:
        if not _ended_by_the_database(conn):
            nested.rollback()
            raise
        # SQLite rolls the whole transaction back on a full disk or an I/O error: rolling
        # back to the savepoint then failed with "no such savepoint", which hid the cause,
        # and the batch's earlier writes, reported stored, were lost; later ones would have
        # run outside any transaction.
        cause = describe(exc) if isinstance(exc, sqlalchemy.exc.SQLAlchemyError) else str(exc)
        error = BatchLost(
            f"the database ended the write batch itself ({cause}): none of its writes is stored"
        )
        conn.info[_BATCH_LOST] = error
        raise error from exc
    nested.commit()


def _ended_by_the_database(conn: Connection) -> bool:
    """Whether the transaction `conn` is in was ended under it by the database: SQLite's
    automatic rollback (SQLITE_FULL, SQLITE_IOERR, SQLITE_NOMEM). PostgreSQL keeps a failed
    transaction open for the rollback to its savepoint."""
    dbapi = conn.connection.dbapi_connection
    return isinstance(dbapi, sqlite3.Connection) and not dbapi.in_transaction


def _read_only_folder(exc: sqlalchemy.exc.SQLAlchemyError, engine: Engine) -> str:
    """Why SQLite calls a store whose file is writable "a readonly database": the folder
    it is in is not, and SQLite makes its -wal and -shm files beside the store there."""
    if "readonly database" not in describe(exc):
        return ""
    path = sqlite_file(engine.url.render_as_string(hide_password=False))
    if path is None:
        return ""
    folder = path.resolve().parent
    if os.access(folder, os.W_OK):
        return ""
    return (
        f" (the folder {folder} is not writable: SQLite makes the store's -wal and -shm "
        "files there, also to read it)"
    )


def open_store(
    database_url: str, *, migrate: bool = True, dedupe_window: timedelta = DEFAULT_WINDOW
) -> SqlStore:
    """Open (and by default migrate) the database; fails fast with StoreError if unreachable."""
    engine = create_store_engine(database_url)
    try:
        if migrate:
            upgrade(engine)
        else:
            with engine.connect() as conn:
                conn.execute(text("select 1"))
    except sqlalchemy.exc.SQLAlchemyError as exc:
        engine.dispose()
        raise StoreError(
            f"cannot open database {masked(engine.url)}: {describe(exc)}"
            f"{_read_only_folder(exc, engine)}"
        ) from exc
    except Exception as exc:
        engine.dispose()
        # Alembic is imported only when a migration runs (migrate.upgrade), so its error
        # class is looked up, not imported: e.g. a database migrated by a newer release.
        alembic_util = sys.modules.get("alembic.util")
        if alembic_util is not None and isinstance(exc, alembic_util.CommandError):
            raise StoreError(f"cannot migrate database {masked(engine.url)}: {exc}") from exc
        raise
    return SqlStore(engine, dedupe_window=dedupe_window)
