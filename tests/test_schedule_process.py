"""`aggregator run` as a real process: SIGTERM during a refresh finishes its writes and exits 0;
a restart refetches nothing (next fetch times are in the store) and sends the digest missed
while the service was down, once. On SQLite and PostgreSQL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from aggregator.app import App
from tests.support_schedule import Post, feed_source, rss, service_config
from tests.support_smtp import SmtpServer

if TYPE_CHECKING:
    from tests.httpserver import FixtureServer

pytest_plugins = ("tests.httpserver",)

ROOT = Path(__file__).resolve().parent.parent
SLOW_SECONDS = 2.0


@pytest.fixture()
def smtp() -> Iterator[SmtpServer]:
    with SmtpServer() as server:
        yield server


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def start(config: Path, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "aggregator", "--config", str(config), "run"],
            cwd=ROOT,
            env=os.environ | env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def terminate(process: subprocess.Popen[bytes], log: Path) -> int:
    process.send_signal(signal.SIGTERM)
    try:
        return process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        pytest.fail(f"aggregator run ignored SIGTERM:\n{log.read_text()}")


def test_sigterm_finishes_writes_and_a_restart_sends_the_missed_digest_once(
    tmp_path: Path, database_url: str, http_server: FixtureServer, smtp: SmtpServer
) -> None:
    now = datetime.now(UTC)
    fast = Post(
        guid="fast-1",
        title="Council agrees position on the CSA Regulation",
        link="https://consilium.example/1",
        text="The Council agreed its negotiating mandate on the CSA Regulation.",
        published=now - timedelta(hours=2),
    )
    slow = Post(
        guid="slow-1",
        title="EDRi: chat control still breaks encryption",
        link="https://edri.example/1",
        text="Civil society warns that client-side scanning breaks end-to-end encryption.",
        published=now - timedelta(hours=1),
    )
    http_server.add("/fast.xml", body=rss("Council", [fast]))
    # The first fetch answers slowly, so SIGTERM arrives while the refresh is in flight.
    http_server.add("/slow.xml", body=rss("EDRi", [slow]), delay=SLOW_SECONDS, times=1)
    http_server.add("/slow.xml", body=rss("EDRi", [slow]))
    config = service_config(
        tmp_path / "config",
        [
            feed_source("council", http_server.url("/fast.xml"), org="institution"),
            feed_source("edri", http_server.url("/slow.xml")),
        ],
        smtp_port=smtp.port,
        tick_seconds=1,
    )
    env = {"AGGREGATOR_DATABASE_URL": database_url, "AGGREGATOR_DATA_DIR": str(tmp_path / "var")}
    env["AGGREGATOR_CONFIG"] = str(config)

    # The last digest went out two days ago: the service has missed at least one 07:00.
    with App.open(config, env, clock=lambda: now - timedelta(days=2)) as app:
        assert app.run_digest("daily", send=True).recorded
    assert smtp.accepted == []

    log = tmp_path / "run.log"
    first = start(config, env, log)
    wait_for(lambda: http_server.count("/slow.xml") == 1, "the slow fetch to start")
    assert terminate(first, log) == 0, log.read_text()
    assert "finish its writes" in log.read_text()
    # The operator's first and last lines: what runs, against which config and store.
    started = next((line for line in log.read_text().splitlines() if "service started" in line), "")
    assert str(config) in started
    assert "2 of 2 sources enabled" in started
    assert "digest daily next at " in started
    assert "fetching: here" in started
    assert log.read_text().rstrip().endswith("service stopped")
    assert smtp.accepted == [], "stopping: no digest is started after SIGTERM"

    with App.open(config, env) as app:
        health = {h.id: h for h in app.health()}
        titles = {item.title for item in app.iter_items()}
        assert app.due_sources() == []
    assert titles == {fast.title, slow.title}, "the in-flight refresh was written in full"
    assert all(h.last_success_at is not None for h in health.values())
    assert all(h.next_fetch_at is not None and h.next_fetch_at > now for h in health.values())

    second = start(config, env, log)
    wait_for(lambda: len(smtp.accepted) == 1, "the missed digest")
    time.sleep(2.5)  # a few more ticks: no second digest, nothing refetched
    assert terminate(second, log) == 0, log.read_text()

    assert len(smtp.accepted) == 1
    text = smtp.accepted[0].message.get_body(("plain",))
    assert text is not None
    assert fast.title in text.get_content()
    assert slow.title in text.get_content()
    assert http_server.count("/fast.xml") == 1
    assert http_server.count("/slow.xml") == 1


def test_a_second_sigterm_cuts_the_step_short_and_still_ends_cleanly(
    tmp_path: Path, http_server: FixtureServer
) -> None:
    # The fetch hangs for longer than the 30 s grace: the first SIGTERM waits for it, the
    # second stops now, with a line saying so, and the exit status of a stop asked for.
    post = Post(
        guid="slow-1",
        title="A statement",
        link="https://edri.example/1",
        text="A statement.",
        published=datetime.now(UTC),
    )
    http_server.add("/hang.xml", body=rss("EDRi", [post]), delay=60.0)
    config = service_config(
        tmp_path / "config",
        [feed_source("edri", http_server.url("/hang.xml"))],
        smtp_port=None,
        tick_seconds=1,
    )
    env = {
        "AGGREGATOR_DATABASE_URL": f"sqlite:///{tmp_path / 'agg.sqlite'}",
        "AGGREGATOR_DATA_DIR": str(tmp_path / "var"),
    }
    log = tmp_path / "run.log"
    process = start(config, env, log)
    wait_for(lambda: http_server.count("/hang.xml") == 1, "the fetch to start")
    process.send_signal(signal.SIGTERM)
    wait_for(lambda: "finish its writes" in log.read_text(), "the first stop")
    began = time.monotonic()
    process.send_signal(signal.SIGTERM)
    try:
        code = process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        pytest.fail(f"a second SIGTERM did not stop aggregator run:\n{log.read_text()}")
    assert code == 0, log.read_text()
    assert time.monotonic() - began < 15
    text = log.read_text()
    assert "stopping now: cancelling the step in flight" in text
    # APScheduler's two lines a tick are left out at the default log level.
    assert "Running job" not in text and "executed successfully" not in text
    # Nor Alembic's narration of the new store's first migration.
    assert "Context impl" not in text and "Running upgrade" not in text
