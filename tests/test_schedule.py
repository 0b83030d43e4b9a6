"""The scheduler under a test clock: which sources are due, when a profile's digest fires,
that a digest missed while the service was down goes out once, and `serve()` itself.

Real parts: a local HTTP server for the feeds, aiosmtpd for the digest, SQLite and
PostgreSQL for the store. Only the clock is fake, injected through `App.open(clock=...)`.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Literal
from zoneinfo import ZoneInfo

import pytest
from aiosmtpd.controller import Controller

from aggregator.app import App
from aggregator.schedule import Service, cron_trigger, digest_due, digest_reference
from aggregator.settings import DigestProfile
from aggregator.store.search import index_behind, parse_search, search_ids
from tests.support_schedule import FakeClock, Post, digest_profile, feed_source, rss, service_config
from tests.support_smtp import SmtpServer, free_port

if TYPE_CHECKING:
    from tests.httpserver import FixtureServer

pytest_plugins = ("tests.httpserver",)

BRUSSELS = ZoneInfo("Europe/Brussels")


def local(y: int, m: int, d: int, hh: int, mm: int = 0, ss: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, ss, tzinfo=BRUSSELS).astimezone(UTC)


def profile(cron: str = "0 7 * * *", timezone: str = "Europe/Brussels") -> DigestProfile:
    return digest_profile(cron, timezone=timezone)


# --- the pure decision ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("since", "now", "due"),
    [
        pytest.param(local(2025, 6, 2, 6), local(2025, 6, 2, 6, 59, 59), False, id="before 07:00"),
        pytest.param(local(2025, 6, 2, 6), local(2025, 6, 2, 7), True, id="at 07:00 local"),
        pytest.param(local(2025, 6, 2, 7), local(2025, 6, 3, 6, 59), False, id="sent at 07:00"),
        pytest.param(local(2025, 6, 2, 7, 0, 5), local(2025, 6, 3, 7), True, id="next day"),
        pytest.param(local(2025, 6, 2, 8), local(2025, 6, 9, 12), True, id="a week down"),
        # Brussels changes to summer time on 30 March 2025: 07:00 local is 06:00 UTC the
        # day before and 05:00 UTC the day after; the schedule follows local time.
        pytest.param(
            local(2025, 3, 30, 8), datetime(2025, 3, 31, 4, 59, tzinfo=UTC), False, id="DST -1s"
        ),
        pytest.param(
            local(2025, 3, 30, 8), datetime(2025, 3, 31, 5, 0, tzinfo=UTC), True, id="DST 05 UTC"
        ),
    ],
)
def test_daily_digest_is_due_once_its_local_time_has_passed_since(
    since: datetime, now: datetime, due: bool
) -> None:
    assert digest_due(cron_trigger(profile()), since=since, now=now) is due


def test_a_long_outage_is_decided_without_walking_every_missed_fire_time() -> None:
    every_minute = cron_trigger(profile(cron="* * * * *"))
    since = datetime(2020, 1, 1, tzinfo=UTC)
    started = time.perf_counter()
    assert digest_due(every_minute, since=since, now=since + timedelta(days=5 * 365))
    assert time.perf_counter() - started < 0.5


def test_a_profile_that_never_sent_counts_from_the_service_start() -> None:
    started = local(2025, 6, 2, 8)  # after today's 07:00: no digest of the whole archive now
    since = digest_reference(None, started)
    assert since == started
    assert not digest_due(cron_trigger(profile()), since=since, now=local(2025, 6, 2, 9))
    assert digest_reference(local(2025, 6, 1, 7), started) == local(2025, 6, 1, 7)


# --- the service, stepped by hand under the test clock --------------------------------------


def post(n: int, published: datetime, base: str = "https://ngo.example/news") -> Post:
    return Post(
        guid=f"{base}/{n}",
        title=f"Statement {n} on the CSA Regulation",
        link=f"{base}/{n}",
        text=f"Statement number {n} about detection orders and encryption, in full.",
        published=published,
    )


@pytest.fixture()
def smtp() -> Iterator[SmtpServer]:
    with SmtpServer() as server:
        yield server


@pytest.fixture()
def open_app(
    tmp_path: Path, database_url: str, http_server: FixtureServer, smtp: SmtpServer
) -> Callable[[FakeClock], App]:
    start = local(2025, 6, 2, 6)
    http_server.add("/a.xml", body=rss("A", [post(1, start - timedelta(hours=3))]))
    http_server.add("/b.xml", body=rss("B", [post(2, start - timedelta(hours=2), "https://b.ex")]))
    config = service_config(
        tmp_path / "config",
        [
            feed_source("ngo-a", http_server.url("/a.xml")),
            feed_source("press-b", http_server.url("/b.xml"), org="press"),
        ],
        smtp_port=smtp.port,
    )
    env = {"AGGREGATOR_DATABASE_URL": database_url, "AGGREGATOR_DATA_DIR": str(tmp_path / "var")}
    return lambda clock: App.open(config, env, clock=clock)


def test_steps_refresh_due_sources_and_send_the_daily_digest_at_local_time(
    open_app: Callable[[FakeClock], App], http_server: FixtureServer, smtp: SmtpServer
) -> None:
    clock = FakeClock(local(2025, 6, 2, 6, 50))
    with open_app(clock) as app:
        service = Service(app)

        first = asyncio.run(service.step())
        assert (first.refreshed, first.failed, first.digests) == (2, 0, ())
        assert smtp.accepted == []

        clock.set(local(2025, 6, 2, 6, 55))  # inside the fetch interval: nothing is due
        assert asyncio.run(service.step()).refreshed == 0
        assert http_server.count("/a.xml") == 1

        clock.set(local(2025, 6, 2, 7, 0))
        assert asyncio.run(service.step()).digests == ("daily",)
        assert len(smtp.accepted) == 1
        body = smtp.accepted[0].message.get_body(("plain",))
        assert body is not None
        text = body.get_content()
        assert "Statement 1 on the CSA Regulation" in text
        assert "Statement 2 on the CSA Regulation" in text

        clock.set(local(2025, 6, 2, 7, 30))
        assert asyncio.run(service.step()).digests == ()

        # A new post the next morning: refreshed before 07:00, in the next digest only.
        http_server.clear("/a.xml")
        http_server.add(
            "/a.xml",
            body=rss("A", [post(3, local(2025, 6, 3, 5)), post(1, local(2025, 6, 2, 3))]),
        )
        clock.set(local(2025, 6, 3, 6, 59))
        early = asyncio.run(service.step())
        assert early.refreshed == 2
        assert early.digests == ()
        clock.set(local(2025, 6, 3, 7, 0, 1))
        assert asyncio.run(service.step()).digests == ("daily",)
    assert len(smtp.accepted) == 2
    second = smtp.accepted[1].message.get_body(("plain",))
    assert second is not None
    assert "Statement 3" in second.get_content()
    assert "Statement 1 " not in second.get_content()


def test_a_config_edited_while_the_service_runs_is_reported_once_per_change(
    open_app: Callable[[FakeClock], App], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    clock = FakeClock(local(2025, 6, 2, 6, 50))
    sources_file = tmp_path / "config" / "sources.toml"
    with open_app(clock) as app, caplog.at_level(logging.WARNING, logger="aggregator.schedule"):
        service = Service(app)
        asyncio.run(service.step())
        assert not [r for r in caplog.records if "changed on disk" in r.getMessage()]
        os.utime(sources_file)  # touched, not changed: nothing to tell
        asyncio.run(service.step())
        assert not [r for r in caplog.records if "changed on disk" in r.getMessage()]
        sources_file.write_text(
            sources_file.read_text(encoding="utf-8") + "\n# a new source soon\n", encoding="utf-8"
        )
        asyncio.run(service.step())
        asyncio.run(service.step())  # the same change: told once
        told = [r.getMessage() for r in caplog.records if "changed on disk" in r.getMessage()]
        assert len(told) == 1
        assert str(sources_file) in told[0] and "restart it to apply the change" in told[0]


def test_a_step_leaves_what_it_refreshed_in_the_full_text_index(
    open_app: Callable[[FakeClock], App],
) -> None:
    # The refresh leaves new items to the index's catch-up (migration 0014); the service
    # does it between refreshes, so that an API search seldom has any to do.
    with open_app(FakeClock(local(2025, 6, 2, 6, 50))) as app:
        assert asyncio.run(Service(app).step()).refreshed == 2
        with app.store.engine.connect() as conn:
            assert not index_behind(conn)
            found = search_ids(conn, parse_search("detection orders"))
        assert len(found) == 2


def test_a_source_is_fetched_at_the_tick_that_reaches_its_next_fetch_time(
    open_app: Callable[[FakeClock], App], http_server: FixtureServer
) -> None:
    # The next fetch is counted from when the last one ended: the tick one interval later
    # comes a moment before it. Half a tick of slack (30 s of the 60 s tick) takes it then,
    # not a whole tick later.
    clock = FakeClock(local(2025, 6, 2, 6, 50))
    with open_app(clock) as app:
        service = Service(app)
        asyncio.run(service.step())
        state = app.store.fetch_state("ngo-a")
        assert state is not None and state.next_fetch_at is not None
        clock.set(state.next_fetch_at - timedelta(seconds=40))  # more than half a tick early
        asyncio.run(service.step())
        assert http_server.count("/a.xml") == 1
        clock.set(state.next_fetch_at - timedelta(seconds=1))  # the tick just before it
        asyncio.run(service.step())
        assert http_server.count("/a.xml") == 2


def test_a_digest_whose_send_failed_is_retried_within_minutes_not_a_day_later(
    tmp_path: Path,
    database_url: str,
    http_server: FixtureServer,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # The mail server is down when the digest fires (nothing listens on its port), and up a
    # few minutes later: the digest goes out then, not at the next day's cron time.
    port = free_port()
    start = local(2025, 6, 2, 6)
    http_server.add("/a.xml", body=rss("A", [post(1, start - timedelta(hours=3))]))
    config = service_config(
        tmp_path / "config", [feed_source("ngo-a", http_server.url("/a.xml"))], smtp_port=port
    )
    env = {"AGGREGATOR_DATABASE_URL": database_url, "AGGREGATOR_DATA_DIR": str(tmp_path / "var")}
    clock = FakeClock(local(2025, 6, 2, 6, 50))
    server = SmtpServer()
    server.port = port
    server.controller = Controller(server.handler, hostname="127.0.0.1", port=port)
    with App.open(config, env, clock=clock) as app:
        service = Service(app)
        asyncio.run(service.step())
        clock.set(local(2025, 6, 2, 7, 0))
        with caplog.at_level(logging.WARNING, logger="aggregator.schedule"):
            assert asyncio.run(service.step()).digests == ("daily",)
        # Seen at log_level = "warning" too, with the server's reason.
        [failed] = [r for r in caplog.records if "send failed" in r.getMessage()]
        assert failed.levelno == logging.WARNING
        assert f"127.0.0.1:{port}" in failed.getMessage()
        assert "queued for retry" in failed.getMessage()
        with server:
            clock.set(local(2025, 6, 2, 7, 2))  # sooner than the retry interval: not yet
            asyncio.run(service.step())
            assert server.accepted == []
            clock.set(local(2025, 6, 2, 7, 6))
            asyncio.run(service.step())
            assert len(server.accepted) == 1
            clock.set(local(2025, 6, 2, 7, 20))
            asyncio.run(service.step())
            assert len(server.accepted) == 1  # sent once


def test_a_digest_missed_while_down_is_sent_once_and_fetch_times_survive_a_restart(
    open_app: Callable[[FakeClock], App], http_server: FixtureServer, smtp: SmtpServer
) -> None:
    clock = FakeClock(local(2025, 6, 2, 6, 50))
    with open_app(clock) as app:
        service = Service(app)
        asyncio.run(service.step())
        clock.set(local(2025, 6, 2, 7, 0))
        asyncio.run(service.step())
    assert len(smtp.accepted) == 1

    # Restarted ten minutes later: the next fetch times come from the store.
    clock.set(local(2025, 6, 2, 7, 10))
    with open_app(clock) as app:
        assert app.due_sources() == []
        assert asyncio.run(Service(app).step()).refreshed == 0
    assert http_server.count("/a.xml") == 1

    # Down for three days (three 07:00 missed): one digest on start, then nothing more.
    clock.set(local(2025, 6, 5, 9, 30))
    with open_app(clock) as app:
        service = Service(app)
        report = asyncio.run(service.step())
        assert report.digests == ("daily",)
        assert report.refreshed == 2  # the sources were overdue too: refreshed first
        clock.set(local(2025, 6, 5, 9, 31))
        assert asyncio.run(service.step()).digests == ()
        last = app.last_digest_end("daily")
    assert last == local(2025, 6, 5, 9, 30)
    # Nothing new was published: the catch-up digest is empty and not sent.
    assert len(smtp.accepted) == 1

    clock.set(local(2025, 6, 6, 7, 0))
    with open_app(clock) as app:
        assert asyncio.run(Service(app).step()).digests == ("daily",)


# --- serve(): the APScheduler glue, under the same test clock ---------------------------------


def test_serve_under_a_test_clock_sends_the_digest_when_local_time_comes(
    tmp_path: Path, http_server: FixtureServer, smtp: SmtpServer
) -> None:
    http_server.add("/a.xml", body=rss("A", [post(1, local(2025, 6, 2, 3))]))
    config = service_config(
        tmp_path / "config",
        [feed_source("ngo-a", http_server.url("/a.xml"))],
        smtp_port=smtp.port,
        tick_seconds=1,
    )
    env = {"AGGREGATOR_DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite'}"}
    env["AGGREGATOR_DATA_DIR"] = str(tmp_path / "var")
    clock = FakeClock(local(2025, 6, 2, 6, 59, 50))

    async def scenario(service: Service) -> None:
        serving = asyncio.create_task(service.serve(install_signals=False))
        await until(lambda: http_server.count("/a.xml") == 1)
        await asyncio.sleep(1.2)  # a tick or two at 06:59: refreshed, no digest
        assert smtp.accepted == []
        clock.set(local(2025, 6, 2, 7, 0, 1))
        await until(lambda: len(smtp.accepted) == 1)
        await asyncio.sleep(2.2)  # more ticks: still one digest, no refetch
        service.stop()
        await asyncio.wait_for(serving, timeout=10)

    with App.open(config, env, clock=clock) as app:
        asyncio.run(scenario(Service(app)))
    assert len(smtp.accepted) == 1
    assert http_server.count("/a.xml") == 1


async def until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.05)


def test_a_source_held_by_its_hosts_wait_is_not_counted_or_warned_of_as_failed(
    tmp_path: Path,
    database_url: str,
    http_server: FixtureServer,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Two sources on one host, asked one at a time: the first answer is a 429, so the
    # other is not asked. It did not fail (nothing is recorded for it): the tick's log said
    # "2 failed" and warned "rate limited" for it at every tick of the wait.
    for path in ("/a.xml", "/b.xml"):
        http_server.add(path, status=429, headers={"Retry-After": "120"})
    config = service_config(
        tmp_path / "config",
        [
            feed_source("ngo-a", http_server.url("/a.xml")),
            feed_source("ngo-b", http_server.url("/b.xml")),
        ],
        smtp_port=None,
    )
    settings = config / "aggregator.toml"
    settings.write_text(
        settings.read_text(encoding="utf-8").replace("[fetch]\n", "[fetch]\nmax_per_host = 1\n"),
        encoding="utf-8",
    )
    env = {"AGGREGATOR_DATABASE_URL": database_url, "AGGREGATOR_DATA_DIR": str(tmp_path / "var")}
    clock = FakeClock(local(2025, 6, 2, 6, 50))
    with (
        App.open(config, env, clock=clock) as app,
        caplog.at_level(logging.INFO, logger="aggregator.schedule"),
    ):
        step = asyncio.run(Service(app).step())
    assert http_server.count("/a.xml") + http_server.count("/b.xml") == 1
    assert (step.refreshed, step.failed) == (1, 1)
    told = [r for r in caplog.records if r.name == "aggregator.schedule"]
    assert any("tick: refreshed 1 source, 1 failed, 1 not asked" in r.getMessage() for r in told)
    warned = [r.getMessage() for r in told if r.levelno >= logging.WARNING]
    assert len(warned) == 1 and "rate limited" in warned[0]


def test_a_queued_email_another_service_is_sending_is_no_line_at_info(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Two schedulers (one by mistake): the second logged "another run recorded a digest ...;
    # nothing sent" and then "queued, busy", which read as an email left waiting.
    from aggregator.deliver.outbox import DeliveryOutcome
    from aggregator.schedule import QUEUED, _log_delivery

    def outcome(status: Literal["busy", "sent"]) -> DeliveryOutcome:
        end = datetime(2026, 11, 28, 2, 8, tzinfo=UTC)
        return DeliveryOutcome(
            profile="daily", window_end=end, message_id="<m@x>", status=status, attempts=1
        )

    with caplog.at_level(logging.DEBUG, logger="aggregator.schedule"):
        _log_delivery(outcome("busy"), QUEUED)
        _log_delivery(outcome("sent"), QUEUED)
    assert [(r.levelno, r.getMessage()) for r in caplog.records] == [
        (logging.DEBUG, "digest daily (window to 2026-11-28T02:08+00:00): queued, busy"),
        (logging.INFO, "digest daily (window to 2026-11-28T02:08+00:00): queued, sent"),
    ]
