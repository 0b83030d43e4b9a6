"""PostgreSQL: a transaction another one got in the way of (a deadlock with a prune beside
the refresh, a row deleted under it) is tried again, not the end of the whole refresh.

The conflicts are the server's own errors, raised by a trigger the first time (or the
first times) a statement runs: a sequence counts, since its numbers survive the rollback.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import sqlalchemy as sa

from aggregator.cli import main
from aggregator.errors import StoreConflict
from aggregator.store import leases
from tests.support_config import write_config

if TYPE_CHECKING:
    from tests.httpserver import FixtureServer

pytest_plugins = ("tests.httpserver",)

DATA = Path(__file__).parent / "data" / "parse"
RSS = (DATA / "europarl_press_rss.xml").read_bytes()
FAST = "[fetch]\nretries = 1\nbackoff_base = 0.01\n"


@pytest.fixture()
def postgres_env(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, postgres_url: str
) -> Iterator[str]:
    monkeypatch.setenv("AGGREGATOR_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("AGGREGATOR_DATABASE_URL", postgres_url)
    monkeypatch.delenv("AGGREGATOR_CONFIG", raising=False)
    yield postgres_url


def fail_first(url: str, table: str, event: str, times: int, sqlstate: str) -> None:
    """A trigger that raises `sqlstate` on the first `times` `event`s of `table`."""
    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text("CREATE SEQUENCE conflict_count"))
            conn.execute(
                sa.text(
                    "CREATE FUNCTION conflict_once() RETURNS trigger AS $$ BEGIN "
                    f"IF nextval('conflict_count') <= {times} THEN "
                    f"RAISE EXCEPTION 'another transaction got in the way' "
                    f"USING ERRCODE = '{sqlstate}'; END IF; RETURN NEW; END $$ "
                    "LANGUAGE plpgsql"
                )
            )
            conn.execute(
                sa.text(
                    f"CREATE TRIGGER conflict_once BEFORE {event} ON {table} "
                    "FOR EACH STATEMENT EXECUTE FUNCTION conflict_once()"
                )
            )
    finally:
        engine.dispose()


def one_feed_with_its_store(
    http_server: FixtureServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> Path:
    """A config of one served feed, and the store it names made (migrated), so that a
    trigger can be put on its tables."""
    url = http_server.add("/ep.xml", body=RSS, content_type="application/rss+xml")
    config = write_config(
        tmp_path / "config",
        [{"id": "ep", "name": "EP", "url": url, "kind": "feed", "org": "parliament"}],
        settings=FAST,
    )
    assert main(["--config", str(config), "sources"]) == 0
    capsys.readouterr()
    return config


def refresh(capsys: pytest.CaptureFixture[str], config: Path) -> tuple[int, dict[str, object]]:
    code = main(["--config", str(config), "refresh", "--json"])
    return code, json.loads(capsys.readouterr().out)


@pytest.mark.parametrize("sqlstate", ["40P01", "23503"], ids=["deadlock", "row-deleted"])
def test_a_write_batch_another_transaction_got_in_the_way_of_is_written_again(
    postgres_env: str,
    http_server: FixtureServer,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    sqlstate: str,
) -> None:
    config = one_feed_with_its_store(http_server, tmp_path, capsys)
    fail_first(postgres_env, "items", "INSERT", 2, sqlstate)
    # It stopped the whole refresh: "store error: save_refresh failed ...", exit 3.
    code, doc = refresh(capsys, config)
    assert code == 0, doc
    (result,) = doc["sources"]  # type: ignore[misc]
    assert result["status"] == "new" and result["new"] > 0


def test_a_conflict_that_outlasts_the_tries_fails_its_source_alone(
    postgres_env: str,
    http_server: FixtureServer,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    config = one_feed_with_its_store(http_server, tmp_path, capsys)
    fail_first(postgres_env, "items", "INSERT", 1000, "40P01")
    code, doc = refresh(capsys, config)
    assert code == 1  # that source failed; the refresh itself ended as refreshes do
    (result,) = doc["sources"]  # type: ignore[misc]
    assert result["status"] == "error"
    assert "store conflict with another writer" in str(result["error"])


def test_a_lease_release_is_tried_again_after_a_deadlock(postgres_env: str) -> None:
    from aggregator.store import open_store

    store = open_store(postgres_env)
    store.close()
    engine = sa.create_engine(postgres_env)
    try:
        fail_first(postgres_env, "sources", "UPDATE", 2, "40P01")
        leases.release_all(engine, owner="someone")  # no StoreError: the third try goes
        fail_first_again(postgres_env)
        with pytest.raises(StoreConflict, match="DeadlockDetected"):
            leases.release_all(engine, owner="someone")
    finally:
        engine.dispose()


def fail_first_again(url: str) -> None:
    """The trigger of `fail_first` on sources, again, for more tries than are made."""
    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text("DROP TRIGGER conflict_once ON sources"))
            conn.execute(sa.text("DROP FUNCTION conflict_once()"))
            conn.execute(sa.text("DROP SEQUENCE conflict_count"))
    finally:
        engine.dispose()
    fail_first(url, "sources", "UPDATE", 1000, "40P01")


def test_a_prune_is_tried_again_after_a_deadlock(postgres_env: str) -> None:
    from datetime import UTC, datetime, timedelta

    from aggregator.models import CacheValidators
    from aggregator.retention import Cutoffs
    from aggregator.store import open_store
    from aggregator.store.retention import prune
    from tests.support_store import make_item, make_source

    old = datetime(2020, 1, 1, tzinfo=UTC)
    store = open_store(postgres_env)
    try:
        store.sync_sources([make_source("src")], now=old)
        store.save_refresh(
            "src",
            [make_item("src", "a"), make_item("src", "b")],
            now=old,
            seconds=0.1,
            validators=CacheValidators(),
            url="https://example.org/feed",
            permanent_url=None,
            next_fetch_at=old + timedelta(hours=1),
            seen=2,
        )
    finally:
        store.close()
    fail_first(postgres_env, "items", "DELETE", 2, "40P01")
    engine = sa.create_engine(postgres_env)
    try:
        later = datetime(2021, 1, 1, tzinfo=UTC)
        result = prune(engine, Cutoffs(seen_before=later, shown_since=later), now=later)
        assert result.items == 2  # it said "prune failed ... DeadlockDetected", exit 3
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT count(*) FROM items")).scalar_one() == 0
    finally:
        engine.dispose()
