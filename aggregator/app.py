"""`App` wires settings, sources, tag rules, the store and the HTTP client.

Front ends (cli.py, the API, the scheduler) call these methods and hold no logic of their own.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import threading
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aggregator.cadence import CadencePolicy
from aggregator.errors import AggregatorError, ConfigError, SourceBusy, StoreError
from aggregator.fetch import FetchOptions, Retriever
from aggregator.fetch.http import check_tls_environment
from aggregator.models import Item, Source, SourceHealth, SourceResult, StoredItem
from aggregator.pipeline import Clock, LazyExecutor, Refresher, StageTimes, start_cpu_pool
from aggregator.rules_loader import RULES_FILE, RulesLoader
from aggregator.settings import DigestProfile, Settings, load_settings, read_sources
from aggregator.settings.app import make_data_dir
from aggregator.settings.tag_refs import check_tag_references, topic_names
from aggregator.store import SqlStore, open_store
from aggregator.store.engine import sqlite_file

# Digests (jinja2 templates, CSS inlining, the digest builder) and pruning are imported by the
# methods that use them: a refresh, the command run most often, needs neither.
if TYPE_CHECKING:
    from aggregator.deliver.outbox import DeliveryOutcome
    from aggregator.deliver.run import DigestRun
    from aggregator.store.leases import Held
    from aggregator.store.retention import PruneResult
    from aggregator.tag import TagRules

log = logging.getLogger(__name__)

# Below this many sources, worker processes cost more to start than they save.
PROCESS_POOL_THRESHOLD = 8
# How long a refresh holds its sources' leases at most: longer than any refresh runs. One
# killed on this machine frees them at once (`leases.claim` sees its process gone); one
# killed on another machine sharing the database holds them until then.
REFRESH_LEASE = timedelta(hours=1)
# The most a source is fetched ahead of its next fetch time (`due_sources`).
DUE_SLACK_MAX = 30.0


def usable_cpus() -> int:
    """The CPUs this process may run on (a container's or taskset's share, not the host's)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def parse_processes(setting: int, cpus: int) -> int:
    """Worker processes that prepare documents: `fetch.parse_processes`, else one fewer than
    the CPUs, at least one. The refreshing process needs a core of its own: its store writer
    is the slowest stage of a refresh with many new items. (Measured on 2 CPUs, 1,000 feeds:
    one worker instead of two, cold 29.5 to 27.9 s, and 64 MiB less RSS.)"""
    return setting or max(1, cpus - 1)


def utc_now() -> datetime:
    return datetime.now(UTC)


class UnknownProfile(AggregatorError):
    """A digest profile asked for is not configured."""


class UnknownSource(AggregatorError):
    """A source id asked for on the command line or the API is not configured."""

    def __init__(self, source_ids: Sequence[str], known: Sequence[str]) -> None:
        self.source_id = source_ids[0]
        hint = ", ".join(sorted(known)[:10]) + (", ..." if len(known) > 10 else "")
        which = ", ".join(repr(i) for i in dict.fromkeys(source_ids))
        plural = "s" if len(set(source_ids)) > 1 else ""
        super().__init__(f"unknown source id{plural} {which} (configured: {hint})")


def fetch_options(settings: Settings) -> FetchOptions:
    fetch = settings.fetch
    user_agent = fetch.user_agent
    if fetch.contact:
        user_agent = f"{user_agent} (+{fetch.contact})"
    return FetchOptions(
        user_agent=user_agent,
        connect_timeout=fetch.connect_timeout,
        read_timeout=fetch.read_timeout,
        total_timeout=fetch.total_timeout,
        max_connections=fetch.max_connections,
        max_per_host=fetch.max_per_host,
        retries=fetch.retries,
        backoff_base=fetch.backoff_base,
        max_bytes=fetch.max_bytes,
    )


def load_rules(config_dir: Path) -> TagRules:
    """The config's tag rules, compiled now (none but the automatic tags without tags.toml)."""
    return RulesLoader(config_dir).get()


def check_tags_named(settings: Settings, sources: Sequence[Source], rules: RulesLoader) -> None:
    """Every tag aggregator.toml names exists (settings/tag_refs.py). tags.toml is optional
    (without it, only the automatic tags): a topic named with no such file then said only
    "unknown tag 'csar'", and the user looked for a typo, not for the missing file."""
    text = rules.text()
    try:
        check_tag_references(settings, sources, topic_names(text.data))
    except ConfigError as exc:
        if text.data is not None:
            raise
        raise ConfigError(
            exc.file,
            f"{exc.problem}; there is no {RULES_FILE} in {rules.path.parent}, so no topic tags"
            " are defined",
            line=exc.line,
            key=exc.key,
            expected=exc.expected,
            more=exc.more,
        ) from None


def busy_results(held: Mapping[str, Held], *, now: datetime) -> dict[str, SourceResult]:
    """The result of each source another refresh holds (`leases.claim`): skipped as busy,
    nothing recorded. (A source only queued for a worker is not held: a refresh takes it.)"""
    return {
        source_id: SourceResult(
            source_id=source_id,
            outcome=SourceBusy(source_id, holder=f"by {lease.owner}", until=lease.expires_at),
            started_at=now,
            seconds=0.0,
        )
        for source_id, lease in held.items()
    }


@dataclass(kw_only=True)
class App:
    settings: Settings
    sources: tuple[Source, ...]
    tag_rules: RulesLoader  # compiled on first use: see rules_loader.py
    store: SqlStore
    clock: Clock = utc_now
    config_dir: Path | None = None  # where the config was read from (None: built in code)
    # The SQLite file this App made: none was there (a first run, or a mistyped data_dir).
    made_store: Path | None = None
    _store_pool: ThreadPoolExecutor = field(
        default_factory=lambda: ThreadPoolExecutor(max_workers=1, thread_name_prefix="store")
    )
    # The parse workers: made by the first refresh that needs them, kept for the next ones (a
    # service refreshes every minute; starting a worker costs ~0.5 s of CPU), closed with the
    # app.
    _cpu_pool: Executor | None = field(default=None, init=False)
    # Owners of the leases of a refresh stopped mid-way, given back once its write is done.
    _leases_held: list[str] = field(default_factory=list, init=False)
    _abandoned: bool = field(default=False, init=False)  # `abandon_writes`
    # Whether `due_sources` made due the sources read with another config (once per app).
    _rereads_made_due: bool = field(default=False, init=False)

    @classmethod
    def open(
        cls,
        config_dir: Path,
        env: Mapping[str, str] | None = None,
        *,
        clock: Clock = utc_now,
        log_level: Callable[[str], None] | None = None,
        existing_store: bool = False,
    ) -> App:
        """Load and validate the config, open (and migrate) the store, sync the sources.
        `log_level` gets the configured level as soon as it is known: before the store's
        migrations, whose lines it decides on too. `existing_store`: a SQLite file that does
        not exist is a StoreError, not a new empty store (a command that only reads it,
        pointed at a mistyped data_dir, would make one and report an empty archive)."""
        env = os.environ if env is None else env
        settings = load_settings(config_dir, env)
        if log_level is not None:
            log_level(settings.log_level)
        database_file = sqlite_file(settings.database_url)
        in_data_dir = database_file is not None and database_file.absolute().is_relative_to(
            settings.data_dir
        )
        if in_data_dir and not existing_store:
            make_data_dir(settings, env)  # before the store makes it, so named as the setting
        check_tls_environment()
        loaded = read_sources(config_dir)
        for warning in loaded.warnings:  # no source at all, two of one URL: said, not refused
            log.warning("%s", warning)
        sources = loaded.sources
        tag_rules = RulesLoader(config_dir, settings.data_dir / "cache")
        tag_rules.check()
        check_tags_named(settings, sources, tag_rules)
        # After every config check: a config error is exit 2 whether a store exists or not.
        if existing_store and database_file is not None and not database_file.exists():
            raise StoreError(
                f"no store at {database_file}: nothing has been refreshed with this"
                " configuration (is data_dir, database_url or AGGREGATOR_DATA_DIR /"
                " AGGREGATOR_DATABASE_URL mistyped?)"
            )
        made = database_file if database_file is not None and not database_file.exists() else None
        store = open_store(
            settings.database_url, dedupe_window=timedelta(days=settings.dedupe.window_days)
        )
        store.sync_sources(sources, now=clock())
        return cls(
            settings=settings,
            sources=sources,
            tag_rules=tag_rules,
            store=store,
            clock=clock,
            config_dir=config_dir,
            made_store=made,
        )

    @property
    def rules(self) -> TagRules:
        return self.tag_rules.get()

    def close(self) -> None:
        if self._abandoned:
            # Stopped twice: the write in flight is left to the process's exit, which rolls
            # it back (each batch is one transaction); waiting for it was what was refused.
            return
        if self._cpu_pool is not None:
            self._cpu_pool.shutdown(wait=True, cancel_futures=True)
        self._store_pool.shutdown(wait=True)
        with contextlib.suppress(Exception):  # closing: a lease left expires on its own
            self._release_leases()
        self.store.close()

    def stop_workers(self) -> None:
        """Stop the parse worker processes at once, their work dropped (a refresh stopped
        by a signal: nothing they are preparing would be stored)."""
        if isinstance(self._cpu_pool, LazyExecutor):
            self._cpu_pool.terminate()
        elif self._cpu_pool is not None:
            self._cpu_pool.shutdown(wait=False, cancel_futures=True)

    def finish_writes(self) -> None:
        """Wait for the store write in flight, if any (a refresh stopped mid-way: its batch
        commits whole), then give back the leases of the refresh stopped. The store can
        still be read; nothing more is written through it."""
        self._store_pool.shutdown(wait=True, cancel_futures=True)
        # In a thread of its own, joined: SQLite's wait for a lock another program holds is
        # deaf to Ctrl-C, a join is not (the thread dies with the process when abandoned).
        releasing = threading.Thread(target=self._release_leases, daemon=True)
        releasing.start()
        releasing.join()

    def abandon_writes(self) -> None:
        """Give up the write in flight (a second Ctrl-C): `close` then waits for nothing,
        and the process's exit rolls the write back; its sources keep their last state."""
        self._abandoned = True

    def _release_leases(self) -> None:
        from aggregator.store import leases

        while self._leases_held:
            leases.release_all(self.store.engine, owner=self._leases_held.pop())

    def __enter__(self) -> App:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # sources

    def select_sources(self, ids: Sequence[str] | None = None) -> list[Source]:
        """The sources named (even disabled ones: the operator asked), else every enabled one."""
        if not ids:
            return [s for s in self.sources if s.enabled]
        by_id = {s.id: s for s in self.sources}
        missing = [i for i in ids if i not in by_id]
        if missing:
            raise UnknownSource(missing, list(by_id))
        return [by_id[i] for i in dict.fromkeys(ids)]

    def due_sources(self) -> list[Source]:
        """Sources enabled in this app's config whose next fetch time has come, or comes
        within half a tick, and whose host no server asked to wait beyond that.

        A next fetch is counted from when the last one ended, so the tick one interval later
        fires a moment before it: without the slack every source waited a whole extra tick
        (a 30m source fetched every 31 minutes). The first call also makes due at once the
        sources whose stored items were read with another config than this one (`reread_due`:
        the service restarted after an edit to their selectors or tags)."""
        now, early = self.clock(), self.due_slack()
        if not self._rereads_made_due:
            self._rereads_made_due = True
            self._make_rereads_due(now)
        due = set(self.store.due_source_ids(now=now, early=early))
        picked = [s for s in self.sources if s.enabled and s.id in due]
        return self._not_held(picked, now=now, early=early)

    def _not_held(self, picked: list[Source], *, now: datetime, early: timedelta) -> list[Source]:
        """`picked` less the sources whose host is held (a Retry-After in its answer to one of
        its sources, `fetch.holds`) beyond `now + early`: the refresh would not ask them, and
        a tick that picked them reported them rate limited at every tick of the wait."""
        from aggregator.fetch.holds import host_key, stored_holds

        holds = stored_holds(self.store.waiting_sources(now=now), now) if picked else {}
        if not holds:
            return picked
        # The URL a refresh asks: where a 301/308 led, else the configured one.
        urls = {h.id: h.url for h in self.store.fetch_states([s.id for s in picked])}

        def held(source: Source) -> bool:
            key = host_key(urls.get(source.id, source.url))
            hold = holds.get(key) if key is not None else None
            return hold is not None and hold.until > now + early

        return [s for s in picked if not held(s)]

    def _make_rereads_due(self, now: datetime) -> None:
        """Make due now the enabled sources whose stored items another config read
        (`store.sources.reread_due`): README "Editing what a source's documents are read
        with ... makes it due at once", decided against this app's config, not by whichever
        command synced the edit first."""
        from aggregator.same_document import reading_digest

        self.store.make_rereads_due(
            {s.id: reading_digest(s) for s in self.sources if s.enabled}, now=now
        )

    def _apply_readings(self, sources: Sequence[Source]) -> None:
        """Record the reading (`same_document.reading_digest`) each source is about to be
        read with; one read with another loses its stored validators first
        (`store.sources.apply_readings`). Called with the sources' leases held, so no other
        refresh applies its own reading in between."""
        from aggregator.same_document import reading_digest

        self.store.apply_readings({s.id: reading_digest(s) for s in sources})

    def due_slack(self) -> timedelta:
        """How early a source counts as due: half a tick (at most DUE_SLACK_MAX seconds).
        The same for the scheduler's pick, its queued marks and the workers' leases, or a
        source picked early was marked a tick late (`run --distributed`)."""
        return timedelta(seconds=min(self.settings.schedule.tick_seconds / 2, DUE_SLACK_MAX))

    def health(self, ids: Sequence[str] | None = None) -> list[SourceHealth]:
        return self.store.source_health(ids)

    # refresh

    async def refresh(
        self,
        sources: Sequence[Source],
        *,
        on_result: Callable[[SourceResult], None] | None = None,
        times: StageTimes | None = None,
        leased: bool = False,
    ) -> list[SourceResult]:
        """Fetch, parse and store `sources` concurrently. Never raises for one bad source.

        The refresh holds the sources' leases while it runs (`store/leases.py`), so two
        refreshes never read one source at once: a source another refresh is reading is
        skipped, `busy`. `leased`: the caller holds them already (`aggregator worker`).
        `times`, when given, accumulates the CPU seconds each stage took (`make bench`).
        """
        if leased or not sources:
            return await self._refresh(sources, on_result=on_result, times=times)
        from aggregator.store import leases

        owner = leases.new_owner()
        now = self.clock()
        held = leases.claim(
            self.store.engine, [s.id for s in sources], owner=owner, now=now, ttl=REFRESH_LEASE
        )
        skipped = busy_results(held, now=now)
        for result in skipped.values():
            if on_result is not None:
                on_result(result)
        try:
            done = await self._refresh(
                [s for s in sources if s.id not in held], on_result=on_result, times=times
            )
        except asyncio.CancelledError:
            # Stopped (Ctrl-C): the store thread may be writing, and releasing here would
            # wait for its write lock, deaf to a second Ctrl-C. Released once the write in
            # flight is done (`finish_writes`), or at close.
            self._leases_held.append(owner)
            raise
        except BaseException:
            leases.release_all(self.store.engine, owner=owner)
            raise
        leases.release_all(self.store.engine, owner=owner)
        by_id = {result.source_id: result for result in done} | skipped
        return [by_id[s.id] for s in sources if s.id in by_id]

    async def _refresh(
        self,
        sources: Sequence[Source],
        *,
        on_result: Callable[[SourceResult], None] | None,
        times: StageTimes | None,
    ) -> list[SourceResult]:
        if sources:
            self._apply_readings(sources)
        cpu_pool = self._parse_workers() if len(sources) >= PROCESS_POOL_THRESHOLD else None
        async with Retriever(fetch_options(self.settings)) as retriever:
            refresher = Refresher(
                store=self.store,
                retriever=retriever,
                rules=self.tag_rules.get,
                policy=CadencePolicy(
                    min_interval=self.settings.schedule.min_interval,
                    max_interval=self.settings.schedule.max_interval,
                    max_backoff=self.settings.schedule.max_backoff,
                ),
                clock=self.clock,
                cpu_pool=cpu_pool,
                store_pool=self._store_pool,
                times=StageTimes() if times is None else times,
                # As early as a tick picks a source (`due_slack`): a wait that ends within
                # it is waited out, not reported as a failure.
                hold_grace=self.due_slack(),
            )
            return await refresher.refresh_all(sources, on_result=on_result)

    def _parse_workers(self) -> Executor | None:
        """The parse worker processes (started with the first document sent); None with one
        CPU and no setting: then documents are prepared in this process, where a worker
        would only compete with it."""
        setting, cpus = self.settings.fetch.parse_processes, usable_cpus()
        if not (setting or cpus > 1):
            return None
        if self._cpu_pool is None:
            workers = parse_processes(setting, cpus)
            self._cpu_pool = start_cpu_pool(self.tag_rules.text(), workers=workers)
        return self._cpu_pool

    # digests

    def profile(self, name: str | None) -> DigestProfile:
        """The named profile; unnamed, the only one configured, else "daily"."""
        profiles = self.settings.digest.profiles
        known = ", ".join(p.name for p in profiles)
        if name is None:
            if len(profiles) == 1:
                return profiles[0]
            name = "daily"
            if all(p.name != name for p in profiles):
                raise UnknownProfile(f"name a digest profile with --profile: one of {known}")
        for profile in profiles:
            if profile.name == name:
                return profile
        raise UnknownProfile(f"unknown digest profile {name!r} (configured: {known})")

    def last_digest_end(self, profile: str) -> datetime | None:
        from aggregator.store.digests import last_window_end

        return last_window_end(self.store.engine, profile)

    def deliver_pending_digests(self) -> list[DeliveryOutcome]:
        """Send the digests that earlier runs queued and did not get out (an SMTP server
        that was down), with their own bytes and Message-IDs."""
        from aggregator.deliver.outbox import deliver_pending
        from aggregator.deliver.run import addressees_of, transport_for

        transport = transport_for(self.settings.smtp, self.settings.data_dir)
        return deliver_pending(
            self.store.engine,
            transport,
            now=self.clock(),
            addressees=addressees_of(self.settings.digest.profiles),
        )

    def run_digest(
        self,
        profile: str,
        *,
        send: bool,
        since: datetime | None = None,
        formats: Sequence[str] | None = None,
        write_files: bool = True,
        fire: datetime | None = None,
    ) -> DigestRun:
        """Build the profile's digest for [end of its last digest, now); write; maybe send
        (`fire`: the scheduled time a service sends it for, see run_profile)."""
        from aggregator.deliver.run import addressees_of, run_profile

        return run_profile(
            self.store.engine,
            self.profile(profile),
            now=self.clock(),
            data_dir=self.settings.data_dir,
            smtp=self.settings.smtp,
            mail_from=self.settings.digest.mail_from,
            topic_order=self.settings.digest.topic_order,
            topic_labels=self.rules.labels,
            send=send,
            since=since,
            formats=formats,
            write_files=write_files,
            fire=fire,
            addressees=addressees_of(self.settings.digest.profiles),
        )

    # tags

    def retag(self, *, dry_run: bool = False) -> RetagResult:
        """Re-run tagging over every stored item with the current rules; store what changed.

        Tagging is a pure function of the item and its source, so this gives exactly the
        tags a fresh refresh would. Items of sources no longer configured keep their tags.
        """
        from aggregator.tag import tag_item

        rules = self.rules
        by_id = {s.id: s for s in self.sources}
        changes: dict[int, tuple[str, ...]] = {}
        added: Counter[str] = Counter()
        removed: Counter[str] = Counter()
        seen = skipped = 0
        for stored in self.store.iter_items():
            seen += 1
            source = by_id.get(stored.source_id)
            if source is None:
                skipped += 1
                continue
            tags = tag_item(as_item(stored), source, rules)
            if tags != stored.tags:
                changes[stored.id] = tags
                added.update(set(tags) - set(stored.tags))
                removed.update(set(stored.tags) - set(tags))
        if changes and not dry_run:
            self.store.retag(changes, now=self.clock())
        return RetagResult(
            items=seen,
            changed=len(changes),
            skipped=skipped,
            added=dict(added),
            removed=dict(removed),
            dry_run=dry_run,
        )

    # retention

    def prune(self, *, dry_run: bool = False) -> PruneResult:
        """Delete the items the retention settings let go (see aggregator/retention.py)."""
        from aggregator.retention import RetentionPolicy
        from aggregator.store.retention import prune as prune_store

        now = self.clock()
        cutoffs = RetentionPolicy.from_settings(self.settings.retention).cutoffs(now)
        return prune_store(self.store.engine, cutoffs, now=now, dry_run=dry_run)

    # items

    def iter_items(self, *, since: datetime | None = None) -> Iterator[StoredItem]:
        """Every stored item; with `since`, those first seen or last changed (a new
        revision) at or after it, so that an incremental export misses no update."""
        return self.store.iter_items(changed_since=since)


@dataclass(frozen=True, slots=True, kw_only=True)
class RetagResult:
    items: int
    changed: int
    skipped: int  # items of sources no longer configured
    added: dict[str, int]  # tag -> items that gained it
    removed: dict[str, int]
    dry_run: bool


def as_item(stored: StoredItem) -> Item:
    """The normalised item a stored row came from, as the tag stage sees it."""
    return Item(
        source_id=stored.source_id,
        identity=stored.identity,
        guid=stored.guid,
        url=stored.url,
        canonical_url=stored.canonical_url,
        title=stored.title,
        summary=stored.summary,
        text=stored.text,
        published=stored.published,
        published_is_fallback=stored.published_is_fallback,
        updated=stored.updated,
        language=stored.language,
        author=stored.author,
        content_hash=stored.content_hash,
        categories=stored.categories,
    )


def item_record(item: StoredItem) -> dict[str, Any]:
    """The documented export shape of one item (`aggregator export`, the API)."""
    return {
        "id": item.id,
        "source": item.source_id,
        "url": item.url,
        "canonical_url": item.canonical_url,
        "title": item.title,
        "summary": item.summary,
        "published": item.published.isoformat(),
        "published_is_fallback": item.published_is_fallback,
        "first_seen": item.first_seen.isoformat(),
        "updated": item.updated.isoformat() if item.updated else None,
        "last_changed": item.last_changed.isoformat(),
        "revision": item.revision,
        "language": item.language,
        "author": item.author,
        "categories": list(item.categories),
        "tags": list(item.tags),
        "cluster_id": item.cluster_id,
    }
