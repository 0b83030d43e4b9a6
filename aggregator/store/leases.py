"""Source leases: at most one worker refreshes a source at a time, and a crash frees it.

A lease is two columns of the source row, ``lease_owner`` and ``lease_expires_at``. Taking
one is a single conditional ``UPDATE ... RETURNING``: the database, not the worker, decides
who wins, so two workers racing for one source cannot both get it (on PostgreSQL the second
UPDATE waits for the first's row lock, then re-checks the condition on the new row).

States of a source row, by lease_owner:
- NULL (or any expired lease): free;
- ``QUEUED``: the scheduler sent a message for it; any worker that gets a message may take it,
  and the scheduler sends no second message until the mark expires (a lost message);
- anything else: a worker's token (host:pid:random); it expires at lease_expires_at, which
  the worker pushes out (`renew`) while its refresh runs, so a slow fetch keeps its source
  and a worker killed mid-refresh holds it only until the last renewal's expiry.

Only a *due* source can be taken: a message delivered twice, or after the source was
refreshed, finds it not due and writes nothing.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy.exc
from sqlalchemy import Engine, or_, select, update
from sqlalchemy.sql.elements import ColumnElement

from aggregator.errors import StoreError
from aggregator.store.conflicts import retrying, store_error
from aggregator.store.engine import WRITE_OPTION, describe, masked
from aggregator.store.schema import sources
from aggregator.store.sources import due_condition
from aggregator.store.timestamps import from_db_or_none, to_db

# lease_owner of a source waiting in the queue (no worker has it yet).
QUEUED = "queued"

CHUNK = 500


@dataclass(frozen=True, slots=True, kw_only=True)
class Taken:
    """The caller holds the source until `expires_at` or `release`."""

    owner: str
    expires_at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class Held:
    """Another worker holds the source until `expires_at` (then it may be taken again)."""

    owner: str
    expires_at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class NotDue:
    """Not due, disabled or unknown: nothing to do (a duplicate or late message)."""


Outcome = Taken | Held | NotDue


def new_owner() -> str:
    """A token naming this worker for operators (host:pid) and unique per acquisition."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def _due(now: datetime, early: timedelta) -> ColumnElement[bool]:
    return due_condition(now, early)


def _free(now: datetime) -> ColumnElement[bool]:
    return or_(sources.c.lease_expires_at.is_(None), sources.c.lease_expires_at < to_db(now))


def _wrap(engine: Engine, what: str, exc: sqlalchemy.exc.SQLAlchemyError) -> StoreError:
    return store_error(f"{what} failed on {masked(engine.url)}: {describe(exc)}", exc)


def acquire(
    engine: Engine,
    source_id: str,
    *,
    owner: str,
    now: datetime,
    ttl: timedelta,
    early: timedelta = timedelta(0),
) -> Outcome:
    """Take the lease on a due source that is free, expired or merely queued (due: by
    `now + early`, as the scheduler that queued it counted it)."""
    expires_at = now + ttl
    writer = engine.execution_options(**{WRITE_OPTION: True})
    try:
        with writer.begin() as conn:
            won = conn.execute(
                update(sources)
                .where(
                    sources.c.id == source_id,
                    _due(now, early),
                    or_(_free(now), sources.c.lease_owner == QUEUED),
                )
                .values(lease_owner=owner, lease_expires_at=to_db(expires_at))
                .returning(sources.c.id)
            ).first()
            if won is not None:
                return Taken(owner=owner, expires_at=expires_at)
            row = conn.execute(
                select(sources.c.lease_owner, sources.c.lease_expires_at).where(
                    sources.c.id == source_id, _due(now, early)
                )
            ).first()
            if row is None:
                # This message was its queued mark's: the source is not due (a worker whose
                # lease ran out finished it after the mark was set), so the mark is stale.
                conn.execute(
                    update(sources)
                    .where(sources.c.id == source_id, sources.c.lease_owner == QUEUED)
                    .values(lease_owner=None, lease_expires_at=None)
                )
    except sqlalchemy.exc.SQLAlchemyError as exc:
        raise _wrap(engine, f"lease {source_id!r}", exc) from exc
    if row is None:
        return NotDue()
    held_until = from_db_or_none(row.lease_expires_at)
    if held_until is None:  # freed between our two statements: let the caller try again
        held_until = now
    return Held(owner=row.lease_owner or "", expires_at=held_until)


