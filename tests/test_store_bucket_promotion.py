"""After a write batch commits, its fingerprinted rows are in the process's bucket index
as a catch-up from the database would have read them (on SQLite and PostgreSQL)."""

from __future__ import annotations

import multiprocessing
import random
from collections.abc import Iterator
from datetime import timedelta

import numpy as np
import pytest
import sqlalchemy as sa

from aggregator.store import SqlStore, open_store
from aggregator.store.bucket_index import BucketIndex, _keys, index_for
from aggregator.store.schema import items
from tests.support_store import T0, make_item, make_source
from tests.test_dedupe_store import P1, P2, P3, P4, TITLE
from tests.test_store_batch_dedupe import _save

SOURCES = ("wire", "ngo", "other")


@pytest.fixture()
def store(database_url: str) -> Iterator[SqlStore]:
    opened = open_store(database_url)
    opened.sync_sources([make_source(s) for s in SOURCES], now=T0)
    yield opened
    opened.close()


def _pairs(index: BucketIndex) -> set[tuple[int, int]]:
    found: dict[int, list[tuple[int, int]]] = {}
    keys = np.unique(np.concatenate([run.keys for run in index._runs]))
    index.find(keys, found)
    return {(key, item_id) for key, rows in found.items() for item_id, _ in rows}


def _as_read_from_the_database(store: SqlStore) -> BucketIndex:
    fresh = BucketIndex()
    with store.engine.connect() as conn:
        fresh.catch_up(conn, T0 - timedelta(days=30))
    return fresh


def test_a_committed_batch_is_in_the_index_without_reading_it_back(store: SqlStore) -> None:
    with store.write_batch():
        _save(store, "wire", [make_item("wire", "w1", title=TITLE, text=f"{P1} {P2} {P3}")])
    with store.write_batch():  # its rows are taken in when it commits
        _save(store, "ngo", [make_item("ngo", "n1", title=TITLE, text=f"{P2} {P3} {P4}")])
        _save(store, "other", [make_item("other", "o1", title="Weather", text=f"{P4} {P1}")])
    with store.engine.connect() as conn:
        shared = index_for(conn)
        last = conn.execute(sa.select(sa.func.max(items.c.dedupe_seq))).scalar_one()
    expected = _as_read_from_the_database(store)
    assert shared.seq == expected.seq == last
    assert _pairs(shared) == _pairs(expected)
    assert len(shared) == len(expected)


def test_a_changed_item_s_old_pairs_leave_the_index(store: SqlStore) -> None:
    with store.write_batch():
        _save(store, "wire", [make_item("wire", "w1", title=TITLE, text=f"{P1} {P2} {P3}")])
    with store.write_batch():
        _save(store, "ngo", [make_item("ngo", "n1", title="Weather", text=f"{P4} {P1}")])
    with store.write_batch():  # w1 fingerprinted again, with other words
        _save(store, "wire", [make_item("wire", "w1", title="Rain", text=f"{P4} {P2}")])
    with store.engine.connect() as conn:
        shared = index_for(conn)
    expected = _as_read_from_the_database(store)
    assert _pairs(shared) == _pairs(expected)
    assert len(shared) == len(expected)


def test_a_batch_the_index_cannot_take_in_stands_and_is_read_back(
    store: SqlStore, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # A fault injected into the index alone (nothing else here can make it fail): the
    # committed batch is not reported failed, and the index reads it from the database.
    def broken(self: BucketIndex, overlay: object) -> None:
        raise RuntimeError("injected")

    with store.write_batch():
        _save(store, "wire", [make_item("wire", "w1", title=TITLE, text=f"{P1} {P2} {P3}")])
    monkeypatch.setattr(BucketIndex, "take_in", broken)
    with store.write_batch():
        _save(store, "ngo", [make_item("ngo", "n1", title=TITLE, text=f"{P2} {P3} {P4}")])
    monkeypatch.undo()
    assert "could not take a committed batch in" in caplog.text
    with store.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(items)).scalar_one() == 2
    with store.write_batch():  # its catch-up reads everything again
        _save(store, "other", [make_item("other", "o1", title="Weather", text=f"{P4} {P1}")])
    with store.engine.connect() as conn:
        shared = index_for(conn)
    expected = _as_read_from_the_database(store)
    assert _pairs(shared) == _pairs(expected)


# Two writer processes at once (worker processes sharing one store): after each of its
# batches, a process's index must hold exactly the database's fingerprinted rows numbered up
# to its own `seq`, whatever the other committed meanwhile.
WRITERS = 2
BATCHES = 8
WORDS = (P1, P2, P3, P4, "Rain on Thursday in the north.", "On encryption and age checks.")


def _database_pairs(conn: sa.Connection, upto: int) -> set[tuple[int, int]]:
    rows = conn.execute(
        sa.select(items.c.id, items.c.buckets).where(
            items.c.dedupe_seq <= upto, items.c.buckets.is_not(None)
        )
    )
    found: set[tuple[int, int]] = set()
    for item_id, buckets in rows:
        pairs = np.frombuffer(bytes(buckets), dtype="<i8").reshape(-1, 2)
        found.update((int(key), int(item_id)) for key in _keys(pairs).tolist())
    return found


def _write_and_check(url: str, writer: int) -> int:
    """The batches where this writer's index and the database disagreed (exit code)."""
    rng = random.Random(writer)
    store = open_store(url)
    wrong = 0
    try:
        for number in range(BATCHES):
            with store.write_batch():
                for s in range(2):
                    source_id = f"w{writer}s{s}"
                    batch = [
                        make_item(
                            source_id,
                            f"i{number}-{k}",
                            title=rng.choice([TITLE, "Weather"]),
                            text=f"{' '.join(rng.sample(WORDS, 3))} {number} {k}",
                        )
                        for k in range(4)
                    ]
                    if number:  # an item of the last batch changed: fingerprinted again
                        batch.append(
                            make_item(source_id, f"i{number - 1}-0", title="Changed", text=P4)
                        )
                    _save(store, source_id, batch)
            with store.engine.connect() as conn:
                index = index_for(conn)
                with index.lock:
                    held, seq = _pairs(index), index.seq
                wrong += held != _database_pairs(conn, seq)
    finally:
        store.close()
    return wrong


def _writer_process(url: str, writer: int) -> None:
    raise SystemExit(_write_and_check(url, writer))


def test_two_writers_at_once_each_index_holds_what_the_database_holds(
    database_url: str,
) -> None:
    opened = open_store(database_url)
    opened.sync_sources(
        [make_source(f"w{w}s{s}") for w in range(WRITERS) for s in range(2)], now=T0
    )
    opened.close()
    spawn = multiprocessing.get_context("spawn")
    writers = [
        spawn.Process(target=_writer_process, args=(database_url, w)) for w in range(WRITERS)
    ]
    for process in writers:
        process.start()
    for process in writers:
        process.join(timeout=180)
    assert [process.exitcode for process in writers] == [0] * WRITERS
