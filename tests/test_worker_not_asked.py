"""A worker's source whose host asked another source to wait (Retry-After) is "not asked",
as a refresh in one process tells it: the worker logged it as a WARNING and "failed", and
counted a failure. A real HTTP server on 127.0.0.1, the limiter on the Redis of the machine.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from aggregator.worker import open_refresher
from tests.support_config import write_config
from tests.support_schedule import Post, feed_source, real_now, rss
from tests.support_services import queue as queue
from tests.support_services import redis_url as redis_url
from tests.support_workers import worker_settings

if TYPE_CHECKING:
    from tests.httpserver import FixtureServer

pytest_plugins = ("tests.httpserver",)


def test_a_source_its_host_holds_is_not_asked_and_no_failure(
    tmp_path: Path,
    http_server: FixtureServer,
    redis_url: str,
    queue: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    post = Post(
        guid="b-1",
        title="Statement",
        link="https://ngo.example/b/1",
        text="A statement on the regulation.",
        published=real_now(),
    )
    http_server.add("/a.xml", status=429, headers={"Retry-After": "120"}, content_type="text/plain")
    http_server.add("/b.xml", body=rss("B", [post]))
    config = write_config(
        tmp_path / "config",
        [feed_source("a", http_server.url("/a.xml")), feed_source("b", http_server.url("/b.xml"))],
        settings=worker_settings(max_per_host=2),
    )
    env = {
        "AGGREGATOR_DATA_DIR": str(tmp_path / "var"),
        "AGGREGATOR_BROKER_URL": redis_url,
        "AGGREGATOR_WORKER_QUEUE": queue,
    }
    refresher = open_refresher(config, env)
    try:
        assert refresher.handle("a").status == "failed"  # rate limited: the source's own
        caplog.clear()
        with caplog.at_level(logging.INFO, logger="aggregator.worker"):
            outcome = refresher.handle("b")
        assert outcome.status == "not asked"
        said = [r for r in caplog.records if r.name == "aggregator.worker"]
        assert said and all(r.levelno == logging.INFO for r in said), said
        assert "asked us to wait" in said[0].getMessage()
        assert refresher.stats.failed == 1  # a's alone
    finally:
        refresher.app.close()
    assert http_server.count("/b.xml") == 0
