"""A config edited while `aggregator run` goes on: the service reads with the config it
started with until its restart, whatever other commands read meanwhile, and the restart
applies the edit (README "The service", "Fetching"). And an edit that leaves the config
invalid is told as such, not with the advice to restart.

Real parts: a local HTTP server whose feeds answer conditional requests with 304, the
command line for the read-only command, SQLite and PostgreSQL. Only the service's clock
is fake.
"""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from aggregator.app import App
from aggregator.cli import main
from aggregator.config_watch import ConfigFiles
from aggregator.schedule import Service
from tests.support_schedule import FakeClock, Post, feed_source, real_now, rss, service_config

if TYPE_CHECKING:
    from tests.httpserver import FixtureServer

pytest_plugins = ("tests.httpserver",)

POSTED = datetime(2026, 3, 2, 6, 0, tzinfo=UTC)


def feed(name: str) -> bytes:
    posts = [
        Post(
            guid=f"https://{name}.example/{n}",
            title=f"{name} statement {n} on the CSA Regulation",
            link=f"https://{name}.example/{n}",
            text=f"Statement {n} about detection orders.",
            published=POSTED - timedelta(hours=n),
        )
        for n in (1, 2)
    ]
    return rss(name, posts)


def stored_tags(app: App, source_id: str) -> set[str]:
    return {tag for item in app.store.iter_items(source_ids=[source_id]) for tag in item.tags}


def test_a_read_only_command_beside_the_service_changes_nothing_it_fetches(
    env: Path, http_server: FixtureServer, capsys: pytest.CaptureFixture[str]
) -> None:
    # README: editing sources.toml while the service runs "takes effect at the next start";
    # editing what a source is read with makes "the next request ... unconditional, so a
    # fixed selector takes effect even on a server that would answer 304". Before the fix,
    # `aggregator sources` synced the edit into the store the service reads: the service
    # stopped fetching the source disabled in the edit at once, and fetched the edited one
    # unconditionally with its OLD config, storing a new ETag; after the restart that
    # request was conditional (304) and the edit's tag never reached the items.
    start = real_now()
    a = http_server.add("/a.xml", body=feed("a"), etag='"a1"', content_type="application/rss+xml")
    b = http_server.add("/b.xml", body=feed("b"), etag='"b1"', content_type="application/rss+xml")
    folder = env / "config"
    config = service_config(folder, [feed_source("a", a), feed_source("b", b)], smtp_port=None)
    clock = FakeClock(start)
    with App.open(config, clock=clock) as app:
        service = Service(app)
        assert asyncio.run(service.step()).refreshed == 2

        edited = [
            feed_source("a", a, tags=["watchlist"]),
            feed_source("b", b, enabled=False),
        ]
        service_config(folder, edited, smtp_port=None)
        assert main(["--config", str(config), "sources", "--json"]) == 0
        listed = {s["id"]: s for s in json.loads(capsys.readouterr().out)["sources"]}
        assert listed["b"]["enabled"] is False  # the listing is of the edited config

        # The service goes on with its own config: both sources at their time, a's request
        # conditional as before (its items were read with this config).
        clock.set(start + timedelta(minutes=59, seconds=50))
        report = asyncio.run(service.step())
        assert (report.refreshed, report.failed) == (2, 0)
        assert http_server.count("/b.xml") == 2
        assert http_server.requests("/a.xml")[1].headers["If-None-Match"] == '"a1"'
        assert "watchlist" not in stored_tags(app, "a")

    # Restarted, the service reads with the edit: a at once (not at its next fetch time,
    # an hour on), unconditionally, and its items get the tag; b, disabled, not at all.
    clock.set(start + timedelta(hours=1, minutes=5))
    with App.open(config, clock=clock) as app:
        service = Service(app)
        report = asyncio.run(service.step())
        assert (report.refreshed, report.failed) == (1, 0)
        assert http_server.count("/a.xml") == 3 and http_server.count("/b.xml") == 2
        assert "If-None-Match" not in http_server.requests("/a.xml")[2].headers
        assert "watchlist" in stored_tags(app, "a")
        # Made due once: then at its interval, conditionally again.
        clock.set(start + timedelta(hours=1, minutes=30))
        assert asyncio.run(service.step()).refreshed == 0
        clock.set(start + timedelta(hours=2, minutes=5))
        assert asyncio.run(service.step()).refreshed == 1
        assert http_server.requests("/a.xml")[3].headers["If-None-Match"] == '"a1"'


