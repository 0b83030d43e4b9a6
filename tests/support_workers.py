"""Distributed-refresh test helpers: generated feeds, worker processes, store queries.

The fixtures (Redis, RabbitMQ, queue names) are in tests/support_services.py.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from xml.sax.saxutils import escape

import sqlalchemy
from sqlalchemy import Engine, func, select

from aggregator.store.schema import fetch_log, items, sources
from tests.conftest import ROOT
from tests.support_config import write_config
from tests.support_store import at

if TYPE_CHECKING:
    from tests.httpserver import FixtureServer

REDIS_URL = os.environ.get("AGGREGATOR_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
RABBITMQ_URL = os.environ.get(
    "AGGREGATOR_TEST_RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672/%2F"
)

# One joint statement published by several sources: dedupe must fold it into one cluster.
JOINT_TITLE = "Joint statement on the regulation to prevent and combat child sexual abuse"
JOINT_TEXT = (
    "We, the undersigned organisations, call on the Council and the European Parliament to "
    "reject any obligation to scan private communications, including end-to-end encrypted "
    "messages, and to focus instead on measures that are targeted, proportionate and "
    "effective in protecting children online. Detection orders as proposed would undermine "
    "the confidentiality of communications for every user in the Union."
)
SHARING_EVERY = 10  # every tenth feed carries the joint statement
ITEMS_PER_FEED = 4


def delete_rabbitmq_queues(url: str, queue: str) -> None:
    import pika  # type: ignore[import-untyped]

    connection = pika.BlockingConnection(pika.URLParameters(url))
    try:
        channel = connection.channel()
        for name in (queue, f"{queue}.DQ", f"{queue}.XQ"):
            channel.queue_delete(name)
    finally:
        connection.close()


# --- feeds ----------------------------------------------------------------------------------


def feed_body(n: int) -> bytes:
    """RSS for feed n: its own items, and the joint statement on every SHARING_EVERY-th feed."""
    entries = [
        (
            f"Statement {k} of organisation {n} on detection orders",
            f"https://org{n}.example.org/news/{k}",
            f"Organisation {n} publishes its position number {k} on the proposal. "
            f"It concerns item {k} of the negotiation and the safeguards of article {n + k}.",
        )
        for k in range(ITEMS_PER_FEED)
    ]
    if n % SHARING_EVERY == 0:
        entries.append((JOINT_TITLE, f"https://org{n}.example.org/news/joint", JOINT_TEXT))
    body = "".join(
        f"<item><title>{escape(title)}</title><link>{link}</link><guid>{link}</guid>"
        f"<pubDate>{format_datetime(at(k * 60 + n), usegmt=True)}</pubDate>"
        f"<description>{escape(text)}</description></item>"
        for k, (title, link, text) in enumerate(entries)
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        f"<title>Organisation {n}</title><link>https://org{n}.example.org/</link>"
        f"<description>News</description>{body}</channel></rss>"
    ).encode()


def expected_items(feeds: int) -> int:
    return feeds * ITEMS_PER_FEED + sum(1 for n in range(feeds) if n % SHARING_EVERY == 0)


def serve_feeds(server: FixtureServer, feeds: int, *, delay: float = 0.0) -> list[dict[str, Any]]:
    return [
        {
            "id": f"org-{n:04d}",
            "name": f"Organisation {n}",
            "url": server.add(
                f"/feeds/{n}",
                body=feed_body(n),
                content_type="application/rss+xml",
                etag=f'"{n}"',
                delay=delay,
            ),
            "kind": "feed",
            "org": "ngo",
        }
        for n in range(feeds)
    ]


def worker_settings(*, max_per_host: int, lease: str = "3s", queue_timeout: str = "4s") -> str:
    return f"""
