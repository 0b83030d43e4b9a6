"""A response micro-cache for the read-only lists and feeds (plain ASGI middleware).

Without it, each request of a list costs ~10 ms of one core (routing and parameter
validation, the queries, encoding, gzip): under a few dozen concurrent clients one
process saturates and p99 reaches a second. Clients of a list ask the same few URLs
(a dashboard, feed readers polling), so the answer is built once and replayed.

An entry is the finished response, *after* gzip: status 200, headers (ETag included) and
body. Its key is (path, query, gzip or not as compression.py reads Accept-Encoding, scheme
and host); the query is normalised (parameters sorted by name, values in their order)
where the body does not quote the request's URL, and kept verbatim where it does (feeds:
their self link). It is served while both hold:
- the store's generation (generation.py) is the one it was built under: a write this
  process can observe drops every entry at once, so a page is never stale after it;
- it is younger than `api.cache_seconds`: the bound for writes no generation observes
  (other processes on PostgreSQL). 0 turns the cache off.
Memory is bounded: at most `max_entries` entries and `max_bytes` of bodies, least recently
used first out; bodies over `max_entry_bytes` are not kept.

Concurrent misses of one key build the answer once (the others wait for it): when an
entry expires under load, N clients must not each pay for a rebuild at once.
If-None-Match is answered here (304), from the entry's ETag.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from aggregator.api.compression import wants_gzip
from aggregator.api.responses import matches
from aggregator.errors import StoreError

MAX_ENTRIES = 512
MAX_BYTES = 64 * 1024 * 1024
MAX_ENTRY_BYTES = 2 * 1024 * 1024
# Headers a 304 repeats (RFC 9110 15.4.5): the validator and the caching rules.
NOT_MODIFIED_HEADERS = (b"etag", b"cache-control", b"vary")

Key = tuple[Hashable, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class Entry:
    generation: Hashable
    expires: float  # time.monotonic()
    headers: tuple[tuple[bytes, bytes], ...]
    body: bytes
    etag: str | None
    route: Any  # the matched route, for the metrics middleware's label


class LruStore:
    """Entries by key, least recently used evicted first, bounded in count and bytes."""

    def __init__(self, *, max_entries: int, max_bytes: int) -> None:
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self.bytes = 0
        self._entries: OrderedDict[Key, Entry] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: Key) -> Entry | None:
        entry = self._entries.get(key)
        if entry is not None:
            self._entries.move_to_end(key)
        return entry

    def put(self, key: Key, entry: Entry) -> None:
        self.drop(key)
        self._entries[key] = entry
        self.bytes += len(entry.body)
        while self._entries and (
            len(self._entries) > self.max_entries or self.bytes > self.max_bytes
        ):
            _, old = self._entries.popitem(last=False)
            self.bytes -= len(old.body)

    def drop(self, key: Key) -> None:
        old = self._entries.pop(key, None)
        if old is not None:
            self.bytes -= len(old.body)


class ResponseCache:
    """ASGI middleware: GET of the `paths` served from the cache (see the module text).

    `paths` maps each cached path to whether its body quotes the request URL (then the
    query is part of the key verbatim, not normalised).
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        paths: Mapping[str, bool],
        seconds: float,
        generation: Callable[[], Hashable],
        max_entries: int = MAX_ENTRIES,
        max_bytes: int = MAX_BYTES,
        max_entry_bytes: int = MAX_ENTRY_BYTES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.app = app
        self.paths = dict(paths)
        self.seconds = seconds
        self.generation = generation
        self.max_entry_bytes = max_entry_bytes
        self.clock = clock
        self.store = LruStore(max_entries=max_entries, max_bytes=max_bytes)
        self._building: dict[Key, asyncio.Future[Entry | None]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            self.seconds <= 0
            or scope["type"] != "http"
            or scope["method"] != "GET"
            or scope["path"] not in self.paths
        ):
            await self.app(scope, receive, send)
            return
        try:
            generation = self.generation()
        except StoreError:
            # The store cannot be watched (its file moved or unreadable): nothing cached can
            # be known current. The application answers, with its 503 if it cannot read.
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])  # the last of repeated names wins: fine for these
        key = self._key(scope, headers)
        wanted = headers.get(b"if-none-match", b"").decode("latin-1")
        entry = self.store.get(key)
        if entry is not None and (entry.generation != generation or self.clock() >= entry.expires):
            self.store.drop(key)
            entry = None
        if entry is None:
            entry = await self._build(key, generation, scope, receive, send)
            if entry is None:
                return  # not cacheable: the application's own answer was sent
        scope["route"] = entry.route
        await _replay(entry, wanted, send)

    def _key(self, scope: Scope, headers: dict[bytes, bytes]) -> Key:
        query: bytes = scope.get("query_string", b"")
        if query and not self.paths[scope["path"]]:
            pairs = parse_qsl(query.decode("latin-1"), keep_blank_values=True)
            query = urlencode(sorted(pairs, key=lambda pair: pair[0])).encode("latin-1")
        gzip = wants_gzip(scope)  # as the gzip middleware inside reads it
        return (
            scope["path"],
            query,
            gzip,
            scope.get("scheme"),
            headers.get(b"host"),
            scope.get("root_path", ""),
        )

    async def _build(
        self, key: Key, generation: Hashable, scope: Scope, receive: Receive, send: Send
    ) -> Entry | None:
        pending = self._building.get(key)
        if pending is not None:
            built = await asyncio.shield(pending)
            if built is not None and built.generation == generation:
                return built
        future: asyncio.Future[Entry | None] = asyncio.get_running_loop().create_future()
        self._building[key] = future
        try:
            entry = await self._run(key, generation, scope, receive, send)
            future.set_result(entry)
            return entry
        except BaseException:
            future.set_result(None)
            raise
        finally:
            if self._building.get(key) is future:
                del self._building[key]

    async def _run(
        self, key: Key, generation: Hashable, scope: Scope, receive: Receive, send: Send
    ) -> Entry | None:
        # The application answers in full (no If-None-Match: the body is what is kept).
        inner = dict(scope)
        inner["headers"] = [(n, v) for n, v in scope["headers"] if n != b"if-none-match"]
        messages: list[Message] = []

        async def collect(message: Message) -> None:
            messages.append(message)

        await self.app(inner, receive, collect)
        scope["route"] = inner.get("route")
        start = messages[0] if messages else None
        body = b"".join(m.get("body", b"") for m in messages[1:])
        if start is None or start["type"] != "http.response.start" or start["status"] != 200:
            for message in messages:
                await send(message)
            return None
        response_headers = tuple((bytes(n), bytes(v)) for n, v in start.get("headers", ()))
        etag = next((v.decode("latin-1") for n, v in response_headers if n == b"etag"), None)
        entry = Entry(
            generation=generation,
            expires=self.clock() + self.seconds,
            headers=response_headers,
            body=body,
            etag=etag,
            route=inner.get("route"),
        )
        # Too big to keep, and still answered from here (the caller replays it): the
        # application never saw the If-None-Match, so the 304 is this layer's to give (a
        # digest feed of 2 MB was sent whole at every poll by clients not asking for gzip).
        if len(body) <= self.max_entry_bytes:
            self.store.put(key, entry)
        return entry


async def _replay(entry: Entry, wanted: str, send: Send) -> None:
    if entry.etag is not None and matches(wanted, entry.etag):
        headers = [(n, v) for n, v in entry.headers if n in NOT_MODIFIED_HEADERS]
        await send({"type": "http.response.start", "status": 304, "headers": headers})
        await send({"type": "http.response.body", "body": b""})
        return
    await send({"type": "http.response.start", "status": 200, "headers": list(entry.headers)})
    await send({"type": "http.response.body", "body": entry.body})
