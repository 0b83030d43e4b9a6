"""Sources: their configuration, fetch state and health, and the fetch log.

Functions take an open `Connection` inside the caller's transaction; `SqlStore` owns the
transactions and turns database errors into `StoreError`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    ColumnElement,
    RowMapping,
    and_,
    bindparam,
    case,
    func,
    insert,
    null,
    or_,
    select,
    update,
)
from sqlalchemy.engine import Connection

if TYPE_CHECKING:
    from sqlalchemy.dialects import postgresql, sqlite

from aggregator.errors import RateLimited, SourceError, StoreError
from aggregator.models import CacheValidators, NotModifiedRecord, Rhythm, Source, SourceHealth
from aggregator.same_document import reading_digest
from aggregator.store.schema import fetch_log, items, sources
from aggregator.store.timestamps import from_db, from_db_or_none, to_db, to_db_or_none

# Source ids per statement of the reading checks (`readings_to_apply`, `make_due`).
CHUNK = 500

# SourceError.kind -> the status word that SourceResult.status uses for the same outcome.
FAILURE_STATUS = {"blocked": "blocked", "rate-limited": "rate limited"}


def failure_status(error: SourceError) -> str:
    return FAILURE_STATUS.get(error.kind, "error")


def _upsert(conn: Connection) -> postgresql.Insert | sqlite.Insert:
    """The dialect's own INSERT (it has ON CONFLICT), imported for the database in use only:
    importing the other dialect too costs a refresh about 20 ms of start-up."""
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects import postgresql as dialect
    else:
        from sqlalchemy.dialects import sqlite as dialect  # type: ignore[no-redef]
    return dialect.insert(sources)


def _configured_row(source: Source) -> tuple[str, str, str, bool, str]:
    """What `sync` writes of a configured source, as `in_sync` reads it back. Not its
    reading digest: that is the fetching process's to apply (`apply_readings`)."""
    return (source.name, str(source.kind), str(source.org), source.enabled, source.url)


def in_sync(conn: Connection, configured: Sequence[Source]) -> bool:
    """Whether `sync` would change nothing: every configured source stored as configured,
    and no other source enabled. One read, so that a command started with the same config
    as the last one (most are) takes no write lock and writes no row."""
    wanted = {source.id: _configured_row(source) for source in configured}
    rows = conn.execute(
        select(
            sources.c.id,
            sources.c.name,
            sources.c.kind,
            sources.c.org,
            sources.c.enabled,
            sources.c.config_url,
        )
    )
    found = 0
    for row in rows:
        if row.id in wanted:
            stored = (row.name, row.kind, row.org, bool(row.enabled), row.config_url)
            if stored != wanted[row.id]:
                return False
            found += 1
        elif row.enabled:
            return False  # dropped from the config: sync disables it
    return found == len(wanted)


def _org_changed(conn: Connection, configured: Sequence[Source]) -> list[str]:
    """The ids of stored sources whose configured `org` is another than the stored one."""
    wanted = {s.id: str(s.org) for s in configured}
    rows = conn.execute(select(sources.c.id, sources.c.org))  # a few hundred rows at most
    return [row.id for row in rows if row.id in wanted and row.org != wanted[row.id]]


