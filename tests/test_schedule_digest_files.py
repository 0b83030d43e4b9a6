"""A digest folder that cannot be written (here a regular file where the folder should be)
does not hide that the email was sent: the log says both, naming the folder and the error,
and the files are written at a later tick once the folder takes them. A service stopped
before then says they were never written. Real SMTP (aiosmtpd) and HTTP servers."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import pytest

from aggregator.app import App
from aggregator.schedule import Service
from tests.support_schedule import FakeClock, Post, feed_source, rss, service_config
from tests.support_smtp import SmtpServer
from tests.support_smtp import smtp_server as smtp_server
from tests.test_schedule import until

if TYPE_CHECKING:
    from tests.httpserver import FixtureServer

pytest_plugins = ("tests.httpserver",)

BRUSSELS = ZoneInfo("Europe/Brussels")
FORMATS = ("html", "txt", "md", "json")


def local(hh: int, mm: int = 0, ss: int = 0) -> datetime:
    return datetime(2025, 6, 2, hh, mm, ss, tzinfo=BRUSSELS).astimezone(UTC)


@pytest.fixture()
def app_config(tmp_path: Path, http_server: FixtureServer, smtp_server: SmtpServer) -> Path:
    post = Post(
        guid="https://ngo.example/1",
        title="Statement 1 on the CSA Regulation",
        link="https://ngo.example/1",
        text="Statement number 1 about detection orders and encryption, in full.",
        published=local(3),
    )
    http_server.add("/a.xml", body=rss("A", [post]))
    return service_config(
        tmp_path / "config",
        [feed_source("ngo-a", http_server.url("/a.xml"))],
        smtp_port=smtp_server.port,
        tick_seconds=1,
    )


def sqlite_env(tmp_path: Path, data_dir: Path) -> dict[str, str]:
    return {
        "AGGREGATOR_DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite'}",
        "AGGREGATOR_DATA_DIR": str(data_dir),
    }


def blocked_folder(data_dir: Path) -> Path:
    """A regular file where the profile's digest folder goes: no write under it can work,
    for root as for anyone (chmod does not stop root)."""
    folder = data_dir / "digests" / "daily"
    folder.parent.mkdir(parents=True)
    folder.write_text("not a folder\n", encoding="utf-8")
    return folder


def test_an_unwritable_digest_folder_is_told_beside_the_sent_email_and_written_later(
    tmp_path: Path, app_config: Path, smtp_server: SmtpServer, caplog: pytest.LogCaptureFixture
) -> None:
    data_dir = tmp_path / "var"
    env = sqlite_env(tmp_path, data_dir)
    folder = blocked_folder(data_dir)
    clock = FakeClock(local(6, 50))
    with (
        App.open(app_config, env, clock=clock) as app,
        caplog.at_level(logging.INFO, logger="aggregator.schedule"),
    ):
        service = Service(app)
        asyncio.run(service.step())
        clock.set(local(7, 0))
        assert asyncio.run(service.step()).digests == ("daily",)
        assert len(smtp_server.accepted) == 1
        said = [r for r in caplog.records if r.name == "aggregator.schedule"]
        assert [r for r in said if r.getMessage().endswith("entries; sent")], "no sent line"
        [unwritten] = [r for r in said if "could not be written" in r.getMessage()]
        assert unwritten.levelno == logging.WARNING
        assert str(folder) in unwritten.getMessage()
        assert (
            "File exists" in unwritten.getMessage() or "Not a directory" in unwritten.getMessage()
        )
        assert not [r for r in said if "digest failed" in r.getMessage()]

        caplog.clear()
        clock.set(local(7, 1))  # still blocked: tried again, not told again
        asyncio.run(service.step())
        assert not [r for r in caplog.records if "could not be written" in r.getMessage()]

        folder.unlink()
        clock.set(local(7, 2))
        asyncio.run(service.step())
        assert [r for r in caplog.records if "wrote its 4 files of 2025-06-02" in r.getMessage()]
        html = (folder / "2025-06-02.html").read_text(encoding="utf-8")
        assert "Statement 1 on the CSA Regulation" in html
        assert all((folder / f"2025-06-02.{ext}").is_file() for ext in FORMATS)

        clock.set(local(7, 3))
        asyncio.run(service.step())
    assert len(smtp_server.accepted) == 1  # the email went once, the retries were the files'


def test_files_still_unwritten_when_the_service_stops_are_named(
    tmp_path: Path, app_config: Path, smtp_server: SmtpServer, caplog: pytest.LogCaptureFixture
) -> None:
    data_dir = tmp_path / "var"
    env = sqlite_env(tmp_path, data_dir)
    folder = blocked_folder(data_dir)
    clock = FakeClock(local(6, 59, 50))

    async def scenario(service: Service) -> None:
        serving = asyncio.create_task(service.serve(install_signals=False))
        await asyncio.sleep(1.2)  # refreshed at 06:59:50, no digest yet
        clock.set(local(7, 0, 1))
        await until(lambda: len(smtp_server.accepted) == 1)
        await asyncio.sleep(1.5)  # a tick or two: the folder still refuses them
        service.stop()
        await asyncio.wait_for(serving, timeout=10)

    with (
        App.open(app_config, env, clock=clock) as app,
        caplog.at_level(logging.INFO, logger="aggregator.schedule"),
    ):
        asyncio.run(scenario(Service(app)))
        last = app.last_digest_end("daily")
    assert last is not None and last - local(7, 0, 1) < timedelta(seconds=5)
    [never] = [r for r in caplog.records if "never written" in r.getMessage()]
    assert never.levelno == logging.WARNING
    assert str(folder) in never.getMessage() and "2025-06-02" in never.getMessage()
    assert folder.is_file()
