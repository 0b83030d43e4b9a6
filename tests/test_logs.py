"""`log_level` (env AGGREGATOR_LOG_LEVEL) is the level the commands log at."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from aggregator.logs import apply_log_level
from tests.conftest import ROOT
from tests.support_config import write_config


@pytest.fixture()
def root_logger() -> Iterator[logging.Logger]:
    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    yield root
    root.setLevel(level)
    root.handlers[:] = handlers


def test_the_configured_level_replaces_the_long_running_commands_default(
    root_logger: logging.Logger,
) -> None:
    root_logger.setLevel(logging.INFO)  # as `run`, `worker` and `serve` start
    apply_log_level("ERROR")
    assert root_logger.level == logging.ERROR
    assert not logging.getLogger("aggregator.schedule").isEnabledFor(logging.WARNING)


def test_a_one_shot_command_logs_on_stderr_at_debug_only(tmp_path: Path) -> None:
    config = write_config(
        tmp_path / "config",
        [{"id": "a", "name": "A", "url": "file:///nonexistent.xml", "kind": "feed", "org": "ngo"}],
    )
    env = {**os.environ, "AGGREGATOR_DATA_DIR": str(tmp_path / "var")}
    env.pop("AGGREGATOR_DATABASE_URL", None)
    command = [sys.executable, "-m", "aggregator", "--config", str(config), "refresh"]
    quiet = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, timeout=120)
    loud = subprocess.run(
        command,
        env={**env, "AGGREGATOR_LOG_LEVEL": "DEBUG"},
        cwd=ROOT,
        capture_output=True,
        timeout=120,
    )
    assert quiet.returncode == loud.returncode == 1  # the one source fails either way
    assert " DEBUG " not in quiet.stderr.decode() and " INFO " not in quiet.stderr.decode()
    assert " DEBUG " in loud.stderr.decode() or " INFO " in loud.stderr.decode()