def release(
    engine: Engine, source_id: str, *, owner: str, queued_until: datetime | None = None
) -> bool:
    """Free the source if `owner` still holds it; False when the lease had been taken over.
    `queued_until`: its message was put back on the queue (the limiter down, its host busy):
    the source is marked queued until then, as the scheduler marks what it sends, so that
    the scheduler does not send it again at every tick meanwhile."""
    writer = engine.execution_options(**{WRITE_OPTION: True})
    mark = (
        {"lease_owner": None, "lease_expires_at": None}
        if queued_until is None
        else {"lease_owner": QUEUED, "lease_expires_at": to_db(queued_until)}
    )

    def free() -> Any:
        with writer.begin() as conn:
            return conn.execute(
                update(sources)
                .where(sources.c.id == source_id, sources.c.lease_owner == owner)
                .values(**mark)
                .returning(sources.c.id)
            ).first()

    try:
        # Tried again when a refresh's batch deadlocked it (store/conflicts.py): a lease
        # left held keeps the source from every other refresh until it expires.
        freed = retrying(free)
    except sqlalchemy.exc.SQLAlchemyError as exc:
        raise _wrap(engine, f"release {source_id!r}", exc) from exc
    return freed is not None


def renew(engine: Engine, source_id: str, *, owner: str, now: datetime, ttl: timedelta) -> bool:
    """Push `owner`'s lease on the source out to `now + ttl` (a worker whose refresh outlasts
    `workers.lease` renews it as it goes); False when `owner` no longer holds it: it expired
    and another worker, the scheduler's queued mark or an operator's refresh took it. Only
    the owner's own row is changed, so a lease once lost is never taken back."""
    writer = engine.execution_options(**{WRITE_OPTION: True})
    try:
        with writer.begin() as conn:
            renewed = conn.execute(
                update(sources)
                .where(sources.c.id == source_id, sources.c.lease_owner == owner)
                .values(lease_expires_at=to_db(now + ttl))
                .returning(sources.c.id)
            ).first()
    except sqlalchemy.exc.SQLAlchemyError as exc:
        raise _wrap(engine, f"renew lease {source_id!r}", exc) from exc
    return renewed is not None


def mark_queued(
    engine: Engine,
    source_ids: Sequence[str],
    *,
    now: datetime,
    ttl: timedelta,
    early: timedelta = timedelta(0),
) -> list[str]:
    """Mark the due, free sources among `source_ids` as queued; return those marked.

    The scheduler sends a message only for these, so a source waiting in the queue, or
    being refreshed, is not sent again on every tick while the workers catch up.
    """
    marked: list[str] = []
    writer = engine.execution_options(**{WRITE_OPTION: True})
    try:
        with writer.begin() as conn:
            for start in range(0, len(source_ids), CHUNK):
                part = list(source_ids[start : start + CHUNK])
                marked.extend(
                    conn.execute(
                        update(sources)
                        .where(sources.c.id.in_(part), _due(now, early), _free(now))
                        .values(lease_owner=QUEUED, lease_expires_at=to_db(now + ttl))
                        .returning(sources.c.id)
                    ).scalars()
                )
    except sqlalchemy.exc.SQLAlchemyError as exc:
        raise _wrap(engine, "mark queued", exc) from exc
    order = {source_id: n for n, source_id in enumerate(source_ids)}
    return sorted(marked, key=order.__getitem__)


def unmark_queued(engine: Engine, source_ids: Sequence[str]) -> None:
    """Take back the queued marks of sources whose message was never sent (the broker was
    down): the next tick sends them, not the one after `workers.queue_timeout`."""
    writer = engine.execution_options(**{WRITE_OPTION: True})
    try:
        with writer.begin() as conn:
            for start in range(0, len(source_ids), CHUNK):
                part = list(source_ids[start : start + CHUNK])
                conn.execute(
                    update(sources)
                    .where(sources.c.id.in_(part), sources.c.lease_owner == QUEUED)
                    .values(lease_owner=None, lease_expires_at=None)
                )
    except sqlalchemy.exc.SQLAlchemyError as exc:
        raise _wrap(engine, "unmark queued", exc) from exc


