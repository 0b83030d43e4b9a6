"""`aggregator worker` against brokers that refuse its login, or are down: the real local
RabbitMQ and Redis, the worker as a subprocess.

A refused login is a wrong URL or password: the command ends at once (exit 3) with one line
naming the broker, its password masked. A broker that is down is an outage: the worker
waits for it, and the log says so in dramatiq's and our lines, not pika's dozen a second.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.conftest import ROOT
from tests.support_smtp import free_port

pytest_plugins = ("tests.support_services",)

WRONG = "wrong-Pa55"


def with_login(url: str, username: str, password: str) -> str:
    parts = urlsplit(url)
    host = parts.hostname or "127.0.0.1"
    netloc = f"{username}:{password}@{host}" + (f":{parts.port}" if parts.port else "")
    return parts._replace(netloc=netloc).geturl()


def config(tmp_path: Path) -> Path:
    folder = tmp_path / "config"
    folder.mkdir()
    (folder / "aggregator.toml").write_text("", encoding="utf-8")
    (folder / "sources.toml").write_text(
        '[[source]]\nid = "one"\nname = "One"\nurl = "file:///nonexistent/feed.xml"\n'
        'kind = "feed"\norg = "ngo"\ncountry = "BE"\n',
        encoding="utf-8",
    )
    return folder


def worker(
    tmp_path: Path, broker: str, limiter: str, command: tuple[str, ...] = ("worker",)
) -> subprocess.Popen[str]:
    env = {
        **os.environ,
        "AGGREGATOR_DATA_DIR": str(tmp_path / "var"),
        "AGGREGATOR_BROKER_URL": broker,
        "AGGREGATOR_LIMITER_URL": limiter,
        "AGGREGATOR_DATABASE_URL": "",
        "PYTHONUNBUFFERED": "1",
    }
    return subprocess.Popen(
        [sys.executable, "-m", "aggregator", "--config", str(config(tmp_path)), *command],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def refused(
    tmp_path: Path, broker: str, limiter: str, command: tuple[str, ...] = ("worker",)
) -> str:
    process = worker(tmp_path, broker, limiter, command)
    try:
        output, _ = process.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        process.kill()
        output, _ = process.communicate()
        pytest.fail(f"the worker kept running on a refused login:\n{output[-2000:]}")
    assert process.returncode == 3, output
    assert WRONG not in output  # the password is masked
    assert len(output.splitlines()) <= 2, output  # one line, not pika's narration
    return output


def test_a_rabbitmq_broker_refusing_the_login_ends_the_worker(
    tmp_path: Path, rabbitmq_url: str, redis_url: str
) -> None:
    broker = with_login(rabbitmq_url, "guest", WRONG)
    output = refused(tmp_path, broker, redis_url)
    assert "aggregator: broker amqp://guest:***@" in output
    assert "refused the login" in output and "ACCESS_REFUSED" in output
    assert "check workers.broker_url (AGGREGATOR_BROKER_URL)" in output


def test_a_broker_refusing_the_login_ends_run_distributed_too(
    tmp_path: Path, rabbitmq_url: str, redis_url: str
) -> None:
    # It logged "broker ... unreachable (ProbableAuthenticationError ...)" at every tick, for
    # ever, and never named the setting.
    broker = with_login(rabbitmq_url, "guest", WRONG)
    output = refused(tmp_path, broker, redis_url, ("run", "--distributed"))
    assert "refused the login" in output
    assert "check workers.broker_url (AGGREGATOR_BROKER_URL)" in output


def test_a_redis_broker_refusing_the_login_ends_the_worker(tmp_path: Path, redis_url: str) -> None:
    broker = with_login(redis_url, "nobody-here", WRONG)
    output = refused(tmp_path, broker, broker)
    assert "aggregator: broker redis://nobody-here:***@" in output
    assert "refused the login (AuthenticationError" in output


def test_a_redis_database_out_of_range_ends_the_worker(tmp_path: Path, redis_url: str) -> None:
    # "DB index is out of range" was taken for an outage: a traceback every 3 s, for ever.
    broker = redis_url.rsplit("/", 1)[0] + "/99"
    output = refused(tmp_path, broker, broker)
    assert "refused the connection (DB index is out of range)" in output
    assert "check workers.broker_url (AGGREGATOR_BROKER_URL)" in output


def test_a_limiter_refusing_the_login_ends_the_worker(
    tmp_path: Path, rabbitmq_url: str, redis_url: str
) -> None:
    output = refused(tmp_path, rabbitmq_url, with_login(redis_url, "nobody-here", WRONG))
    assert "aggregator: limiter redis://nobody-here:***@" in output
    assert "check workers.limiter_url (AGGREGATOR_LIMITER_URL)" in output


def test_a_broker_that_is_down_is_waited_for_in_few_lines(tmp_path: Path, redis_url: str) -> None:
    down = f"amqp://guest:guest@127.0.0.1:{free_port()}/%2F"
    process = worker(tmp_path, down, redis_url)
    time.sleep(8)  # the start-up check, then two of dramatiq's reconnection attempts
    assert process.poll() is None, "the worker gave up on a broker that is only down"
    process.send_signal(signal.SIGTERM)
    output, _ = process.communicate(timeout=60)
    assert process.returncode == 0, output
    assert "broker amqp://guest:***@127.0.0.1" in output and "not reachable yet" in output
    assert "unreachable (AMQPConnectionError: " in output  # one WARNING line each attempt
    assert " pika." not in output and "Traceback" not in output, output
