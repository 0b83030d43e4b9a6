"""Retention: the policy, then pruning through real refreshes, digests and the CLI on SQLite
and PostgreSQL: old items go, recent ones and ones in recent digests stay, tombstones keep
pruned items from coming back, clusters stay consistent, and space is given back."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import sqlalchemy
from sqlalchemy import func, select

from aggregator.app import App
from aggregator.cli import main
from aggregator.models import CacheValidators, Item
from aggregator.retention import Cutoffs, RetentionPolicy, is_prunable
from aggregator.settings import RetentionSettings
from aggregator.store import open_store
from aggregator.store.clusters import assign_clusters
from aggregator.store.engine import WRITE_OPTION
from aggregator.store.retention import prunable_ids, prune
from aggregator.store.schema import (
    clusters,
    digest_items,
    digests,
    item_tags,
    items,
    tombstones,
)
from aggregator.store.search import catch_up
from aggregator.store.timestamps import from_db
from tests.support_config import write_config
from tests.support_store import make_item, make_source

if TYPE_CHECKING:
    from tests.httpserver import FixtureServer

pytest_plugins = ("tests.httpserver",)

DATA = Path(__file__).parent / "data" / "parse"
RSS = (DATA / "europarl_press_rss.xml").read_bytes()
JSONFEED = (DATA / "ecpat_jsonfeed.json").read_bytes()
ATOM = (DATA / "iwf_news.atom").read_bytes()
FAST = """
[fetch]
retries = 0
read_timeout = 2.0
total_timeout = 3.0

[retention]
keep_days = 365
keep_digest_days = 30

[digest.profiles.daily]

