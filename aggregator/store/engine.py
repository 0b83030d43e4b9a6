"""Engines for SQLite (the embedded default) and PostgreSQL (psycopg 3), set up the same way.

SQLite gets, on every new connection: WAL (readers never block the writer), foreign keys
(off by default in SQLite), a busy timeout (a second process waits instead of failing), and
synchronous=NORMAL (safe with WAL, much faster than FULL). Transactions are begun by us,
not by the sqlite3 module, so that DDL is transactional and a write transaction can take
the write lock up front (``BEGIN IMMEDIATE``): a deferred transaction that reads first and
writes later can fail with "database is locked" without ever waiting for the busy timeout.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import sqlalchemy
from sqlalchemy import Engine, event
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.pool import StaticPool

from aggregator.errors import StoreError
from aggregator.urls import mask_password

# Execution option that makes the next transaction on SQLite a BEGIN IMMEDIATE.
WRITE_OPTION = "aggregator_write"

SQLITE_BUSY_TIMEOUT_MS = 30_000
# Pruning gives pages back with PRAGMA incremental_vacuum (store/retention.py). It takes
# effect only on a database with no tables yet, and only when set before journal_mode: on an
# older database it is a no-op until the first full VACUUM, which prune runs. Set on a new
# file only: it takes the write lock, so on a store another process was writing to, every
# command (a read-only `sources` too) waited sqlite3's default 5 s for it, twice, and failed
# with "database is locked".
SQLITE_NEW_FILE_PRAGMA = "PRAGMA auto_vacuum=INCREMENTAL"
SQLITE_PRAGMAS = (
    # First: every pragma after it that needs a lock waits for the other writer.
    f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}",
    "PRAGMA journal_mode=WAL",
    "PRAGMA foreign_keys=ON",
    "PRAGMA synchronous=NORMAL",
    # A 4 MiB page cache (the default is 2 MiB). It was 16 MiB while LSH buckets were rows
    # inserted at random places of a primary key; with the buckets in memory
    # (store/bucket_index.py) 4 MiB stores a cold refresh as fast, with 12 MiB less held.
    "PRAGMA cache_size=-4096",
)

# PostgreSQL pool: a few connections per process (the refresh writes from one thread; the
# API's worker threads read), pre-ping so a restarted server costs one retry, not an error.
POSTGRES_POOL: dict[str, Any] = {
    "pool_size": 5,
    "max_overflow": 10,
    "pool_pre_ping": True,
    "pool_recycle": 1800,
    "pool_timeout": 30,
}
POSTGRES_CONNECT_TIMEOUT_S = 10


def masked(url: URL | str) -> str:
    """The URL with its password replaced by ***, safe for messages and logs: the one
    before the host, and a `password=` of the query string (libpq takes both)."""
    try:
        parsed = make_url(url) if isinstance(url, str) else url
    except sqlalchemy.exc.ArgumentError:
        return "<unparseable database URL>"
    return mask_password(parsed.render_as_string(hide_password=True))


def parse_url(database_url: str) -> URL:
    try:
        url = make_url(database_url)
    except sqlalchemy.exc.ArgumentError as exc:
        raise StoreError(f"not a database URL: {masked(database_url)}") from exc
    if url.drivername == "postgres":  # Heroku's and libpq tools' spelling
        url = url.set(drivername="postgresql")
    backend = url.get_backend_name()
    if backend == "postgresql" and url.drivername == "postgresql":
        url = url.set(drivername="postgresql+psycopg")  # psycopg 3, not the psycopg2 default
    if backend not in ("sqlite", "postgresql"):
        raise StoreError(
            f"unsupported database {masked(url)} (expected sqlite:/// or postgresql+psycopg://)"
        )
    return url


def sqlite_file(database_url: str) -> Path | None:
    """The file of a SQLite URL; None for another database or an in-memory one."""
    try:
        url = parse_url(database_url)
    except StoreError:
        return None
    if url.get_backend_name() != "sqlite":
        return None
    database = url.database or ""
    if database in ("", ":memory:") or database.startswith("file:"):
        return None
    return Path(database).expanduser()


def create_store_engine(database_url: str) -> Engine:
    """An engine for the URL; creates the SQLite file's folder. Does not connect yet."""
    url = parse_url(database_url)
    if url.get_backend_name() == "postgresql":
        try:
            return sqlalchemy.create_engine(
                url, connect_args={"connect_timeout": POSTGRES_CONNECT_TIMEOUT_S}, **POSTGRES_POOL
            )
        except (sqlalchemy.exc.ArgumentError, ValueError) as exc:  # "?port=abc", say
            raise StoreError(f"cannot use database URL {masked(url)}: {exc}") from exc
    database = url.database or ""
    in_memory = database in ("", ":memory:") or database.startswith("file::memory:")
    if in_memory:
        # One shared connection, or every pooled connection would see its own empty database.
        engine = sqlalchemy.create_engine(
            url, connect_args={"check_same_thread": False}, poolclass=StaticPool
        )
    else:
        try:
            Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"cannot create the folder of {masked(url)}: {exc}") from exc
        engine = sqlalchemy.create_engine(url, connect_args={"check_same_thread": False})
    _install_sqlite_listeners(engine)
    return engine


def _install_sqlite_listeners(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # no implicit BEGIN: see _on_begin
        cursor = dbapi_conn.cursor()
        try:
            cursor.execute(SQLITE_PRAGMAS[0])  # the busy timeout
            if cursor.execute("PRAGMA page_count").fetchone()[0] == 0:  # a new, empty file
                cursor.execute(SQLITE_NEW_FILE_PRAGMA)
            for pragma in SQLITE_PRAGMAS[1:]:
                cursor.execute(pragma)
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        write = conn.get_execution_options().get(WRITE_OPTION, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


def describe(exc: BaseException) -> str:
    """``ExceptionType: first line of the driver's message``: SQLAlchemy's own text of an
    error adds the statement and a link to its documentation on lines of their own."""
    cause = exc.orig if isinstance(exc, sqlalchemy.exc.DBAPIError) and exc.orig else exc
    first_line = (str(cause).strip().splitlines() or [""])[0]
    said = f"{type(cause).__name__}: {first_line}"
    meaning = _SQLITE_MEANINGS.get(first_line)
    return f"{meaning} ({said})" if meaning else said


# SQLite's words for what an operator can act on, said in theirs (the driver's kept after).
_SQLITE_MEANINGS = {
    "database is locked": (
        "another process holds the store's write lock (waited"
        f" {SQLITE_BUSY_TIMEOUT_MS // 1000} s for it)"
    ),
    "attempt to write a readonly database": "the store file or its folder cannot be written",
    "unable to open database file": "the store file cannot be opened",
    "database or disk is full": "the disk holding the store is full",
}
