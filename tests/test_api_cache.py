"""The response micro-cache: replay, generation and TTL invalidation, bounds, single flight.

The middleware is tested around a small ASGI application that counts the requests it
answers, then end to end over a real server, with writes through a second engine on the
same database (what another process does) on both backends.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import time
from collections.abc import Callable, Coroutine, Hashable
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
from starlette.types import Receive, Scope, Send

from aggregator.api import create_app
from aggregator.api.microcache import ResponseCache
from aggregator.app import App
from aggregator.store import open_store
from tests.support_api import NOW, Story, save, seeded_app, serving


def synchronous(case: Callable[[], Coroutine[Any, Any, None]]) -> Callable[[], None]:
    """Run an async test case in its own event loop (the suite has no async plugin)."""

    @functools.wraps(case)
    def run() -> None:
        asyncio.run(case())

    return run


class Counting:
    """An ASGI app answering `<path>?<query> #<n>` with an ETag; 404 for /missing."""

    def __init__(self, delay: float = 0.0) -> None:
        self.calls = 0
        self.delay = delay

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.calls += 1
        await asyncio.sleep(self.delay)
        status = 404 if scope["path"] == "/missing" else 200
        body = f"{scope['path']}?{scope['query_string'].decode()} #{self.calls}".encode()
        etag = f'W/"{self.calls}"'.encode()
        headers = [(b"content-type", b"text/plain"), (b"etag", etag)]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def cache_of(inner: Counting, **options: Any) -> tuple[ResponseCache, httpx.AsyncClient]:
    paths = {"/list": False, "/feed": True, "/missing": False}
    cache = ResponseCache(inner, paths=paths, **{"seconds": 2.0, **options})
    transport = httpx.ASGITransport(app=cache)
    return cache, httpx.AsyncClient(
        transport=transport, base_url="http://test", headers={"Accept-Encoding": "identity"}
    )


def body(response: httpx.Response) -> str:
    return response.text.rsplit("#", 1)[-1]


@synchronous
async def test_replayed_until_the_generation_changes_or_the_entry_expires() -> None:
    inner, clock, generation = Counting(), Clock(), [1]
    _, client = cache_of(inner, generation=lambda: generation[0], clock=clock)
    async with client:
        assert body(await client.get("/list?a=1")) == "1"
        assert body(await client.get("/list?a=1")) == "1"  # replayed
        generation[0] = 2  # a write
        assert body(await client.get("/list?a=1")) == "2"
        clock.now = 1.9
        assert body(await client.get("/list?a=1")) == "2"
        clock.now = 2.0  # 2 s after it was built
        assert body(await client.get("/list?a=1")) == "3"
        assert inner.calls == 3


@synchronous
async def test_keys_query_order_encoding_and_uncached_paths() -> None:
    inner = Counting()
    _, client = cache_of(inner, generation=lambda: 0)
    async with client:
        first = await client.get("/list?tag=a&limit=2&tag=b")
        # Parameters in another order are the same query where the body quotes no URL...
        assert (await client.get("/list?limit=2&tag=a&tag=b")).text == first.text
        # ...but the values of one parameter keep their order, and feeds key verbatim.
        assert (await client.get("/list?limit=2&tag=b&tag=a")).text != first.text
        feed = await client.get("/feed?x=1&y=2")
        assert (await client.get("/feed?y=2&x=1")).text != feed.text
        gzip = await client.get("/list?tag=a&limit=2&tag=b", headers={"Accept-Encoding": "gzip"})
        assert gzip.text != first.text  # gzip and identity bodies are separate entries
        assert body(await client.get("/other")) != body(await client.get("/other"))
        assert body(await client.post("/list")) != body(await client.post("/list"))
        missing = [await client.get("/missing") for _ in range(2)]
        assert [r.status_code for r in missing] == [404, 404]
        assert body(missing[0]) != body(missing[1])  # errors are not kept


@synchronous
async def test_if_none_match_answered_from_the_entry() -> None:
    inner = Counting()
    _, client = cache_of(inner, generation=lambda: 0)
    async with client:
        etag = (await client.get("/list")).headers["etag"]
        # The first request carries a validator: the app still builds the full answer.
        fresh = await client.get("/list?b=1", headers={"If-None-Match": 'W/"2"'})
        assert fresh.status_code == 304 and fresh.headers["etag"] == 'W/"2"'
        assert fresh.content == b"" and "content-type" not in fresh.headers
        again = await client.get("/list", headers={"If-None-Match": etag})
        assert again.status_code == 304
        assert (await client.get("/list", headers={"If-None-Match": '"x"'})).status_code == 200
        assert inner.calls == 2


@synchronous
async def test_memory_is_bounded_least_recently_used_first() -> None:
    inner = Counting()
    cache, client = cache_of(inner, generation=lambda: 0, max_entries=3, max_entry_bytes=40)
    async with client:
        for n in range(3):
            await client.get(f"/list?n={n}")
        await client.get("/list?n=0")  # n=0 is now the most recently used
        await client.get("/list?n=3")  # evicts n=1
        assert len(cache.store) == 3
        calls = inner.calls
        await client.get("/list?n=0")
        assert inner.calls == calls
        await client.get("/list?n=1")
        assert inner.calls == calls + 1
        await client.get("/list?long=" + "x" * 40)  # over max_entry_bytes: served, not kept
        assert len(cache.store) == 3 and cache.store.bytes < 3 * 40


@synchronous
async def test_an_answer_too_big_to_keep_still_honours_if_none_match() -> None:
    # The application never sees If-None-Match (the cache takes it off, to keep whole
    # bodies): an answer it did not keep was sent whole, 200, whatever the client had.
    inner = Counting()
    cache, client = cache_of(inner, generation=lambda: 0, max_entry_bytes=10)
    async with client:
        first = await client.get("/list?long=" + "x" * 40)
        assert first.status_code == 200 and len(cache.store) == 0
        etag = first.headers["etag"]
        inner.calls -= 1  # the next answer has the same ETag: the resource did not change
        again = await client.get("/list?long=" + "x" * 40, headers={"If-None-Match": etag})
        assert again.status_code == 304 and again.content == b""
        assert again.headers["etag"] == etag
        other = await client.get("/list?long=" + "x" * 40, headers={"If-None-Match": '"x"'})
        assert other.status_code == 200 and other.text.startswith("/list?long=")


@synchronous
async def test_concurrent_misses_build_once() -> None:
    inner = Counting(delay=0.05)
    _, client = cache_of(inner, generation=lambda: 0)
    async with client:
        answers = await asyncio.gather(*(client.get("/list") for _ in range(16)))
    assert {a.text for a in answers} == {"/list? #1"} and inner.calls == 1


@synchronous
async def test_zero_seconds_turns_the_cache_off() -> None:
    inner = Counting()
    _, client = cache_of(inner, generation=lambda: 0, seconds=0)
    async with client:
        await client.get("/list")
        await client.get("/list")
    assert inner.calls == 2


# -- end to end --------------------------------------------------------------------------------

LATE = Story(source_id="ep", identity="late", title="Late csar news", text="Council vote",
             tags=("csar",), minutes=0)  # fmt: skip


def ids(client: httpx.Client) -> set[int]:
    response = client.get("/api/v1/items", params={"tag": "csar"})
    assert response.status_code == 200
    return {item["id"] for item in response.json()["items"]}


def other_process(database_url: str) -> Any:
    """A second engine on the database: its commits are invisible to this process's
    counter, as a refresh run by `aggregator run` would be."""
    return open_store(database_url)


def save_elsewhere(app: App, database_url: str) -> int:
    store = other_process(database_url)
    try:
        twin = App(settings=app.settings, sources=app.sources, tag_rules=app.tag_rules, store=store,
                   clock=lambda: NOW)  # fmt: skip
        return save(twin, [LATE], now=NOW + timedelta(minutes=5))[0]
    finally:
        store.close()


def test_sqlite_a_write_by_another_connection_shows_at_once(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cache.sqlite'}"
    app = seeded_app(tmp_path, url, settings="[api]\ncache_seconds = 600\n")
    try:
        with serving(create_app(app)) as base, httpx.Client(base_url=base, timeout=10) as http:
            before = ids(http)
            new = save_elsewhere(app, url)
            # The TTL is 10 minutes: only the generation (data_version) can have dropped it.
            assert ids(http) == before | {new}
    finally:
        app.close()


def test_postgresql_other_writers_within_the_ttl(tmp_path: Path, postgres_url: str) -> None:
    app = seeded_app(tmp_path, postgres_url, settings="[api]\ncache_seconds = 1\n")
    try:
        with serving(create_app(app)) as base, httpx.Client(base_url=base, timeout=10) as http:
            before = ids(http)
            built = time.monotonic()
            new = save_elsewhere(app, postgres_url)
            if time.monotonic() - built < 0.8:
                assert ids(http) == before  # not observed: replayed within the TTL
            time.sleep(max(0.0, built + 1.05 - time.monotonic()))
            assert ids(http) == before | {new}  # the TTL passed: the refresh's item shows
            # A write through this process's own engine drops the entries at once.
            own = save(app, [dataclasses.replace(LATE, identity="own")], now=NOW)[0]
            assert own in ids(http)
    finally:
        app.close()


def test_the_generation_is_hashable_and_release_is_idempotent(tmp_path: Path) -> None:
    from aggregator.api.generation import store_generation

    store = open_store(f"sqlite:///{tmp_path / 'g.sqlite'}")
    try:
        generation, release = store_generation(store.engine)
        first: Hashable = generation()
        with store.engine.begin() as conn:
            conn.exec_driver_sql("CREATE TABLE t (x)")
        assert generation() != first
        release()
        release()
    finally:
        store.close()
