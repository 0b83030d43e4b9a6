"""`aggregator worker --processes N` whose children cannot start: the supervisor ends with
their exit code and message, once, instead of restarting them for ever.

The worker as a subprocess, the real local Redis (a database of this test's own) and RabbitMQ.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.support_smtp import free_port
from tests.test_worker_login import config

pytest_plugins = ("tests.support_services",)


def supervised(tmp_path: Path, *, broker: str, limiter: str, database: str) -> tuple[int, str]:
    env = {
        **os.environ,
        "AGGREGATOR_DATA_DIR": str(tmp_path / "var"),
        "AGGREGATOR_BROKER_URL": broker,
        "AGGREGATOR_LIMITER_URL": limiter,
        "AGGREGATOR_DATABASE_URL": database,
        "AGGREGATOR_WORKER_QUEUE": f"test-{uuid.uuid4().hex[:10]}",
        "PYTHONUNBUFFERED": "1",
    }
    argv = ["--config", str(config(tmp_path)), "worker", "--processes", "3", "--threads", "1"]
    process = subprocess.Popen(
        [sys.executable, "-m", "aggregator", *argv],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        output, _ = process.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        process.kill()
        output, _ = process.communicate()
        pytest.fail(f"the supervisor kept restarting its children:\n{output[-3000:]}")
    return process.returncode, output


def test_children_that_cannot_open_the_store_end_the_supervisor_with_exit_3(
    tmp_path: Path, own_redis_url: str
) -> None:
    database = f"postgresql+psycopg://nobody:x@127.0.0.1:{free_port()}/nothing"
    code, output = supervised(tmp_path, broker=own_redis_url, limiter="", database=database)
    assert code == 3, output
    assert output.count("aggregator: store error:") == 1, output
    assert "starting it again" not in output


def test_children_missing_the_limiter_end_the_supervisor_with_exit_2(
    tmp_path: Path, rabbitmq_url: str
) -> None:
    code, output = supervised(tmp_path, broker=rabbitmq_url, limiter="", database="")
    assert code == 2, output
    assert output.count("workers.limiter_url is required") == 1, output
    assert "starting it again" not in output
