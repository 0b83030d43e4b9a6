"""The in-memory bucket index against real SQLite and PostgreSQL: what several writers, a
rolled-back savepoint and a rolled-back transaction leave it knowing.

Each engine is a writer process as far as the index knows (the index belongs to its pool).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime, timedelta

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import Engine, select

from aggregator.dedupe.pairs import pack, unpack
from aggregator.dedupe.signatures import features
from aggregator.store import bucket_index
from aggregator.store.bucket_index import index_for, pair_key
from aggregator.store.clusters import assign_clusters
from aggregator.store.engine import create_store_engine
from aggregator.store.schema import dedupe_clock, items, metadata
from tests.support_dedupe import add_sources, cluster_ids, store_items
from tests.test_dedupe_store import P1, P2, P3, P4, SOURCES, T0, WINDOW, item

OTHER = "Rain is expected over Brussels on Thursday, with sunny spells at the weekend."
INT64 = st.integers(min_value=-(2**63), max_value=2**63 - 1)


ROWS = st.lists(st.tuples(st.integers(min_value=-5, max_value=5), st.integers(0, 99)), max_size=30)


@given(ROWS, ROWS)
def test_a_run_absorbing_another_holds_both_sorted_the_others_after_equal_keys(
    first: list[tuple[int, int]], other: list[tuple[int, int]]
) -> None:
    def run(rows: list[tuple[int, int]], call: int) -> bucket_index._Rows:
        return bucket_index._Rows.of(
            np.array([k for k, _ in rows], dtype=np.int64),
            np.array([i for _, i in rows], dtype=np.int64),
            np.full(len(rows), call, dtype=np.int64),
        )

    absorbing = run(first, 1)
    absorbing.absorb(run(other, 2))
    # A stable sort of both, this run's rows first: rows of equal keys keep their order.
    expected = sorted(
        [(k, i, 1) for k, i in first] + [(k, i, 2) for k, i in other], key=lambda row: row[0]
    )
    assert absorbing.calls is not None
    got = zip(
        absorbing.keys.tolist(), absorbing.ids.tolist(), absorbing.calls.tolist(), strict=True
    )
    assert list(got) == expected


@given(st.lists(st.tuples(st.integers(min_value=-3, max_value=40), INT64), max_size=50))
def test_packed_pairs_come_back_sorted(pairs: list[tuple[int, int]]) -> None:
    assert unpack(pack(pairs)) == sorted(pairs)


@pytest.fixture()
def engines(database_url: str) -> Iterator[tuple[Engine, Engine]]:
    """Two writers on one database."""
    first = create_store_engine(database_url)
    metadata.create_all(first)
    with first.begin() as conn:
        add_sources(conn, SOURCES)
    second = create_store_engine(database_url)
    yield first, second
    first.dispose()
    second.dispose()


def _cluster(engine: Engine, key: str, source: str, text: str, *, title: str = "") -> int:
    new = item(key, source, text)
    if title:
        new = replace(new, title=title)
    with engine.begin() as conn:
        ids = store_items(conn, [new], now=T0)
        return assign_clusters(conn, ids, now=T0, window=WINDOW).assigned[ids[0]]


def test_a_writer_finds_what_another_committed_after_its_index_was_built(
    engines: tuple[Engine, Engine],
) -> None:
    first, second = engines
    # The second's index is built (with an unrelated item), then the first writes.
    unrelated = _cluster(second, "other", "edri", OTHER, title="Weather")
    wire = _cluster(first, "a", "wire", f"{P1} {P2} {P3}")
    council = _cluster(second, "b", "council", f"{P1} {P2} {P3} {P4}")
    assert council == wire != unrelated
    with second.connect() as conn:
        assert len(index_for(conn)) > 0


def test_a_rolled_back_savepoint_leaves_no_candidate_and_its_numbers_are_given_again(
    engines: tuple[Engine, Engine],
) -> None:
    first, second = engines
    with first.begin() as conn:
        savepoint = conn.begin_nested()
        ghost = store_items(conn, [item("ghost", "wire", f"{P1} {P2} {P3}")], now=T0)
        assign_clusters(conn, ghost, now=T0, window=WINDOW)
        savepoint.rollback()
        # In the same transaction: an item like the ghost finds no ghost, and a third like it
        # finds the second from the transaction's own (uncommitted) pairs.
        with conn.begin_nested():
            kept = store_items(conn, [item("kept", "council", f"{P1} {P2} {P3} {P4}")], now=T0)
            assign_clusters(conn, kept, now=T0, window=WINDOW)
        with conn.begin_nested():
            echo = store_items(conn, [item("echo", "digest", f"{P1} {P2} {P3}")], now=T0)
            assign_clusters(conn, echo, now=T0, window=WINDOW)
        numbers = sorted(n for (n,) in conn.execute(select(items.c.dedupe_seq)))
        clusters = cluster_ids(conn)
    assert numbers == [1, 2]  # the ghost's number went back to the clock and was given again
    assert set(clusters) == {"kept", "echo"} and clusters["kept"] == clusters["echo"]
    # Another writer sees the committed pair, not the ghost.
    assert _cluster(second, "late", "edri", f"{P1} {P2} {P3}") == clusters["kept"]


def test_a_rolled_back_transaction_is_not_remembered(engines: tuple[Engine, Engine]) -> None:
    first, second = engines
    with first.connect() as conn:
        transaction = conn.begin()
        ids = store_items(conn, [item("ghost", "wire", f"{P1} {P2} {P3}")], now=T0)
        assign_clusters(conn, ids, now=T0, window=WINDOW)
        transaction.rollback()
    # The second writer takes the ghost's number; the first catches up with it, not the ghost.
    taken = _cluster(second, "real", "council", f"{P1} {P2} {P3} {P4}")
    assert _cluster(first, "copy", "digest", f"{P1} {P2} {P3}") == taken
    with first.connect() as conn:
        assert conn.execute(select(dedupe_clock.c.seq)).scalar_one() == 2


def test_an_updated_item_is_found_by_its_new_text_only(engines: tuple[Engine, Engine]) -> None:
    first, second = engines
    wire = _cluster(first, "a", "wire", f"{P1} {P2} {P3}")
    # The second writer's index is built before the update.
    assert _cluster(second, "unrelated", "edri", OTHER, title="Weather") != wire
    with first.begin() as conn:
        (row_id,) = conn.execute(select(items.c.id).where(items.c.identity == "a")).scalars()
        new_text = "Completely different words about the weather in Brussels today and tomorrow."
        new = features(item("a", "wire", new_text))
        conn.execute(
            items.update()
            .where(items.c.id == row_id)
            .values(text=new_text, title="Weather", text_hash=None, dedupe_seq=None)
        )
        assign_clusters(conn, [row_id], now=T0, window=WINDOW)
        stored = conn.execute(select(items.c.buckets).where(items.c.id == row_id)).scalar_one()
    assert stored != pack(features(item("a", "wire", f"{P1} {P2} {P3}")).buckets)
    assert new.buckets  # the update gave the item pairs of its own
    # The second writer's index drops the old pairs: the old text no longer finds the item.
    council = _cluster(second, "b", "council", f"{P1} {P2} {P3} {P4}")
    assert council != wire


def test_a_lookup_reaching_further_back_than_the_index_reads_the_older_items(
    engines: tuple[Engine, Engine],
) -> None:
    first, _ = engines
    old = T0 - 3 * WINDOW

    def cluster_at(key: str, source: str, text: str, at: datetime) -> int:
        with first.begin() as conn:
            ids = store_items(conn, [replace(item(key, source, text), first_seen=at)], now=at)
            return assign_clusters(conn, ids, now=at, window=WINDOW).assigned[ids[0]]

    archived = cluster_at("archived", "wire", f"{P1} {P2} {P3}", old)
    recent = cluster_at("recent", "edri", OTHER, T0)  # the index now starts a window before T0
    with first.connect() as conn:
        index = index_for(conn)
        assert index.low is not None and index.low > old
        built = len(index)
    # An item first seen next to the archived one looks back to it: the index reaches back
    # (the older rows are added, nothing read again) and the copy joins the archived item.
    copy = cluster_at("copy", "council", f"{P1} {P2} {P3} {P4}", old + timedelta(hours=1))
    assert copy == archived != recent
    assert index.low is not None and index.low <= old
    assert len(index) > built


def test_after_a_rolled_back_savepoint_a_transaction_sees_what_another_writer_committed(
    postgres_url: str,
) -> None:
    """PostgreSQL: nothing stops a second writer while the first transaction holds no
    number (its savepoint gave them back); the first one's next call still finds its work."""
    first = create_store_engine(postgres_url)
    second = create_store_engine(postgres_url)
    try:
        metadata.create_all(first)
        with first.begin() as conn:
            add_sources(conn, SOURCES)
        with first.connect() as conn:
            transaction = conn.begin()
            savepoint = conn.begin_nested()
            ghost = store_items(conn, [item("ghost", "edri", OTHER)], now=T0)
            assign_clusters(conn, ghost, now=T0, window=WINDOW)
            savepoint.rollback()
            wire = _cluster(second, "a", "wire", f"{P1} {P2} {P3}")  # commits meanwhile
            copy = store_items(conn, [item("copy", "council", f"{P1} {P2} {P3} {P4}")], now=T0)
            found = assign_clusters(conn, copy, now=T0, window=WINDOW).assigned[copy[0]]
            transaction.commit()
        assert found == wire
    finally:
        first.dispose()
        second.dispose()


