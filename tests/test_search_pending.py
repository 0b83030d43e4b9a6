"""SQLite's full-text index takes new items in at the next search, not in the refresh that
stores them (migration 0014): nothing is missed, and waiting items never corrupt it."""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import delete, event, text, update

from aggregator.store import SqlStore, open_store
from aggregator.store.engine import SQLITE_BUSY_TIMEOUT_MS, create_store_engine
from aggregator.store.migrate import alembic_config, upgrade
from aggregator.store.schema import items
from aggregator.store.search import index_behind, parse_search, search_ids
from tests.support_store import at, make_item, make_source
from tests.support_store import save_to_src as save


@pytest.fixture()
def path(tmp_path: Path) -> Path:
    return tmp_path / "aggregator.sqlite"


@pytest.fixture()
def store(path: Path) -> Iterator[SqlStore]:
    opened = open_store(f"sqlite:///{path}")
    opened.sync_sources([make_source("src")], now=at(0))
    try:
        yield opened
    finally:
        opened.close()


def waiting(path: Path) -> int:
    with sqlite3.connect(path) as conn:
        return int(conn.execute("select count(*) from items_fts_pending").fetchone()[0])


def indexed(store: SqlStore, words: str) -> set[str]:
    """Identities the index alone finds, without catching up first."""
    identities = {i.id: i.identity for i in store.iter_items()}
    with store.engine.connect() as conn:
        return {identities[i] for i, _ in search_ids(conn, parse_search(words))}


def integrity_check(path: Path) -> None:
    """FTS5 compares its index with the items: a 'delete' of text never indexed fails it."""
    with sqlite3.connect(path) as conn:
        conn.execute("insert into items_fts(items_fts) values ('integrity-check')")


def test_a_refresh_leaves_its_items_waiting_and_a_search_takes_them_in(
    store: SqlStore, path: Path
) -> None:
    save(store, [make_item("src", "a", title="Grooming report", text="Body one.")])
    save(store, [make_item("src", "b", title="Encryption vote", text="Body two.")], 5)
    assert waiting(path) == 2
    with store.engine.connect() as conn:
        assert index_behind(conn)
    assert indexed(store, "grooming") == set()  # the refresh indexed nothing

    assert store.catch_up_search() == 2
    assert waiting(path) == 0
    assert indexed(store, "grooming") == {"a"}
    assert indexed(store, "encryption OR body") == {"a", "b"}
    integrity_check(path)
    assert store.catch_up_search() == 0  # nothing left: a read, no write


def test_an_item_edited_while_it_waits_is_indexed_with_its_new_text(
    store: SqlStore, path: Path
) -> None:
    save(store, [make_item("src", "a", title="Draft title", text="Old words.")])
    save(store, [make_item("src", "a", title="Final title", text="New words.")], 5)
    store.catch_up_search()
    assert indexed(store, "final") == {"a"}
    assert indexed(store, "draft OR old") == set()
    integrity_check(path)


def test_an_indexed_item_edited_later_is_indexed_again(store: SqlStore, path: Path) -> None:
    save(store, [make_item("src", "a", title="Draft title", text="Old words.")])
    store.catch_up_search()
    save(store, [make_item("src", "a", title="Final title", text="New words.")], 5)
    assert waiting(path) == 0  # already in the index: the edit is indexed as it is written
    assert indexed(store, "final") == {"a"}
    assert indexed(store, "draft") == set()
    integrity_check(path)


def test_deleting_a_waiting_item_leaves_the_index_sound(store: SqlStore, path: Path) -> None:
    save(store, [make_item("src", "old", title="Indexed grooming item", text="Kept.")])
    store.catch_up_search()
    save(store, [make_item("src", "new", title="Waiting grooming item", text="Gone.")], 5)
    with store.engine.begin() as conn:
        conn.execute(delete(items).where(items.c.identity == "new"))
    assert waiting(path) == 0  # it left the queue with its row
    integrity_check(path)
    with store.engine.begin() as conn:
        conn.execute(delete(items).where(items.c.identity == "old"))
    integrity_check(path)  # an indexed item's deletion still leaves the index
    assert indexed(store, "grooming") == set()


def test_a_waiting_item_whose_dedupe_columns_change_stays_waiting(
    store: SqlStore, path: Path
) -> None:
    save(store, [make_item("src", "a", title="Grooming report", text="Body.")])
    with store.engine.begin() as conn:  # dedupe writes cluster_id and fingerprints, not text
        conn.execute(update(items).values(dedupe_seq=None))
    assert waiting(path) == 1
    store.catch_up_search()
    assert indexed(store, "grooming") == {"a"}


