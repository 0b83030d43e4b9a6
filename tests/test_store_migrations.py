"""Migrations and engines: the migrated schema is schema.py; connections are set up right."""

from __future__ import annotations

import socket
import warnings
from dataclasses import replace
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

from aggregator.errors import StoreError
from aggregator.store import open_store
from aggregator.store.engine import SQLITE_BUSY_TIMEOUT_MS, create_store_engine
from aggregator.store.migrate import alembic_config, upgrade
from aggregator.store.schema import metadata
from aggregator.store.search import is_search_object


def differences(engine: sa.Engine) -> list[object]:
    with engine.connect() as conn:
        # The full-text index (migration 0002) lives outside schema.metadata.
        context = MigrationContext.configure(
            conn,
            opts={
                "compare_type": True,
                "include_object": lambda _obj, name, type_, _reflected, _other: (
                    not is_search_object(name, type_) and not is_expression_index(name, type_)
                ),
            },
        )
        with warnings.catch_warnings():
            # Said of the expression index, by alembic and by SQLAlchemy's reflection, before
            # include_object is asked (SQLite).
            warnings.filterwarnings(
                "ignore", message=".*expression-based index '?ix_items_page_key"
            )
            return list(compare_metadata(context, metadata))


def is_expression_index(name: str | None, type_: str) -> bool:
    """Alembic cannot reflect an index on an expression to compare it (it warns on SQLite):
    `test_the_page_key_index_is_made_and_keys_links_as_dedupe_does` checks that one."""
    return type_ == "index" and name == "ix_items_page_key"


def table_names(engine: sa.Engine) -> set[str]:
    with engine.connect() as conn:
        names = sa.inspect(conn).get_table_names()
        return {name for name in names if not is_search_object(name, "table")}


def test_migrated_database_matches_schema(database_url: str) -> None:
    engine = create_store_engine(database_url)
    try:
        assert differences(engine) != []  # empty database: the comparison does see tables
        upgrade(engine)
        assert differences(engine) == []
        upgrade(engine)  # at head already: nothing to do, nothing breaks
        assert differences(engine) == []
        assert table_names(engine) == {*metadata.tables, "alembic_version"}
    finally:
        engine.dispose()


def test_downgrade_to_base_and_back(database_url: str) -> None:
    engine = create_store_engine(database_url)
    try:
        upgrade(engine)
        with engine.begin() as conn:
            command.downgrade(alembic_config(conn), "base")
        assert table_names(engine) == {"alembic_version"}
        upgrade(engine)
        assert differences(engine) == []
    finally:
        engine.dispose()


def test_revisions_are_numbered_in_one_line() -> None:
    script = ScriptDirectory.from_config(alembic_config())
    revisions = [rev.revision for rev in script.walk_revisions()][::-1]
    assert revisions == [f"{n:04d}" for n in range(1, len(revisions) + 1)]
    assert script.get_heads() == [revisions[-1]]


def test_sqlite_connections_are_configured(tmp_path: Path) -> None:
    path = tmp_path / "var" / "nested" / "aggregator.sqlite"
    store = open_store(f"sqlite:///{path}")
    try:
        assert path.is_file()  # the folder was created
        with store.engine.connect() as conn:

            def pragma(name: str) -> object:
                return conn.exec_driver_sql(f"PRAGMA {name}").scalar()

            assert pragma("journal_mode") == "wal"
            assert pragma("foreign_keys") == 1
            assert pragma("synchronous") == 1  # NORMAL
            assert pragma("busy_timeout") == SQLITE_BUSY_TIMEOUT_MS
    finally:
        store.close()


def test_sqlite_in_memory_shares_one_database() -> None:
    store = open_store("sqlite://")
    try:
        assert store.item_count() == 0  # the migrated tables are visible to later connections
    finally:
        store.close()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_unreachable_postgres_is_a_store_error_with_the_password_masked() -> None:
    port = free_port()  # nothing listens there
    url = f"postgresql+psycopg://agg:s3cret-pw@127.0.0.1:{port}/nowhere"
    with pytest.raises(StoreError) as caught:
        open_store(url)
    message = str(caught.value)
    assert "s3cret-pw" not in message
    assert f"postgresql+psycopg://agg:***@127.0.0.1:{port}/nowhere" in message
    assert isinstance(caught.value.__cause__, sa.exc.OperationalError)


def test_a_folder_that_cannot_be_created_is_a_store_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(StoreError, match="cannot create the folder"):
        open_store(f"sqlite:///{blocker}/sub/aggregator.sqlite")


@pytest.mark.parametrize(
    "url",
    ["mysql://u:pw@host/db", "not a url"],
    ids=["unsupported-backend", "garbage"],
)
def test_bad_urls_are_store_errors(url: str) -> None:
    with pytest.raises(StoreError) as caught:
        open_store(url)
    assert "pw" not in str(caught.value)