def test_catch_ups_keep_small_runs_apart_and_every_item_is_still_found(
    engines: tuple[Engine, Engine], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bucket_index, "MAX_RUNS", 3)
    monkeypatch.setattr(bucket_index, "SMALL_RUNS_SHARE", 1e9)  # only their number counts
    first, second = engines
    _cluster(second, "base", "edri", OTHER, title="Weather")
    stories = {
        f"s{n}": f"Story {n}: {' '.join(f'{word}{n}' for word in P1.split())}" for n in range(5)
    }

    def runs_and_found() -> tuple[int, dict[str, bool]]:
        with second.begin() as conn:
            index = index_for(conn)
            index.catch_up(conn, T0 - WINDOW)
            rows = conn.execute(select(items.c.id, items.c.identity, items.c.buckets)).all()
            found = {}
            for row in rows:
                hits: dict[int, list[tuple[int, int]]] = {}
                keys = [pair_key(pair) for pair in unpack(row.buckets)]
                index.find(np.array(keys, dtype=np.int64), hits)
                found[row.identity] = all(
                    row.id in {i for i, _ in hits.get(key, [])} for key in keys
                )
            return len(index._runs), found

    counts = []
    for key, text in stories.items():  # committed one at a time by the other writer
        _cluster(first, key, "wire", text)
        count, found = runs_and_found()
        counts.append(count)
        assert all(found.values()), found
    # Small runs stayed apart until there were too many, then went into the first.
    # The first catch-up reads the base item and s0 into one run; later ones add a run each.
    assert counts == [1, 2, 3, 1, 2]
    # An updated item's old pairs go from whichever run holds them.
    with first.begin() as conn:
        (row_id,) = conn.execute(select(items.c.id).where(items.c.identity == "s4")).scalars()
        old = conn.execute(select(items.c.buckets).where(items.c.id == row_id)).scalar_one()
        conn.execute(
            items.update()
            .where(items.c.id == row_id)
            .values(text=OTHER + " Updated.", title="Weather", text_hash=None, dedupe_seq=None)
        )
        assign_clusters(conn, [row_id], now=T0, window=WINDOW)
    _, found = runs_and_found()
    assert all(found.values())
    with second.begin() as conn:
        hits = {}
        stale = [pair_key(pair) for pair in unpack(old)]
        index_for(conn).find(np.array(stale, dtype=np.int64), hits)
    assert row_id not in {i for rows in hits.values() for i, _ in rows}
