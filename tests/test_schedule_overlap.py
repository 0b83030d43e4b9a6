"""`serve()` with a source that answers slowly: it holds up neither the digest due meanwhile
nor a source due again meanwhile; SIGTERM waits for every refresh in flight, a second one
cancels them all. Real parts: a local HTTP server (the slow answer is a delayed status
line), aiosmtpd, SQLite and PostgreSQL; only the clock is a test clock."""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import pytest

from aggregator.app import App
from aggregator.schedule import Service
from aggregator.store import leases
from tests.support_config import write_config
from tests.support_schedule import FakeClock, Post, feed_source, rss, service_settings
from tests.support_smtp import SmtpServer
from tests.support_smtp import smtp_server as smtp_server
from tests.test_schedule import until

if TYPE_CHECKING:
    from tests.httpserver import FixtureServer

pytest_plugins = ("tests.httpserver",)

BRUSSELS = ZoneInfo("Europe/Brussels")
SLOW = 6.0  # seconds the slow source takes to answer: the fetch timeouts allow it


def local(hh: int, mm: int = 0, ss: int = 0) -> datetime:
    return datetime(2025, 6, 2, hh, mm, ss, tzinfo=BRUSSELS).astimezone(UTC)


def post(n: int, base: str) -> Post:
    return Post(
        guid=f"{base}/{n}",
        title=f"Statement {n} on the CSA Regulation",
        link=f"{base}/{n}",
        text=f"Statement number {n} about detection orders and encryption, in full.",
        published=local(3),
    )


def read(app: App, source_id: str) -> bool:
    """Whether a refresh has written what it read of the source."""
    state = app.store.fetch_state(source_id)
    return state is not None and state.last_fetch_at is not None


def config(tmp_path: Path, http_server: FixtureServer, smtp_port: int | None) -> Path:
    # Timeouts that let the slow answer through: the source is slow, not failing.
    settings = (
        service_settings(smtp_port=smtp_port, tick_seconds=1)
        .replace("read_timeout = 5.0", "read_timeout = 30.0")
        .replace("total_timeout = 10.0", "total_timeout = 30.0")
    )
    return write_config(
        tmp_path / "config",
        [
            feed_source("fast", http_server.url("/fast.xml")),
            feed_source("slow", http_server.url("/slow.xml")),
        ],
        settings=settings,
    )


def test_a_slow_source_holds_up_neither_the_digest_nor_a_source_due_meanwhile(
    tmp_path: Path,
    database_url: str,
    http_server: FixtureServer,
    smtp_server: SmtpServer,
    caplog: pytest.LogCaptureFixture,
) -> None:
    http_server.add("/fast.xml", body=rss("Fast", [post(1, "https://fast.example")]))
    http_server.add("/slow.xml", body=rss("Slow", [post(2, "https://slow.example")]), delay=SLOW)
    env = {"AGGREGATOR_DATABASE_URL": database_url, "AGGREGATOR_DATA_DIR": str(tmp_path / "var")}
    clock = FakeClock(local(6, 59, 30))  # the daily digest is due at 07:00

    async def scenario(app: App, service: Service) -> None:
        serving = asyncio.create_task(service.serve(install_signals=False))
        # The first refresh reads both: the fast one at once, the slow one for SLOW seconds.
        await until(lambda: read(app, "fast") and http_server.count("/slow.xml") == 1)
        state = app.store.fetch_state("fast")
        assert state is not None and state.next_fetch_at is not None
        # Past the fast source's next fetch time and the digest's 07:00, while the slow
        # answer is still coming: both are due at the next tick.
        assert state.next_fetch_at > local(7)
        clock.set(state.next_fetch_at + timedelta(seconds=1))
        await until(
            lambda: http_server.count("/fast.xml") == 2 and len(smtp_server.accepted) == 1,
            timeout=SLOW + 10,
        )
        assert not read(app, "slow"), "the fast source and the digest waited for the slow one"
        assert http_server.count("/slow.xml") == 1, "a source being read is not asked again"

        # SIGTERM while the slow source is still being read: its answer is written first.
        service.stop()
        await asyncio.wait_for(serving, timeout=SLOW + 20)

    with (
        App.open(config(tmp_path, http_server, smtp_server.port), env, clock=clock) as app,
        caplog.at_level(logging.INFO, logger="aggregator.schedule"),
    ):
        asyncio.run(scenario(app, Service(app)))
        slow = app.store.fetch_state("slow")
        titles = {item.title for item in app.iter_items()}
        held = leases.holders(app.store.engine, now=local(6))  # any lease taken since
    assert slow is not None and slow.last_success_at is not None
    assert titles == {"Statement 1 on the CSA Regulation", "Statement 2 on the CSA Regulation"}
    assert held == {}, "every refresh gave its leases back"

    assert len(smtp_server.accepted) == 1  # sent once, however many ticks saw it due meanwhile
    body = smtp_server.accepted[0].message.get_body(("plain",))
    assert body is not None
    # The digest went out at its time with what the store held: the slow source's item,
    # committed later, comes in the next one.
    assert "Statement 1" in body.get_content()
    assert "Statement 2" not in body.get_content()
    said = [r.getMessage() for r in caplog.records]
    assert any("letting the step in flight finish its writes" in line for line in said)
    assert not [line for line in said if "another refresh is reading it" in line], said


