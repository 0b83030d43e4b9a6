"""`aggregator run`: the long-running service. A front end: it decides *when*, `App` does.

The deciding is done against the app's clock, so a test can drive it with a fake one
(`Service.step()` does everything due, in order); APScheduler only wakes it up:

- a tick every `schedule.tick_seconds` (default one minute) starts a refresh of the sources
  whose next fetch time (kept in the store, so a restart loses nothing) has come and which
  no refresh of this service is reading already. Refreshes overlap: a source that trickles
  its answer holds up itself, not the sources due at the next ticks (and the store's
  per-source leases keep any two refreshes off one source);
- beside the refreshes, one pass at a time, the chores: every digest whose schedule fired
  since that profile's last digest, digest files a folder refused, queued emails, the daily
  prune. A digest never waits for a refresh in flight: it goes out at its time with what
  the store holds (what a refresh commits later comes in the next one, by first sighting);
- one cron job per digest profile (APScheduler 3 `CronTrigger` in the profile's timezone),
  so a digest goes out at its time rather than at the next tick.

A digest missed while the service was down is sent once on start, not once per missed day:
"due" means "at least one fire time since the last digest" (for a profile that never sent
one: since a service first ran with it, which the store keeps), and the window of the
digest then runs from the end of the last one to now. That one digest is late already: it
waits for the refresh the start began (at most `fetch.total_timeout`), so that it carries
what the sources published while the service was down. SIGTERM/SIGINT stop taking new
work, let every task in flight finish its writes (up to `STOP_GRACE_SECONDS`), and return.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import signal
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from aggregator import __version__, cron
from aggregator.config_watch import ConfigFiles
from aggregator.errors import AggregatorError, HostHeld, SendDeferred, SourceBusy, StoreError
from aggregator.models import Source, SourceResult
from aggregator.outages import OutageLog, store_unreachable
from aggregator.settings import DigestProfile
from aggregator.store import leases
from aggregator.store_file import StoreFileWatch
from aggregator.words import count

if TYPE_CHECKING:
    from aggregator.app import App
    from aggregator.deliver.outbox import DeliveryOutcome
    from aggregator.deliver.run import UnwrittenFiles

log = logging.getLogger("aggregator.schedule")

# Pruning (retention) runs daily at this local time, a quiet hour, after the night's fetches.
PRUNE_AT = {"hour": 3, "minute": 30}

# How often digests whose send failed are tried again between their cron times.
PENDING_RETRY = timedelta(minutes=5)
# How long SIGTERM waits for the work in flight before cancelling it. Cancelling abandons
# fetches still waiting for the network; a store write already started runs to its commit
# in the store thread (App.close waits for it), so the store stays consistent either way.
STOP_GRACE_SECONDS = 30.0


# --- the deciding logic: pure, over a clock reading ---------------------------------------


def _folder(path: Path | None) -> str:
    """A folder as an operator finds it again: absolute (the service may have been started
    from anywhere with --config config)."""
    return "-" if path is None else str(path.resolve())


def cron_trigger(profile: DigestProfile) -> BaseTrigger:
    return cron.cron_trigger(profile.cron, profile.timezone)


def due_fire(trigger: BaseTrigger, *, since: datetime, now: datetime) -> datetime | None:
    """The first time the schedule fired in (since, now], or None. One answer however many
    times it fired: a service that was down for three days sends one digest, not three.
    Constant time, whatever the gap (no walk over the missed fire times)."""
    fire = cron.next_fire_after(trigger, since)
    return fire if fire is not None and fire <= now else None


def digest_due(trigger: BaseTrigger, *, since: datetime, now: datetime) -> bool:
    """Whether the schedule fired in (since, now] (`due_fire`)."""
    return due_fire(trigger, since=since, now=now) is not None


def digest_reference(last_end: datetime | None, first_seen: datetime) -> datetime:
    """What "since" means for a profile: the end of its last digest; for a profile that never
    sent one, when a service first ran with it (`store.digests.profiles_first_seen`). Its
    first digest comes at its first scheduled time after that, not at once with the whole
    archive; and one whose time passed while the service was down goes out on start, where
    counting from this start put it off to the next day."""
    return last_end if last_end is not None else first_seen


QUEUED = "queued, "  # `_log_delivery`'s context of an email queued by an earlier run


def _log_delivery(outcome: DeliveryOutcome, context: str) -> None:
    """One line per email: a failed send at WARNING with the server's reason (it stays
    queued and is retried), so an operator at log_level = "warning" still sees it; one
    refused for good at ERROR (it is not tried again)."""
    window = outcome.window_end.isoformat(timespec="minutes")
    if outcome.status == "failed":
        log.warning(
            "digest %s (window to %s): %ssend failed, queued for retry: %s",
            outcome.profile,
            window,
            context,
            outcome.error or "no reason given",
        )
    elif outcome.status == "undeliverable":
        # Not retried: said at ERROR, once, with the server's reply.
        log.error(
            "digest %s (window to %s): %sundeliverable, marked failed: %s",
            outcome.profile,
            window,
            context,
            outcome.error or "no reason given",
        )
    elif outcome.status == "busy" and context == QUEUED:
        # Another service is sending the queued email now (two schedulers, one by mistake):
        # nothing of this one's to say, and "queued, busy" read as an email left waiting.
        log.debug("digest %s (window to %s): %s%s", outcome.profile, window, context, "busy")
    else:
        log.info("digest %s (window to %s): %s%s", outcome.profile, window, context, outcome.status)


def _not_asked(result: SourceResult) -> bool:
    """A source whose host asked us to wait, or that another refresh is reading, was not
    asked: no failure of the source (nothing is recorded for it), so not counted or warned
    of as one. (`aggregator refresh` counts them in its exit code: the operator's refresh of
    them did not happen.)"""
    return isinstance(result.outcome, HostHeld | SourceBusy)


def _log_result(result: SourceResult) -> None:
    """A source's lines in the service's log: its failure at WARNING (not asked: at INFO),
    then each of its warnings."""
    if result.error:
        log.log(logging.INFO if _not_asked(result) else logging.WARNING, "%s", result.error)
    for warning in result.warnings:
        log.warning("%s: %s", result.source_id, warning)


# --- the service ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class StepReport:
    refreshed: int  # sources refreshed
    failed: int  # of which failed
    digests: tuple[str, ...]  # profiles whose digest ran


@dataclass(eq=False, kw_only=True)
class _Lane:
    """At most one pass runs; a wake-up during a pass asks for one more after it."""

    task: asyncio.Task[None] | None = None
    again: bool = False


class Service:
    """Runs refreshes and the digest jobs for one `App` until stopped."""

    def __init__(
        self,
        app: App,
        *,
        grace_seconds: float = STOP_GRACE_SECONDS,
        enqueue: Callable[[Sequence[str]], int] | None = None,
    ) -> None:
        self.app = app
        # Distributed (`run --distributed`): due source ids go to this, which sends them to
        # the workers and returns how many it sent, instead of being refreshed here.
        self.enqueue = enqueue
        self.started = app.clock()
        self.grace_seconds = grace_seconds
        self._stopping = asyncio.Event()
        self._crashed: BaseException | None = None
        self._tasks: set[asyncio.Task[None]] = set()  # every task in flight: SIGTERM waits
        self._chores = _Lane()
        # Source id -> the refresh of this service reading it (its lease owner): not picked
        # again meanwhile. Per source, not per refresh: one read at the start of a refresh
        # that still waits for a slow source is due again at its next time, and is read then.
        self._in_flight: dict[str, str] = {}
        # Source id -> the refresh that read it and still holds its lease (it releases its
        # leases when its last source is done): a later refresh of the source takes it over.
        self._read: dict[str, str] = {}
        self._start_refresh: asyncio.Task[None] | None = None  # what a catch-up digest awaits
        self._first_seen: dict[str, datetime] | None = None  # per profile, from the store
        # Digest files a folder refused, by (profile, day): written at a later pass.
        self._unwritten: dict[tuple[str, str], UnwrittenFiles] = {}
        self._prune_wanted = False  # set by the daily prune job, done by the next pass
        self._pending_tried: datetime | None = None  # the last retry of queued digests
        self._config = ConfigFiles(app.config_dir) if app.config_dir is not None else None
        self._store_file = StoreFileWatch(app.store.engine)
        self._digesting = 0  # digest runs in their threads now (an email may be in flight)
        self._queue_waiting = False  # the last tick sent nothing: all due were queued
        # Leases a refresh could not give back (the store down): (source id, or None for
        # all of the owner's; owner), given back at the next refresh.
        self._unreleased: list[tuple[str | None, str]] = []
        # The store unreachable (PostgreSQL down): the refreshes and the chores both met it
        # at every tick, and each said so at ERROR, for as long as it lasted.
        self._store_outage = OutageLog(
            f"store {app.store.url}",
            waiting="due sources and digests wait for it",
            tick_seconds=app.settings.schedule.tick_seconds,
            clock=app.clock,
            logger=log,
            level=logging.ERROR,
        )

    # what is due now, by the app's clock

    async def tick(self) -> tuple[int, int]:
        """Refresh every source that is due now and that no refresh of this service is
        reading already; returns (refreshed, failed)."""
        self._tell_config_changes()
        due = [s for s in self.app.due_sources() if s.id not in self._in_flight]
        if not due:
            return 0, 0
        owner = leases.new_owner()
        # Marked before the first await: a tick while these are read leaves them alone.
        self._in_flight.update((source.id, owner) for source in due)
        try:
            if self.enqueue is not None:
                sent = await asyncio.to_thread(self.enqueue, [source.id for source in due])
                # Due sources a worker has not taken yet are not sent again: with no worker
                # running, that line came at every tick. Said once, then when it changes.
                waiting = sent == 0
                log.log(
                    logging.DEBUG if waiting and self._queue_waiting else logging.INFO,
                    "tick: %s due, %d sent to the workers%s",
                    count(len(due), "source"),
                    sent,
                    " (all queued already: waiting for a worker)" if waiting else "",
                )
                self._queue_waiting = waiting
                return sent, 0
            results = await self._refresh(due, owner)
        finally:
            for source in due:
                if self._in_flight.get(source.id) == owner:
                    del self._in_flight[source.id]
        # Each source's own lines were logged when it was done (`_log_result`); the tick's
        # summary comes when its slowest source is.
        not_asked = [r for r in results if _not_asked(r)]
        failed = [r for r in results if not r.ok and r not in not_asked]
        log.info(
            "tick: refreshed %s, %d failed%s",
            count(len(results) - len(not_asked), "source"),
            len(failed),
            f", {len(not_asked)} not asked" if not_asked else "",
        )
        return len(results) - len(not_asked), len(failed)

    async def _refresh(self, due: Sequence[Source], owner: str) -> list[SourceResult]:
        """`App.refresh`, with the leases taken here: a source is released for this service's
        next refresh as soon as it is read (`_in_flight`), and its lease is handed over to
        that refresh, where the store's would hold it until this refresh's slowest source is
        done, and a refresh of it then would find it "busy"."""
        from aggregator.app import REFRESH_LEASE, busy_results

        engine = self.app.store.engine
        await self._give_back_unreleased()
        # The lease writes in a thread: a store another program holds locked (a `prune`, a
        # big `refresh`) kept them waiting up to its busy timeout, 30 s, on the event loop,
        # and a digest due meanwhile, or a SIGTERM, waited as long.
        for source in due:
            earlier = self._read.pop(source.id, None)
            if earlier is not None:  # read by a refresh still waiting for others: free it
                try:
                    await asyncio.to_thread(leases.release, engine, source.id, owner=earlier)
                except StoreError:
                    self._unreleased.append((source.id, earlier))
                    raise
        now = self.app.clock()
        ids = [source.id for source in due]
        held = await asyncio.to_thread(
            functools.partial(leases.claim, engine, ids, owner=owner, now=now, ttl=REFRESH_LEASE)
        )
        busy = busy_results(held, now=now)
        for result in busy.values():
            _log_result(result)

        def read(result: SourceResult) -> None:
            # Said as soon as the source is done: a source that trickles its answer held
            # up the lines of every source of its tick (a 404 read at once was logged 20 s
            # later).
            _log_result(result)
            if self._in_flight.get(result.source_id) == owner:
                del self._in_flight[result.source_id]
                self._read[result.source_id] = owner

        try:
            done = await self.app.refresh(
                [source for source in due if source.id not in held], on_result=read, leased=True
            )
        finally:
            for source_id in ids:
                if self._read.get(source_id) == owner:
                    del self._read[source_id]
            # Shielded: cancelled (a second SIGTERM), the thread still gives the leases back.
            try:
                await asyncio.shield(asyncio.to_thread(leases.release_all, engine, owner=owner))
            except StoreError:
                # The store went away while the sources were read: given back when it is
                # back. Left held, they stayed "busy" to this very service for the lease's
                # hour, every tick skipping them as read by another refresh.
                self._unreleased.append((None, owner))
                raise
        by_id = {result.source_id: result for result in done} | busy
        return [by_id[source_id] for source_id in ids if source_id in by_id]

    async def _give_back_unreleased(self) -> None:
        """Give back the leases a refresh of this service could not, the store down when it
        ended (`_refresh`): before the next claims, which would find them held."""
        engine = self.app.store.engine
        pending, self._unreleased = self._unreleased, []
        failed: StoreError | None = None
        for source_id, owner in pending:
            try:
                if source_id is None:
                    await asyncio.to_thread(leases.release_all, engine, owner=owner)
                else:
                    await asyncio.to_thread(leases.release, engine, source_id, owner=owner)
            except StoreError as exc:
                self._unreleased.append((source_id, owner))
                failed = exc
        if failed is not None:
            raise failed  # still down: this tick waits for it, as its claims would

    def due_fires(self, now: datetime) -> list[tuple[DigestProfile, datetime]]:
        """The due profiles, each with the scheduled time it is due for."""
        first_seen = self._profiles_first_seen()
        due: list[tuple[DigestProfile, datetime]] = []
        for profile in self.app.settings.digest.profiles:
            since = digest_reference(
                self.app.last_digest_end(profile.name), first_seen.get(profile.name, self.started)
            )
            fire = due_fire(cron_trigger(profile), since=since, now=now)
            if fire is not None:
                due.append((profile, fire))
        return due

    def _profiles_first_seen(self) -> dict[str, datetime]:
        """When a service first ran with each profile: this one's start for those new to the
        store, recorded then, so that a restart counts from the same time."""
        if self._first_seen is None:
            from aggregator.store.digests import profiles_first_seen

            names = [profile.name for profile in self.app.settings.digest.profiles]
            self._first_seen = profiles_first_seen(self.app.store.engine, names, now=self.started)
        return self._first_seen

    def _tell_config_changes(self) -> None:
        if self._config is None:
            return
        for name in self._config.newly_changed():
            log.warning(
                "%s changed on disk: the service read its config when it started and goes on "
                "with that; restart it to apply the change",
                self._config.folder / name,
            )

    async def digest(self, profile: DigestProfile, fire: datetime | None = None) -> None:
        from aggregator.deliver.render import local_date
        from aggregator.deliver.run import DigestFilesUnwritten

        # In a thread: rendering and SMTP block. A cancelled pass leaves the thread to finish
        # its send and record it (asyncio.run waits for the default executor).
        unwritten: UnwrittenFiles | None = None
        self._digesting += 1
        try:
            run = await asyncio.to_thread(
                functools.partial(self.app.run_digest, profile.name, send=True, fire=fire)
            )
        except DigestFilesUnwritten as exc:  # recorded and sent: only its files are not
            run, unwritten = exc.run, exc.unwritten
        finally:
            self._digesting -= 1

        def this_one(outcome: DeliveryOutcome) -> bool:
            return outcome.profile == profile.name and outcome.window_end == run.digest.window_end

        if run.taken is not None:
            log.info("digest %s: %s; nothing sent", profile.name, run.taken)
        elif not any(map(this_one, run.deliveries)):  # it may have retried others' queued emails
            log.info("digest %s: %d entries; nothing to send", profile.name, run.digest.entry_count)
        for outcome in run.deliveries:  # earlier windows' queued emails first, then this one
            own = this_one(outcome)
            _log_delivery(outcome, f"{run.digest.entry_count} entries; " if own else QUEUED)
        if unwritten is not None:
            self._keep_unwritten(unwritten)
        elif run.files and not run.digest.is_empty:
            # The day's files are this digest's now: older ones left unwritten would replace
            # them. (An empty digest leaves a day's files be, so the older ones go on.)
            self._unwritten.pop((profile.name, local_date(run.digest)), None)

    def _keep_unwritten(self, files: UnwrittenFiles) -> None:
        """Write the files at a later pass. In memory only: the store keeps every digest
        (the API serves each as emailed), the files are a copy of it; a restart gives up on
        them, and says so when it stops."""
        key = (files.profile, files.day)
        earlier = self._unwritten.get(key)
        if not (files.empty and earlier is not None and not earlier.empty):
            self._unwritten[key] = files  # as on disk: an empty digest replaces no files
        log.warning(
            "digest %s: its files could not be written to %s: %s; trying again at every tick "
            "while the service runs",
            files.profile,
            files.folder,
            files.error,
        )

    async def _write_unwritten(self) -> None:
        """Write the digest files a folder refused, if it takes them now (the disk has room
        again, the folder was put right). Said once when refused, once when written."""
        if not self._unwritten:
            return
        from aggregator.deliver.files import FilesNotWritable

        for key, files in list(self._unwritten.items()):
            if self._stopping.is_set():
                return
            try:
                written = await asyncio.to_thread(files.write)
            except FilesNotWritable as exc:
                log.debug("digest %s: files still not written: %s", files.profile, exc)
                continue
            if self._unwritten.get(key) is files:
                del self._unwritten[key]
            log.info(
                "digest %s: wrote its %d files of %s to %s, which could not be written when "
                "it was recorded",
                files.profile,
                len(written),
                files.day,
                files.folder,
            )

    def _tell_unwritten(self) -> None:
        for files in self._unwritten.values():
            log.warning(
                "digest %s: its files of %s were never written to %s (%s); the store keeps "
                "the digest, and GET /api/v1/digests?profile=%s serves it",
                files.profile,
                files.day,
                files.folder,
                files.error,
                files.profile,
            )

    async def chores(self) -> tuple[str, ...]:
        """Digest files left unwritten, the due digests, queued emails, the daily prune and
        the full-text index's catch-up, in turn; returns the profiles whose digest ran. A
        store or delivery error is logged and tried again at the next pass; anything else
        is a bug and propagates."""
        await self._write_unwritten()
        digests: list[str] = []
        try:
            due = self.due_fires(self.app.clock())
            self._store_outage.passed()  # it answered
            if any(fire < self.started for _, fire in due):
                await self._wait_for_start_refresh()
                due = self.due_fires(self.app.clock())
            for profile, fire in due:
                if self._stopping.is_set():
                    break
                log.info("digest %s is due", profile.name)
                await self.digest(profile, fire)
                digests.append(profile.name)
        except AggregatorError as exc:
            self._failed("digest", exc)
        if digests:  # a digest run retries the queue first: that counts as a try
            self._pending_tried = self.app.clock()
        elif not self._stopping.is_set():
            await self._retry_pending()
        if self._prune_wanted and not self._stopping.is_set():
            self._prune_wanted = False
            try:
                await self.prune()
            except AggregatorError as exc:
                self._failed("prune", exc)
        if not self._stopping.is_set():
            # The refreshes leave new items to the full-text index's next catch-up: done
            # here, between refreshes, a search through the API seldom has any to do.
            await asyncio.to_thread(self.app.store.catch_up_search)
        return tuple(digests)

    async def _wait_for_start_refresh(self) -> None:
        """A digest missed while the service was down is late already: it waits for the
        refresh its start began, so that it carries what the sources published meanwhile;
        not longer than one fetch may take, so that a source that trickles its answer (or
        hangs) does not hold it up further."""
        task = self._start_refresh
        if task is None or task.done():
            return
        limit = self.app.settings.fetch.total_timeout
        log.info(
            "a digest missed while the service was down waits for the refresh of the sources "
            "due at the start (up to %.0fs)",
            limit,
        )
        await asyncio.wait({task}, timeout=limit)

    async def step(self) -> StepReport:
        """Everything due now, in order: refresh the due sources, then the chores, so a
        digest carries what the refresh just found. What a test drives under its clock;
        the service runs the two side by side (`wake`). Nothing while the store's file is not
        in place (`StoreFileWatch`)."""
        if not self._store_file.in_place():
            return StepReport(refreshed=0, failed=0, digests=())
        refreshed, failed = await self._logged_tick()
        if self._stopping.is_set():
            return StepReport(refreshed=refreshed, failed=failed, digests=())
        digests = await self.chores()
        return StepReport(refreshed=refreshed, failed=failed, digests=digests)

    async def _retry_pending(self) -> None:
        """Digests whose send failed (the SMTP server down at 07:00) are retried every
        PENDING_RETRY, not only at the profile's next cron time a day later."""
        now = self.app.clock()
        if self._pending_tried is not None and now - self._pending_tried < PENDING_RETRY:
            return
        self._pending_tried = now
        try:
            outcomes = await asyncio.to_thread(self.app.deliver_pending_digests)
        except AggregatorError as exc:
            self._failed("retrying queued digests", exc)
            return
        for outcome in outcomes:
            _log_delivery(outcome, QUEUED)

    async def prune(self) -> None:
        """Delete what the retention settings let go (in a thread: it blocks). It may run
        beside a refresh, as `aggregator prune` beside the service does: the store keeps
        the two consistent (tombstones, foreign keys, its transactions)."""
        result = await asyncio.to_thread(self.app.prune)
        log.info(
            "prune: %d items deleted, %d clusters emptied", result.items, result.clusters_deleted
        )

    # the event-loop glue

    def stop(self) -> None:
        """Take no new work, and stop once the work in flight is done; asked again while
        it finishes, cancel it."""
        if self._stopping.is_set():
            live = [task for task in self._tasks if not task.done()]
            if live:
                log.warning("stopping now: cancelling the step in flight (%d tasks)", len(live))
                for task in live:
                    task.cancel()
            if self._digesting:
                # Its thread cannot be stopped mid-exchange, nor should it: the email would be
                # neither sent nor known unsent. The process ends when it is done.
                log.warning(
                    "a digest's email is being handed to the mail server: the process exits "
                    "once it answers (at most smtp.timeout, %.0fs, per exchange)",
                    self.app.settings.smtp.timeout if self.app.settings.smtp else 0,
                )
        self._stopping.set()

    def wake(self) -> None:
        """Start refreshing the sources due now, beside any refresh in flight (a source is
        read by one at a time), and a pass of the chores, or one more after the pass in
        flight. Neither waits for the other: a digest goes out at its time however long a
        source takes to answer, and a source is read at its tick however long another one,
        or a digest, takes."""
        if self._stopping.is_set() or not self._store_file.in_place():
            return
        refresh = self._spawn(self._refresh_due())
        if self._start_refresh is None:
            self._start_refresh = refresh
        lane = self._chores
        if lane.task is not None and not lane.task.done():
            lane.again = True
        else:
            lane.task = self._spawn(self._chore_passes())

    def _spawn(self, work: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._ended)
        return task

    def _ended(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if task.cancelled():
            return
        exc = task.exception()
        if exc is not None and self._crashed is None:  # a bug: stop; serve() raises it
            self._crashed = exc
            self._stopping.set()

    async def _refresh_due(self) -> None:
        await self._logged_tick()

    async def _logged_tick(self) -> tuple[int, int]:
        """`tick`, whose expected errors are logged: the next tick tries again."""
        try:
            done = await self.tick()
        except SendDeferred as exc:  # the broker's outage, said once by the enqueuer
            self._store_outage.passed()  # the due sources were read from it
            log.debug("tick: %s", exc)
            return exc.sent, 0
        except AggregatorError as exc:
            self._failed("tick", exc)
            return 0, 0
        self._store_outage.passed()
        return done

    def _failed(self, what: str, exc: AggregatorError) -> None:
        """An expected error of a pass, logged: the next pass tries again. The store
        unreachable is said once for the whole outage (and its end once, `OutageLog`), each
        pass that meets it at DEBUG; any other error at ERROR each time."""
        reason = store_unreachable(exc)
        if reason is None:
            log.error("%s failed: %s", what, exc)
        elif not self._store_outage.met(reason):
            log.debug("%s failed: %s", what, exc)

    async def _chore_passes(self) -> None:
        lane = self._chores
        while True:
            lane.again = False
            await self.chores()
            if not lane.again or self._stopping.is_set():
                return

    async def _wake_job(self) -> None:
        # A coroutine on purpose: APScheduler's asyncio executor runs plain functions in a
        # thread pool, and creating tasks from there is not safe.
        self.wake()

    async def _prune_job(self) -> None:
        self._prune_wanted = True
        self.wake()

    async def serve(self, *, install_signals: bool = True) -> None:
        """Run until `stop()` or SIGTERM/SIGINT; re-raises a bug that stopped a task."""
        loop = asyncio.get_running_loop()
        if install_signals:
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(sig, self.stop)
        scheduler = AsyncIOScheduler(event_loop=loop)
        scheduler.add_job(
            self._wake_job,
            IntervalTrigger(seconds=self.app.settings.schedule.tick_seconds),
            id="tick",
            coalesce=True,
            max_instances=1,
            # Late is fine: a tick only wakes the loop. With APScheduler's default grace of
            # 1 s, a loop busy a few seconds skipped the tick with a WARNING in the log.
            misfire_grace_time=None,
        )
        for profile in self.app.settings.digest.profiles:
            scheduler.add_job(
                self._wake_job,
                cron_trigger(profile),
                id=f"digest:{profile.name}",
                coalesce=True,
                max_instances=1,
                misfire_grace_time=None,  # late is fine: the chores decide from the store
            )
        scheduler.add_job(
            self._prune_job,
            CronTrigger(**PRUNE_AT),
            id="prune",
            coalesce=True,
            max_instances=1,
            misfire_grace_time=3600,
        )
        scheduler.start()
        log.info("%s", self._started_line())
        self.wake()  # at once: the due sources, and beside them a digest missed while stopped
        try:
            await self._stopping.wait()
        finally:
            scheduler.shutdown(wait=False)
            try:
                # The handlers stay while the work finishes: a second signal cuts it short
                # (and the process still ends as asked, exit 0), not kills it unlogged.
                await self._finish()
            finally:
                if install_signals:
                    for sig in (signal.SIGTERM, signal.SIGINT):
                        loop.remove_signal_handler(sig)
        self._tell_unwritten()
        if self._crashed is not None:
            log.error("service stopped by an error (below)")
            raise self._crashed
        log.info("service stopped")

    def _started_line(self) -> str:
        """What an operator reading the log needs first: which config, which store, what
        runs when."""
        app = self.app
        enabled = sum(1 for source in app.sources if source.enabled)
        now = app.clock()
        digests = []
        for profile in app.settings.digest.profiles:
            fire = cron.next_fire_after(cron_trigger(profile), now)
            when = "never" if fire is None else fire.isoformat(sep=" ", timespec="minutes")
            digests.append(f"digest {profile.name} next at {when}")
        return "; ".join(
            [
                f"service started: aggregator {__version__}, config {_folder(app.config_dir)}",
                f"store {app.store.url}",
                f"{enabled} of {count(len(app.sources), 'source')} enabled",
                f"a tick every {app.settings.schedule.tick_seconds:g}s",
                *digests,
                "fetching: by the workers" if self.enqueue is not None else "fetching: here",
            ]
        )

    async def _finish(self) -> None:
        """Let every task in flight (the refreshes, the chores) finish its writes, up to the
        grace; then cancel what is left."""
        live = {task for task in self._tasks if not task.done()}
        if not live:
            return
        log.info("stopping: letting the step in flight finish its writes")
        _, pending = await asyncio.wait(live, timeout=self.grace_seconds)
        if pending:
            log.warning("stopping: step still running after %.0fs, cancelling", self.grace_seconds)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