def holders(engine: Engine, *, now: datetime) -> dict[str, str]:
    """source id -> owner of every unexpired lease (queued marks included), for operators."""
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                select(sources.c.id, sources.c.lease_owner).where(
                    sources.c.lease_owner.is_not(None), sources.c.lease_expires_at >= to_db(now)
                )
            ).all()
    except sqlalchemy.exc.SQLAlchemyError as exc:
        raise _wrap(engine, "list leases", exc) from exc
    return {row.id: row.lease_owner for row in rows}


def owner_gone(owner: str) -> bool:
    """Whether `owner` (`new_owner`) names a process of this machine that no longer runs (a
    refresh or a digest send killed with -9): what it holds is stale before it expires."""
    host, _, rest = owner.partition(":")
    pid_text = rest.partition(":")[0]
    if host != socket.gethostname() or not pid_text.isdigit():
        return False
    try:
        os.kill(int(pid_text), 0)
    except ProcessLookupError:
        return True
    except OSError:  # another user's process: it runs
        return False
    return False


def claim(
    engine: Engine,
    source_ids: Sequence[str],
    *,
    owner: str,
    now: datetime,
    ttl: timedelta,
) -> dict[str, Held]:
    """Take the leases of `source_ids` for one refresh, due or not (an operator asked);
    return the sources another refresh holds, by id. A lease of a process of this machine
    that is gone is taken over, and so is a source merely queued for a worker: nobody reads
    it yet (with the workers down, a manual refresh is the fallback), and the worker that
    later gets its message finds it leased or no longer due and skips it.

    Two refreshes of one source at once wrote the older document over the newer (an edit
    undone as a new revision, a stale ETag stored), and on PostgreSQL two refreshes that
    locked the same source rows in different orders deadlocked."""
    expires_at = to_db(now + ttl)
    writer = engine.execution_options(**{WRITE_OPTION: True})
    held: dict[str, Held] = {}
    try:
        with writer.begin() as conn:
            taken: set[str] = set()
            for start in range(0, len(source_ids), CHUNK):
                part = list(source_ids[start : start + CHUNK])
                taken.update(
                    conn.execute(
                        update(sources)
                        .where(
                            sources.c.id.in_(part),
                            or_(_free(now), sources.c.lease_owner == QUEUED),
                        )
                        .values(lease_owner=owner, lease_expires_at=expires_at)
                        .returning(sources.c.id)
                    ).scalars()
                )
            others = [source_id for source_id in source_ids if source_id not in taken]
            for start in range(0, len(others), CHUNK):
                part = others[start : start + CHUNK]
                rows = conn.execute(
                    select(sources.c.id, sources.c.lease_owner, sources.c.lease_expires_at).where(
                        sources.c.id.in_(part)
                    )
                ).all()
                for row in rows:
                    if (row.lease_owner is None or owner_gone(row.lease_owner)) and conn.execute(
                        update(sources)
                        .where(sources.c.id == row.id, sources.c.lease_owner == row.lease_owner)
                        .values(lease_owner=owner, lease_expires_at=expires_at)
                        .returning(sources.c.id)
                    ).first() is not None:
                        continue
                    until = from_db_or_none(row.lease_expires_at) or now
                    held[row.id] = Held(owner=row.lease_owner or "", expires_at=until)
    except sqlalchemy.exc.SQLAlchemyError as exc:
        raise _wrap(engine, "lease sources", exc) from exc
    return held


def release_all(engine: Engine, *, owner: str) -> None:
    """Free every source `owner` holds (the end of its refresh)."""
    writer = engine.execution_options(**{WRITE_OPTION: True})

    def free() -> None:
        with writer.begin() as conn:
            conn.execute(
                update(sources)
                .where(sources.c.lease_owner == owner)
                .values(lease_owner=None, lease_expires_at=None)
            )

    try:
        retrying(free)  # as `release`
    except sqlalchemy.exc.SQLAlchemyError as exc:
        raise _wrap(engine, "release leases", exc) from exc