def sync(conn: Connection, configured: Sequence[Source], *, now: datetime) -> None:
    """Upsert the configured sources; disable the stored ones no longer configured.

    Any command syncs (a read-only `aggregator sources` too, beside a running service that
    read another config), so this records the config and changes nothing a refresh decides
    by: an edit to how a source is read (its selectors, tags...) is applied by the process
    that reads it, against its own config (`apply_readings`, `reread_due`), and the stored
    `enabled` is a record: a service picks among the sources enabled in its own config
    (`due_condition` does not read it). Only a new configured URL replaces the stored one.

    One upsert statement per batch (INSERT ... ON CONFLICT DO UPDATE on both databases), so
    two processes syncing at once cannot both insert. In the SET clause, ``sources.*`` is the
    row before the update and ``excluded.*`` the configured values.
    """
    if configured:
        reorganised = _org_changed(conn, configured)
        upsert = _upsert(conn)
        new = upsert.excluded
        url_changed = sources.c.config_url != new.config_url
        stmt = upsert.on_conflict_do_update(
            index_elements=[sources.c.id],
            set_={
                "name": new.name,
                "kind": new.kind,
                "org": new.org,
                "enabled": new.enabled,
                "config_url": new.config_url,
                # A new configured URL replaces any redirect target and its validators,
                # and is fetched at once.
                "url": case((url_changed, new.config_url), else_=sources.c.url),
                "etag": case((url_changed, None), else_=sources.c.etag),
                "last_modified": case((url_changed, None), else_=sources.c.last_modified),
                "next_fetch_at": case(
                    (url_changed, new.next_fetch_at), else_=sources.c.next_fetch_at
                ),
                # A server's Retry-After is kept: it holds that server's host, whichever of
                # its sources asks (`fetch.holds.stored_holds`), and cleared here it let the
                # host's other sources be asked at once. The source itself is asked at once
                # all the same (its own wait ends at its next fetch, `health.wait_until`),
                # unless its new URL is of the held host.
                "retry_after_url": case(
                    (
                        url_changed & sources.c.retry_after.is_not(None),
                        func.coalesce(sources.c.retry_after_url, sources.c.url),
                    ),
                    else_=sources.c.retry_after_url,
                ),
            },
        )
        rows = [
            {
                "id": source.id,
                "name": source.name,
                "kind": str(source.kind),
                "org": str(source.org),
                "config_url": source.url,
                "url": source.url,
                "enabled": source.enabled,
                "consecutive_failures": 0,
                "ever_yielded": False,
                "next_fetch_at": to_db(now),
                # A new source's first reading; then each refresh applies its own.
                "reading_digest": reading_digest(source),
            }
            for source in {s.id: s for s in configured}.values()
        ]
        conn.execute(stmt, rows)
        if reorganised:
            # Official institutions first: a source now (or no longer) official may change
            # which member of its clusters is the primary.
            from aggregator.store.primaries import choose_primaries_again, clusters_of_sources

            choose_primaries_again(conn, clusters_of_sources(conn, reorganised), now=now)
    # Items of a source dropped from the config are kept; the source just stops being fetched.
    conn.execute(
        update(sources)
        .where(sources.c.id.not_in([s.id for s in configured]), sources.c.enabled)
        .values(enabled=False)
    )


def _not_waiting_at(now: datetime) -> ColumnElement[bool]:
    """No server asked the source to wait (Retry-After) beyond `now`. Spelt without NOT:
    a NULL status would make NOT (...) NULL, and the row be left out."""
    return or_(
        sources.c.retry_after.is_(None),
        sources.c.retry_after <= to_db(now),
        sources.c.last_status.is_(None),
        sources.c.last_status != FAILURE_STATUS["rate-limited"],
    )


def readings_to_apply(conn: Connection, readings: Mapping[str, str]) -> dict[str, str]:
    """Of `readings` (source id -> the reading digest of the config a refresh is about to
    read it with, `same_document.reading_digest`), those not yet applied (`apply_readings`):
    the last refresh applied another, or the stored validators belong to a document read
    with another. One read: a refresh with the config of the last one writes nothing."""
    todo: dict[str, str] = {}
    ids = list(readings)
    for start in range(0, len(ids), CHUNK):
        rows = conn.execute(
            select(
                sources.c.id,
                sources.c.reading_digest,
                sources.c.read_with,
                sources.c.etag,
                sources.c.last_modified,
            ).where(sources.c.id.in_(ids[start : start + CHUNK]))
        )
        for row in rows:
            mine = readings[row.id]
            validated = row.etag is not None or row.last_modified is not None
            if row.reading_digest != mine or (row.read_with != mine and validated):
                todo[row.id] = mine
    return todo


# The write of `apply_readings`, one executemany: the validators go when the stored items
# were read with another reading (or with none recorded).
_APPLY_READING = (
    update(sources)
    .where(sources.c.id == bindparam("b_source_id"))
    .values(
        reading_digest=bindparam("b_reading"),
        etag=case(
            (
                or_(sources.c.read_with.is_(None), sources.c.read_with != bindparam("b_reading")),
                None,
            ),
            else_=sources.c.etag,
        ),
        last_modified=case(
            (
                or_(sources.c.read_with.is_(None), sources.c.read_with != bindparam("b_reading")),
                None,
            ),
            else_=sources.c.last_modified,
        ),
    )
)