def test_a_store_migrated_from_0013_keeps_its_index_and_queues_only_new_items(
    path: Path,
) -> None:
    url = f"sqlite:///{path}"
    engine = create_store_engine(url)
    try:
        upgrade(engine, "0013")  # triggers index every insert
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO sources (id, name, kind, org, config_url, url, enabled, "
                    "consecutive_failures, ever_yielded) VALUES ('src', 'Src', 'feed', "
                    "'ngo', 'https://example.org/f', 'https://example.org/f', true, 0, false)"
                )
            )
            conn.execute(
                text(
                    "INSERT INTO items (source_id, identity, url, canonical_url, title, "
                    "summary, text, published, published_is_fallback, content_hash, "
                    "first_seen, last_changed, revision) VALUES ('src', 'early', 'u', 'u', "
                    "'Grooming report', '', 'Body.', :t, false, 'v1:x', :t, :t, 1)"
                ),
                {"t": at(0)},
            )
        upgrade(engine)
    finally:
        engine.dispose()
    assert waiting(path) == 0
    integrity_check(path)
    store = open_store(url)
    try:
        assert indexed(store, "grooming") == {"early"}
        save(store, [make_item("src", "late", title="Grooming update", text="More.")], 5)
        assert waiting(path) == 1
        store.catch_up_search()
        assert indexed(store, "grooming") == {"early", "late"}
    finally:
        store.close()


def test_going_back_to_0013_indexes_what_waits(store: SqlStore, path: Path) -> None:
    save(store, [make_item("src", "a", title="Grooming report", text="Body.")])
    assert waiting(path) == 1
    engine = create_store_engine(f"sqlite:///{path}")
    try:
        with engine.begin() as conn:
            command.downgrade(alembic_config(conn), "0013")
    finally:
        engine.dispose()
    integrity_check(path)
    assert indexed(store, "grooming") == {"a"}
    save(store, [make_item("src", "b", title="Grooming again", text="Body.")], 5)
    assert indexed(store, "grooming") == {"a", "b"}  # the old insert trigger is back


def test_a_store_it_cannot_write_is_searched_as_it_is(
    store: SqlStore, path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    save(store, [make_item("src", "a", title="Grooming report", text="Body.")])
    store.engine.dispose()

    @event.listens_for(store.engine, "connect")
    def _wait_briefly(dbapi_conn: sqlite3.Connection, _record: object) -> None:
        dbapi_conn.execute("PRAGMA busy_timeout=50")  # after the store's own 30 s

    holder = sqlite3.connect(path, timeout=0)
    holder.execute("begin immediate")  # another program holds the write lock
    try:
        assert store.catch_up_search() == 0
    finally:
        holder.rollback()
        holder.close()
    assert "full-text index of sqlite" in caplog.text
    assert "not brought up to date, searching it as it is" in caplog.text
    assert waiting(path) == 1
    assert store.catch_up_search() == 1  # the next search does it


def test_a_search_waits_for_another_writer_no_longer_than_it_is_told(
    store: SqlStore, path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # The API's search waits a moment for a refresh's write batch, not the store's 30 s
    # busy timeout: a refresh writing batch after batch would hold every search that long.
    caplog.set_level(logging.INFO, logger="aggregator.store.sql")
    save(store, [make_item("src", "a", title="Grooming report", text="Body.")])
    holder = sqlite3.connect(path, timeout=0)
    holder.execute("begin immediate")  # another program holds the write lock
    outcome: list[int] = []
    try:
        worker = threading.Thread(target=lambda: outcome.append(store.catch_up_search(wait=0.2)))
        worker.start()
        worker.join(timeout=10)  # far less than the busy timeout; far more than 0.2 s
        assert not worker.is_alive(), "the search waited out the store's busy timeout"
    finally:
        holder.rollback()
        holder.close()
    assert outcome == [0]
    assert "not brought up to date, searching it as it is" in caplog.text
    # The connection it used waits the store's own time again, and catches up now.
    with store.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == SQLITE_BUSY_TIMEOUT_MS
    assert store.catch_up_search(wait=0.2) == 1
    with store.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == SQLITE_BUSY_TIMEOUT_MS


def test_searches_at_once_take_the_waiting_items_in_once(store: SqlStore, path: Path) -> None:
    # Sixty searches at once each waited for the write lock in turn, to index nothing more:
    # one takes them in, the others search at once.
    save(store, [make_item("src", "a", title="Grooming report", text="Body.")])
    with store._catching_up:  # another search of this process is at it
        assert store.catch_up_search(wait=5) == 0
    assert waiting(path) == 1
    assert store.catch_up_search(wait=5) == 1
