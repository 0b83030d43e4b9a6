"""Fixtures for tests that need Redis, RabbitMQ or a second PostgreSQL schema.

Load with `pytest_plugins = ("tests.support_services",)`. They skip with a reason when the
service is not reachable, and fail instead under AGGREGATOR_REQUIRE_SERVICES=1. Every test
gets its own queue name; its Redis keys are deleted afterwards.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
import sqlalchemy

from tests.conftest import skip_or_fail

REDIS_URL = os.environ.get("AGGREGATOR_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
RABBITMQ_URL = os.environ.get(
    "AGGREGATOR_TEST_RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672/%2F"
)


@pytest.fixture()
def redis_url() -> str:
    import redis

    try:
        client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
        client.ping()
        client.close()
    except Exception as exc:  # any failure to connect means "not available here"
        skip_or_fail(f"Redis not reachable at {REDIS_URL}: {type(exc).__name__}")
    return REDIS_URL


@pytest.fixture()
def rabbitmq_url() -> str:
    import pika  # type: ignore[import-untyped]

    try:
        connection = pika.BlockingConnection(pika.URLParameters(RABBITMQ_URL))
        connection.close()
    except Exception as exc:  # any failure to connect means "not available here"
        skip_or_fail(f"RabbitMQ not reachable at {RABBITMQ_URL}: {type(exc).__name__}")
    return RABBITMQ_URL


# A Redis database of the worker tests' own (the broker's and limiter's keys of one test),
# emptied before and after each test that uses it.
OWN_REDIS_DB = 7


@pytest.fixture()
def own_redis_url(redis_url: str) -> Iterator[str]:
    import redis

    url = f"{redis_url.rsplit('/', 1)[0]}/{OWN_REDIS_DB}"
    client = redis.Redis.from_url(url)
    client.flushdb()
    yield url
    client.flushdb()
    client.close()


@pytest.fixture()
def queue(redis_url: str) -> Iterator[str]:
    """A queue name of this test only; its Redis keys (broker and limiter) go afterwards."""
    import redis

    name = f"test-{uuid.uuid4().hex[:10]}"
    yield name
    client = redis.Redis.from_url(redis_url)
    keys = list(client.scan_iter(match=f"*{name}*", count=1000))
    if keys:
        client.delete(*keys)
    client.close()


@pytest.fixture()
def baseline_postgres_url(postgres_server_url: str) -> Iterator[str]:
    """A second fresh schema, for the single-process run a distributed run is compared with."""
    schema = f"t_{uuid.uuid4().hex[:12]}"
    engine = sqlalchemy.create_engine(postgres_server_url)
    with engine.begin() as conn:
        conn.execute(sqlalchemy.text(f'create schema "{schema}"'))
    sep = "&" if "?" in postgres_server_url else "?"
    yield f"{postgres_server_url}{sep}options=-csearch_path%3D{schema}"
    with engine.begin() as conn:
        conn.execute(sqlalchemy.text(f'drop schema "{schema}" cascade'))
    engine.dispose()