def apply_readings(conn: Connection, readings: Mapping[str, str]) -> None:
    """Record that these sources are being read with `readings` (id -> reading digest), by
    the refresh that holds their leases. A source whose stored items were read with another
    loses its validators, so that its request is unconditional: a 304 would leave them as
    the other reading made them (a fixed selector, a new tag never applied). Its save then
    reads them again (`lock`: the digest differs from `read_with`) and records this one.

    Decided here, by the process that reads, against the config it reads with: a command
    that only synced an edited config (`aggregator sources` beside a running service)
    changes nothing, and the service's restart with the edit reads the source again."""
    if readings:
        conn.execute(
            _APPLY_READING,
            [{"b_source_id": i, "b_reading": mine} for i, mine in readings.items()],
        )


def reread_due(conn: Connection, readings: Mapping[str, str], *, now: datetime) -> list[str]:
    """Of `readings` (id -> the reading digest of the scheduler's config), the sources to
    make due at once (`make_due`): their stored items were read with another reading and no
    refresh with this one was made since (`reading_digest`: once, not at every tick of a
    failing source's backoff), they are not due yet, and no server asked them to wait."""
    rows = conn.execute(
        select(sources.c.id, sources.c.read_with, sources.c.reading_digest).where(
            sources.c.read_with.is_not(None),
            sources.c.next_fetch_at > to_db(now),
            _not_waiting_at(now),
        )
    )
    return [
        row.id
        for row in rows
        if row.id in readings
        and row.read_with != readings[row.id]
        and row.reading_digest != readings[row.id]
    ]


def make_due(conn: Connection, ids: Sequence[str], *, now: datetime) -> None:
    """Their next fetch at `now` (`reread_due`), unless a server's wait began meanwhile."""
    for start in range(0, len(ids), CHUNK):
        conn.execute(
            update(sources)
            .where(
                sources.c.id.in_(list(ids[start : start + CHUNK])),
                sources.c.next_fetch_at > to_db(now),
                _not_waiting_at(now),
            )
            .values(next_fetch_at=to_db(now))
        )


def fetched_from(conn: Connection, source_id: str, configured: str) -> str:
    """The URL a refresh of the source asks: where a 301/308 moved it, while the config
    still names the URL it was moved from; else `configured`."""
    row = conn.execute(
        select(sources.c.config_url, sources.c.url).where(sources.c.id == source_id)
    ).first()
    if row is None or row.config_url != configured or not row.url:
        return configured
    return str(row.url)


def stored_urls(conn: Connection) -> dict[str, tuple[str, str]]:
    """Every stored source's URL as configured when last synced, and the URL it is fetched
    from (where a 301/308 led, else the same), by id."""
    rows = conn.execute(select(sources.c.id, sources.c.config_url, sources.c.url))
    return {row.id: (row.config_url, row.url) for row in rows}


def lock(conn: Connection, source_id: str) -> str | None:
    """Check the source exists and, on PostgreSQL, hold its row until the commit. Returns
    the reading digest its refresh applied (`apply_readings`: the config of the process
    that reads it; a new source's, as first synced) when its stored items were saved under
    another (its selectors, language or tags were edited since), else None.

    Two workers saving the same source then queue instead of racing on its items.
    """
    found = conn.execute(_LOCK, {"b_source_id": source_id}).first()
    if found is None:
        raise StoreError(f"unknown source {source_id!r}: sync_sources() has not stored it")
    return _unapplied(found)


def pending_reading(conn: Connection, source_id: str) -> str | None:
    """The reading digest the source's refresh applied when its stored items were saved
    under another, else None (as `lock` returns it, without the lock)."""
    found = conn.execute(_READING.where(sources.c.id == source_id)).first()
    return None if found is None else _unapplied(found)


_READING = select(sources.c.id, sources.c.reading_digest, sources.c.read_with)
# One statement for every source: built for each, it cost more than running it (a
# thousand sources a cold refresh).
_LOCK = _READING.where(sources.c.id == bindparam("b_source_id")).with_for_update()


def _unapplied(row: Any) -> str | None:
    if row.reading_digest is None or row.reading_digest == row.read_with:
        return None
    return str(row.reading_digest)


def _health_query(ids: Sequence[str] | None, *, counts: bool) -> Any:
    if counts:
        counted = (
            select(items.c.source_id, func.count().label("item_count"))
            .group_by(items.c.source_id)
            .subquery()
        )
        stmt = select(
            sources, func.coalesce(counted.c.item_count, 0).label("item_count")
        ).outerjoin(counted, counted.c.source_id == sources.c.id)
    else:
        stmt = select(sources, null().label("item_count"))
    stmt = stmt.order_by(sources.c.id)
    if ids is not None:
        stmt = stmt.where(sources.c.id.in_(list(ids)))
    return stmt