[digest.profiles.watch]
include_tags = ["watch"]
"""


# -- the policy ------------------------------------------------------------------------------

NOW = datetime(2026, 3, 2, 3, 30, tzinfo=UTC)
CUT = RetentionPolicy(keep_days=365, keep_digest_days=30).cutoffs(NOW)


@pytest.mark.parametrize(
    ("first_seen_days_ago", "shown_days_ago", "prunable"),
    [
        (366, [], True),
        (365, [], False),  # exactly keep_days old: kept (strictly older goes)
        (10, [], False),
        (400, [300, 31], True),  # shown, but only in digests older than keep_digest_days
        (400, [300, 30], False),  # a digest exactly keep_digest_days old still protects
        (400, [2], False),
    ],
)
def test_policy(first_seen_days_ago: int, shown_days_ago: list[int], prunable: bool) -> None:
    first_seen = NOW - timedelta(days=first_seen_days_ago)
    shown = [NOW - timedelta(days=d) for d in shown_days_ago]
    assert is_prunable(first_seen, shown, CUT) is prunable


def test_policy_from_settings_and_naive_now() -> None:
    policy = RetentionPolicy.from_settings(RetentionSettings(keep_days=10, keep_digest_days=3))
    assert policy.cutoffs(NOW) == Cutoffs(
        seen_before=NOW - timedelta(days=10), shown_since=NOW - timedelta(days=3)
    )
    with pytest.raises(ValueError, match="naive"):
        policy.cutoffs(NOW.replace(tzinfo=None))


# -- end to end: refresh, digest, prune, refresh again ---------------------------------------


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def feed(id: str, url: str, **extra: Any) -> dict[str, Any]:
    return {"id": id, "name": id.upper(), "url": url, "kind": "feed", "org": "ngo", **extra}


def counts(engine: sqlalchemy.Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {
            table.name: int(conn.execute(select(func.count()).select_from(table)).scalar_one())
            for table in (items, clusters, tombstones, item_tags, digest_items)
        }


def policy_says(engine: sqlalchemy.Engine, cutoffs: Cutoffs) -> set[int]:
    """The pure policy applied to every stored item: what the SQL must agree with."""
    with engine.connect() as conn:
        shown: dict[int, list[datetime]] = {}
        for item_id, created in conn.execute(
            select(digest_items.c.item_id, digests.c.created_at).join(
                digests, digests.c.id == digest_items.c.digest_id
            )
        ):
            shown.setdefault(item_id, []).append(from_db(created))
        rows = conn.execute(select(items.c.id, items.c.first_seen)).all()
    return {
        row.id
        for row in rows
        if is_prunable(from_db(row.first_seen), shown.get(row.id, []), cutoffs)
    }


def test_prune_end_to_end(
    http_server: FixtureServer, env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # No validators on the routes: every refresh gets and parses the whole document.
    sources = [
        feed("ep", http_server.add("/ep.xml", body=RSS), org="parliament", tags=["watch"]),
        feed(
            "ecpat",
            http_server.add("/ecpat.json", body=JSONFEED, content_type="application/feed+json"),
        ),
        feed(
            "ecpat-mirror",
            http_server.add("/mirror.json", body=JSONFEED, content_type="application/feed+json"),
        ),
        feed("iwf", http_server.add("/iwf.atom", body=ATOM)),
    ]
    config = write_config(env / "config", sources, settings=FAST)
    now = datetime.now(UTC).replace(microsecond=0)
    old, recent = now - timedelta(days=400), now - timedelta(days=10)
    clock = Clock(old)

    with App.open(config, clock=clock) as app:
        # The "watch" profile was set up before the first refresh: its next digest covers
        # everything since (a profile's very first digest reaches back one period only).
        clock.now = old - timedelta(minutes=1)
        assert app.run_digest("watch", send=True).recorded
        clock.now = old
        first = asyncio.run(app.refresh(app.select_sources(["ep", "ecpat"])))
        assert all(r.ok and r.new for r in first), first
        clock.now = old + timedelta(days=1)  # a digest long ago: it protects nothing now
        assert app.run_digest("daily", send=True).digest.entry_count > 0
        clock.now = recent
        mirrored = asyncio.run(app.refresh(app.select_sources(["ecpat-mirror", "iwf"])))
        assert all(r.ok and r.new for r in mirrored), mirrored
        # The mirror republishes ecpat's items: dedupe (over a window wide enough to reach
        # back 390 days) puts each pair in one cluster, the older ecpat item as primary.
        writer = app.store.engine.execution_options(**{WRITE_OPTION: True})
        with writer.begin() as conn:
            ids = list(conn.execute(select(items.c.id)).scalars())
            assign_clusters(conn, ids, now=recent, window=timedelta(days=1000))
        ecpat_ids = _ids(app.store.engine, "ecpat")
        mirror_ids = _ids(app.store.engine, "ecpat-mirror")
        assert _sizes(app.store.engine, mirror_ids) == [2] * len(mirror_ids)
        assert _primaries(app.store.engine, mirror_ids) == ecpat_ids

        clock.now = now - timedelta(days=5)  # a recent digest of the "watch" items only
        watch = app.run_digest("watch", send=True)
        assert watch.recorded and watch.digest.entry_count > 0

        clock.now = now
        cutoffs = RetentionPolicy.from_settings(app.settings.retention).cutoffs(now)
        expected = set(ecpat_ids)  # old, and only in the old digest
        assert policy_says(app.store.engine, cutoffs) == expected
        with app.store.engine.connect() as conn:
            assert set(prunable_ids(conn, cutoffs)) == expected
        before = counts(app.store.engine)

    code = main(["--config", str(config), "prune", "--dry-run"])
    said = capsys.readouterr()[0]
    assert code == 0 and said.startswith(f"dry run: {len(expected)} items would be pruned")
    assert f"0 clusters would be removed, {len(expected)} updated" in said
    code = main(["--config", str(config), "prune", "--dry-run", "--json"])
    dry = json.loads(capsys.readouterr()[0])
    assert code == 0 and dry["items"] == len(expected) and dry["dry_run"] is True
    code = main(["--config", str(config), "prune", "--json"])
    done = json.loads(capsys.readouterr()[0])
    assert code == 0 and done["items"] == len(expected) and done["vacuum"]
    # The dry run told what the real one did, clusters included.
    assert done["clusters_updated"] == len(mirror_ids)
    assert (dry["clusters_deleted"], dry["clusters_updated"]) == (
        done["clusters_deleted"],
        done["clusters_updated"],
    )

    with App.open(config, clock=clock) as app:
        engine = app.store.engine
        after = counts(engine)
        assert after["items"] == before["items"] - len(expected)
        assert after["tombstones"] == len(expected)
        with engine.connect() as conn:
            # Cascades: nothing of the pruned items is left anywhere.
            for table in (item_tags, digest_items):
                left = conn.execute(
                    select(func.count()).select_from(table).where(table.c.item_id.in_(expected))
                ).scalar_one()
                assert left == 0, table.name
            stones = {(r.source_id, r.identity) for r in conn.execute(select(tombstones))}
        assert {s for s, _ in stones} == {"ecpat"}
        # The pairs' clusters lost one member each: size 1, the mirror's item is primary.
        assert _sizes(engine, mirror_ids) == [1] * len(mirror_ids)
        assert _primaries(engine, mirror_ids) == sorted(mirror_ids)
        assert after["clusters"] == before["clusters"]  # none emptied: each kept one member
        _check_search_index(engine)

        # The feed still lists the pruned items: a refresh adds nothing back.
        clock.now = now + timedelta(hours=1)
        [result] = asyncio.run(app.refresh(app.select_sources(["ecpat"])))
        assert result.ok and result.new == 0 and result.updated == 0
        assert counts(engine)["items"] == after["items"]
        [health] = app.health(["ecpat"])
        assert health.item_count == 0 and health.last_status == "unchanged"

    code = main(["--config", str(config), "prune"])
    out = capsys.readouterr()[0]
    assert code == 0 and "pruned 0 items" in out


def _ids(engine: sqlalchemy.Engine, source_id: str) -> list[int]:
    with engine.connect() as conn:
        return sorted(
            conn.execute(select(items.c.id).where(items.c.source_id == source_id)).scalars()
        )


def _sizes(engine: sqlalchemy.Engine, item_ids: list[int]) -> list[int]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(clusters.c.size)
            .join(items, items.c.cluster_id == clusters.c.id)
            .where(items.c.id.in_(item_ids))
            .order_by(items.c.id)
        )
        return [int(size) for size in rows.scalars()]


def _primaries(engine: sqlalchemy.Engine, item_ids: list[int]) -> list[int]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(clusters.c.primary_item_id)
            .join(items, items.c.cluster_id == clusters.c.id)
            .where(items.c.id.in_(item_ids))
            .order_by(clusters.c.primary_item_id)
        )
        return [int(i) for i in rows.scalars()]


def _check_search_index(engine: sqlalchemy.Engine) -> None:
    """If the full-text index exists (SQLite FTS5, external content), it matches the items."""
    if (
        engine.dialect.name != "sqlite"
        or "items_fts" not in sqlalchemy.inspect(engine).get_table_names()
    ):
        return
    with engine.begin() as conn:  # what waits for the index taken in, as a search does
        catch_up(conn)
    with engine.connect() as conn:
        indexed = conn.exec_driver_sql("select count(*) from items_fts").scalar_one()
        stored = conn.execute(select(func.count()).select_from(items)).scalar_one()
        conn.exec_driver_sql("insert into items_fts(items_fts) values ('integrity-check')")
    assert indexed == stored


# -- the store alone: emptied clusters, space, old SQLite files -----------------------------


def _store_with_old_items(url: str, n: int, *, at: datetime) -> Any:
    store = open_store(url)
    store.sync_sources([make_source("big")], now=at)
    batch: list[Item] = [
        make_item("big", f"item-{i}", text=f"{i} " + "lorem ipsum dolor sit amet " * 80)
        for i in range(n)
    ]
    store.save_refresh(
        "big",
        batch,
        now=at,
        seconds=0.1,
        validators=_no_validators(),
        url="https://example.org/big/feed.xml",
        permanent_url=None,
        next_fetch_at=at + timedelta(hours=1),
        seen=n,
    )
    return store


def _no_validators() -> CacheValidators:
    return CacheValidators()


def test_prune_deletes_emptied_clusters_and_gives_space_back(database_url: str) -> None:
    store = _store_with_old_items(database_url, 300, at=NOW - timedelta(days=500))
    try:
        engine = store.engine
        before = counts(engine)
        assert before["clusters"] == 300
        pages_before = _pages(engine)
        result = prune(engine, CUT, now=NOW)
        assert result.items == 300 and result.clusters_deleted == 300
        assert counts(engine)["items"] == 0 and counts(engine)["clusters"] == 0
        if engine.dialect.name == "sqlite":
            assert result.vacuum == "PRAGMA incremental_vacuum"
            pages, free = _pages(engine)
            assert free == 0 and pages < pages_before[0] / 2
        else:
            assert result.vacuum == "VACUUM (ANALYZE)"
        assert prune(engine, CUT, now=NOW).items == 0  # nothing left: idempotent
    finally:
        store.close()


def _pages(engine: sqlalchemy.Engine) -> tuple[int, int]:
    if engine.dialect.name != "sqlite":
        return (0, 0)
    with engine.connect() as conn:
        pages = conn.exec_driver_sql("pragma page_count").scalar_one()
        free = conn.exec_driver_sql("pragma freelist_count").scalar_one()
    return int(pages), int(free)


def test_an_sqlite_file_made_before_incremental_vacuum_is_converted(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    with sqlite3.connect(path) as raw:  # tables before the pragma: auto_vacuum stays NONE
        raw.execute("create table legacy_marker (x integer)")
    store = _store_with_old_items(f"sqlite:///{path}", 50, at=NOW - timedelta(days=500))
    try:
        assert _auto_vacuum(store.engine) == 0
        assert prune(store.engine, CUT, now=NOW).vacuum == "VACUUM"
        assert _auto_vacuum(store.engine) == 2  # incremental from now on
    finally:
        store.close()


def _auto_vacuum(engine: sqlalchemy.Engine) -> int:
    with engine.connect() as conn:
        return int(conn.exec_driver_sql("pragma auto_vacuum").scalar_one())


def test_a_dry_run_changes_nothing(database_url: str) -> None:
    store = _store_with_old_items(database_url, 5, at=NOW - timedelta(days=500))
    try:
        before = counts(store.engine)
        result = prune(store.engine, CUT, now=NOW, dry_run=True)
        assert result.items == 5 and result.dry_run and result.vacuum is None
        assert counts(store.engine) == before
        # Each old item was alone in its cluster: the real run will delete 5 clusters.
        assert (result.clusters_deleted, result.clusters_updated) == (5, 0)
        assert counts(store.engine) == before
    finally:
        store.close()
