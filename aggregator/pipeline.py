"""The only module that knows the order of the stages.

    fetch -> parse -> normalise -> tag -> store (+ dedupe, inside the store's transaction)

Fetching is asynchronous and bounded by the retriever's limits. Parsing, normalising and
tagging are pure CPU work: they run in worker processes (`prepare`) so both cores are used and
the event loop stays free for the network. Store writes go through one writer thread, so
SQLite never sees two writers and dedupe sees every earlier item of the batch.

Every source ends as a `SourceResult` value; a `SourceError` of one source never stops the
others. Nor does a bug met on one source's input: it becomes that source's `InternalError`,
logged with its traceback. A `StoreError` is every source's, and stops the refresh, unless
it is about one source's values (`StoreDataError`: a limit of the database): then it is that
source's `ItemsRefused`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import BrokenExecutor, Executor, Future
from contextlib import AbstractContextManager
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from functools import partial
from typing import TYPE_CHECKING, Any, ParamSpec, Protocol, TypeVar

from aggregator.cadence import (
    CadencePolicy,
    next_fetch_after_failure,
    next_fetch_after_success,
    posting_interval,
)
from aggregator.errors import (
    ConfigError,
    FetchError,
    HostHeld,
    InternalError,
    ItemsRefused,
    ParseError,
    RateLimited,
    SourceError,
    StoreConflict,
    StoreDataError,
    StoreError,
)
from aggregator.fetch import Retriever
from aggregator.fetch.holds import Hold, host_key, stored_holds
from aggregator.health import wait_until
from aggregator.models import (
    CacheValidators,
    Fetched,
    Item,
    NotModified,
    NotModifiedRecord,
    Refreshed,
    Rhythm,
    Source,
    SourceHealth,
    SourceResult,
    Unchanged,
)
from aggregator.same_document import document_digest
from aggregator.store.conflicts import pause as conflict_pause
from aggregator.urls import mask_password

logger = logging.getLogger(__name__)

# The CPU stages (aggregator.prepare: the parsers, normalise, tag) are imported when the
# first document needs them: a refresh where every source answers 304 parses nothing, and
# with worker processes this process never runs them at all.
if TYPE_CHECKING:
    from multiprocessing.context import BaseContext

    from aggregator.dedupe.records import Fingerprint
    from aggregator.prepare_worker import Prepared
    from aggregator.rules_loader import RulesText
    from aggregator.tag import TagRules

Clock = Callable[[], datetime]
T = TypeVar("T")
P = ParamSpec("P")


def start_cpu_pool(rules: RulesText, *, workers: int) -> Executor:
    """Worker processes for `prepare`, each compiling `rules` (the Refresher's own) once.

    Nothing starts until the first document is sent: not the workers, nor multiprocessing's
    resource tracker, so a refresh of unchanged sources starts none.
    """
    return LazyExecutor(partial(_process_pool, rules, workers))


def _process_pool(rules: RulesText, workers: int) -> Executor:
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    from aggregator.prepare_worker import start_worker

    # Not fork: forking this process (threads, an event loop) is not safe. One worker is
    # spawned. Several fork from a forkserver that imported the CPU stages once, so that
    # they share those modules' pages; for one, the server would be a process more (~57 MiB).
    context: BaseContext
    if workers == 1:
        context = multiprocessing.get_context("spawn")
    else:
        server = multiprocessing.get_context("forkserver")
        # Only the CPU stages: the pipeline module would bring the HTTP client and the store.
        server.set_forkserver_preload(["aggregator.prepare"])
        context = server
    return ProcessPoolExecutor(
        max_workers=workers, mp_context=context, initializer=start_worker, initargs=(rules,)
    )


class LazyExecutor(Executor):
    """An executor made by `start` when the first task is submitted (from one thread), and
    made again when the one it made is broken (a process pool whose worker died)."""

    def __init__(self, start: Callable[[], Executor]) -> None:
        self._start = start
        self._executor: Executor | None = None

    @property
    def started(self) -> bool:
        return self._executor is not None

    def submit(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> Future[T]:
        if self._executor is None:
            self._executor = self._start()
        try:
            return self._executor.submit(fn, *args, **kwargs)
        except BrokenExecutor:
            # A worker process died: a process pool then refuses all work. Its tasks failed
            # with it; a new pool takes this one and the next.
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = self._start()
            return self._executor.submit(fn, *args, **kwargs)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=wait, cancel_futures=cancel_futures)

    def terminate(self) -> None:
        """Stop the worker processes now, dropping their work: for a refresh stopped by a
        signal, which would otherwise wait for the documents being prepared (minutes for
        a pathological one) only to throw them away. Python 3.14's
        `ProcessPoolExecutor.terminate_workers` does the same with the same attribute."""
        executor = self._executor
        if executor is None:
            return
        processes: Mapping[int, Any] = getattr(executor, "_processes", None) or {}
        for process in list(processes.values()):
            process.terminate()
        # The pool sees its workers gone and winds up (its queues and their semaphores).
        executor.shutdown(wait=True, cancel_futures=True)


@dataclass(kw_only=True)
class StageTimes:
    """CPU seconds per stage over a refresh, and its wall time (cheap: a clock read per stage).

    `fetch` is the CPU of the refreshing process outside the store thread and outside
    in-process preparing: HTTP, the event loop, handing documents to and from the workers.
    Stages overlap in time, so the CPU seconds may add up to more than `wall`.
    """

    wall: float = 0.0
    fetch: float = 0.0
    parse: float = 0.0
    normalise: float = 0.0
    tag: float = 0.0
    fingerprint: float = 0.0  # dedupe fingerprints, computed with the other CPU stages
    store: float = 0.0

    def add_prepared(self, cpu: tuple[float, float, float, float]) -> None:
        self.parse += cpu[0]
        self.normalise += cpu[1]
        self.tag += cpu[2]
        self.fingerprint += cpu[3]

    def as_dict(self) -> dict[str, float]:
        return {
            name: round(getattr(self, name), 3)
            for name in ("wall", "fetch", "parse", "normalise", "tag", "fingerprint", "store")
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class Read:
    """A fetched document and what the CPU stages made of it."""

    fetched: Fetched
    prepared: Prepared
    digest: str | None = None  # `same_document.document_digest`; None: not to be kept


@dataclass(frozen=True, slots=True, kw_only=True)
class SameDocument:
    """A document whose digest is the one the source's last parsed document left: its CPU
    stages are skipped (aggregator.same_document)."""

    fetched: Fetched
    digest: str


# Writes per store transaction at most (see Refresher._write): enough to make commits rare,
# few enough that one batch's wait stays short. 30, not 50: with 1,000 feeds the refreshing
# process peaked lower (a batch's items, fingerprints and dedupe work held at once), with
# the same store CPU (bench/README.md, fourteenth session).
WRITE_BATCH = 30
WRITE_LINGER = 0.01  # seconds a short batch waits for more writes before it starts
# Tries of a write batch that another writer's transaction got in the way of (PostgreSQL:
# a deadlock with a prune beside the refresh); store/conflicts.py times the pauses.
CONFLICT_TRIES = 4
STATE_CHUNK = 500  # source ids per read of their fetch state
# Documents being read, prepared or waiting to be written, at most (see Admission): on a
# cold store the single writer is the slowest stage, and without a bound every fetched
# document, then its parsed items, waited for it in memory (1,000 feeds: fetched in 1 s,
# written over 25). Measured with 1,000 feeds (bench/README.md): twice as many places kept
# the refreshing process 12 to 20 MiB larger at its peak, with no faster refresh, cold or
# after a tick. Not fewer than the connections a refresh is likely to open
# (`fetch.max_connections`: 20 by default, 50 in `make bench`): a place is taken before
# the request goes out, so 30 places held the bench's warm refresh of 304s to 30 requests
# at a time (2.0 s instead of 1.4 s for 1,000 feeds).
DOCUMENTS_IN_PROCESS = 50


class Admission:
    """One source's place among the documents in process (`DOCUMENTS_IN_PROCESS`).

    Taken when the source's request has its connection and is about to be sent (a source
    still waiting for its host holds none: it never keeps other hosts' documents out), given
    back once its document is written, or as soon as there is no document to hold (a 304, a
    failure, a failed attempt waiting to be retried); held once however many URLs the source
    tries. (`fetch.http.Admit`)
    """

    def __init__(self, places: asyncio.Semaphore) -> None:
        self._places = places
        self._held = False

    async def take(self) -> None:
        if not self._held:
            await self._places.acquire()
            self._held = True

    def give_back(self) -> None:
        if self._held:
            self._held = False
            self._places.release()


class RefreshStore(Protocol):
    """The part of the store a refresh writes to."""

    def fetch_state(self, source_id: str) -> SourceHealth | None: ...

    def fetch_states(self, ids: Sequence[str]) -> list[SourceHealth]: ...

    def known_hashes(self, source_id: str) -> dict[str, str]: ...

    def write_batch(self) -> AbstractContextManager[None]: ...

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
        fingerprints: Mapping[str, Fingerprint] | None = None,
        document_digest: str | None = None,
        rhythm: Rhythm | None = None,
    ) -> Refreshed: ...

    def record_not_modified(
        self,
        source_id: str,
        *,
        now: datetime,
        seconds: float,
        next_fetch_at: datetime,
        permanent_url: str | None = None,
        validators: CacheValidators | None = None,
    ) -> None: ...

    def record_not_modified_many(self, records: Sequence[NotModifiedRecord]) -> None: ...

    def record_failure(
        self,
        source_id: str,
        error: SourceError,
        *,
        now: datetime,
        seconds: float,
        next_fetch_at: datetime,
    ) -> None: ...

    def waiting_sources(self, *, now: datetime) -> list[SourceHealth]: ...

    def postpone(self, source_id: str, *, until: datetime) -> None: ...


def _asked_to_wait(source: Source, state: SourceHealth | None, now: datetime) -> RateLimited | None:
    """The server's last answer was a 429 or 503 with Retry-After and that time has not
    come: asking again now, even on an operator's manual refresh, is the retry storm the
    header asks us not to make."""
    until = wait_until(state) if state is not None else None
    if until is None or until <= now:
        return None
    return RateLimited(
        source.id,
        f"the server asked us to wait until {until.isoformat(timespec='seconds')}"
        " (Retry-After): not asked again before then",
        retry_at=until,
        status_code=None,
    )


def _may_have_moved_back(error: SourceError) -> FetchError | None:
    """`error` when it is one a source's configured URL may not have, where the source
    moved: an HTTP error status, a connection or DNS failure (kind "fetch"). Not a server's
    "come back later" (429, 503 with Retry-After), nor a challenge page, nor a document that
    does not parse: those are the new URL answering."""
    return error if isinstance(error, FetchError) and error.kind == FetchError.kind else None


def _both_failed(
    moved: FetchError, configured: SourceError, *, moved_to: str, configured_url: str
) -> FetchError:
    """The error of a source whose URL since a permanent redirect failed (`moved`), and its
    configured URL too: the moved URL's, naming both URLs and both errors. A server's "come
    back later" at the configured URL stays one, so that its wait is kept."""
    shown = mask_password(moved_to)
    where = "" if shown in moved.message else f" at {shown}"
    message = (
        f"{moved.message}{where}, the URL it moved permanently to; its configured URL"
        f" {mask_password(configured_url)} failed too: {configured.message}"
    )
    if isinstance(configured, RateLimited):
        return RateLimited(
            moved.source_id,
            message,
            retry_at=configured.retry_at,
            status_code=configured.status_code,
            answered_by=configured.answered_by,
        )
    return FetchError(moved.source_id, message, status_code=moved.status_code)


def _capped(error: RateLimited, until: datetime) -> RateLimited:
    """A Retry-After further off than the schedule allows (a date in 2099), as it will be
    honoured: until the capped next fetch, which the error then says."""
    return RateLimited(
        error.source_id,
        f"{error.message}; capped: asked again from {until.isoformat(timespec='seconds')}",
        retry_at=until,
        status_code=error.status_code,
        answered_by=error.answered_by,
    )


@dataclass(frozen=True, slots=True)
class _NotModifiedWrite:
    """A 304's store write. A write batch makes all of its 304s in two statements
    (`RefreshStore.record_not_modified_many`); called alone, it writes its own."""

    store: RefreshStore
    record: NotModifiedRecord

    def __call__(self) -> None:
        record = self.record
        self.store.record_not_modified(
            record.source_id,
            now=record.now,
            seconds=record.seconds,
            next_fetch_at=record.next_fetch_at,
            permanent_url=record.permanent_url,
            validators=record.validators,
        )


@dataclass(kw_only=True)
class Refresher:
    """Refreshes sources: the pipeline with its collaborators wired in."""

    store: RefreshStore
    retriever: Retriever
    rules: Callable[[], TagRules]  # the rules, compiled when the first document needs them
    policy: CadencePolicy
    clock: Clock
    # None: prepare in this process (small batches, tests); else from start_cpu_pool(rules)
    cpu_pool: Executor | None
    store_pool: Executor  # one thread: the single writer
    times: StageTimes = field(default_factory=StageTimes)
    # A wait a server asked for (Retry-After, of the source or of its host) that ends within
    # this is waited out before asking, not reported: a tick picks a source up to half a
    # tick before its time (`App.due_slack`), and the end of a wait is a next fetch time too.
    hold_grace: timedelta = timedelta(0)
    _local_cpu: float = 0.0  # preparing done on this process's event loop
    # The holds the store knows of at the start of the refresh (host -> hold): those drawn
    # during it are the retriever's (`HostHeld`).
    _host_holds: dict[str, Hold] = field(default_factory=dict)
    _states: dict[str, SourceHealth | None] = field(default_factory=dict)
    _places: asyncio.Semaphore = field(
        default_factory=lambda: asyncio.Semaphore(DOCUMENTS_IN_PROCESS)
    )
    _pending: list[tuple[Callable[[], Any], asyncio.Future[Any]]] = field(default_factory=list)
    _flusher: asyncio.Task[None] | None = None

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

        wall, cpu, store, local = (
            time.perf_counter(),
            time.process_time(),
            self.times.store,
            self._local_cpu,
        )
        try:
            # One read of every source's state instead of one each.
            ids = [source.id for source in sources]
            for start in range(0, len(ids), STATE_CHUNK):
                part = ids[start : start + STATE_CHUNK]
                found = {h.id: h for h in await self._in_store(self.store.fetch_states, part)}
                self._states.update((i, found.get(i)) for i in part)
            await self._hold_waiting_hosts()
            return list(await asyncio.gather(*(one(source) for source in sources)))
        finally:
            self.times.wall += time.perf_counter() - wall
            self.times.fetch += (
                time.process_time() - cpu - (self.times.store - store) - (self._local_cpu - local)
            )

    async def _hold_waiting_hosts(self) -> None:
        """The hosts that answered a source with a Retry-After not yet come are asked
        nothing in this refresh, by any source (a manual refresh of other sources of the
        host included): the server's wait is about itself, not about one URL. Read from
        every source's stored state, not only the ones refreshed: `--source b` is held
        when b's host answered a with a Retry-After that has not come."""
        now = self.clock()
        states = await self._in_store(partial(self.store.waiting_sources, now=now))
        self._host_holds = stored_holds(states, now)
        for key, held in self._host_holds.items():
            self.retriever.hold_host(key, held)

    def _wait_ends(self, url: str, state: SourceHealth | None, now: datetime) -> datetime | None:
        """When the wait a server asked of this source, or of its host for another source,
        ends, if after `now`."""
        ends = [wait_until(state) if state is not None else None]
        key = host_key(url)
        if key is not None and key in self._host_holds:
            ends.append(self._host_holds[key].until)
        later = max((end for end in ends if end is not None), default=None)
        return later if later is not None and later > now else None

    async def refresh_one(self, source: Source) -> SourceResult:
        admission = Admission(self._places)
        try:
            return await self._refresh(source, admission)
        finally:
            admission.give_back()

    async def _refresh(self, source: Source, admission: Admission) -> SourceResult:
        started_at = self.clock()
        began = time.perf_counter()
        if source.id in self._states:
            state = self._states[source.id]
        else:
            state = await self._in_store(self.store.fetch_state, source.id)
            self._states[source.id] = state
        url = state.url if state is not None else source.url
        validators = state.validators if state is not None else CacheValidators()
        failures = state.consecutive_failures if state is not None else 0
        ends = self._wait_ends(url, state, started_at)
        if ends is not None and ends - started_at <= self.hold_grace:
            # Picked within the slack before the server's time: asked at that time, not
            # before (the server's word), and not a tick later either.
            await asyncio.sleep((ends - started_at).total_seconds())
            started_at = max(self.clock(), ends)
        waiting = _asked_to_wait(source, state, started_at)
        if waiting is not None:
            # Not fetched, nothing written: the last answer stands until the server's time.
            return SourceResult(
                source_id=source.id,
                outcome=waiting,
                started_at=started_at,
                seconds=time.perf_counter() - began,
            )
        try:
            response = await self._read(source, url, validators, started_at, admission, state)
            if isinstance(response, SameDocument):
                admission.give_back()  # the document is not kept
                outcome = await self._save_same(source, url, response, state, began)
            elif isinstance(response, Unchanged):
                admission.give_back()  # no document to hold while the 304 is written
                now = self.clock()
                # A 304 says nothing of how often the feed posts or of its <ttl>: timed as
                # the last document read was.
                rhythm = state.rhythm if state is not None else Rhythm()
                next_at = next_fetch_after_success(
                    now=now,
                    interval=source.interval,
                    policy=self.policy,
                    rhythm=rhythm.posting_gap,
                    fresh_until=response.fresh_until,
                    ttl=rhythm.ttl,
                )
                seconds = time.perf_counter() - began
                await self._write(
                    _NotModifiedWrite(
                        self.store,
                        NotModifiedRecord(
                            source_id=source.id,
                            now=now,
                            seconds=seconds,
                            next_fetch_at=next_at,
                            permanent_url=response.permanent_redirect,
                            validators=response.validators,
                        ),
                    )
                )
                return SourceResult(
                    source_id=source.id,
                    outcome=NotModified(),
                    started_at=started_at,
                    seconds=seconds,
                )
            else:
                outcome = await self._save(source, url, response, began)
        except HostHeld as held:
            return await self._held(source, held, began, started_at, admission)
        except SourceError as caught:
            error = caught
        except StoreDataError as exc:
            # Values this database cannot hold (its own limits): this source's items alone
            # were refused, and its writes rolled back; the others' go on.
            logger.error("the store refused the items of %s: %s", source.id, exc)
            error = ItemsRefused(source.id, exc.reason)
        except StoreConflict as exc:
            # Another writer got in the way of this source's write however often it was
            # tried (`_write_batch`): this source's failure, tried again at its next fetch;
            # the store itself works, and the others go on.
            logger.warning("the store could not take the items of %s: %s", source.id, exc)
            error = SourceError(source.id, f"store conflict with another writer: {exc}")
        except StoreError:
            raise  # the store's failures are every source's: the refresh stops
        except ConfigError:
            raise  # so are the environment's (a CA file that is no PEM): exit 2, not a bug
        except Exception as exc:
            # A bug met on this source's input (an overflow on a header nobody foresaw, a
            # parser's corner): its error, with the traceback logged; the others carry on.
            logger.exception("refreshing %s failed on a bug", source.id)
            error = InternalError.of(source.id, exc)
        else:
            return SourceResult(
                source_id=source.id,
                outcome=outcome,
                started_at=started_at,
                seconds=time.perf_counter() - began,
            )
        return await self._failed(source, error, failures, began, started_at, admission)

    async def _held(
        self,
        source: Source,
        held: HostHeld,
        began: float,
        started_at: datetime,
        admission: Admission,
    ) -> SourceResult:
        """A source not asked, its host held (`fetch.holds`): no failure of its own, so its
        status, error count and validators stand; only its next fetch moves to the end of
        the hold, or the scheduler would find it due at every tick until then."""
        admission.give_back()
        if held.retry_at is not None:
            await self._write(partial(self.store.postpone, source.id, until=held.retry_at))
        return SourceResult(
            source_id=source.id,
            outcome=held,
            started_at=started_at,
            seconds=time.perf_counter() - began,
        )

    async def _failed(
        self,
        source: Source,
        error: SourceError,
        failures: int,
        began: float,
        started_at: datetime,
        admission: Admission,
    ) -> SourceResult:
        """Record a failed refresh: the error, and the next fetch after a backoff."""
        admission.give_back()
        now = self.clock()
        retry_at = error.retry_at if isinstance(error, RateLimited) else None
        next_at = next_fetch_after_failure(
            now=now,
            interval=source.interval,
            failures=failures + 1,
            policy=self.policy,
            retry_at=retry_at,
        )
        if isinstance(error, RateLimited) and retry_at is not None and retry_at > next_at:
            error = _capped(error, next_at)
        if retry_at is not None:
            # The host is held (fetch.holds) for as long as this source waits, not for the
            # years a Retry-After in 2099 would say.
            self.retriever.shorten_hold(source.id, min(retry_at, next_at))
        seconds = time.perf_counter() - began
        await self._write(
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

    async def _read(
        self,
        source: Source,
        url: str,
        validators: CacheValidators,
        now: datetime,
        admission: Admission,
        state: SourceHealth | None,
    ) -> Read | SameDocument | Unchanged:
        """Fetch and prepare `url`; when it fails, and it is where the source moved, its
        configured URL (`_configured_again`); then the fallback URLs of the source's kind in
        turn (an ep-procedure's Legislative Observatory page). When all fail, the error of
        `url` is the one reported: it is the source's own. A document of `url` that is the
        one last parsed is not prepared again (`SameDocument`)."""
        try:
            return await self._read_url(source, url, validators, now, admission, state)
        except SourceError as failed:
            error = failed
        moved_error = _may_have_moved_back(error) if url != source.url else None
        if moved_error is not None:
            try:
                again = await self._configured_again(
                    source, url, moved_error, now, admission, state
                )
            except SourceError as failed:
                error = _both_failed(moved_error, failed, moved_to=url, configured_url=source.url)
            else:
                if again is not None:
                    return again
        from aggregator.parse import fallback_urls

        fallback_failed: list[str] = []
        for fallback in fallback_urls(source):
            try:
                other = await self.retriever.retrieve(
                    source, fallback, CacheValidators(), now=now, admit=admission
                )
                if isinstance(other, Unchanged):
                    continue  # not without validators; typed as possible all the same
                prepared = await self._prepare(source, other, now)
            except SourceError as failed:
                fallback_failed.append(f"the fallback {fallback} failed too: {failed.message}")
                continue
            # The fallback's validators and redirects are not the source URL's to keep.
            fetched = replace(other, validators=CacheValidators(), permanent_redirect=None)
            note = f"read from the fallback {fallback}, as {mask_password(url)} failed: "
            note += error.message
            return Read(
                fetched=fetched,
                prepared=replace(prepared, warnings=(*prepared.warnings, note)),
            )
        if fallback_failed:
            # Said, or the error named only the first URL and not what else was tried.
            raise error.retold("; ".join([error.message, *fallback_failed]))
        raise error

    async def _read_url(
        self,
        source: Source,
        url: str,
        validators: CacheValidators,
        now: datetime,
        admission: Admission,
        state: SourceHealth | None,
    ) -> Read | SameDocument | Unchanged:
        response = await self.retriever.retrieve(source, url, validators, now=now, admit=admission)
        if isinstance(response, Unchanged):
            return response
        digest = document_digest(source, response)
        if state is not None and state.document_digest == digest:
            return SameDocument(fetched=response, digest=digest)
        return Read(
            fetched=response,
            prepared=await self._prepare(source, response, now),
            digest=digest,
        )

    async def _configured_again(
        self,
        source: Source,
        moved_to: str,
        error: FetchError,
        now: datetime,
        admission: Admission,
        state: SourceHealth | None,
    ) -> Read | SameDocument | Unchanged | None:
        """The source's configured URL, read once more because `moved_to`, where a permanent
        redirect led, failed with `error`: a move is the server's word of that day, and the
        config still names the old URL, which may serve the feed again (the new one
        withdrawn). Its document is the source's, and the source's URL is the configured
        one again (or where that now moves for good). None: not asked (its host is held)."""
        try:
            # Without validators: they are `moved_to`'s, and the document is wanted whole.
            response = await self._read_url(
                source, source.url, CacheValidators(), now, admission, state
            )
        except HostHeld:
            return None  # asked to wait: the moved URL's error stands
        logger.info(
            "%s: %s, where it had moved, failed (%s); its configured URL answers: the move is"
            " forgotten",
            source.id,
            mask_password(moved_to),
            error.message,
        )
        if isinstance(response, Unchanged):  # typed as possible; not without validators
            return replace(response, permanent_redirect=response.permanent_redirect or source.url)
        fetched = response.fetched
        fetched = replace(fetched, permanent_redirect=fetched.permanent_redirect or source.url)
        return replace(response, fetched=fetched)

    async def _prepare(self, source: Source, fetched: Fetched, now: datetime) -> Prepared:
        # The document's place was taken before its request went out (`retrieve`'s admit).
        state = self._states.get(source.id)
        known: Mapping[str, str] = {}
        if state is None or state.ever_yielded:  # a source that never had items has none to skip
            known = await self._in_store(self.store.known_hashes, source.id)
        if self.cpu_pool is None:
            from aggregator.prepare import prepare

            prepared = prepare(source, fetched, now, self.rules(), known)
            self._local_cpu += sum(prepared.cpu)
        else:
            from aggregator.prepare_worker import prepare_in_worker

            loop = asyncio.get_running_loop()
            try:
                prepared = await loop.run_in_executor(
                    self.cpu_pool, prepare_in_worker, source, fetched, now, known
                )
            except BrokenExecutor as exc:
                # The worker died (killed, out of memory, crashed) with this document sent to
                # it, maybe while preparing another: this source fails, the next documents go
                # to new workers (LazyExecutor), and the next refresh reads this one again.
                raise ParseError(
                    source.id, "the parse worker process stopped before this document was read"
                ) from exc
        self.times.add_prepared(prepared.cpu)
        return prepared

    async def _save(
        self, source: Source, url: str, read: Read, began: float, *, kept: Rhythm | None = None
    ) -> Refreshed:
        """`kept`: the stored rhythm, for a document not read again (`_save_same`)."""
        fetched, prepared = read.fetched, read.prepared
        now = self.clock()
        rhythm = (
            kept
            if kept is not None
            else Rhythm(
                posting_gap=posting_interval(
                    [i.published for i in prepared.items if not i.published_is_fallback]
                ),
                ttl=prepared.ttl,
            )
        )
        next_at = next_fetch_after_success(
            now=now,
            interval=source.interval,
            policy=self.policy,
            rhythm=rhythm.posting_gap,
            fresh_until=fetched.fresh_until,
            ttl=rhythm.ttl,
        )
        return await self._write(
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
                fingerprints=prepared.fingerprints,
                document_digest=read.digest,
                rhythm=None if kept is not None else rhythm,
            )
        )

    async def _save_same(
        self,
        source: Source,
        url: str,
        same: SameDocument,
        state: SourceHealth | None,
        began: float,
    ) -> Refreshed:
        """The source's success with the document last parsed, saved as a document of no
        items: its items are stored as they are, so only the source's state is written
        (validators, redirect, digest), and the next fetch is timed as after a 304: by the
        posting rhythm and ttl the document gave when it was read (`SourceHealth.rhythm`)."""
        from aggregator.prepare_worker import Prepared

        seen = state.last_item_count or 0 if state is not None else 0
        # The document's warnings are those it had when it was read: reported again.
        warnings = tuple(state.last_warning.splitlines()) if state and state.last_warning else ()
        unread = Prepared(items=(), seen=seen, warnings=warnings, ttl=None)
        read = Read(fetched=same.fetched, prepared=unread, digest=same.digest)
        kept = state.rhythm if state is not None else Rhythm()
        return replace(await self._save(source, url, read, began, kept=kept), unchanged=seen)

    async def _write(self, write: Callable[[], T]) -> T:
        """Run a store write in the store thread, in one transaction with the writes queued
        meanwhile (`store.write_batch`); its result (or error) comes after the commit."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._pending.append((write, future))
        if self._flusher is None or self._flusher.done():
            self._flusher = loop.create_task(self._flush())
        return await future

    async def _flush(self) -> None:
        while self._pending:
            if len(self._pending) < WRITE_BATCH:
                # Let more writes join: a transaction's fixed cost (~2 ms on SQLite) is then
                # shared, where 304s arriving one a millisecond would each pay it.
                await asyncio.sleep(WRITE_LINGER)
            batch = self._pending[:WRITE_BATCH]
            del self._pending[:WRITE_BATCH]
            outcomes: list[tuple[bool, Any]]
            try:
                outcomes = await self._in_store(self._write_batch, [write for write, _ in batch])
            except Exception as exc:  # the commit failed: none of the batch's writes stands
                outcomes = [(False, exc)] * len(batch)
            for (_, future), (ok, value) in zip(batch, outcomes, strict=True):
                if future.done():
                    continue
                if ok:
                    future.set_result(value)
                else:
                    future.set_exception(value)

    def _write_batch(self, writes: Sequence[Callable[[], Any]]) -> list[tuple[bool, Any]]:
        """The writes in one transaction; run again, whole, when another writer's
        transaction got in its way (`StoreConflict`: on PostgreSQL a prune beside the
        refresh deadlocked it, or deleted a row it referenced). Each try rolls back all it
        did, so the other transaction goes on meanwhile. After the last try the write that
        met the conflict fails alone, as that source's error."""
        for attempt in range(1, CONFLICT_TRIES):
            try:
                return self._write_batch_once(writes, retry_conflicts=True)
            except StoreConflict as exc:
                pause = conflict_pause(attempt)
                logger.info(
                    "write batch met another writer (%s): trying again in %.2fs", exc, pause
                )
                time.sleep(pause)
        return self._write_batch_once(writes, retry_conflicts=False)

    def _write_batch_once(
        self, writes: Sequence[Callable[[], Any]], *, retry_conflicts: bool
    ) -> list[tuple[bool, Any]]:
        outcomes: list[tuple[bool, Any]] = []
        with self.store.write_batch():
            unchanged = [w.record for w in writes if isinstance(w, _NotModifiedWrite)]
            together = len(unchanged) > 1
            if together:
                try:
                    self.store.record_not_modified_many(unchanged)
                except StoreConflict:
                    if retry_conflicts:
                        raise  # the whole batch again
                    together = False
                except Exception:  # rolled back; each on its own below, so a bad one fails alone
                    together = False
            for write in writes:
                if together and isinstance(write, _NotModifiedWrite):
                    outcomes.append((True, None))
                    continue
                try:
                    outcomes.append((True, write()))
                except StoreConflict as exc:
                    if retry_conflicts:
                        raise  # rolls the batch back: its locks go, the other writer goes on
                    outcomes.append((False, exc))
                except Exception as exc:  # that write's savepoint is rolled back; it fails alone
                    outcomes.append((False, exc))
        return outcomes

    async def _in_store(self, fn: Callable[..., T], *args: object) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.store_pool, self._timed_store, fn, *args)

    def _timed_store(self, fn: Callable[..., T], *args: object) -> T:
        # Runs in the single store thread, so the sum needs no lock.
        started = time.thread_time()
        try:
            return fn(*args)
        finally:
            self.times.store += time.thread_time() - started
