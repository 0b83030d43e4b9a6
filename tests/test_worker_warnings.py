"""A worker logs each per-source warning ("<source>: <warning>") as `aggregator run` does in
one process: a document kept, but not cleanly, is not silent under `run --distributed`.

The worker's Refresher in this process, a FixtureServer page, SQLite, the local Redis limiter.
"""

from __future__ import annotations

import logging
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from aggregator.worker import open_refresher
from tests.support_config import write_config
from tests.support_workers import worker_settings

if TYPE_CHECKING:
    from tests.httpserver import FixtureServer

pytest_plugins = ("tests.httpserver", "tests.support_services")

PAGE = "<html><body><main><p>We moved our news elsewhere.</p></main></body></html>"


def test_a_worker_logs_the_warnings_of_a_source_it_refreshed(
    tmp_path: Path, http_server: FixtureServer, own_redis_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    source = {
        "id": "redesigned",
        "name": "Redesigned",
        "url": http_server.add("/page.html", body=PAGE, content_type="text/html"),
        "kind": "html",
        "org": "institution",
        "selectors": {"item": "article.teaser", "title": "h2", "link": "h2 a"},
    }
    config = write_config(tmp_path / "config", [source], settings=worker_settings(max_per_host=2))
    env = {
        "AGGREGATOR_DATA_DIR": str(tmp_path / "var"),
        "AGGREGATOR_DATABASE_URL": f"sqlite:///{tmp_path / 'aggregator.sqlite'}",
        "AGGREGATOR_BROKER_URL": own_redis_url,
        "AGGREGATOR_WORKER_QUEUE": f"test-{uuid.uuid4().hex[:10]}",
    }
    refresher = open_refresher(config, env)
    try:
        with caplog.at_level(logging.WARNING, logger="aggregator.worker"):
            outcome = refresher.handle("redesigned")
    finally:
        refresher.app.close()
    assert outcome.status == "refreshed"
    logged = [
        (record.levelno, record.getMessage())
        for record in caplog.records
        if record.name == "aggregator.worker"
    ]
    assert (logging.WARNING, "redesigned: selector 'article.teaser' matched nothing") in logged
