"""The store, one suite run on SQLite and on PostgreSQL (the `database_url` fixture)."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

import aggregator.store.sql
from aggregator.errors import Blocked, FetchError, RateLimited, StoreError
from aggregator.models import (
    CacheValidators,
    Fetched,
    Item,
    NotModifiedRecord,
    OrgKind,
    Refreshed,
    Source,
    SourceKind,
)
from aggregator.normalise import normalise_document
from aggregator.parse import parse_document
from aggregator.store import SqlStore, Store, open_store
from aggregator.store.schema import clusters, fetch_log, item_tags, sources, tombstones
from aggregator.store.schema import items as items_table
from tests.support_store import T0, at, make_item, make_source

NO_VALIDATORS = CacheValidators()


def save(
    store: SqlStore,
    source_id: str,
    batch: Sequence[Item],
    *,
    now: datetime,
    seen: int | None = None,
    validators: CacheValidators = NO_VALIDATORS,
    permanent_url: str | None = None,
    warnings: Sequence[str] = (),
) -> Refreshed:
    return store.save_refresh(
        source_id,
        batch,
        now=now,
        seconds=0.25,
        validators=validators,
        url=f"https://example.org/{source_id}/feed.xml",
        permanent_url=permanent_url,
        next_fetch_at=now + timedelta(hours=1),
        seen=len(batch) if seen is None else seen,
        warnings=warnings,
    )


def rows(store: SqlStore, stmt: sa.Executable) -> list[sa.Row[tuple[object, ...]]]:
    with store.engine.connect() as conn:
        return list(conn.execute(stmt))


def test_sql_store_is_a_store(store: SqlStore) -> None:
    typed: Store = store  # mypy checks the protocol; this checks the dialect name
    assert typed is store
    assert store.dialect in ("sqlite", "postgresql")


def test_sync_sources_inserts_updates_and_disables(store: SqlStore) -> None:
    store.sync_sources([make_source("a"), make_source("b")], now=T0)
    health = {h.id: h for h in store.source_health()}
    assert sorted(health) == ["a", "b"]
    assert health["b"].url == "https://example.org/b/feed.xml"
    assert health["b"].next_fetch_at == T0
    assert health["b"].consecutive_failures == 0 and health["b"].item_count == 0

    # b learns validators and a permanent redirect; a gets an item
    save(store, "a", [make_item("a", "1")], now=at(1))
    save(
        store,
        "b",
        [],
        now=at(1),
        validators=CacheValidators(etag='"e1"', last_modified="Mon, 06 May 2024 07:00:00 GMT"),
        permanent_url="https://example.org/b/moved.xml",
    )
    store.sync_sources(
        [
            make_source("b", url="https://example.org/b/new.xml", name="Bee"),
            make_source("c"),
        ],
        now=at(2),
    )
    health = {h.id: h for h in store.source_health()}
    # a is no longer configured: disabled, its item kept (whether it is fetched is the
    # config's to say, of the process that fetches: `App.due_sources`)
    assert health["a"].item_count == 1
    # b's configured URL changed: the redirect target and the validators go, due at once
    assert health["b"].url == "https://example.org/b/new.xml"
    assert health["b"].validators == CacheValidators()
    assert health["b"].next_fetch_at == at(2)
    assert health["c"].next_fetch_at == at(2)
    table = {r.id: r for r in rows(store, sa.select(sources))}
    assert table["b"].name == "Bee" and table["b"].config_url == "https://example.org/b/new.xml"
    assert [table[i].enabled for i in "abc"] == [False, True, True]

    # same config again: a redirect and validators learnt meanwhile are kept
    save(
        store,
        "c",
        [],
        now=at(3),
        validators=CacheValidators(etag='"c"'),
        permanent_url="https://x.org/c",
    )
    store.sync_sources(
        [make_source("b", url="https://example.org/b/new.xml"), make_source("c")], now=at(4)
    )
    c = store.fetch_state("c")
    assert c is not None and c.url == "https://x.org/c" and c.validators.etag == '"c"'
    assert c.next_fetch_at == at(3) + timedelta(hours=1)

    # configured again: enabled again
    store.sync_sources([make_source("a")], now=at(5))
    table = {r.id: r for r in rows(store, sa.select(sources))}
    assert [table[i].enabled for i in "abc"] == [True, False, False]


def test_save_refresh_new_updated_unchanged(store: SqlStore) -> None:
    store.sync_sources([make_source("s")], now=T0)
    first = save(
        store, "s", [make_item("s", "1"), make_item("s", "2"), make_item("s", "3")], now=at(1)
    )
    assert first == Refreshed(new=3, updated=0, unchanged=0, seen=3)
    assert store.item_count() == 3

    second = save(
        store,
        "s",
        [
            make_item("s", "1"),
            make_item("s", "2", title="Title of 2, corrected", text="Changed body."),
            make_item("s", "4"),
        ],
        now=at(2),
        seen=3,
    )
    assert second == Refreshed(new=1, updated=1, unchanged=1, seen=3)
    assert store.item_count() == 4
    assert store.known_hashes("s") == {
        i.identity: i.content_hash
        for i in [
            make_item("s", "1"),
            make_item("s", "2", title="Title of 2, corrected", text="Changed body."),
            make_item("s", "3"),
            make_item("s", "4"),
        ]
    }

    by_identity = {i.identity: i for i in store.iter_items()}
    changed = by_identity["2"]
    assert (changed.title, changed.text, changed.revision) == (
        "Title of 2, corrected",
        "Changed body.",
        2,
    )
    assert (changed.first_seen, changed.last_changed) == (at(1), at(2))
    assert (by_identity["1"].revision, by_identity["1"].last_changed) == (1, at(1))
    assert by_identity["4"].first_seen == at(2)

    [old] = store.revisions(changed.id)
    assert (old.revision, old.title, old.text) == (1, "Title of 2", "Body text.")
    assert old.content_hash == make_item("s", "2").content_hash
    assert old.recorded_at == at(1)  # when that version became current

    # a third version keeps both earlier ones
    save(store, "s", [make_item("s", "2", title="Third")], now=at(3))
    assert [r.revision for r in store.revisions(changed.id)] == [1, 2]
    assert store.revisions(changed.id)[1].recorded_at == at(2)
    stored = store.get_item(changed.id)
    assert stored is not None and (stored.title, stored.revision) == ("Third", 3)
    assert store.get_item(10**9) is None
    assert store.revisions(10**9) == []


def test_source_status_follows_the_counts(store: SqlStore) -> None:
    store.sync_sources([make_source("s")], now=T0)
    statuses = []
    for minute, batch in enumerate(
        [
            [make_item("s", "1")],
            [make_item("s", "1", text="new text")],
            [make_item("s", "1", text="new text")],
        ]
    ):
        save(store, "s", batch, now=at(minute))
        health = store.fetch_state("s")
        assert health is not None
        statuses.append(health.last_status)
    assert statuses == ["new", "updated", "unchanged"]
    log = rows(store, sa.select(fetch_log).order_by(fetch_log.c.id))
    assert [(r.status, r.new, r.updated) for r in log] == [
        ("new", 1, 0),
        ("updated", 0, 1),
        ("unchanged", 0, 0),
    ]
    assert log[0].seconds == 0.25


def test_new_items_get_a_cluster_of_their_own(store: SqlStore) -> None:
    store.sync_sources([make_source("s")], now=T0)
    save(store, "s", [make_item("s", str(n)) for n in range(5)], now=at(1))
    stored = list(store.iter_items())
    cluster_rows = {r.id: r for r in rows(store, sa.select(clusters))}
    assert len(cluster_rows) == 5
    for item in stored:
        assert item.cluster_id is not None
        row = cluster_rows[item.cluster_id]
        assert (row.primary_item_id, row.size) == (item.id, 1)


def test_tags_are_replaced_for_new_and_changed_items(store: SqlStore) -> None:
    store.sync_sources([make_source("s")], now=T0)
    save(
        store,
        "s",
        [make_item("s", "1", tags=("csam", "eu", "csam")), make_item("s", "2", tags=("eu",))],
        now=at(1),
    )
    assert {i.identity: i.tags for i in store.iter_items()} == {"1": ("csam", "eu"), "2": ("eu",)}
    save(
        store,
        "s",
        [
            make_item("s", "1", text="changed", tags=("privacy", "eu")),
            make_item("s", "2", tags=("ignored",)),  # unchanged content: tags left alone
        ],
        now=at(2),
    )
    assert {i.identity: i.tags for i in store.iter_items()} == {
        "1": ("eu", "privacy"),
        "2": ("eu",),
    }
    assert len(rows(store, sa.select(item_tags))) == 3


def test_save_refresh_updates_the_source_row(store: SqlStore) -> None:
    store.sync_sources([make_source("s")], now=T0)
    store.record_failure("s", FetchError("s", "boom"), now=at(1), seconds=1, next_fetch_at=at(2))
    save(
        store,
        "s",
        [make_item("s", "1")],
        now=at(3),
        seen=7,
        validators=CacheValidators(etag='W/"x"', last_modified="Tue, 07 May 2024 10:00:00 GMT"),
        permanent_url="https://example.org/s/moved",
    )
    health = store.fetch_state("s")
    assert health is not None
    assert health.validators == CacheValidators(
        etag='W/"x"', last_modified="Tue, 07 May 2024 10:00:00 GMT"
    )
    assert health.url == "https://example.org/s/moved"
    assert (health.last_fetch_at, health.last_success_at, health.next_fetch_at) == (
        at(3),
        at(3),
        at(63),
    )
    assert (health.last_error, health.last_error_kind, health.failing_since) == (None, None, None)
    assert health.consecutive_failures == 0
    assert (health.last_item_count, health.ever_yielded) == (7, True)
    # A refresh reads the state without counting items; the health listing counts them.
    assert health.item_count is None
    assert [h.item_count for h in store.source_health(["s"])] == [1]
    # an empty document later does not forget that the source once yielded items
    save(store, "s", [], now=at(4), seen=0)
    health = store.fetch_state("s")
    assert health is not None and (health.last_item_count, health.ever_yielded) == (0, True)
    assert health.url == "https://example.org/s/moved"  # no redirect this time: kept
    assert store.fetch_state("nope") is None


def test_save_refresh_is_atomic(store: SqlStore) -> None:
    """A failure at the last write of the transaction leaves no trace of the earlier ones."""
    store.sync_sources([make_source("s")], now=T0)
    with store.engine.begin() as conn:
        if store.dialect == "sqlite":
            conn.exec_driver_sql(
                "CREATE TRIGGER fail_log BEFORE INSERT ON fetch_log "
                "BEGIN SELECT RAISE(ABORT, 'injected failure'); END"
            )
        else:
            conn.exec_driver_sql(
                "CREATE FUNCTION fail_log() RETURNS trigger LANGUAGE plpgsql AS "
                "$$ BEGIN RAISE EXCEPTION 'injected failure'; END $$"
            )
            conn.exec_driver_sql(
                "CREATE TRIGGER fail_log BEFORE INSERT ON fetch_log "
                "FOR EACH ROW EXECUTE FUNCTION fail_log()"
            )
    batch = [make_item("s", str(n), tags=("t",)) for n in range(30)]
    with pytest.raises(StoreError, match="injected failure") as caught:
        save(store, "s", batch, now=at(1), validators=CacheValidators(etag='"e"'))
    assert isinstance(caught.value.__cause__, sa.exc.SQLAlchemyError)
    assert store.item_count() == 0
    for table in (clusters, item_tags, fetch_log):
        assert rows(store, sa.select(table)) == []
    health = store.fetch_state("s")
    assert health is not None
    assert (health.last_status, health.validators, health.last_success_at) == (
        None,
        CacheValidators(),
        None,
    )

    with store.engine.begin() as conn:
        conn.exec_driver_sql(
            "DROP TRIGGER fail_log" + (" ON fetch_log" if store.dialect == "postgresql" else "")
        )
    assert save(store, "s", batch, now=at(2)).new == 30


def test_tombstoned_items_are_not_brought_back(store: SqlStore) -> None:
    store.sync_sources([make_source("s")], now=T0)
    with store.engine.begin() as conn:
        conn.execute(
            sa.insert(tombstones).values(
                source_id="s",
                identity="old",
                canonical_url="https://example.org/s/old",
                pruned_at=T0,
            )
        )
    result = save(store, "s", [make_item("s", "old"), make_item("s", "kept")], now=at(1))
    assert (result.new, result.updated, result.unchanged, result.seen) == (1, 0, 0, 2)
    assert [i.identity for i in store.iter_items()] == ["kept"]


def test_a_repeated_identity_is_stored_once_with_a_warning(store: SqlStore) -> None:
    store.sync_sources([make_source("s")], now=T0)
    result = save(
        store,
        "s",
        [make_item("s", "1"), make_item("s", "1", title="later copy")],
        now=at(1),
        warnings=("feed had a bozo bit",),
    )
    assert result.new == 1
    assert result.warnings[0] == "feed had a bozo bit"
    assert "repeated" in result.warnings[1] and "'1'" in result.warnings[1]
    assert [i.title for i in store.iter_items()] == ["Title of 1"]


def test_record_failure_and_not_modified(store: SqlStore) -> None:
    store.sync_sources([make_source("s")], now=T0)
    store.record_failure(
        "s", FetchError("s", "timed out"), now=at(1), seconds=30, next_fetch_at=at(10)
    )
    store.record_failure(
        "s",
        RateLimited("s", "429", retry_at=at(60), status_code=429),
        now=at(10),
        seconds=1,
        next_fetch_at=at(60),
    )
    health = store.fetch_state("s")
    assert health is not None
    assert health.last_status == "rate limited" and health.last_error_kind == "rate-limited"
    assert health.last_error == "rate limited: 429"  # the id is the row's
    assert (health.consecutive_failures, health.failing_since) == (2, at(1))
    assert (health.last_fetch_at, health.last_success_at, health.next_fetch_at) == (
        at(10),
        None,
        at(60),
    )

    store.record_failure(
        "s", Blocked("s", "challenge"), now=at(60), seconds=1, next_fetch_at=at(120)
    )
    health = store.fetch_state("s")
    assert health is not None and (health.last_status, health.consecutive_failures) == (
        "blocked",
        3,
    )

    store.record_not_modified("s", now=at(120), seconds=0.5, next_fetch_at=at(180))
    health = store.fetch_state("s")
    assert health is not None
    assert (health.last_status, health.last_error, health.last_error_kind) == (
        "not modified",
        None,
        None,
    )
    assert (health.consecutive_failures, health.failing_since) == (0, None)
    assert (health.last_fetch_at, health.last_success_at, health.next_fetch_at) == (
        at(120),
        at(120),
        at(180),
    )

    log = rows(store, sa.select(fetch_log).order_by(fetch_log.c.id))
    assert [(r.status, r.error_kind) for r in log] == [
        ("error", "fetch"),
        ("rate limited", "rate-limited"),
        ("blocked", "blocked"),
        ("not modified", None),
    ]
    assert log[0].error == "fetch failed: 's': timed out"

    with pytest.raises(StoreError, match="unknown source 'ghost'"):
        store.record_failure(
            "ghost", FetchError("ghost", "x"), now=at(1), seconds=1, next_fetch_at=at(2)
        )
    with pytest.raises(StoreError, match="unknown source 'ghost'"):
        save(store, "ghost", [make_item("ghost", "1")], now=at(1))


def test_many_304s_write_what_one_at_a_time_writes(store: SqlStore) -> None:
    store.sync_sources([make_source(i) for i in ("a", "b", "c", "d")], now=T0)
    for one in ("a", "b"):  # an error state, which a 304 clears
        store.record_failure(one, FetchError(one, "x"), now=at(1), seconds=1, next_fetch_at=at(2))
    store.record_not_modified("a", now=at(5), seconds=0.5, next_fetch_at=at(50))
    store.record_not_modified("c", now=at(5), seconds=0.25, next_fetch_at=at(60))
    store.record_not_modified_many(
        [
            NotModifiedRecord(source_id="b", now=at(5), seconds=0.5, next_fetch_at=at(50)),
            NotModifiedRecord(source_id="d", now=at(5), seconds=0.25, next_fetch_at=at(60)),
        ]
    )
    state = {h.id: h for h in store.source_health()}
    for alone, together in (("a", "b"), ("c", "d")):
        assert replace(state[alone], id="x", url="x") == replace(state[together], id="x", url="x")
    log = rows(store, sa.select(fetch_log).where(fetch_log.c.status == "not modified"))
    written = {r.source_id: (r.started_at, r.seconds, r.error) for r in log}
    assert written["a"] == written["b"] and written["c"] == written["d"]
    assert len(log) == 4


def test_many_304s_with_an_unknown_source_write_nothing(store: SqlStore) -> None:
    store.sync_sources([make_source("a")], now=T0)
    batch = [
        NotModifiedRecord(source_id=i, now=at(5), seconds=0.5, next_fetch_at=at(50))
        for i in ("a", "ghost")
    ]
    with pytest.raises(StoreError, match="unknown source"):
        store.record_not_modified_many(batch)
    health = store.fetch_state("a")
    assert health is not None and health.last_status is None
    assert rows(store, sa.select(fetch_log)) == []


def test_due_source_ids(store: SqlStore) -> None:
    store.sync_sources([make_source(i) for i in ("a", "b", "c", "d")], now=T0)
    assert store.due_source_ids(now=T0) == ["a", "b", "c", "d"]
    assert store.due_source_ids(now=T0 - timedelta(seconds=1)) == []
    store.record_not_modified("a", now=at(1), seconds=0, next_fetch_at=at(30))
    store.record_not_modified("b", now=at(1), seconds=0, next_fetch_at=at(10))
    store.record_not_modified("c", now=at(1), seconds=0, next_fetch_at=at(20))
    # d disabled: still due here; whether it is fetched is the config's to say, of the
    # process that fetches (`App.due_sources`), not of whichever command synced last.
    store.sync_sources([make_source(i) for i in ("a", "b", "c")], now=at(2))
    assert store.due_source_ids(now=at(5)) == ["d"]
    assert store.due_source_ids(now=at(10)) == ["d", "b"]  # next_fetch_at <= now
    assert store.due_source_ids(now=at(25)) == ["d", "b", "c"]  # most overdue first
    assert store.due_source_ids(now=at(99)) == ["d", "b", "c", "a"]


def test_iter_items_windows_order_and_utc(store: SqlStore, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(aggregator.store.sql, "PAGE_SIZE", 2)  # several pages, and a tie across one
    store.sync_sources([make_source("a"), make_source("b")], now=T0)
    cest = timezone(timedelta(hours=2))
    # saved out of time order; a and b share a first_seen
    save(store, "b", [make_item("b", "b1"), make_item("b", "b2")], now=at(20))
    save(
        store,
        "a",
        [make_item("a", "a1", published=datetime(2024, 5, 1, 12, tzinfo=cest))],
        now=at(10),
    )
    save(store, "a", [make_item("a", "a2"), make_item("a", "a3")], now=at(20))
    save(store, "a", [make_item("a", "a4")], now=(at(30)).astimezone(cest))

    everything = list(store.iter_items())
    assert [i.identity for i in everything] == ["a1", "b1", "b2", "a2", "a3", "a4"]
    assert [(i.first_seen, i.id) for i in everything] == sorted(
        (i.first_seen, i.id) for i in everything
    )
    for item in everything:
        for value in (item.first_seen, item.last_changed, item.published):
            assert value.tzinfo is UTC
    a1, a4 = everything[0], everything[-1]
    assert a1.published == datetime(2024, 5, 1, 10, tzinfo=UTC)  # the same instant, in UTC
    assert a4.first_seen == at(30)

    def window(
        since: datetime | None = None,
        until: datetime | None = None,
        source_ids: Sequence[str] | None = None,
    ) -> list[str]:
        return [
            i.identity for i in store.iter_items(since=since, until=until, source_ids=source_ids)
        ]

    assert window(since=at(20)) == ["b1", "b2", "a2", "a3", "a4"]  # since: inclusive
    assert window(until=at(20)) == ["a1"]  # until: exclusive
    assert window(since=at(10), until=at(30)) == ["a1", "b1", "b2", "a2", "a3"]
    assert window(since=at(20).astimezone(cest), until=at(30).astimezone(cest)) == [
        "b1",
        "b2",
        "a2",
        "a3",
    ]
    assert window(source_ids=["a"]) == ["a1", "a2", "a3", "a4"]
    assert window(source_ids=[]) == []
    assert window(since=at(31)) == []


def test_naive_datetimes_are_refused(store: SqlStore) -> None:
    store.sync_sources([make_source("s")], now=T0)
    with pytest.raises(ValueError, match="naive datetime"):
        store.due_source_ids(now=datetime(2024, 1, 1))


def head_revision() -> str:
    from alembic.script import ScriptDirectory

    from aggregator.store.migrate import alembic_config

    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


def test_data_survives_reopening(database_url: str) -> None:
    first = open_store(database_url)
    first.sync_sources([make_source("s")], now=T0)
    save(first, "s", [make_item("s", "1", tags=("eu",))], now=at(1))
    first.close()

    again = open_store(database_url)  # migrates again: a no-op at head
    try:
        assert again.item_count() == 1
        [item] = again.iter_items()
        assert (item.identity, item.tags, item.first_seen) == ("1", ("eu",), at(1))
        with again.engine.connect() as conn:
            assert conn.exec_driver_sql(
                "select version_num from alembic_version"
            ).scalars().all() == [head_revision()]
    finally:
        again.close()
    unmigrated = open_store(database_url, migrate=False)
    try:
        assert unmigrated.item_count() == 1
    finally:
        unmigrated.close()


def test_database_errors_become_store_errors(store: SqlStore) -> None:
    store.sync_sources([make_source("s")], now=T0)
    with store.engine.begin() as conn:
        conn.execute(sa.delete(sources))  # nothing references it yet
        conn.execute(sa.text("DROP TABLE item_tags"))
    store.sync_sources([make_source("s")], now=T0)
    with pytest.raises(StoreError, match=r"save_refresh failed on (sqlite|postgresql)") as caught:
        save(store, "s", [make_item("s", "1", tags=("x",))], now=at(1))
    assert "Body text" not in str(caught.value)  # driver message only, not the statement's data
    assert store.item_count() == 0


def test_item_count_on_an_empty_store(store: SqlStore) -> None:
    assert store.item_count() == 0
    assert list(store.iter_items()) == []
    assert store.source_health() == []
    assert store.known_hashes("none") == {}


def test_two_writers_at_once(database_url: str) -> None:
    """Two processes' stores (here: two engines in threads) writing together both succeed:
    SQLite waits on its write lock (BEGIN IMMEDIATE + busy_timeout) instead of failing."""
    first, second = open_store(database_url), open_store(database_url)
    try:
        first.sync_sources([make_source("a"), make_source("b")], now=T0)

        def refresh(store: SqlStore, source_id: str) -> None:
            for n in range(15):
                save(
                    store,
                    source_id,
                    [make_item(source_id, f"{n}-{k}") for k in range(5)],
                    now=at(n),
                )

        with ThreadPoolExecutor(max_workers=2) as pool:
            done = [pool.submit(refresh, first, "a"), pool.submit(refresh, second, "b")]
            for future in done:
                future.result()
        assert first.item_count() == 150
        assert {h.id: h.item_count for h in second.source_health()} == {"a": 75, "b": 75}
    finally:
        first.close()
        second.close()


@pytest.mark.parametrize(
    "change",
    [
        {"name": "Renamed"},
        {"url": "https://example.org/a/elsewhere.xml"},
        {"enabled": False},
        {"org": "press"},
    ],
)
def test_sync_sources_notices_each_configured_field(
    store: SqlStore, change: dict[str, object]
) -> None:
    store.sync_sources([make_source("a")], now=T0)
    store.sync_sources([replace(make_source("a"), **change)], now=at(1))
    row = {r.id: r for r in rows(store, sa.select(sources))}["a"]
    column = {"url": "config_url"}.get(next(iter(change)), next(iter(change)))
    assert getattr(row, column) == next(iter(change.values()))


def test_sync_sources_with_the_same_config_takes_no_write_lock(tmp_path: Path) -> None:
    # Most commands start with the config the last one synced: they must not queue behind a
    # refresh that holds SQLite's write lock, only to write nothing.
    path = tmp_path / "store.sqlite"
    store = open_store(f"sqlite:///{path}")
    configured = [make_source("a"), make_source("b")]
    store.sync_sources(configured, now=T0)
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another process writing
    try:
        with ThreadPoolExecutor(1) as pool:
            pool.submit(store.sync_sources, configured, now=at(1)).result(timeout=5)
            changed = pool.submit(store.sync_sources, configured[:1], now=at(1))
            with pytest.raises(TimeoutError):  # b to disable: it waits for the lock
                changed.result(timeout=0.5)
            holder.execute("ROLLBACK")
            changed.result(timeout=30)
    finally:
        holder.close()
        store.close()
    reopened = open_store(f"sqlite:///{path}")
    assert {h.id: h for h in reopened.source_health()}.keys() == {"a", "b"}
    table = {r.id: r for r in rows(reopened, sa.select(sources))}
    assert (table["a"].enabled, table["b"].enabled) == (True, False)
    reopened.close()


def test_a_store_opened_while_another_process_writes_reads_at_once(tmp_path: Path) -> None:
    # Opening a connection set auto_vacuum, which takes the write lock: `aggregator sources`
    # during a refresh's long write waited sqlite3's default 5 s, twice, then failed.
    path = tmp_path / "store.sqlite"
    first = open_store(f"sqlite:///{path}")
    first.sync_sources([make_source("a")], now=T0)
    first.close()
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another process writing
    try:
        with ThreadPoolExecutor(1) as pool:
            opened = pool.submit(lambda: open_store(f"sqlite:///{path}"))
            second = opened.result(timeout=4)
            try:
                assert pool.submit(second.due_source_ids, now=at(1)).result(timeout=4) == ["a"]
            finally:
                second.close()
    finally:
        holder.execute("ROLLBACK")
        holder.close()


def test_sqlite_new_items_are_stored_as_sqlalchemy_stores_them(tmp_path: Path) -> None:
    """New items reach SQLite through the driver (store/items.py `_insert_sqlite`): each
    column's stored value is the one SQLAlchemy's own insert gives the same item."""
    from aggregator.store.items import _content

    full = replace(
        make_item("s1", "g:1", title="Ça marche — «CSAR»", text="Corps du texte. " * 40),
        guid="urn:one",
        updated=datetime(2026, 3, 4, 5, 6, 7, 891011, tzinfo=timezone(timedelta(hours=2))),
        author="Équipe presse",
        categories=("Sécurité", "EU"),
        language="fr",
        published=datetime(2026, 3, 1, 23, 30, tzinfo=timezone(timedelta(hours=-5))),
    )
    fallback = replace(make_item("s1", "g:2"), published_is_fallback=True, guid=None)
    now = datetime(2026, 3, 5, 1, 2, 3, 456789, tzinfo=UTC)
    store = open_store(f"sqlite:///{tmp_path / 'driver.sqlite'}")
    store.sync_sources([make_source("s1")], now=now)
    save(store, "s1", [full, fallback], now=now)
    dedupe = ("text_hash", "signature", "buckets", "dedupe_seq")  # written by dedupe, later
    columns = [c for c in items_table.c if c.name not in ("id", "cluster_id", *dedupe)]
    with store.engine.connect() as conn:
        by_driver = {
            row.identity: tuple(row)
            for row in conn.execute(sa.select(items_table.c.identity, *columns))
        }
        raw = conn.exec_driver_sql("SELECT published, updated FROM items WHERE identity = 'g:1'")
        assert raw.one() == ("2026-03-02 04:30:00.000000", "2026-03-04 03:06:07.891011")
    store.close()

    reference = open_store(f"sqlite:///{tmp_path / 'reference.sqlite'}")
    reference.sync_sources([make_source("s1")], now=now)
    with reference.engine.begin() as conn:
        for item in (full, fallback):
            conn.execute(
                sa.insert(items_table).values(
                    # dated when first seen: the store's time, not the document's
                    **(_content(item) | ({"published": now} if item.published_is_fallback else {})),
                    source_id="s1",
                    identity=item.identity,
                    first_seen=now,
                    last_changed=now,
                    revision=1,
                )
            )
        by_sqlalchemy = {
            row.identity: tuple(row)
            for row in conn.execute(sa.select(items_table.c.identity, *columns))
        }
        raw_reference = conn.exec_driver_sql(
            "SELECT published, updated FROM items WHERE identity = 'g:1'"
        ).one()
    reference.close()
    assert by_driver == by_sqlalchemy
    assert raw_reference == ("2026-03-02 04:30:00.000000", "2026-03-04 03:06:07.891011")


def test_an_item_without_a_date_is_dated_when_first_seen(store: SqlStore) -> None:
    # Normalise stands in the time the document was read; the store makes it the time the
    # item was first seen, moments later, so the two agree.
    store.sync_sources([make_source("s1")], now=at(0))
    undated = make_item("s1", "u:1", published=at(1), published_is_fallback=True)
    dated = make_item("s1", "u:2", published=at(-60))
    save(store, "s1", [undated, dated], now=at(2))
    first = {i.identity: i for i in store.iter_items()}
    assert first["u:1"].published == first["u:1"].first_seen == at(2)
    assert first["u:2"].published == at(-60)

    # Edited later, still without a date: still its first-seen time. Edited with its date
    # gone (a listing page's date selector no longer matching): the stored date stays.
    edited = make_item("s1", "u:1", text="Edited.", published=at(9), published_is_fallback=True)
    undone = make_item("s1", "u:2", text="Edited.", published=at(9), published_is_fallback=True)
    save(store, "s1", [edited, undone], now=at(10))
    later = {i.identity: i for i in store.iter_items()}
    assert later["u:1"].revision == later["u:2"].revision == 2
    assert later["u:1"].published == at(2) and later["u:1"].published_is_fallback
    assert later["u:2"].published == at(-60) and not later["u:2"].published_is_fallback


def test_a_reading_that_lost_the_title_or_text_keeps_the_stored_ones(store: SqlStore) -> None:
    from aggregator.text import content_fingerprint, fallback_title

    store.sync_sources([make_source("s1")], now=at(0))
    titled = make_item("s1", "u:1", title="Council adopts its position", text="The Council.")
    # Hashed as normalise hashes: the store compares what it mends with what it holds.
    titled = replace(titled, content_hash=content_fingerprint(titled.title, titled.text))
    untitled = make_item("s1", "u:2", title=fallback_title("First words.", ""), text="First words.")
    untitled = replace(untitled, title_is_fallback=True)
    save(store, "s1", [titled, untitled], now=at(1))

    # The page's title selector finds nothing now, and its summary selector neither.
    lost = replace(
        make_item("s1", "u:1", title=titled.url, text=""), title_is_fallback=True, summary=""
    )
    # A title-less entry whose text changed: its stand-in title follows the new text.
    edited = replace(
        make_item("s1", "u:2", title=fallback_title("Other words.", ""), text="Other words."),
        title_is_fallback=True,
    )
    save(store, "s1", [lost, edited], now=at(2))
    found = {i.identity: i for i in store.iter_items()}
    assert found["u:1"].title == "Council adopts its position"
    assert found["u:1"].text == "The Council." and found["u:1"].revision == 1
    assert found["u:2"].title == "Other words." and found["u:2"].revision == 2


def _feed_items(source: Source, entries: Sequence[tuple[str, str, str]], now: datetime) -> Any:
    """The normalised items of an RSS document of (guid, link, title) entries."""
    body = "".join(
        f"<item><guid isPermaLink='false'>{guid}</guid><link>{link}</link><title>{title}</title>"
        f"<description>{title}: the body.</description></item>"
        for guid, link, title in entries
    )
    document = parse_document(
        source,
        Fetched(
            url=source.url,
            status_code=200,
            content=f'<rss version="2.0"><channel><title>c</title>{body}</channel></rss>'.encode(),
            headers={"content-type": "application/rss+xml"},
        ),
    )
    return normalise_document(source, document, now=now)


def test_an_item_whose_guid_stops_being_repeated_is_not_stored_twice(store: SqlStore) -> None:
    # Version 1 gives G1 to two entries, so each is known by its URL; version 2 drops one,
    # so the other is known by its GUID again. It is the same item, not a new one.
    source = make_source("s", url="https://example.org/s/feed.xml")
    store.sync_sources([source], now=T0)
    v1 = [("G1", "https://example.org/news/d1", "D1"), ("G1", "https://example.org/news/d2", "D2")]
    first = _feed_items(source, v1, at(1))
    assert [i.identity for i in first] == [
        "u:https://example.org/news/d1",
        "u:https://example.org/news/d2",
    ]
    assert save(store, "s", first, now=at(1)).new == 2
    second = _feed_items(source, v1[:1], at(2))
    assert [i.identity for i in second] == ["g:G1"]
    result = save(store, "s", second, now=at(2))
    assert (result.new, result.updated, result.unchanged) == (0, 0, 1)
    edited = _feed_items(source, [("G1", "https://example.org/news/d1", "D1 corrected")], at(3))
    result = save(store, "s", edited, now=at(3))
    assert (result.new, result.updated) == (0, 1)
    assert sorted(i.title for i in store.iter_items()) == ["D1 corrected", "D2"]


def test_an_item_whose_guid_starts_being_repeated_is_not_stored_twice(store: SqlStore) -> None:
    source = make_source("s", url="https://example.org/s/feed.xml")
    store.sync_sources([source], now=T0)
    one = ("PR-1", "https://example.org/press/1", "Council press release one")
    assert save(store, "s", _feed_items(source, [one], at(1)), now=at(1)).new == 1
    # A second entry reuses the GUID: both fall back to their URLs; the first is the one
    # stored, the second is new.
    two = ("PR-1", "https://example.org/press/2", "Council press release two")
    result = save(store, "s", _feed_items(source, [one, two], at(2)), now=at(2))
    assert (result.new, result.updated, result.unchanged) == (1, 0, 1)
    assert sorted(i.title for i in store.iter_items()) == [
        "Council press release one",
        "Council press release two",
    ]
    # And back: no third copy of either.
    result = save(store, "s", _feed_items(source, [one], at(3)), now=at(3))
    assert (result.new, result.updated, result.unchanged) == (0, 0, 1)
    assert store.item_count() == 2


def test_an_item_tombstoned_under_its_other_identity_stays_pruned(store: SqlStore) -> None:
    source = make_source("s", url="https://example.org/s/feed.xml")
    store.sync_sources([source], now=T0)
    with store.engine.begin() as conn:
        conn.execute(
            sa.insert(tombstones).values(
                source_id="s",
                identity="u:https://example.org/news/d1",
                canonical_url="https://example.org/news/d1",
                pruned_at=T0,
            )
        )
    items = _feed_items(source, [("G1", "https://example.org/news/d1", "D1")], at(1))
    assert save(store, "s", items, now=at(1)).new == 0
    assert store.item_count() == 0


PROCEDURE_V2 = Path(__file__).parent / "data" / "procedure" / "odp-procedure_2022-0155_v2.json"


def _procedure_items(source: Source, data: bytes, now: datetime) -> Any:
    document = parse_document(
        source,
        Fetched(
            url=source.url, status_code=200, content=data,
            headers={"content-type": "application/ld+json"},
        ),
    )  # fmt: skip
    return normalise_document(source, document, now=now)


def test_a_procedure_event_whose_date_is_corrected_is_updated_not_doubled(
    store: SqlStore,
) -> None:
    source = Source(
        id="proc-csar",
        name="Procedure 2022/0155(COD)",
        url="https://data.europarl.europa.eu/api/v2/procedures/2022-0155",
        kind=SourceKind.EP_PROCEDURE,
        org=OrgKind.PARLIAMENT,
        reference="2022/0155(COD)",
    )
    store.sync_sources([source], now=T0)
    data = PROCEDURE_V2.read_bytes()
    later = datetime(2026, 11, 25, tzinfo=UTC)  # after the events, so their dates are kept
    first = _procedure_items(source, data, later)
    assert save(store, source.id, first, now=later).new == len(first)
    # The plenary vote was on the 18th, not the 19th: the Parliament corrects the date.
    corrected = data.replace(b'"2026-11-19"', b'"2026-11-18"')
    assert corrected != data
    now = later + timedelta(hours=1)
    result = save(store, source.id, _procedure_items(source, corrected, now), now=now)
    assert (result.new, result.updated) == (0, 1)
    assert store.item_count() == len(first)
    dates = sorted(i.published.date().isoformat() for i in store.iter_items())
    assert "2026-11-18" in dates and "2026-11-19" not in dates
    # And again: the same document is unchanged, not corrected a second time.
    now += timedelta(hours=1)
    again = save(store, source.id, _procedure_items(source, corrected, now), now=now)
    assert (again.new, again.updated) == (0, 0)


def test_a_read_more_link_removed_since_an_item_was_stored_is_no_update(
    store: SqlStore,
) -> None:
    store.sync_sources([make_source("wapo")], now=T0)
    text = "Schools tackle obesity and poor eating habits."
    before = make_item("wapo", "g1", title="Schools", text=f"{text}\nRead full article >>")
    save(store, "wapo", [before], now=at(1))
    after = make_item("wapo", "g1", title="Schools", text=text)
    refreshed = save(store, "wapo", [after], now=at(2))
    assert (refreshed.new, refreshed.updated, refreshed.unchanged) == (0, 0, 1)
    [stored] = list(store.iter_items())
    assert stored.text == text and stored.revision == 1


def test_a_footer_removed_since_an_item_was_stored_is_no_update(store: SqlStore) -> None:
    # Items stored before footers were removed (boilerplate.py) kept them in their text:
    # today's reading of the same entry differs by the footer alone. The store takes the
    # new text, but keeps the revision: no "updated" for every entry of EDRi in a digest.
    store.sync_sources([make_source("edri")], now=T0)
    footer = "\n\nThe post EDRi-gram appeared first on European Digital Rights (EDRi)."
    before = make_item("edri", "g1", title="EDRi-gram", text="Summer to-dos, & more!" + footer)
    save(store, "edri", [before], now=at(1))
    after = make_item("edri", "g1", title="EDRi-gram", text="Summer to-dos, & more!")
    refreshed = save(store, "edri", [after], now=at(2))
    assert (refreshed.new, refreshed.updated, refreshed.unchanged) == (0, 0, 1)
    [stored] = list(store.iter_items())
    assert stored.text == "Summer to-dos, & more!" and stored.revision == 1
    assert stored.content_hash == after.content_hash
    assert store.revisions(stored.id) == []
    # A real change is still an update.
    edited = make_item("edri", "g1", title="EDRi-gram", text="Summer to-dos, & much more!")
    assert save(store, "edri", [edited], now=at(3)).updated == 1


def test_the_url_a_refresh_asks_is_where_a_301_moved_the_source(store: SqlStore) -> None:
    # A worker took its host slot for the configured URL and asked the moved one: workers
    # asked the new host beyond fetch.max_per_host.
    from aggregator.store.sources import fetched_from

    configured = "https://example.org/b/feed.xml"
    store.sync_sources([make_source("b")], now=T0)
    with store.engine.connect() as conn:
        assert fetched_from(conn, "b", configured) == configured
        assert fetched_from(conn, "nope", "https://x.example/") == "https://x.example/"
    save(store, "b", [], now=at(1), permanent_url="https://feeds.example.net/b.xml")
    with store.engine.connect() as conn:
        assert fetched_from(conn, "b", configured) == "https://feeds.example.net/b.xml"
        # Another URL in the config since: that one is asked.
        assert fetched_from(conn, "b", "https://example.org/b/new.xml") == (
            "https://example.org/b/new.xml"
        )


def test_a_batch_sqlite_rolled_back_under_it_fails_whole_and_says_why(tmp_path: Path) -> None:
    # SQLite ends the whole transaction itself on a full disk or an I/O error (for a
    # statement it cannot undo alone). The batch's earlier write, which had succeeded, was
    # reported stored and lost, and the error read "no such savepoint". A trigger's
    # RAISE(ROLLBACK) ends the transaction the same way, on purpose.
    store = open_store(f"sqlite:///{tmp_path / 'full.sqlite'}")
    try:
        store.sync_sources([make_source(s) for s in ("small", "big", "later")], now=T0)
        with store.engine.begin() as conn:
            conn.exec_driver_sql(
                "CREATE TRIGGER full_disk BEFORE INSERT ON fetch_log WHEN NEW.source_id = 'big' "
                "BEGIN SELECT RAISE(ROLLBACK, 'database or disk is full (injected)'); END"
            )
        lost_batch = pytest.raises(aggregator.store.sql.BatchLost, match="disk is full")
        with lost_batch as lost, store.write_batch():
            assert save(store, "small", [make_item("small", "1")], now=at(1)).new == 1
            with pytest.raises(StoreError, match="disk is full"):
                save(store, "big", [make_item("big", "1")], now=at(1))
            # The transaction is gone: nothing more runs, not even outside one.
            with pytest.raises(StoreError, match="disk is full"):
                save(store, "later", [make_item("later", "1")], now=at(1))
        assert "no such savepoint" not in str(lost.value)
        assert store.item_count() == 0
        for source_id in ("small", "later"):
            health = store.fetch_state(source_id)
            assert health is not None and health.last_status is None
        assert save(store, "small", [make_item("small", "1")], now=at(2)).new == 1
    finally:
        store.close()


@pytest.mark.skipif(
    not hasattr(os, "geteuid") or os.geteuid() != 0 or shutil.which("setpriv") is None,
    reason="needs root and setpriv, to open the store as another user",
)
def test_a_store_in_a_folder_its_user_cannot_write_says_so() -> None:
    # The file is the user's, its folder root's: SQLite cannot make the -wal and -shm
    # files beside it, and called the store "a readonly database".
    folder = Path(tempfile.mkdtemp())
    try:
        folder.chmod(0o755)
        url = f"sqlite:///{folder / 'aggregator.sqlite'}"
        open_store(url).close()
        os.chown(folder / "aggregator.sqlite", 65534, -1)
        opened = subprocess.run(
            [
                "setpriv",
                "--reuid=65534",
                "--regid=65534",
                "--clear-groups",
                sys.executable,
                "-c",
                f"from aggregator.store import open_store; open_store({url!r}, migrate=False)",
            ],
            capture_output=True,
            text=True,
            cwd=Path(__file__).parent.parent,
            check=False,
        )
        assert opened.returncode != 0
        assert f"the folder {folder} is not writable" in opened.stderr
        assert "-wal and -shm" in opened.stderr
    finally:
        shutil.rmtree(folder)
