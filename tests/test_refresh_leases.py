"""Two refreshes never read one source at once: the second skips it ("busy") and writes
nothing for it, so the older document is never written over the newer one. A refresh
killed on this machine holds nothing."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import sqlalchemy

from aggregator.cli import main
from aggregator.store.schema import sources as sources_table
from tests.conftest import ROOT
from tests.support_config import write_config

if TYPE_CHECKING:
    from tests.httpserver import FixtureServer

pytest_plugins = ("tests.httpserver",)

DATA = Path(__file__).parent / "data" / "parse"
RSS = (DATA / "europarl_press_rss.xml").read_bytes()


def _config(folder: Path, urls: dict[str, str]) -> Path:
    sources = [
        {"id": source_id, "name": source_id, "url": url, "kind": "feed", "org": "institution"}
        for source_id, url in urls.items()
    ]
    return write_config(folder / "config", sources)


def _refresh_json(capsys: pytest.CaptureFixture[str], config: Path, *argv: str) -> dict[str, dict]:
    main(["--config", str(config), "refresh", "--json", *argv])
    out = json.loads(capsys.readouterr().out)
    return {record["id"]: record for record in out["sources"]}


def test_a_source_another_refresh_is_reading_is_skipped_and_left_to_it(
    env: Path,
    database_url: str,
    http_server: FixtureServer,
    capsys: pytest.CaptureFixture[str],
) -> None:
    slow = http_server.add("/ep/press.xml", body=RSS, delay=3.0, content_type="application/rss+xml")
    fast = http_server.add("/council/press.xml", body=RSS, content_type="application/rss+xml")
    config = _config(env, {"ep-press": slow, "council": fast})
    assert main(["--config", str(config), "sources", "check"]) == 0
    capsys.readouterr()
    first = subprocess.Popen(
        [sys.executable, "-m", "aggregator", "--config", str(config), "refresh", "--json"],
        env={**os.environ},
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 30
    while http_server.count("/ep/press.xml") == 0:
        assert time.monotonic() < deadline, "the first refresh never asked"
        time.sleep(0.05)

    second = _refresh_json(capsys, config, "--source", "ep-press")
    assert second["ep-press"]["status"] == "busy"
    assert "another refresh is reading it" in second["ep-press"]["error"]
    assert http_server.count("/ep/press.xml") == 1  # not asked a second time

    out, err = first.communicate(timeout=60)
    assert first.returncode == 0, err
    done = {record["id"]: record for record in json.loads(out)["sources"]}
    assert done["ep-press"]["status"] == "new"
    # Released at the end: the next refresh reads it.
    again = _refresh_json(capsys, config, "--source", "ep-press")
    assert again["ep-press"]["status"] in ("not modified", "unchanged")


def _hold(database_url: str, source_id: str, owner: str, until: datetime) -> None:
    engine = sqlalchemy.create_engine(database_url)
    with engine.begin() as conn:
        conn.execute(
            sqlalchemy.update(sources_table)
            .where(sources_table.c.id == source_id)
            .values(lease_owner=owner, lease_expires_at=until)
        )
    engine.dispose()


def _dead_pid() -> int:
    finished = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    return int(finished.stdout)


def test_the_leases_of_a_refresh_killed_here_are_taken_over_and_others_wait(
    env: Path,
    database_url: str,
    http_server: FixtureServer,
    capsys: pytest.CaptureFixture[str],
) -> None:
    urls = {
        name: http_server.add(f"/{name}.xml", body=RSS, content_type="application/rss+xml")
        for name in ("killed-here", "elsewhere", "expired")
    }
    config = _config(env, urls)
    assert main(["--config", str(config), "sources", "check"]) == 0
    capsys.readouterr()
    main(["--config", str(config), "sources"])  # the store and its source rows
    capsys.readouterr()
    later = datetime.now(UTC) + timedelta(minutes=30)
    here = socket.gethostname()
    _hold(database_url, "killed-here", f"{here}:{_dead_pid()}:0a1b2c3d", later)
    _hold(database_url, "elsewhere", "worker-7.example:4242:0a1b2c3d", later)
    _hold(database_url, "expired", "worker-7.example:4242:0a1b2c3d", datetime.now(UTC))

    results = _refresh_json(capsys, config)
    assert results["killed-here"]["status"] == "new"
    assert results["expired"]["status"] == "new"
    assert results["elsewhere"]["status"] == "busy"
    assert "worker-7.example:4242" in results["elsewhere"]["error"]
    assert http_server.count("/elsewhere.xml") == 0