@pytest.mark.parametrize("scheme", ["postgresql", "postgres"])
def test_plain_postgresql_urls_use_psycopg_3(scheme: str) -> None:
    engine = create_store_engine(f"{scheme}://u@127.0.0.1/db")
    try:
        assert engine.dialect.driver == "psycopg"
    finally:
        engine.dispose()


def test_the_fast_head_check_agrees_with_alembic(tmp_path: Path) -> None:
    """Opening a store at head skips Alembic; the check must name Alembic's own heads, and
    anything else (a new or older database) must still go through Alembic."""
    from aggregator.store.migrate import at_head, script_heads

    heads = set(ScriptDirectory.from_config(alembic_config()).get_heads())
    assert script_heads() == heads
    engine = create_store_engine(f"sqlite:///{tmp_path}/fast.db")
    try:
        assert not at_head(engine)  # empty: no version table
        upgrade(engine, "0002")
        assert not at_head(engine)  # older
        upgrade(engine)
        assert at_head(engine)
        with engine.begin() as conn:
            tables = set(sa.inspect(conn).get_table_names())
        assert "item_tags" in tables
    finally:
        engine.dispose()


def test_a_database_from_a_newer_release_is_a_store_error(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/newer.db"
    open_store(url).close()
    engine = create_store_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text("update alembic_version set version_num = '9999'"))
    engine.dispose()
    with pytest.raises(StoreError, match="cannot migrate database"):
        open_store(url)


def test_0004_carries_lsh_bucket_rows_into_the_items_and_back(database_url: str) -> None:
    from aggregator.dedupe.pairs import unpack
    from aggregator.dedupe.signatures import features
    from aggregator.store.clusters import assign_clusters
    from aggregator.store.schema import dedupe_clock, items
    from tests.support_dedupe import add_sources, cluster_ids, store_items
    from tests.test_dedupe_store import P1, P2, P3, P4, SOURCES, T0, WINDOW, item

    engine = create_store_engine(database_url)
    try:
        with engine.begin() as conn:
            command.upgrade(alembic_config(conn), "0003")
        weather = replace(item("other", "edri", "Rain over Brussels on Thursday."), title="Rain")
        archived = [item("old", "wire", f"{P1} {P2} {P3}"), weather]
        with engine.begin() as conn:  # an archive as 0003 stored it: buckets as rows
            add_sources(conn, SOURCES)
            ids = store_items(conn, archived, now=T0)
            pairs = {i: sorted(features(it).buckets) for i, it in zip(ids, archived, strict=True)}
            conn.execute(
                sa.text(
                    "insert into lsh_buckets (band, bucket, item_id, first_seen) "
                    "values (:band, :bucket, :item_id, :first_seen)"
                ),
                [
                    {"band": band, "bucket": bucket, "item_id": i, "first_seen": T0}
                    for i, found in pairs.items()
                    for band, bucket in found
                ],
            )
        upgrade(engine)
        with engine.begin() as conn:
            stored = {
                r.id: (unpack(r.buckets), r.dedupe_seq)
                for r in conn.execute(sa.select(items.c.id, items.c.buckets, items.c.dedupe_seq))
            }
            # Numbered in item order; a text too short for any band had no rows and stays
            # unnumbered (fingerprinted again if it is ever compared).
            assert pairs[ids[0]] and not pairs[ids[1]]
            assert stored == {ids[0]: (pairs[ids[0]], 1), ids[1]: ([], None)}
            assert conn.execute(sa.select(dedupe_clock.c.seq)).scalar_one() == 1
            # The migrated pairs are what a new copy of the statement is found by.
            new = store_items(conn, [item("copy", "council", f"{P1} {P2} {P3} {P4}")], now=T0)
            assign_clusters(conn, new, now=T0, window=WINDOW)
            folded = cluster_ids(conn)
        assert folded["copy"] == folded["old"] != folded["other"]
        with engine.begin() as conn:
            command.downgrade(alembic_config(conn), "0003")
        with engine.connect() as conn:
            rows = conn.execute(sa.text("select item_id, band, bucket from lsh_buckets")).all()
        back: dict[int, list[tuple[int, int]]] = {}
        for item_id, band, bucket in rows:
            back.setdefault(int(item_id), []).append((int(band), int(bucket)))
        assert {i: sorted(found) for i, found in back.items() if i in pairs} == {
            i: found for i, found in pairs.items() if found
        }
        assert back.keys() >= set(new)  # the copy's pairs, written by 0004's code, go back too
    finally:
        engine.dispose()


def test_a_query_string_password_and_a_bad_query_port_are_handled() -> None:
    with pytest.raises(StoreError) as caught:
        open_store("postgresql+psycopg://agg@127.0.0.1:5432/nowhere?password=S3cret&port=abc")
    assert "S3cret" not in str(caught.value) and "password=***" in str(caught.value)


