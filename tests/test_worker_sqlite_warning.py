"""A worker, or `run --distributed`, on a SQLite store says so at start: that file is shared
only by processes of one machine, and a worker elsewhere without `AGGREGATOR_DATABASE_URL`
wrote its results to a local file the scheduler never read, with nothing in its log.

`aggregator worker` and `aggregator run --distributed` as subprocesses, the local Redis (a
database of this test's own) as broker, and a fresh PostgreSQL schema for the quiet case.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support_workers import Deployment, deployment, stop, wait_until, worker_settings

pytest_plugins = ("tests.support_services",)

SOURCE = {
    "id": "one",
    "name": "One",
    "url": "file:///nonexistent/feed.xml",
    "kind": "feed",
    "org": "ngo",
}
WARNING = "the store is SQLite"
STARTED = "thread(s) on queue"


def _deployment(tmp_path: Path, database_url: str, broker_url: str) -> Deployment:
    return deployment(
        tmp_path,
        [SOURCE],
        settings=worker_settings(max_per_host=2),
        database_url=database_url,
        broker_url=broker_url,
        queue="sqlite-warning",
    )


def started_worker_log(tmp_path: Path, database_url: str, broker_url: str) -> str:
    """The log of a worker started on that store, up to its "started" line."""
    d = _deployment(tmp_path, database_url, broker_url)
    worker = d.worker("worker", threads=1)
    try:
        wait_until(lambda: STARTED in d.log("worker"), timeout=60, what="the worker")
    finally:
        stop(worker)
    return d.log("worker")


def test_a_worker_without_a_database_url_warns_that_its_sqlite_file_is_not_shared(
    tmp_path: Path, own_redis_url: str
) -> None:
    log = started_worker_log(tmp_path, "", own_redis_url)  # "": the file under the data dir
    [line] = [line for line in log.splitlines() if WARNING in line]
    assert " WARNING " in line
    assert f"(sqlite:///{tmp_path / 'var' / 'aggregator.sqlite'})" in line
    assert "workers on other machines need a shared database" in line
    assert "AGGREGATOR_DATABASE_URL" in line


def test_run_distributed_on_sqlite_warns_too(tmp_path: Path, own_redis_url: str) -> None:
    d = _deployment(tmp_path, f"sqlite:///{tmp_path / 'shared.sqlite'}", own_redis_url)
    scheduler = d.scheduler()
    try:
        wait_until(lambda: WARNING in d.log("scheduler"), timeout=60, what="the warning")
    finally:
        stop(scheduler)
    [line] = [line for line in d.log("scheduler").splitlines() if WARNING in line]
    assert "run --distributed: the store is SQLite" in line
    assert f"(sqlite:///{tmp_path / 'shared.sqlite'})" in line


@pytest.mark.postgres
def test_a_worker_on_postgresql_does_not_warn(
    tmp_path: Path, postgres_url: str, own_redis_url: str
) -> None:
    assert WARNING not in started_worker_log(tmp_path, postgres_url, own_redis_url)
