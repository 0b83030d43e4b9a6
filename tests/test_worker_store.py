"""What distributed workers rely on in the store and in Redis, tested directly.

- migrations: several processes starting at once on a fresh schema migrate it once;
- save_refresh of one source by two transactions at once stores every item once;
- host slots: the per-host limit holds across clients, and a dead holder's slot expires.
"""

from __future__ import annotations

import multiprocessing
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

import pytest
import redis
import sqlalchemy
from sqlalchemy import func, inspect, select

from aggregator.hostslots import HostBusy, HostSlots
from aggregator.models import CacheValidators, Item, Refreshed
from aggregator.store import SqlStore, open_store
from aggregator.store.schema import items
from tests.support_store import T0, at, make_item, make_source

pytest_plugins = ("tests.support_services",)


def _open_when_released(url: str, start: object) -> None:
    start.wait()  # type: ignore[attr-defined]
    open_store(url).close()


@pytest.mark.postgres
def test_processes_starting_together_migrate_a_fresh_schema_once(postgres_url: str) -> None:
    context = multiprocessing.get_context("spawn")
    start = context.Event()
    processes = [
        context.Process(target=_open_when_released, args=(postgres_url, start)) for _ in range(4)
    ]
    for process in processes:
        process.start()
    time.sleep(1.0)  # let every interpreter start and import, then release them together
    start.set()
    for process in processes:
        process.join(60)
    assert [p.exitcode for p in processes] == [0, 0, 0, 0]
    engine = sqlalchemy.create_engine(postgres_url)
    try:
        with engine.connect() as conn:
            versions = conn.execute(sqlalchemy.text("select version_num from alembic_version"))
            assert len(versions.all()) == 1
        assert {"sources", "items", "clusters", "fetch_log"} <= set(
            inspect(engine).get_table_names()
        )
    finally:
        engine.dispose()


def _save(store: SqlStore, batch: list[Item], *, now: datetime) -> Refreshed:
    return store.save_refresh(
        "s",
        batch,
        now=now,
        seconds=0.1,
        validators=CacheValidators(),
        url="https://example.org/s/feed.xml",
        permanent_url=None,
        next_fetch_at=at(60),
        seen=len(batch),
    )


@pytest.mark.postgres
def test_one_document_saved_by_two_workers_at_once_is_stored_once(postgres_url: str) -> None:
    """A redelivered message racing its first delivery: the second transaction waits on the
    source row (SELECT ... FOR UPDATE), then finds the items stored: unchanged, not new."""
    first, second = open_store(postgres_url), open_store(postgres_url, migrate=False)
    first.sync_sources([make_source("s")], now=T0)
    batch = [make_item("s", f"item-{n}") for n in range(40)]
    start = threading.Barrier(2)

    def save(store: SqlStore) -> Refreshed:
        start.wait()
        return _save(store, batch, now=at(1))

    try:
        for round in range(4):  # a few rounds: the outcome must not depend on timing
            with ThreadPoolExecutor(max_workers=2) as pool:
                outcomes = list(pool.map(save, [first, second]))
            counts = sorted((o.new, o.updated, o.unchanged) for o in outcomes)
            # the first round inserts, later ones change every item: once, never twice
            assert counts == ([(0, 0, 40), (40, 0, 0)] if round == 0 else [(0, 0, 40), (0, 40, 0)])
            with first.engine.connect() as conn:
                assert conn.execute(select(func.count()).select_from(items)).scalar_one() == 40
                assert conn.execute(select(func.max(items.c.revision))).scalar_one() == round + 1
            batch = [make_item("s", f"item-{n}", text=f"version {round + 1}") for n in range(40)]
    finally:
        first.close()
        second.close()


def test_host_slots_hold_the_limit_across_clients(redis_url: str, queue: str) -> None:
    def slots() -> HostSlots:
        return HostSlots(
            redis.Redis.from_url(redis_url),
            prefix=f"aggregator:{queue}",
            limit=3,
            hold=timedelta(seconds=30),
            wait=timedelta(seconds=30),
        )

    a, b = slots(), slots()  # two "processes"
    inside = peak = 0
    lock = threading.Lock()

    def fetch(n: int) -> None:
        nonlocal inside, peak
        with (a if n % 2 else b).hold("http://Example.org:8080/feed"):
            with lock:
                inside += 1
                peak = max(peak, inside)
            time.sleep(0.03)
            with lock:
                inside -= 1

    with ThreadPoolExecutor(max_workers=10) as pool:
        list(pool.map(fetch, range(30)))
    assert peak == 3
    assert a.busy("http://example.org:8080/other") == 0  # all released


def test_a_dead_holders_slot_expires_on_its_own(redis_url: str, queue: str) -> None:
    slots = HostSlots(
        redis.Redis.from_url(redis_url),
        prefix=f"aggregator:{queue}",
        limit=1,
        hold=timedelta(seconds=1),
        wait=timedelta(seconds=0.3),
    )
    dead = slots.hold("https://example.org/a")
    dead.__enter__()  # a worker takes the slot and is killed: never released
    with pytest.raises(HostBusy, match=r"example\.org"), slots.hold("https://example.org/b"):
        pass
    time.sleep(1.1)
    with slots.hold("https://example.org/b") as slot:
        assert slot.waited < 0.3
    assert slots.busy("https://example.org/") == 0