def test_0008_gives_stored_items_this_releases_links(database_url: str) -> None:
    from aggregator.store.schema import items
    from tests.support_dedupe import add_sources

    engine = create_store_engine(database_url)
    session = "https://min.example/press/view.do;jsessionid={}?id=1"
    stored = [
        # The previous release stored a listing once per session id: two copies.
        (f"u:{session.format('AAA')}", session.format("AAA"), session.format("AAA")),
        (f"u:{session.format('BBB')}", session.format("BBB"), session.format("BBB")),
        # A script route, which its canonical URL lost.
        ("g:post-3", "https://app.example/#!/news/3", "https://app.example/"),
        (
            "u:https://portal.example/view",
            "https://portal.example/view?pk_id=7",
            "https://portal.example/view",
        ),
        # An entry without a link of its own: left alone.
        ("h:0123", "https://feed.example/", "https://feed.example/#entry-0123"),
    ]
    try:
        with engine.begin() as conn:
            command.upgrade(alembic_config(conn), "0007")
            add_sources(conn, {"wire": "press"})
            for number, (identity, url, canonical) in enumerate(stored):
                conn.execute(
                    sa.text(
                        "insert into items (source_id, identity, url, canonical_url, title,"
                        " summary, text, published, published_is_fallback, content_hash,"
                        " first_seen, last_changed, revision) values ('wire', :identity, :url,"
                        " :canonical, :title, '', '', :at, false, 'v1:x', :at, :at, 1)"
                    ),
                    {
                        "identity": identity,
                        "url": url,
                        "canonical": canonical,
                        "title": f"Item {number}",
                        "at": "2026-01-01 00:00:00",
                    },
                )
        upgrade(engine)
        with engine.connect() as conn:
            rows = conn.execute(
                sa.select(items.c.identity, items.c.url, items.c.canonical_url).order_by(items.c.id)
            ).all()
        clean = "https://min.example/press/view.do?id=1"
        assert [tuple(row) for row in rows] == [
            # The oldest copy is found under the clean link at the next refresh...
            (f"u:{clean}", clean, clean),
            # ...the other keeps its identity (the two cannot share one).
            (f"u:{session.format('BBB')}", clean, clean),
            ("g:post-3", "https://app.example/#!/news/3", "https://app.example/#!/news/3"),
            (
                "u:https://portal.example/view?pk_id=7",
                "https://portal.example/view?pk_id=7",
                "https://portal.example/view?pk_id=7",
            ),
            ("h:0123", "https://feed.example/", "https://feed.example/#entry-0123"),
        ]
    finally:
        engine.dispose()


def test_0010_reads_every_source_again_once(database_url: str) -> None:
    # This release reads dates and relisted entries otherwise: a server answering 304 would
    # keep the items as the previous release read them (a CEST time stored as UTC).
    from aggregator.store.schema import sources
    from tests.support_dedupe import add_sources

    engine = create_store_engine(database_url)
    try:
        with engine.begin() as conn:
            command.upgrade(alembic_config(conn), "0009")
            add_sources(conn, {"ec": "institution", "edri": "ngo"})
            conn.execute(sa.update(sources).values(etag='"v1"', last_modified="Tue, 1 Jan 2026"))
        upgrade(engine)
        with engine.connect() as conn:
            rows = conn.execute(sa.select(sources.c.id, sources.c.etag, sources.c.last_modified))
            assert sorted(tuple(row) for row in rows) == [("ec", None, None), ("edri", None, None)]
    finally:
        engine.dispose()


def test_the_page_key_index_is_made_and_keys_links_as_dedupe_does(database_url: str) -> None:
    # Alembic cannot compare an index on an expression: checked here. The dedupe store tests
    # find a link's other spellings through it (test_dedupe_store.py).
    from aggregator.store.page_key import PAGE_KEY_SQL
    from aggregator.urls import same_page_key

    links = [
        "https://www.edri.org/s",
        "http://edri.org/s",
        "https://edri.org/s",
        "http://www.edri.org/s",
        "https://www2.edri.org/s",
        "https://www.",
        "tag:edri.org,2026:s",
        "HTTP://[broken",
    ]
    engine = create_store_engine(database_url)
    try:
        upgrade(engine)
        listed = (
            "SELECT name FROM sqlite_master WHERE type = 'index'"
            if engine.dialect.name == "sqlite"
            else "SELECT indexname FROM pg_indexes WHERE schemaname = current_schema()"
        )
        with engine.connect() as conn:
            assert "ix_items_page_key" in set(conn.execute(sa.text(listed)).scalars())
            keys = {
                url: conn.execute(
                    sa.text(f"SELECT {PAGE_KEY_SQL} FROM (SELECT :url AS canonical_url) AS v"),
                    {"url": url},
                ).scalar_one()
                for url in links
            }
        assert keys == {url: same_page_key(url) for url in links}  # the database's is Python's
    finally:
        engine.dispose()