[fetch]
retries = 1
backoff_base = 0.01
read_timeout = 5.0
total_timeout = 8.0
max_per_host = {max_per_host}
[schedule]
tick_seconds = 1
[workers]
lease = "{lease}"
queue_timeout = "{queue_timeout}"
"""


# --- processes ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class Deployment:
    """The config folder and environment every process of one test shares."""

    config: Path
    env: Mapping[str, str]
    logs: Path

    def start(self, name: str, *argv: str) -> subprocess.Popen[bytes]:
        log = (self.logs / f"{name}.log").open("wb")
        return subprocess.Popen(
            [sys.executable, "-m", "aggregator", "--config", str(self.config), *argv],
            env={**os.environ, **self.env},
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
        )

    def worker(self, name: str, *, threads: int) -> subprocess.Popen[bytes]:
        return self.start(name, "worker", "--processes", "1", "--threads", str(threads))

    def scheduler(self) -> subprocess.Popen[bytes]:
        return self.start("scheduler", "run", "--distributed")

    def log(self, name: str) -> str:
        return (self.logs / f"{name}.log").read_text(encoding="utf-8", errors="replace")


def deployment(
    tmp_path: Path,
    sources: list[dict[str, Any]],
    *,
    settings: str,
    database_url: str,
    broker_url: str,
    queue: str,
    limiter_url: str | None = None,
) -> Deployment:
    config = write_config(tmp_path / "config", sources, settings=settings)
    env = {
        "AGGREGATOR_DATA_DIR": str(tmp_path / "var"),
        "AGGREGATOR_DATABASE_URL": database_url,
        "AGGREGATOR_BROKER_URL": broker_url,
        "AGGREGATOR_WORKER_QUEUE": queue,
        "AGGREGATOR_LIMITER_URL": limiter_url or "",
        "PYTHONUNBUFFERED": "1",
    }
    logs = tmp_path / "logs"
    logs.mkdir()
    return Deployment(config=config, env=env, logs=logs)


def send_messages(broker_url: str, queue: str, source_ids: list[str]) -> None:
    """One refresh message per source, as the scheduler sends them (without marking them)."""
    from aggregator.settings import WorkerSettings
    from aggregator.worker import build_broker, declare

    workers = WorkerSettings(
        broker_url=broker_url,
        limiter_url=None,
        queue=queue,
        lease=timedelta(seconds=3),
        queue_timeout=timedelta(seconds=3),
    )
    broker = build_broker(workers)
    try:
        actor = declare(broker, queue, lambda source_id: None)
        for source_id in source_ids:
            actor.send(source_id)
    finally:
        broker.close()


def stop(*processes: subprocess.Popen[bytes], timeout: float = 20.0) -> None:
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    for process in processes:
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def wait_until(check: Callable[[], bool], *, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.2)


# --- what the store holds -------------------------------------------------------------------


def refreshed_count(engine: Engine) -> int:
    """Sources refreshed successfully (0 while no worker has created the tables yet)."""
    if not sqlalchemy.inspect(engine).has_table("sources"):
        return 0
    with engine.connect() as conn:
        return int(
            conn.execute(
                select(func.count())
                .select_from(sources)
                .where(sources.c.last_success_at.is_not(None))
            ).scalar_one()
        )


def successful_fetches(engine: Engine) -> dict[str, int]:
    """source id -> how many fetches stored a document (a refresh done twice shows here)."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(fetch_log.c.source_id, func.count())
            .where(fetch_log.c.status.in_(("new", "updated", "unchanged")))
            .group_by(fetch_log.c.source_id)
        )
        return {source_id: int(count) for source_id, count in rows}


def item_keys(engine: Engine) -> list[tuple[str, str]]:
    with engine.connect() as conn:
        return [tuple(row) for row in conn.execute(select(items.c.source_id, items.c.identity))]


def cluster_partition(engine: Engine) -> frozenset[frozenset[tuple[str, str]]]:
    """The clusters as sets of (source, identity): comparable across databases and runs."""
    groups: dict[int, set[tuple[str, str]]] = {}
    with engine.connect() as conn:
        rows = conn.execute(select(items.c.cluster_id, items.c.source_id, items.c.identity))
        for cluster_id, source_id, identity in rows:
            groups.setdefault(cluster_id, set()).add((source_id, identity))
    return frozenset(frozenset(group) for group in groups.values())
