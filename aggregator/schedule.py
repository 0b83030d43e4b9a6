"""`aggregator run`: the long-running service. A front end: it decides *when*, `App` does.

The deciding is done by `Service.step()` against the app's clock, so a test can drive it with
a fake one; APScheduler only wakes it up:

- a tick every `schedule.tick_seconds` (default one minute): refresh the sources whose next
  fetch time (kept in the store, so a restart loses nothing) has come, then send every
  digest whose schedule fired since that profile's last digest;
- one cron job per digest profile (APScheduler 3 `CronTrigger` in the profile's timezone),
  so a digest goes out at its time rather than at the next tick.

A digest missed while the service was down is sent once on start, not once per missed day:
"due" means "at least one fire time since the last digest", and the window of the digest
then runs from the end of the last one to now. SIGTERM/SIGINT stop taking new work, let the
step in flight finish its writes (up to `STOP_GRACE_SECONDS`), and return.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import signal
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from aggregator import cron
from aggregator.config_watch import ConfigFiles
from aggregator.errors import AggregatorError
from aggregator.settings import DigestProfile
from aggregator.words import count

if TYPE_CHECKING:
    from aggregator.app import App
    from aggregator.deliver.outbox import DeliveryOutcome

log = logging.getLogger("aggregator.schedule")

# Pruning (retention) runs daily at this local time, a quiet hour, after the night's fetches.
PRUNE_AT = {"hour": 3, "minute": 30}

# How often digests whose send failed are tried again between their cron times.
PENDING_RETRY = timedelta(minutes=5)
# How long SIGTERM waits for a step in flight before cancelling it. Cancelling abandons
# fetches still waiting for the network; a store write already started runs to its commit
# in the store thread (App.close waits for it), so the store stays consistent either way.
STOP_GRACE_SECONDS = 30.0


# --- the deciding logic: pure, over a clock reading ---------------------------------------


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


def digest_reference(last_end: datetime | None, started: datetime) -> datetime:
    """What "since" means for a profile: the end of its last digest; for a profile that never
    sent one, when this service started (its first digest comes at its first scheduled
    time, rather than at once with the whole archive)."""
    return last_end if last_end is not None else started


def _log_delivery(outcome: DeliveryOutcome, context: str) -> None:
    """One line per email: a failed send at WARNING with the server's reason (it stays
    queued and is retried), so an operator at log_level = "warning" still sees it."""
    window = outcome.window_end.isoformat(timespec="minutes")
    if outcome.status == "failed":
        log.warning(
            "digest %s (window to %s): %ssend failed, queued for retry: %s",
            outcome.profile,
            window,
            context,
            outcome.error or "no reason given",
        )
    else:
        log.info("digest %s (window to %s): %s%s", outcome.profile, window, context, outcome.status)


# --- the service ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class StepReport:
    refreshed: int  # sources refreshed
    failed: int  # of which failed
    digests: tuple[str, ...]  # profiles whose digest ran


@dataclass(eq=False, kw_only=True)
class _Wakeups:
    """At most one step runs; a wake-up during a step asks for one more after it."""

    task: asyncio.Task[None] | None = None
    again: bool = False
    crashed: BaseException | None = None
    stopping: asyncio.Event = field(default_factory=asyncio.Event)


class Service:
    """Runs refresh ticks and digest jobs for one `App` until stopped."""

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
        self._wakeups = _Wakeups()
        self._prune_wanted = False  # set by the daily prune job, done by the next step
        self._pending_tried: datetime | None = None  # the last retry of queued digests
        self._config = ConfigFiles(app.config_dir) if app.config_dir is not None else None

    # one step: what is due now, by the app's clock

    async def tick(self) -> tuple[int, int]:
        """Refresh every source that is due now; returns (refreshed, failed)."""
        self._tell_config_changes()
        due = self.app.due_sources()
        if not due:
            return 0, 0
        if self.enqueue is not None:
            sent = await asyncio.to_thread(self.enqueue, [source.id for source in due])
            log.info("tick: %s due, %d sent to the workers", count(len(due), "source"), sent)
            return sent, 0
        results = await self.app.refresh(due)
        failed = [r for r in results if not r.ok]
        log.info("tick: refreshed %s, %d failed", count(len(results), "source"), len(failed))
        for result in results:
            if result.error:
                log.warning("%s", result.error)
            for warning in result.warnings:
                log.warning("%s: %s", result.source_id, warning)
        return len(results), len(failed)

    def due_fires(self, now: datetime) -> list[tuple[DigestProfile, datetime]]:
        """The due profiles, each with the scheduled time it is due for."""
        due: list[tuple[DigestProfile, datetime]] = []
        for profile in self.app.settings.digest.profiles:
            since = digest_reference(self.app.last_digest_end(profile.name), self.started)
            fire = due_fire(cron_trigger(profile), since=since, now=now)
            if fire is not None:
                due.append((profile, fire))
        return due

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
        # In a thread: rendering and SMTP block. A cancelled step leaves the thread to finish
        # its send and record it (asyncio.run waits for the default executor).
        run = await asyncio.to_thread(
            functools.partial(self.app.run_digest, profile.name, send=True, fire=fire)
        )
        if run.taken is not None:
            log.info("digest %s: %s; nothing sent", profile.name, run.taken)
        elif not run.deliveries:
            log.info("digest %s: %d entries; nothing to send", profile.name, run.digest.entry_count)
        for outcome in run.deliveries:  # earlier windows' queued emails first, then this one
            own = outcome.window_end == run.digest.window_end
            _log_delivery(outcome, f"{run.digest.entry_count} entries; " if own else "queued, ")

    async def step(self) -> StepReport:
        """Refresh the due sources, then send the due digests, so a digest carries what
        the refresh just found. A store or delivery error is logged and retried on the
        next step; anything else is a bug and propagates."""
        refreshed = failed = 0
        try:
            refreshed, failed = await self.tick()
        except AggregatorError as exc:
            log.error("tick failed: %s", exc)
        digests: list[str] = []
        if self._wakeups.stopping.is_set():
            return StepReport(refreshed=refreshed, failed=failed, digests=())
        try:
            for profile, fire in self.due_fires(self.app.clock()):
                log.info("digest %s is due", profile.name)
                await self.digest(profile, fire)
                digests.append(profile.name)
        except AggregatorError as exc:
            log.error("digest failed: %s", exc)
        if digests:  # a digest run retries the queue first: that counts as a try
            self._pending_tried = self.app.clock()
        elif not self._wakeups.stopping.is_set():
            await self._retry_pending()
        if self._prune_wanted and not self._wakeups.stopping.is_set():
            self._prune_wanted = False
            try:
                await self.prune()
            except AggregatorError as exc:
                log.error("prune failed: %s", exc)
        return StepReport(refreshed=refreshed, failed=failed, digests=tuple(digests))

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
            log.error("retrying queued digests failed: %s", exc)
            return
        for outcome in outcomes:
            _log_delivery(outcome, "queued, ")

    async def prune(self) -> None:
        """Delete what the retention settings let go (in a thread: it blocks)."""
        result = await asyncio.to_thread(self.app.prune)
        log.info(
            "prune: %d items deleted, %d clusters emptied", result.items, result.clusters_deleted
        )

    # the event-loop glue

    def stop(self) -> None:
        """Stop after the step in flight; asked again while it finishes, stop now."""
        wakeups = self._wakeups
        if wakeups.stopping.is_set() and wakeups.task is not None and not wakeups.task.done():
            log.warning("stopping now: cancelling the step in flight")
            wakeups.task.cancel()
        wakeups.stopping.set()

    def wake(self) -> None:
        """Start a step now, or one more after the step in flight."""
        wakeups = self._wakeups
        if wakeups.stopping.is_set():
            return
        if wakeups.task is not None and not wakeups.task.done():
            wakeups.again = True
            return
        wakeups.task = asyncio.get_running_loop().create_task(self._steps())

    async def _steps(self) -> None:
        wakeups = self._wakeups
        try:
            while True:
                wakeups.again = False
                await self.step()
                if not wakeups.again or wakeups.stopping.is_set():
                    return
        except Exception as exc:  # a bug: stop the service; serve() raises it
            wakeups.crashed = exc
            wakeups.stopping.set()

    async def _wake_job(self) -> None:
        # A coroutine on purpose: APScheduler's asyncio executor runs plain functions in a
        # thread pool, and creating tasks from there is not safe.
        self.wake()

    async def _prune_job(self) -> None:
        self._prune_wanted = True
        self.wake()

    async def serve(self, *, install_signals: bool = True) -> None:
        """Run until `stop()` or SIGTERM/SIGINT; re-raises a bug that stopped a step."""
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
        )
        for profile in self.app.settings.digest.profiles:
            scheduler.add_job(
                self._wake_job,
                cron_trigger(profile),
                id=f"digest:{profile.name}",
                coalesce=True,
                max_instances=1,
                misfire_grace_time=None,  # late is fine: step() decides from the store
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
        self.wake()  # at once: due sources first, then any digest missed while stopped
        try:
            await self._wakeups.stopping.wait()
        finally:
            scheduler.shutdown(wait=False)
            try:
                # The handlers stay while the step finishes: a second signal cuts it short
                # (and the process still ends as asked, exit 0), not kills it unlogged.
                await self._finish()
            finally:
                if install_signals:
                    for sig in (signal.SIGTERM, signal.SIGINT):
                        loop.remove_signal_handler(sig)
        if self._wakeups.crashed is not None:
            raise self._wakeups.crashed

    async def _finish(self) -> None:
        task = self._wakeups.task
        if task is None or task.done():
            return
        log.info("stopping: letting the step in flight finish its writes")
        done, _ = await asyncio.wait({task}, timeout=self.grace_seconds)
        if not done:
            log.warning("stopping: step still running after %.0fs, cancelling", self.grace_seconds)
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
