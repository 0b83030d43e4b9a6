"""Source leases (store/leases.py) on SQLite and PostgreSQL: one holder, expiry, queued marks."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import update

from aggregator.store import SqlStore, leases, open_store
from aggregator.store.leases import QUEUED, Held, NotDue, Taken
from aggregator.store.schema import sources
from tests.support_store import T0, at, make_source

TTL = timedelta(minutes=5)


@pytest.fixture()
def store(database_url: str) -> Iterator[SqlStore]:
    opened = open_store(database_url)
    opened.sync_sources([make_source(name) for name in ("a", "b", "c")], now=T0)
    yield opened
    opened.close()


def next_fetch(store: SqlStore, source_id: str, when: object) -> None:
    with store.engine.begin() as conn:
        conn.execute(update(sources).where(sources.c.id == source_id).values(next_fetch_at=when))


def test_a_due_source_is_taken_by_one_owner_until_its_lease_expires(store: SqlStore) -> None:
    first = leases.acquire(store.engine, "a", owner="w1", now=at(1), ttl=TTL)
    assert first == Taken(owner="w1", expires_at=at(1) + TTL)
    assert leases.acquire(store.engine, "a", owner="w2", now=at(2), ttl=TTL) == Held(
        owner="w1", expires_at=at(1) + TTL
    )
    # w1 died: after the expiry w2 gets it, and w1's late release does not free w2's lease
    later = at(1) + TTL + timedelta(seconds=1)
    assert isinstance(leases.acquire(store.engine, "a", owner="w2", now=later, ttl=TTL), Taken)
    assert leases.release(store.engine, "a", owner="w1") is False
    assert leases.holders(store.engine, now=later) == {"a": "w2"}
    assert leases.release(store.engine, "a", owner="w2") is True
    assert leases.holders(store.engine, now=later) == {}


def test_released_source_can_be_taken_again_at_once(store: SqlStore) -> None:
    assert isinstance(leases.acquire(store.engine, "b", owner="w1", now=at(1), ttl=TTL), Taken)
    assert leases.release(store.engine, "b", owner="w1")
    assert isinstance(leases.acquire(store.engine, "b", owner="w2", now=at(1), ttl=TTL), Taken)


def test_a_source_not_due_or_unknown_is_not_taken(store: SqlStore) -> None:
    next_fetch(store, "a", at(60))
    assert leases.acquire(store.engine, "a", owner="w", now=at(1), ttl=TTL) == NotDue()
    assert isinstance(leases.acquire(store.engine, "a", owner="w", now=at(61), ttl=TTL), Taken)
    # b disabled by a command that synced another config: the scheduler that sent it reads
    # its own (`App.due_sources`), as the worker does (`worker.Refresher.handle`).
    store.sync_sources([make_source("a")], now=at(62))
    assert isinstance(leases.acquire(store.engine, "b", owner="w", now=at(62), ttl=TTL), Taken)
    assert leases.acquire(store.engine, "nope", owner="w", now=at(62), ttl=TTL) == NotDue()


def test_queued_marks_once_and_any_worker_takes_a_queued_source(store: SqlStore) -> None:
    assert isinstance(leases.acquire(store.engine, "c", owner="w1", now=at(0), ttl=TTL), Taken)
    marked = leases.mark_queued(store.engine, ["c", "b", "a"], now=at(1), ttl=TTL)
    assert marked == ["b", "a"]  # c is being refreshed: no message for it
    assert leases.mark_queued(store.engine, ["a", "b"], now=at(2), ttl=TTL) == []
    assert leases.holders(store.engine, now=at(2)) == {"a": QUEUED, "b": QUEUED, "c": "w1"}
    assert isinstance(leases.acquire(store.engine, "a", owner="w2", now=at(3), ttl=TTL), Taken)
    # a lost message: b's mark expires and b is sent again; a is still w2's
    after_mark = at(1) + TTL + timedelta(seconds=1)
    assert leases.mark_queued(store.engine, ["a", "b"], now=after_mark, ttl=TTL) == ["b"]
    # w2 died too: once its lease has expired, a is sent again
    after_lease = at(3) + TTL + timedelta(seconds=1)
    assert leases.mark_queued(store.engine, ["a", "b"], now=after_lease, ttl=TTL) == ["a"]


def test_a_source_due_within_the_slack_is_marked_and_taken_at_once(store: SqlStore) -> None:
    # The scheduler picks a source due within half a tick; its queued mark and the worker's
    # lease count it due the same way, or it waited a whole extra tick (`run --distributed`).
    slack = timedelta(seconds=30)
    next_fetch(store, "a", at(1) + timedelta(seconds=10))
    assert leases.mark_queued(store.engine, ["a"], now=at(1), ttl=TTL) == []
    assert leases.mark_queued(store.engine, ["a"], now=at(1), ttl=TTL, early=slack) == ["a"]
    taken = leases.acquire(store.engine, "a", owner="w", now=at(1), ttl=TTL, early=slack)
    assert isinstance(taken, Taken)


def test_a_server_s_retry_after_is_taken_with_the_slack_of_a_next_fetch(store: SqlStore) -> None:
    # A 429 asked to wait until at(1) + 10 s: due within half a tick of it, as a next fetch
    # time is (the refresh waits out the rest, `Refresher.hold_grace`), not a tick late.
    wait = at(1) + timedelta(seconds=10)
    with store.engine.begin() as conn:
        conn.execute(
            update(sources).where(sources.c.id == "a").values(next_fetch_at=wait, retry_after=wait)
        )
    slack = timedelta(seconds=30)
    assert "a" not in store.due_source_ids(now=at(1) - slack)
    assert "a" in store.due_source_ids(now=at(1), early=slack)
    assert leases.mark_queued(store.engine, ["a"], now=at(1), ttl=TTL, early=slack) == ["a"]
    assert "a" in store.due_source_ids(now=wait, early=slack)
    # A Retry-After in 2099 held to the schedule's cap: due at the capped time.
    with store.engine.begin() as conn:
        conn.execute(
            update(sources)
            .where(sources.c.id == "a")
            .values(next_fetch_at=at(60), retry_after=at(60 * 24 * 365 * 70))
        )
    assert "a" in store.due_source_ids(now=at(60))


def test_racing_workers_get_one_lease(store: SqlStore, database_url: str) -> None:
    """Eight workers (own engines, as in own processes) ask for one source at the same time."""
    stores = [open_store(database_url, migrate=False) for _ in range(8)]
    start = threading.Barrier(len(stores))

    def take(n: int) -> leases.Outcome:
        start.wait()
        return leases.acquire(stores[n].engine, "a", owner=f"w{n}", now=at(1), ttl=TTL)

    try:
        with ThreadPoolExecutor(max_workers=len(stores)) as pool:
            outcomes = list(pool.map(take, range(len(stores))))
    finally:
        for opened in stores:
            opened.close()
    winners = [o for o in outcomes if isinstance(o, Taken)]
    assert len(winners) == 1
    assert all(
        isinstance(o, Held) and o.owner == winners[0].owner for o in outcomes if o not in winners
    )


def test_a_message_for_a_source_no_longer_due_clears_its_queued_mark(store: SqlStore) -> None:
    # w1's lease runs out while it refreshes a; the scheduler marks a queued and sends it
    # again; w1 then stores a (not due any more). The message's worker finds a not due: the
    # mark is stale, and must not keep a from being sent when it is due again.
    assert isinstance(leases.acquire(store.engine, "a", owner="w1", now=at(0), ttl=TTL), Taken)
    expired = at(0) + TTL + timedelta(seconds=1)
    assert leases.mark_queued(store.engine, ["a"], now=expired, ttl=TTL) == ["a"]
    next_fetch(store, "a", at(600))  # w1's refresh commits
    assert leases.release(store.engine, "a", owner="w1") is False  # the mark took it over
    assert leases.acquire(store.engine, "a", owner="w2", now=expired, ttl=TTL) == NotDue()
    assert leases.holders(store.engine, now=expired) == {}
    assert leases.mark_queued(store.engine, ["a"], now=at(601), ttl=TTL) == ["a"]


def test_a_manual_refresh_takes_a_source_only_queued_for_a_worker(store: SqlStore) -> None:
    # The workers are down: a and b wait in the queue (marked for TTL), c is being read by a
    # worker. A manual refresh takes the queued ones and leaves c busy.
    assert isinstance(leases.acquire(store.engine, "c", owner="w1", now=at(0), ttl=TTL), Taken)
    assert leases.mark_queued(store.engine, ["a", "b"], now=at(1), ttl=TTL) == ["a", "b"]
    held = leases.claim(store.engine, ["a", "b", "c"], owner="manual", now=at(2), ttl=TTL)
    assert held == {"c": Held(owner="w1", expires_at=at(0) + TTL)}
    assert leases.holders(store.engine, now=at(2)) == {"a": "manual", "b": "manual", "c": "w1"}
    # the worker that gets a's message later finds it leased, then (refreshed) not due
    assert isinstance(leases.acquire(store.engine, "a", owner="w2", now=at(3), ttl=TTL), Held)
    leases.release_all(store.engine, owner="manual")
    next_fetch(store, "a", at(600))
    assert leases.acquire(store.engine, "a", owner="w2", now=at(4), ttl=TTL) == NotDue()


def test_a_store_error_of_a_lease_is_one_line(tmp_path: Path) -> None:
    # SQLAlchemy's text of a driver error adds "[SQL: BEGIN IMMEDIATE]" and a link to its
    # documentation on lines of their own: `refresh` printed three lines for a locked file.
    from aggregator.errors import StoreError
    from aggregator.store.engine import create_store_engine

    engine = create_store_engine(f"sqlite:///{tmp_path / 'empty.sqlite'}")  # no tables
    try:
        with pytest.raises(StoreError) as caught:
            leases.acquire(engine, "edri", owner="o", now=T0, ttl=timedelta(minutes=5))
    finally:
        engine.dispose()
    message = str(caught.value)
    assert "\n" not in message
    assert "OperationalError: no such table: sources" in message