def _to_health(m: RowMapping) -> SourceHealth:
    return SourceHealth(
        id=m["id"],
        url=m["url"],
        last_status=m["last_status"],
        last_fetch_at=from_db_or_none(m["last_fetch_at"]),
        last_success_at=from_db_or_none(m["last_success_at"]),
        last_error=m["last_error"],
        last_error_kind=m["last_error_kind"],
        failing_since=from_db_or_none(m["failing_since"]),
        consecutive_failures=m["consecutive_failures"],
        next_fetch_at=from_db_or_none(m["next_fetch_at"]),
        item_count=None if m["item_count"] is None else int(m["item_count"]),
        last_item_count=m["last_item_count"],
        ever_yielded=bool(m["ever_yielded"]),
        validators=CacheValidators(etag=m["etag"], last_modified=m["last_modified"]),
        document_digest=m["document_digest"],
        last_warning=m["last_warning"],
        retry_after=from_db_or_none(m["retry_after"]),
        retry_after_url=m["retry_after_url"],
        rhythm=Rhythm(
            posting_gap=_duration(m["posting_gap_seconds"]), ttl=_duration(m["feed_ttl_seconds"])
        ),
    )


def _duration(seconds: int | None) -> timedelta | None:
    return None if seconds is None else timedelta(seconds=seconds)


def _seconds(duration: timedelta | None) -> int | None:
    # Whole seconds: a posting gap or a <ttl> (minutes) needs no finer grain.
    return None if duration is None else round(duration.total_seconds())


def health(
    conn: Connection, ids: Sequence[str] | None = None, *, counts: bool = True
) -> list[SourceHealth]:
    """The sources' state and health; with `counts`, how many items each has stored (a scan
    of every stored item's source: 5 ms at 30,000 items, and growing with the archive)."""
    rows = conn.execute(_health_query(ids, counts=counts)).mappings()
    return [_to_health(row) for row in rows]


def due_condition(now: datetime, early: timedelta = timedelta(0)) -> ColumnElement[bool]:
    """Its next fetch time has come (or was never set), or comes within `early`, and so
    does the end of a server's Retry-After (up to the next fetch time the schedule capped
    it to, a Retry-After in 2099): the refresh waits out the rest (`Refresher.hold_grace`),
    where one that came a tick later was a tick late. Whether the source is enabled is the
    caller's config's to say (`App.due_sources`): the stored flag is whatever the last
    command to sync read, maybe an edit the running service has not read. Nor are the holds
    other sources drew on its host seen here (`App.due_sources`)."""
    return and_(
        or_(sources.c.next_fetch_at.is_(None), sources.c.next_fetch_at <= to_db(now + early)),
        or_(
            sources.c.retry_after.is_(None),
            sources.c.retry_after <= to_db(now + early),
            sources.c.next_fetch_at <= to_db(now + early),
        ),
    )


def waiting(conn: Connection, *, now: datetime) -> list[SourceHealth]:
    """The sources that drew a Retry-After (429 or 503) that has not come at `now`: their
    hosts are asked nothing before then (`fetch.holds`). Disabled and removed sources too:
    the server's word holds whichever source drew it. Whatever the source's status since:
    one whose url was edited is asked at once, and its answer from elsewhere does not end
    the wait of the server that gave it (`sync_sources`, `record_failure`)."""
    stmt = _health_query(None, counts=False).where(sources.c.retry_after > to_db(now))
    return [_to_health(row) for row in conn.execute(stmt).mappings()]


def postpone(conn: Connection, source_id: str, *, until: datetime) -> None:
    """Its next fetch no earlier than `until`, and nothing else: the source was not asked
    (its host is held), so its status, error and validators stand. Without it, the
    scheduler found it due at every tick of the wait, to hold it again each time."""
    conn.execute(
        update(sources)
        .where(
            sources.c.id == source_id,
            or_(sources.c.next_fetch_at.is_(None), sources.c.next_fetch_at < to_db(until)),
        )
        .values(next_fetch_at=to_db(until))
    )


def due(conn: Connection, *, now: datetime, early: timedelta = timedelta(0)) -> list[str]:
    """The due sources (`due_condition`), most overdue first."""
    stmt = (
        select(sources.c.id)
        .where(due_condition(now, early))
        .order_by(sources.c.next_fetch_at.nulls_first(), sources.c.id)
    )
    return list(conn.execute(stmt).scalars())


