"""`aggregator serve --with-scheduler` as a real process: it answers, refreshes, and stops."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

import httpx

from tests.support_config import write_config

if TYPE_CHECKING:
    from tests.httpserver import FixtureServer

pytest_plugins = ("tests.httpserver",)

RSS = (Path(__file__).parent / "data" / "parse" / "europarl_press_rss.xml").read_bytes()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_serve_with_scheduler(tmp_path: Path, http_server: FixtureServer) -> None:
    feed = http_server.add("/ep.xml", body=RSS, content_type="application/rss+xml")
    sources = [{"id": "ep", "name": "EP", "url": feed, "kind": "feed", "org": "parliament"}]
    config = write_config(tmp_path / "config", sources)
    port = free_port()
    env = {
        **os.environ,
        "AGGREGATOR_DATABASE_URL": f"sqlite:///{tmp_path / 'serve.sqlite'}",
        "AGGREGATOR_DATA_DIR": str(tmp_path / "var"),
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "aggregator", "--config", str(config), "serve",
         "--port", str(port), "--with-scheduler"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        items: list[object] = []
        ready = None
        while time.monotonic() < deadline and not items:
            try:
                ready = httpx.get(f"{base}/readyz", timeout=2)
                items = httpx.get(f"{base}/api/v1/items", timeout=2).json()["items"]
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        assert ready is not None and ready.json() == {
            "status": "ready",
            "checks": {"store": "ok", "scheduler": "ok"},
        }
        # The scheduler's first step refreshed the (due) source inside the server process.
        assert items and http_server.count("/ep.xml") >= 1
    finally:
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=30)
    log = output.decode(errors="replace")
    # A graceful stop: uvicorn finishes the lifespan (the scheduler's step in flight); a
    # stop asked for by SIGTERM is a normal end, exit status 0.
    assert "Application shutdown complete" in log, log
    assert process.returncode == 0, log


def test_serve_with_two_workers(tmp_path: Path) -> None:
    config = write_config(tmp_path / "config", [])
    port = free_port()
    env = {
        **os.environ,
        "AGGREGATOR_DATABASE_URL": f"sqlite:///{tmp_path / 'serve.sqlite'}",
        "AGGREGATOR_DATA_DIR": str(tmp_path / "var"),
    }
    command = [sys.executable, "-m", "aggregator", "--config", str(config), "serve",
               "--port", str(port), "--workers", "2"]  # fmt: skip
    refused = subprocess.run([*command, "--with-scheduler"], env=env, capture_output=True)
    assert refused.returncode == 2, refused.stderr
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        answered = None
        while time.monotonic() < deadline and answered is None:
            try:
                answered = httpx.get(f"http://127.0.0.1:{port}/api/v1/items", timeout=2)
            except httpx.TransportError:
                time.sleep(0.2)
        assert answered is not None and answered.json() == {"items": [], "next_cursor": None}
    finally:
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=30)
    log = output.decode(errors="replace")
    # Two server processes started (each logs its pid), both stopped, and the stop is clean.
    assert log.count("Started server process") == 2, log
    assert log.count("Application shutdown complete") == 2, log
    assert process.returncode == 0, log
