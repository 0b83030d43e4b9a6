"""The only module that knows the order of the stages.

    fetch -> parse -> normalise -> tag -> store (+ dedupe, inside the store's transaction)

Fetching is asynchronous and bounded by the retriever's limits. Parsing, normalising and
tagging are pure CPU work: they run in worker processes (`prepare`) so both cores are used and
the event loop stays free for the network. Store writes go through one writer thread, so
SQLite never sees two writers and dedupe sees every earlier item of the batch.

Every source ends as a `SourceResult` value; a `SourceError` of one source never stops the
others. Anything that is not an `AggregatorError` is a bug and propagates.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from functools import partial
from typing import Protocol, TypeVar

from aggregator.cadence import (
    CadencePolicy,
    next_fetch_after_failure,
    next_fetch_after_success,
    posting_interval,
)
from aggregator.errors import RateLimited, SourceError
from aggregator.fetch import Retriever
from aggregator.models import (
    CacheValidators,
    Fetched,
    Item,
    NotModified,
    Refreshed,
    Source,
    SourceHealth,
    SourceResult,
    Unchanged,
)
from aggregator.normalise import normalise_document
from aggregator.parse import fallback_urls, parse_document
from aggregator.tag import TagRules, tag_item

Clock = Callable[[], datetime]
T = TypeVar("T")


@dataclass(frozen=True, slots=True, kw_only=True)
class Prepared:
    """What the CPU stages made of one fetched document."""

    items: tuple[Item, ...]
    seen: int
    warnings: tuple[str, ...]
    ttl: timedelta | None


def prepare(source: Source, fetched: Fetched, now: datetime, rules: TagRules) -> Prepared:
    """Parse, normalise and tag one document. Pure; runs in a worker process."""
    document = parse_document(source, fetched)
    items = normalise_document(source, document, now=now)
    tagged = tuple(replace(item, tags=tag_item(item, source, rules)) for item in items)
    return Prepared(
        items=tagged, seen=len(document.items), warnings=document.warnings, ttl=document.ttl
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class Read:
    """A fetched document and what the CPU stages made of it."""

    fetched: Fetched
    prepared: Prepared


class RefreshStore(Protocol):
    """The part of the store a refresh writes to."""

    def fetch_state(self, source_id: str) -> SourceHealth | None: ...

    def save_refresh(
        self,
        source_id: str,
        items: Sequence[Item],
        *,
        now: datetime,
        seconds: float,
        validators: CacheValidators,
        url: str,
        permanent_url: str | None,
        next_fetch_at: datetime,
        seen: int,
        warnings: Sequence[str] = (),
    ) -> Refreshed: ...

    def record_not_modified(
        self, source_id: str, *, now: datetime, seconds: float, next_fetch_at: datetime
    ) -> None: ...

    def record_failure(
        self,
        source_id: str,
        error: SourceError,
        *,
        now: datetime,
        seconds: float,
        next_fetch_at: datetime,
    ) -> None: ...


@dataclass(kw_only=True)
class Refresher:
    """Refreshes sources: the pipeline with its collaborators wired in."""

    store: RefreshStore
    retriever: Retriever
    rules: TagRules
    policy: CadencePolicy
    clock: Clock
    cpu_pool: Executor | None  # None: prepare in this process (small batches, tests)
    store_pool: Executor  # one thread: the single writer

    async def refresh_all(
        self,
        sources: Sequence[Source],
        on_result: Callable[[SourceResult], None] | None = None,
    ) -> list[SourceResult]:
        async def one(source: Source) -> SourceResult:
            result = await self.refresh_one(source)
            if on_result is not None:
                on_result(result)
            return result

        return list(await asyncio.gather(*(one(source) for source in sources)))

    async def refresh_one(self, source: Source) -> SourceResult:
        started_at = self.clock()
        began = time.perf_counter()
        state = await self._in_store(self.store.fetch_state, source.id)
        url = state.url if state is not None else source.url
        validators = state.validators if state is not None else CacheValidators()
        failures = state.consecutive_failures if state is not None else 0
        try:
            response = await self._read(source, url, validators, started_at)
            if isinstance(response, Unchanged):
                now = self.clock()
                next_at = next_fetch_after_success(
                    now=now,
                    interval=source.interval,
                    policy=self.policy,
                    fresh_until=response.fresh_until,
                )
                seconds = time.perf_counter() - began
                await self._in_store(
                    lambda: self.store.record_not_modified(
                        source.id, now=now, seconds=seconds, next_fetch_at=next_at
                    )
                )
                return SourceResult(
                    source_id=source.id,
                    outcome=NotModified(),
                    started_at=started_at,
                    seconds=seconds,
                )
            outcome = await self._save(source, url, response.fetched, response.prepared, began)
        except SourceError as error:
            now = self.clock()
            retry_at = error.retry_at if isinstance(error, RateLimited) else None
            next_at = next_fetch_after_failure(
                now=now,
                interval=source.interval,
                failures=failures + 1,
                policy=self.policy,
                retry_at=retry_at,
            )
            seconds = time.perf_counter() - began
            await self._in_store(
                partial(
                    self.store.record_failure,
                    source.id,
                    error,
                    now=now,
                    seconds=seconds,
                    next_fetch_at=next_at,
                )
            )
            return SourceResult(
                source_id=source.id, outcome=error, started_at=started_at, seconds=seconds
            )
        return SourceResult(
            source_id=source.id,
            outcome=outcome,
            started_at=started_at,
            seconds=time.perf_counter() - began,
        )

    async def _read(
        self, source: Source, url: str, validators: CacheValidators, now: datetime
    ) -> Read | Unchanged:
        """Fetch and prepare `url`; when either fails, the fallback URLs of the source's
        kind in turn (an ep-procedure's Legislative Observatory page). When all fail, the
        error of `url` is the one reported: it is the source's own."""
        try:
            response = await self.retriever.retrieve(source, url, validators, now=now)
            if isinstance(response, Unchanged):
                return response
            return Read(fetched=response, prepared=await self._prepare(source, response, now))
        except SourceError as error:
            for fallback in fallback_urls(source):
                try:
                    other = await self.retriever.retrieve(
                        source, fallback, CacheValidators(), now=now
                    )
                    if isinstance(other, Unchanged):
                        continue  # not without validators; typed as possible all the same
                    prepared = await self._prepare(source, other, now)
                except SourceError:
                    continue
                # The fallback's validators and redirects are not the source URL's to keep.
                fetched = replace(other, validators=CacheValidators(), permanent_redirect=None)
                note = f"read from the fallback {fallback}: {error}"
                return Read(
                    fetched=fetched,
                    prepared=replace(prepared, warnings=(*prepared.warnings, note)),
                )
            raise

    async def _prepare(self, source: Source, fetched: Fetched, now: datetime) -> Prepared:
        if self.cpu_pool is None:
            return prepare(source, fetched, now, self.rules)
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.cpu_pool, prepare, source, fetched, now, self.rules)

    async def _save(
        self, source: Source, url: str, fetched: Fetched, prepared: Prepared, began: float
    ) -> Refreshed:
        now = self.clock()
        next_at = next_fetch_after_success(
            now=now,
            interval=source.interval,
            policy=self.policy,
            rhythm=posting_interval(
                [i.published for i in prepared.items if not i.published_is_fallback]
            ),
            fresh_until=fetched.fresh_until,
            ttl=prepared.ttl,
        )
        return await self._in_store(
            lambda: self.store.save_refresh(
                source.id,
                prepared.items,
                now=now,
                seconds=time.perf_counter() - began,
                validators=fetched.validators,
                url=url,
                permanent_url=fetched.permanent_redirect,
                next_fetch_at=next_at,
                seen=prepared.seen,
                warnings=prepared.warnings,
            )
        )

    async def _in_store(self, fn: Callable[..., T], *args: object) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.store_pool, fn, *args)