def test_an_edit_read_by_another_refresh_first_is_still_read_by_the_service_after_its_restart(
    env: Path, http_server: FixtureServer, capsys: pytest.CaptureFixture[str]
) -> None:
    # Each process decides against the config it reads with: a manual refresh with the
    # edited config reads the source anew; the service, still on the old config, then reads
    # it with its own (unconditionally: the stored validators are of the other reading),
    # and after its restart with the edit it reads it anew once more.
    start = real_now()
    url = http_server.add("/a.xml", body=feed("a"), etag='"a1"', content_type="application/rss+xml")
    folder = env / "config"
    config = service_config(folder, [feed_source("a", url)], smtp_port=None)
    clock = FakeClock(start)
    with App.open(config, clock=clock) as app:
        service = Service(app)
        asyncio.run(service.step())
        service_config(folder, [feed_source("a", url, tags=["watchlist"])], smtp_port=None)
        assert main(["--config", str(config), "refresh", "--json"]) == 0
        capsys.readouterr()
        assert "If-None-Match" not in http_server.requests("/a.xml")[1].headers
        clock.set(start + timedelta(minutes=59, seconds=50))
        asyncio.run(service.step())
        assert "If-None-Match" not in http_server.requests("/a.xml")[2].headers
        assert "watchlist" not in stored_tags(app, "a")  # the service's config has no tag
    clock.set(start + timedelta(hours=1, minutes=5))
    with App.open(config, clock=clock) as app:
        asyncio.run(Service(app).step())
        assert http_server.count("/a.xml") == 4
        assert "If-None-Match" not in http_server.requests("/a.xml")[3].headers
        assert "watchlist" in stored_tags(app, "a")


# --- an edit that leaves the config invalid -------------------------------------------------


def test_an_edit_that_leaves_the_config_invalid_is_told_as_such_not_to_restart(
    env: Path, http_server: FixtureServer, caplog: pytest.LogCaptureFixture
) -> None:
    # Before the fix: "restart it to apply the change", and the restart exited 2
    # (aggregator.toml: schedule.tick_second: unknown key) with no service left.
    start = real_now()
    url = http_server.add("/a.xml", body=feed("a"), content_type="application/rss+xml")
    folder = env / "config"
    config = service_config(folder, [feed_source("a", url)], smtp_port=None)
    settings = folder / "aggregator.toml"
    good = settings.read_text(encoding="utf-8")
    clock = FakeClock(start)
    with App.open(config, clock=clock) as app, caplog.at_level(logging.INFO):
        service = Service(app)
        asyncio.run(service.step())
        settings.write_text(good.replace("tick_seconds", "tick_second"), encoding="utf-8")
        asyncio.run(service.step())
        asyncio.run(service.step())  # the same change: told once
        errors = [r for r in caplog.records if r.levelno == logging.ERROR]
        assert len(errors) == 1, [r.getMessage() for r in errors]
        message = errors[0].getMessage()
        assert f"{settings}:" in message and "schedule.tick_second: unknown key" in message
        assert "the service goes on with the config it started with" in message
        assert "fix this before restarting" in message
        assert not [r for r in caplog.records if "restart it to apply" in r.getMessage()]

        # Mended, and changed for real: now the advice to restart, naming the file.
        settings.write_text(good.replace("tick_seconds = 60", "tick_seconds = 30"), "utf-8")
        asyncio.run(service.step())
        told = [r.getMessage() for r in caplog.records if "restart it to apply" in r.getMessage()]
        assert len(told) == 1 and str(settings) in told[0]


def test_the_watcher_names_files_edited_while_the_config_was_invalid_once_it_is_valid(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    folder = service_config(
        tmp_path / "config", [feed_source("a", "https://a.example/feed")], smtp_port=None
    )
    sources = folder / "sources.toml"
    settings = folder / "aggregator.toml"
    watcher = ConfigFiles(folder)
    assert watcher.newly_changed() == []
    with caplog.at_level(logging.INFO, logger="aggregator.config_watch"):
        sources.write_text(sources.read_text("utf-8").replace('"ngo"', '"ngos"'), "utf-8")
        assert watcher.newly_changed() == []
        [error] = [r for r in caplog.records if r.levelno == logging.ERROR]
        assert f"{sources}:" in error.getMessage() and "org" in error.getMessage()
        # A valid edit of another file while sources.toml is broken: still invalid.
        settings.write_text(settings.read_text("utf-8") + "\n# more\n", "utf-8")
        assert watcher.newly_changed() == []
        assert len([r for r in caplog.records if r.levelno == logging.ERROR]) == 2
        sources.write_text(sources.read_text("utf-8").replace('"ngos"', '"ngo"'), "utf-8")
        # Valid again: sources.toml is as read, aggregator.toml is not.
        assert watcher.newly_changed() == ["aggregator.toml"]
        assert watcher.newly_changed() == []