# Statements of the per-fetch writes, built once with bind parameters: building one per call
# (and SQLAlchemy's cache key of it) cost more than running it, and a refresh writes one or
# two per source. A source's row is updated by `_SOURCE_ROW` with the columns passed as
# parameters (the SET clause is compiled once per set of columns, then cached).
_SOURCE_ROW = update(sources).where(sources.c.id == bindparam("b_source_id"))
_FAILURE = _SOURCE_ROW.values(
    consecutive_failures=sources.c.consecutive_failures + 1,
    failing_since=func.coalesce(
        sources.c.failing_since, bindparam("b_now", type_=sources.c.failing_since.type)
    ),
)
# A 304's write: the validators it carried replace the stored ones, a validator it did not
# send (NULL) leaves the stored one (RFC 9111 4.3.4). One statement shape for every 304, so
# that a batch of them is still one executemany.
_NOT_MODIFIED = _SOURCE_ROW.values(
    etag=func.coalesce(bindparam("b_etag", type_=sources.c.etag.type), sources.c.etag),
    last_modified=func.coalesce(
        bindparam("b_last_modified", type_=sources.c.last_modified.type),
        sources.c.last_modified,
    ),
)
_LOG_FETCH = insert(fetch_log)


def record_success(
    conn: Connection,
    source_id: str,
    *,
    status: str,
    now: datetime,
    validators: CacheValidators,
    permanent_url: str | None,
    next_fetch_at: datetime,
    seen: int,
    document_digest: str | None = None,
    warnings: Sequence[str] = (),
    read_with: str | None = None,
    rhythm: Rhythm | None = None,
) -> None:
    """`rhythm`: what the document read said of how often to ask; None, for the same
    document again, keeps the stored one."""
    values: dict[str, Any] = {
        "etag": validators.etag,
        "last_modified": validators.last_modified,
        "last_status": status,
        "last_fetch_at": to_db(now),
        "last_success_at": to_db(now),
        "last_error": None,
        "last_error_kind": None,
        "consecutive_failures": 0,
        "failing_since": None,
        "next_fetch_at": to_db(next_fetch_at),
        "last_item_count": seen,
        "document_digest": document_digest,
        "last_warning": "\n".join(warnings) or None,
    }
    if permanent_url:
        values["url"] = permanent_url
    if seen > 0:
        values["ever_yielded"] = True
    if read_with is not None:
        values["read_with"] = read_with
    if rhythm is not None:
        values["posting_gap_seconds"] = _seconds(rhythm.posting_gap)
        values["feed_ttl_seconds"] = _seconds(rhythm.ttl)
    conn.execute(_SOURCE_ROW, {"b_source_id": source_id, **values})


def record_not_modified(
    conn: Connection,
    source_id: str,
    *,
    now: datetime,
    next_fetch_at: datetime,
    permanent_url: str | None = None,
    validators: CacheValidators | None = None,
) -> None:
    """A 304 is a success: the source answers and nothing changed since the last document.
    The validators it carried replace the stored ones (see `_NOT_MODIFIED`)."""
    moved = {"url": permanent_url} if permanent_url else {}
    _update_existing(
        conn,
        _NOT_MODIFIED,
        source_id,
        **moved,
        b_etag=validators.etag if validators else None,
        b_last_modified=validators.last_modified if validators else None,
        last_status="not modified",
        last_fetch_at=to_db(now),
        last_success_at=to_db(now),
        last_error=None,
        last_error_kind=None,
        consecutive_failures=0,
        failing_since=None,
        next_fetch_at=to_db(next_fetch_at),
    )


def record_not_modified_many(conn: Connection, records: Sequence[NotModifiedRecord]) -> None:
    """`record_not_modified` and `log_fetch` for many sources, as two executemany statements:
    a refresh of unchanged sources writes a thousand of them a second. Raises StoreError,
    having written part of them, if a source is unknown: run it in a savepoint."""
    if not records:
        return
    rows = [
        {
            "b_source_id": record.source_id,
            "last_status": "not modified",
            "last_fetch_at": to_db(record.now),
            "last_success_at": to_db(record.now),
            "last_error": None,
            "last_error_kind": None,
            "consecutive_failures": 0,
            "failing_since": None,
            "next_fetch_at": to_db(record.next_fetch_at),
            "b_etag": record.validators.etag,
            "b_last_modified": record.validators.last_modified,
        }
        for record in records
    ]
    if not conn.dialect.supports_sane_multi_rowcount:  # no row count: one at a time, checked
        for record in records:
            record_not_modified(
                conn,
                record.source_id,
                now=record.now,
                next_fetch_at=record.next_fetch_at,
                permanent_url=record.permanent_url,
                validators=record.validators,
            )
    else:
        if conn.execute(_NOT_MODIFIED, rows).rowcount != len(rows):
            raise StoreError(
                "unknown source among a batch of 304s: sync_sources() has not stored it"
            )
        moved = [
            {"b_source_id": record.source_id, "url": record.permanent_url}
            for record in records
            if record.permanent_url
        ]
        if moved:  # a 301/308 that led to a 304: the source's URL is the new one
            conn.execute(_SOURCE_ROW, moved)
    log_fetch(
        conn,
        *(
            fetch_log_row(
                record.source_id, now=record.now, seconds=record.seconds, status="not modified"
            )
            for record in records
        ),
    )


