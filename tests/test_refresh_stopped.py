"""A refresh stopped mid-way reports what the store holds of it: the sources whose writes
committed after the stop (the batch in flight) are read back from the fetch log
(`aggregator/commands/stopped.py`). The end-to-end stop is in test_signals.py."""

from __future__ import annotations

from aggregator.commands.stopped import late_ids, not_refreshed, stored_after_stop
from aggregator.errors import FetchError, RateLimited
from aggregator.models import NotModified, NotModifiedRecord, Refreshed, SourceResult
from aggregator.store import SqlStore
from tests.support_store import T0, at, make_item, make_source, save_to_src


def test_sources_stored_after_the_stop_are_reported_as_the_refresh_would_have(
    store: SqlStore,
) -> None:
    store.sync_sources(
        [make_source(i) for i in ("src", "down", "limited", "same", "reported", "left")], now=T0
    )
    save_to_src(store, [make_item("src", "old")])  # before the refresh: not its result
    mark = store.fetch_log_mark()
    save_to_src(store, [make_item("src", "1"), make_item("src", "2")], minutes=1)
    store.record_failure(
        "down",
        FetchError("down", "HTTP 503 Service Unavailable"),
        now=at(1),
        seconds=0.5,
        next_fetch_at=at(30),
    )
    store.record_failure(
        "limited",
        RateLimited("limited", "HTTP 429", retry_at=at(20), status_code=429),
        now=at(1),
        seconds=0.2,
        next_fetch_at=at(30),
    )
    store.record_not_modified_many(
        [
            NotModifiedRecord(
                source_id="same",
                now=at(1),
                seconds=0.1,
                next_fetch_at=at(30),
            )
        ]
    )
    store.record_failure(
        "reported",
        FetchError("reported", "said already"),
        now=at(1),
        seconds=0.1,
        next_fetch_at=at(30),
    )
    reported = [
        SourceResult(source_id="reported", outcome=NotModified(), started_at=at(1), seconds=0.1)
    ]
    ids = ["src", "down", "limited", "same", "reported", "left"]

    late = stored_after_stop(reported, store.logged_since(mark, ids))

    rows = {r.source_id: r for r in late}
    assert sorted(rows) == ["down", "limited", "same", "src"]
    assert rows["src"].outcome == Refreshed(new=2, updated=0)
    assert (rows["src"].status, rows["src"].new) == ("new", 2)
    assert rows["same"].status == "not modified"
    assert rows["down"].status == "error"
    assert rows["down"].error_text == "fetch failed: HTTP 503 Service Unavailable"
    assert rows["limited"].status == "rate limited"
    assert not_refreshed(ids, [*reported, *late]) == ["left"]


def test_nothing_logged_after_the_mark_is_nothing_late(store: SqlStore) -> None:
    store.sync_sources([make_source("src")], now=T0)
    save_to_src(store, [make_item("src", "1")])
    mark = store.fetch_log_mark()
    assert stored_after_stop([], store.logged_since(mark, ["src"])) == []
    assert not_refreshed(["src"], []) == ["src"]


def test_a_late_source_s_warnings_are_reported_with_it(store: SqlStore) -> None:
    store.sync_sources([make_source("src")], now=T0)
    mark = store.fetch_log_mark()
    save_to_src(store, [make_item("src", "1")], minutes=1)
    logged = store.logged_since(mark, ["src"])
    assert late_ids([], logged) == ["src"]
    warned = {"src": ("feed is not well-formed: mismatched tag at line 9, column 2",)}
    (late,) = stored_after_stop([], logged, warned)
    assert late.warnings == warned["src"]
