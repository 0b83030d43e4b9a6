"""`aggregator run`: the long-running service. A front end: it decides *when*, `App` does.

- A tick (every `schedule.tick_seconds`, default one minute) refreshes the sources whose
  next fetch time has come. Next fetch times live in the store, so a restart loses nothing.
- One cron job per digest profile (APScheduler 3 `CronTrigger`, in the profile's timezone).
- A digest missed while the service was down is sent once on start, not once per missed day:
  the window simply runs from the end of the last digest to now.
- SIGTERM/SIGINT stop taking new work, let the job in flight finish its writes, and exit.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from functools import partial
from typing import TYPE_CHECKING

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from aggregator.settings import DigestProfile

if TYPE_CHECKING:
    from aggregator.app import App

log = logging.getLogger("aggregator.schedule")


def cron_trigger(profile: DigestProfile) -> CronTrigger:
    return CronTrigger.from_crontab(profile.cron, timezone=profile.timezone)


def last_fire_between(trigger: CronTrigger, after: datetime, until: datetime) -> datetime | None:
    """The latest fire time in (after, until], or None when the schedule had none then."""
    latest: datetime | None = None
    fire = trigger.get_next_fire_time(None, after + timedelta(microseconds=1))
    while fire is not None and fire <= until:
        latest = fire
        fire = trigger.get_next_fire_time(fire, fire + timedelta(seconds=1))
    return latest


class Service:
    """Runs refresh ticks and digest jobs for one `App` until stopped."""

    def __init__(self, app: App) -> None:
        self.app = app
        self._busy = asyncio.Lock()  # one job at a time: ticks and digests share the store
        self._stop = asyncio.Event()

    async def tick(self) -> int:
        """Refresh every source that is due now; returns how many were refreshed."""
        async with self._busy:
            due = self.app.due_sources()
            if not due:
                return 0
            results = await self.app.refresh(due)
            failed = [r for r in results if not r.ok]
            log.info("tick: refreshed %d sources, %d failed", len(results), len(failed))
            for result in failed:
                log.warning("%s", result.error)
            return len(results)

    def digest_missed(self, profile: DigestProfile, now: datetime) -> bool:
        """Whether a scheduled run of `profile` fell while we were not running."""
        last_end = self.app.last_digest_end(profile.name)
        if last_end is None:
            return False  # never sent: the first digest comes at its first scheduled time
        return last_fire_between(cron_trigger(profile), last_end, now) is not None

    async def digest(self, profile: DigestProfile) -> None:
        async with self._busy:
            outcome = await asyncio.to_thread(self.app.run_digest, profile.name, send=True)
            log.info("digest %s: %s", profile.name, outcome)

    async def catch_up(self) -> None:
        now = self.app.clock()
        for profile in self.app.settings.digest.profiles:
            if self.digest_missed(profile, now):
                log.info("digest %s was missed while stopped: sending it once now", profile.name)
                await self.digest(profile)

    def stop(self) -> None:
        self._stop.set()

    async def serve(self, *, install_signals: bool = True) -> None:
        """Run until `stop()` or SIGTERM/SIGINT."""
        loop = asyncio.get_running_loop()
        if install_signals:
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(sig, self.stop)
        scheduler = AsyncIOScheduler(event_loop=loop)
        in_flight: set[asyncio.Task[None]] = set()

        def launch(job: Callable[[], Awaitable[object]]) -> Callable[[], None]:
            def start() -> None:
                if self._stop.is_set():
                    return

                async def run() -> None:
                    await job()

                task = loop.create_task(run())
                in_flight.add(task)
                task.add_done_callback(in_flight.discard)

            return start

        scheduler.add_job(
            launch(self.tick),
            IntervalTrigger(seconds=self.app.settings.schedule.tick_seconds),
            id="tick",
            coalesce=True,
            max_instances=1,
            next_run_time=datetime.now().astimezone(),
        )
        for profile in self.app.settings.digest.profiles:
            scheduler.add_job(
                launch(partial(self.digest, profile)),
                cron_trigger(profile),
                id=f"digest:{profile.name}",
                coalesce=True,
                misfire_grace_time=3600,
            )
        scheduler.start()
        try:
            await self.catch_up()
            await self._stop.wait()
        finally:
            scheduler.shutdown(wait=False)
            if in_flight:
                log.info("stopping: waiting for %d job(s) to finish their writes", len(in_flight))
                await asyncio.gather(*in_flight, return_exceptions=True)