def test_a_second_stop_cancels_every_refresh_in_flight_and_frees_their_leases(
    tmp_path: Path, http_server: FixtureServer
) -> None:
    # Two refreshes in flight at once, each waiting for an answer that takes longer than
    # the grace: the first stop waits, the second cancels both, and their leases go.
    http_server.add("/slow.xml", body=rss("Slow", [post(2, "https://slow.example")]), delay=60)
    http_server.add("/fast.xml", body=rss("Fast", [post(1, "https://fast.example")]), times=1)
    http_server.add("/fast.xml", body=rss("Fast", [post(1, "https://fast.example")]), delay=60)
    env = {
        "AGGREGATOR_DATABASE_URL": f"sqlite:///{tmp_path / 'agg.sqlite'}",
        "AGGREGATOR_DATA_DIR": str(tmp_path / "var"),
    }
    clock = FakeClock(local(6, 0))

    async def scenario(app: App, service: Service) -> None:
        serving = asyncio.create_task(service.serve(install_signals=False))
        await until(lambda: read(app, "fast") and http_server.count("/slow.xml") == 1)
        state = app.store.fetch_state("fast")
        assert state is not None and state.next_fetch_at is not None
        clock.set(state.next_fetch_at + timedelta(seconds=1))
        await until(lambda: http_server.count("/fast.xml") == 2)  # a second refresh, hanging
        # (Counted from the start: the test clock has jumped past the leases' hour.)
        assert len(leases.holders(app.store.engine, now=local(6))) == 2
        service.stop()
        await asyncio.sleep(0.5)
        assert not serving.done(), "the first stop waits for the refreshes in flight"
        began = time.monotonic()
        service.stop()
        await asyncio.wait_for(serving, timeout=10)
        assert time.monotonic() - began < 5

    with App.open(config(tmp_path, http_server, None), env, clock=clock) as app:
        asyncio.run(scenario(app, Service(app, grace_seconds=30)))
        assert leases.holders(app.store.engine, now=local(6)) == {}


def test_a_source_s_lines_are_logged_when_it_is_done_not_when_the_slowest_one_is(
    tmp_path: Path, http_server: FixtureServer, caplog: pytest.LogCaptureFixture
) -> None:
    # The tick logged every source's failure and warnings once its slowest source was done:
    # a 404 answered at once showed in the log SLOW seconds later.
    http_server.add("/fast.xml", status=404)
    http_server.add("/slow.xml", body=rss("Slow", [post(2, "https://slow.example")]), delay=SLOW)
    env = {"AGGREGATOR_DATA_DIR": str(tmp_path / "var")}

    def said() -> list[str]:
        return [r.getMessage() for r in caplog.records if r.name == "aggregator.schedule"]

    async def scenario(service: Service) -> None:
        tick = asyncio.create_task(service.tick())
        await until(lambda: any("'fast': HTTP 404" in line for line in said()), timeout=SLOW / 2)
        assert not tick.done() and not read(service.app, "slow"), "the slow source is still read"
        assert not [line for line in said() if line.startswith("tick:")]
        assert await tick == (2, 1)

    with (
        App.open(config(tmp_path, http_server, None), env, clock=FakeClock(local(6))) as app,
        caplog.at_level(logging.INFO, logger="aggregator.schedule"),
    ):
        asyncio.run(scenario(Service(app)))
    assert said()[-1] == "tick: refreshed 2 sources, 1 failed"  # the summary: at the end