def record_failure(
    conn: Connection,
    source_id: str,
    error: SourceError,
    *,
    now: datetime,
    next_fetch_at: datetime,
) -> None:
    """failures + 1; failing_since kept, or `now` on the first failure. A server's new
    Retry-After replaces the stored one; any other failure leaves it: a wait that has come
    is no longer read (`waiting`), and one not yet come is its host's, which this source's
    failure elsewhere (its url edited meanwhile) does not end."""
    waits = (
        {
            "retry_after": to_db(error.retry_at),
            "retry_after_url": error.answered_by,
        }
        if isinstance(error, RateLimited) and error.retry_at is not None
        else {}
    )
    _update_existing(
        conn,
        _FAILURE,
        source_id,
        last_status=failure_status(error),
        last_fetch_at=to_db(now),
        last_error=error.text,  # the id is the row's
        last_error_kind=error.kind,
        next_fetch_at=to_db(next_fetch_at),
        **waits,
        b_now=to_db(now),
    )


def _update_existing(conn: Connection, statement: Any, source_id: str, **values: Any) -> None:
    result = conn.execute(statement, {"b_source_id": source_id, **values})
    if result.rowcount == 0:
        raise StoreError(f"unknown source {source_id!r}: sync_sources() has not stored it")


def log_fetch(conn: Connection, *rows: dict[str, Any]) -> None:
    """Append `fetch_log_row` rows, in one statement however many."""
    conn.execute(_LOG_FETCH, rows[0] if len(rows) == 1 else list(rows))


def fetch_log_row(
    source_id: str,
    *,
    now: datetime,
    seconds: float,
    status: str,
    new: int = 0,
    updated: int = 0,
    error: SourceError | None = None,
) -> dict[str, Any]:
    return {
        "source_id": source_id,
        "started_at": to_db_or_none(now - timedelta(seconds=seconds)),  # the fetch began
        "seconds": seconds,
        "status": status,
        "error_kind": error.kind if error is not None else None,
        "error": str(error) if error is not None else None,
        "new": new,
        "updated": updated,
    }


@dataclass(frozen=True, slots=True)
class LoggedFetch:
    """One fetch_log row: what refreshing a source came to, as stored."""

    source_id: str
    started_at: datetime
    seconds: float
    status: str  # `SourceResult.status`
    error_kind: str | None
    error: str | None  # str(SourceError): "fetch failed: 'id': HTTP 503 ..."
    new: int
    updated: int


def fetch_log_mark(conn: Connection) -> int:
    """The id of the last fetch_log row: `logged_since` reads what is logged after it."""
    return int(conn.execute(select(func.coalesce(func.max(fetch_log.c.id), 0))).scalar_one())


def logged_since(conn: Connection, mark: int, source_ids: Sequence[str]) -> list[LoggedFetch]:
    """The fetches of these sources logged after `mark` (`fetch_log_mark`), oldest first."""
    found: list[LoggedFetch] = []
    ids = sorted(set(source_ids))
    for start in range(0, len(ids), CHUNK):
        rows = conn.execute(
            select(fetch_log)
            .where(fetch_log.c.id > mark, fetch_log.c.source_id.in_(ids[start : start + CHUNK]))
            .order_by(fetch_log.c.id)
        )
        found.extend(
            LoggedFetch(
                source_id=r.source_id,
                started_at=from_db(r.started_at),
                seconds=float(r.seconds),
                status=r.status,
                error_kind=r.error_kind,
                error=r.error,
                new=int(r.new),
                updated=int(r.updated),
            )
            for r in rows
        )
    return found
