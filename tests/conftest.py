"""Shared test fixtures: where the real-world corpus is, and the real PostgreSQL.

Tests that need something outside the project (the corpus in ../shared/corpus, PostgreSQL on
127.0.0.1:5432) skip with a reason when it is absent; with AGGREGATOR_REQUIRE_SERVICES=1
(set by .ci/run) such a skip becomes a failure, so CI cannot pass by skipping.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from hypothesis import settings as hypothesis_settings

if TYPE_CHECKING:
    from aggregator.store import SqlStore

# Properties are about correctness, not speed: a 2-core CI machine running the whole suite
# makes Hypothesis's default 200 ms deadline flaky. Speed is measured in `make bench`.
hypothesis_settings.register_profile("aggregator", deadline=None, print_blob=True)
hypothesis_settings.load_profile("aggregator")

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"
DEFAULT_CORPUS = ROOT.parent / "shared" / "corpus"
DEFAULT_POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def services_required() -> bool:
    return os.environ.get("AGGREGATOR_REQUIRE_SERVICES", "") not in ("", "0", "false")


def skip_or_fail(reason: str) -> None:
    """Skip the test, or fail it when the services are required (CI)."""
    if services_required():
        pytest.fail(f"required by AGGREGATOR_REQUIRE_SERVICES=1: {reason}")
    pytest.skip(reason)


def corpus_path() -> Path:
    return Path(os.environ.get("AGGREGATOR_CORPUS", str(DEFAULT_CORPUS)))


@pytest.fixture(scope="session")
def corpus() -> Path:
    """The real-world corpus folder (../shared/corpus, or AGGREGATOR_CORPUS)."""
    path = corpus_path()
    if not (path / "README.md").is_file():
        skip_or_fail(f"real-world corpus not found at {path} (set AGGREGATOR_CORPUS)")
    return path


def postgres_base_url() -> str:
    return os.environ.get("AGGREGATOR_TEST_POSTGRES_URL", DEFAULT_POSTGRES)


@pytest.fixture(scope="session")
def postgres_server_url() -> str:
    """URL of the test PostgreSQL database; skips (or fails in CI) when it cannot be reached."""
    import sqlalchemy

    url = postgres_base_url()
    try:
        engine = sqlalchemy.create_engine(url, connect_args={"connect_timeout": 3})
        with engine.connect() as conn:
            conn.execute(sqlalchemy.text("select 1"))
        engine.dispose()
    except Exception as exc:  # any failure to connect means "not available here"
        skip_or_fail(f"PostgreSQL not reachable at {url}: {exc.__class__.__name__}")
    return url


@pytest.fixture()
def postgres_url(postgres_server_url: str) -> Iterator[str]:
    """A fresh, empty schema in the test database for one test, dropped afterwards."""
    import sqlalchemy

    schema = f"t_{uuid.uuid4().hex[:12]}"
    engine = sqlalchemy.create_engine(postgres_server_url)
    with engine.begin() as conn:
        conn.execute(sqlalchemy.text(f'create schema "{schema}"'))
    sep = "&" if "?" in postgres_server_url else "?"
    yield f"{postgres_server_url}{sep}options=-csearch_path%3D{schema}"
    with engine.begin() as conn:
        conn.execute(sqlalchemy.text(f'drop schema "{schema}" cascade'))
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Runs a test once on SQLite and once on PostgreSQL: one suite, both databases."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'aggregator.sqlite'}"
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture()
def store(database_url: str) -> Iterator[SqlStore]:
    """A store opened on `database_url`; test modules that need sources in it first define
    a `store` of their own."""
    from aggregator.store import open_store

    opened = open_store(database_url)
    yield opened
    opened.close()


@pytest.fixture()
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, database_url: str) -> Path:
    """A command-line run's environment: its data dir under `tmp_path`, the store at
    `database_url` (each test once per database), no config from the environment."""
    monkeypatch.setenv("AGGREGATOR_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("AGGREGATOR_DATABASE_URL", database_url)
    monkeypatch.delenv("AGGREGATOR_CONFIG", raising=False)
    return tmp_path
