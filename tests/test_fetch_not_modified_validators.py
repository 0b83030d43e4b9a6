"""A 304's own ETag and Last-Modified replace the stored ones (RFC 9111 4.3.4), against a
real HTTP server on 127.0.0.1: a server that rotates its ETag at every 304 otherwise stops
matching, and every later fetch is the whole document."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from aggregator.models import CacheValidators, NotModifiedRecord, Unchanged
from aggregator.store import SqlStore
from tests.support_config import write_config
from tests.support_store import T0, at, make_source
from tests.test_fetch_http import fetch
from tests.test_refresh import FAST, RSS, refresh_json, source, statuses

if TYPE_CHECKING:
    from tests.httpserver import FixtureServer

pytest_plugins = ("tests.httpserver",)

STAMP = "Wed, 12 Mar 2025 08:00:00 GMT"


def test_the_validators_a_304_carries_are_handed_on(http_server: FixtureServer) -> None:
    url = http_server.add("/feed", status=304, headers={"ETag": '"v2"'}, content_type=None)
    assert fetch(url, CacheValidators(etag='"v1"')) == Unchanged(
        url=url, validators=CacheValidators(etag='"v2"')
    )
    # One it does not carry is None: the stored one stands.
    url = http_server.add("/lm", status=304, headers={"Last-Modified": STAMP}, content_type=None)
    result = fetch(url, CacheValidators(etag='"v1"'))
    assert result.validators == CacheValidators(etag=None, last_modified=STAMP)


def test_a_server_rotating_its_etag_at_every_304_is_sent_the_latest(
    http_server: FixtureServer, env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    http_server.add("/feed.xml", body=RSS, etag='"v1"', content_type="application/rss+xml", times=1)
    for tag in ('"v2"', '"v3"'):
        http_server.add("/feed.xml", status=304, headers={"ETag": tag}, content_type=None, times=1)
    # A 304 with a Last-Modified and no ETag: the ETag stored stands beside it.
    http_server.add(
        "/feed.xml", status=304, headers={"Last-Modified": STAMP}, content_type=None, times=1
    )
    url = http_server.add("/feed.xml", status=304, content_type=None)
    config = write_config(env / "config", [source("rotating", url)], settings=FAST)
    code, first = refresh_json(capsys, config)
    assert code == 0 and statuses(first) == {"rotating": "new"}
    for _ in range(4):
        code, again = refresh_json(capsys, config)
        assert code == 0 and statuses(again) == {"rotating": "not modified"}
    sent = [
        (r.headers.get("If-None-Match"), r.headers.get("If-Modified-Since"))
        for r in http_server.requests("/feed.xml")
    ]
    # Before the fix, every conditional request sent "v1", which the server no longer knew.
    assert sent == [
        (None, None),
        ('"v1"', None),
        ('"v2"', None),
        ('"v3"', None),
        ('"v3"', STAMP),
    ]


def test_a_304_written_alone_or_in_a_batch_keeps_its_validators(store: SqlStore) -> None:
    # A refresh writes its 304s in batches (`record_not_modified_many`) or one at a time:
    # both keep what the 304 carried, and what it did not carry stays as stored.
    store.sync_sources([make_source(i) for i in ("a", "b", "c")], now=T0)
    stored = CacheValidators(etag='"old"', last_modified=STAMP)
    for one in ("a", "b", "c"):
        store.save_refresh(
            one,
            [],
            now=at(1),
            seconds=0.1,
            validators=stored,
            url=f"https://example.org/{one}",
            permanent_url=None,
            next_fetch_at=at(2),
            seen=0,
        )
    new_tag = CacheValidators(etag='"new"')
    store.record_not_modified("a", now=at(5), seconds=0.1, next_fetch_at=at(50), validators=new_tag)
    store.record_not_modified_many(
        [
            NotModifiedRecord(
                source_id="b", now=at(5), seconds=0.1, next_fetch_at=at(50), validators=new_tag
            ),
            NotModifiedRecord(source_id="c", now=at(5), seconds=0.1, next_fetch_at=at(50)),
        ]
    )
    state = {h.id: h.validators for h in store.source_health()}
    assert state["a"] == state["b"] == CacheValidators(etag='"new"', last_modified=STAMP)
    assert state["c"] == stored  # a 304 that carried none
