"""The refresh pipeline's own machinery: worker processes started only for documents, and
the bound on documents between their fetch and their store write."""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import os
import subprocess
import sys
import time
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from sqlalchemy import event

from aggregator import app as app_module
from aggregator import pipeline
from aggregator.app import PROCESS_POOL_THRESHOLD, App, parse_processes
from aggregator.cadence import CadencePolicy
from aggregator.fetch import FetchOptions, Retriever
from aggregator.fetch import http as http_module
from aggregator.models import NotModifiedRecord, SourceResult
from aggregator.pipeline import Admission, LazyExecutor, Refresher
from aggregator.store import SqlStore, open_store
from aggregator.tag import TagRules
from tests.support_config import write_config
from tests.support_store import T0, at, make_source

if TYPE_CHECKING:
    from tests.httpserver import FixtureServer

pytest_plugins = ("tests.httpserver",)

RSS = (Path(__file__).parent / "data" / "parse" / "europarl_press_rss.xml").read_bytes()
FAST = "[fetch]\nretries = 0\nread_timeout = 2.0\ntotal_timeout = 3.0\n"


def test_lazy_executor_starts_its_executor_with_the_first_task_only() -> None:
    started: list[Executor] = []

    def start() -> Executor:
        started.append(ThreadPoolExecutor(max_workers=1))
        return started[-1]

    idle = LazyExecutor(start)
    idle.shutdown(wait=True)
    assert not idle.started and started == []

    lazy = LazyExecutor(start)
    assert lazy.submit(pow, 2, 10).result() == 1024
    assert lazy.submit(pow, 3, 2).result() == 9
    assert lazy.started and len(started) == 1
    lazy.shutdown(wait=True)
    with pytest.raises(RuntimeError):  # the executor it started is shut down
        started[0].submit(pow, 2, 2)


def test_terminating_a_lazy_executor_drops_the_work_in_its_workers_at_once() -> None:
    # A refresh stopped by a signal waited for the documents being prepared (a minute and
    # more for a pathological one), only to throw them away.
    lazy = LazyExecutor(
        lambda: ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"))
    )
    assert lazy.submit(pow, 2, 5).result() == 32  # the worker is up
    busy = [lazy.submit(time.sleep, 120) for _ in range(3)]  # one running, the others queued
    time.sleep(0.5)
    began = time.monotonic()
    lazy.terminate()
    assert time.monotonic() - began < 60  # not the two minutes of the work dropped
    for future in busy:
        assert future.cancelled() or isinstance(future.exception(timeout=5), BrokenProcessPool)


def test_lazy_executor_starts_a_new_pool_when_a_worker_died() -> None:
    lazy = LazyExecutor(
        lambda: ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"))
    )
    try:
        assert lazy.submit(pow, 2, 5).result() == 32
        with pytest.raises(BrokenProcessPool):
            lazy.submit(os._exit, 3).result()  # the worker dies, as when it is OOM-killed
        assert lazy.submit(pow, 2, 6).result() == 64
    finally:
        lazy.shutdown(wait=True)


def test_admission_is_taken_once_and_given_back_once() -> None:
    async def scenario() -> list[bool]:
        places = asyncio.Semaphore(1)
        first, second = Admission(places), Admission(places)
        await first.take()
        await first.take()  # a fallback URL of the same source: no second place
        waiting = asyncio.ensure_future(second.take())
        await asyncio.sleep(0)
        blocked = not waiting.done()
        first.give_back()
        first.give_back()  # idempotent: the place is not released twice
        await waiting
        return [blocked, places.locked()]

    assert asyncio.run(scenario()) == [True, True]


@pytest.fixture()
def many_feeds(http_server: FixtureServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv("AGGREGATOR_CONFIG", raising=False)
    monkeypatch.delenv("AGGREGATOR_DATABASE_URL", raising=False)
    monkeypatch.setenv("AGGREGATOR_DATA_DIR", str(tmp_path / "var"))
    entries = []
    for n in range(PROCESS_POOL_THRESHOLD + 2):
        body = RSS.replace(b"europarl.europa.eu/news", f"europarl.europa.eu/news{n}".encode())
        url = http_server.add(f"/feed/{n}.xml", body=body, etag=f'"{n}"')
        entries.append({"id": f"feed-{n}", "name": f"F{n}", "url": url, "kind": "feed"})
        entries[-1]["org"] = "ngo"
    return write_config(tmp_path / "config", entries, settings=FAST)


def refresh_watching_workers(config: Path) -> tuple[list[SourceResult], int]:
    """Refresh every source; the most worker processes alive when a result came in."""
    seen = [0]

    def on_result(_result: SourceResult) -> None:
        seen[0] = max(seen[0], len(multiprocessing.active_children()))

    with App.open(config) as app:
        results = asyncio.run(app.refresh(app.select_sources(), on_result=on_result))
    return results, seen[0]


# Run in a fresh interpreter: what a refresh imports and starts, nothing else loaded.
REFRESH_REPORT = """
import json, os, sys
from aggregator.cli import main
code = main(["--config", sys.argv[1], "refresh", "--json"])
children = []
for task in os.listdir("/proc/self/task"):
    with open(f"/proc/self/task/{task}/children") as kids:
        children += kids.read().split()
print(json.dumps({"code": code, "modules": sorted(sys.modules), "children": children}))
"""


@dataclass(frozen=True)
class Report:
    code: int
    statuses: set[str]
    modules: set[str]
    children: list[str]  # of the refreshing process, as it ended


def refresh_in_a_fresh_interpreter(config: Path) -> Report:
    done = subprocess.run(
        [sys.executable, "-c", REFRESH_REPORT, str(config)],
        capture_output=True,
        text=True,
        check=True,
    )
    *document, last = done.stdout.splitlines()
    report = json.loads(last)
    statuses = {s["status"] for s in json.loads("\n".join(document))["sources"]}
    return Report(report["code"], statuses, set(report["modules"]), report["children"])


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="reads /proc")
def test_a_warm_refresh_imports_no_parser_and_starts_no_process(many_feeds: Path) -> None:
    cold, workers = refresh_watching_workers(many_feeds)
    assert {r.status for r in cold} == {"new"}
    assert workers > 0 or (os.cpu_count() or 1) < 2
    report = refresh_in_a_fresh_interpreter(many_feeds)
    assert (report.code, report.statuses) == (0, {"not modified"})
    loaded = report.modules
    assert not loaded & {"aggregator.prepare", "aggregator.parse", "aggregator.normalise"}
    assert not loaded & {"feedparser", "dateparser", "py3langid"}
    # Nor the dedupe stage, the CSS parser of HTML sources, the other database's dialect.
    assert not loaded & {"aggregator.dedupe.cluster", "aggregator.store.clusters", "numpy"}
    assert not loaded & {"soupsieve", "bs4", "sqlalchemy.dialects.postgresql"}
    assert report.children == []  # no forkserver, worker or resource tracker


COLD_TAGS = """
[tag.interim]
label = "Interim regulation"
[[tag.interim.rule]]
fields = ["title"]
any = ["interim regulation"]
"""


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="reads /proc")
def test_a_cold_refresh_leaves_parsing_and_tagging_to_the_workers(many_feeds: Path) -> None:
    (many_feeds / "tags.toml").write_text(COLD_TAGS, encoding="utf-8")
    report = refresh_in_a_fresh_interpreter(many_feeds)
    assert (report.code, report.statuses) == (0, {"new"})
    # The refreshing process fetched and stored; the parsers never loaded in it.
    assert not report.modules & {"aggregator.prepare", "aggregator.parse", "feedparser", "bs4"}
    # The worker compiled the rules from the text sent to it: the topic tag is there.
    with App.open(many_feeds) as app:
        tagged = list(app.store.iter_items())
    interim = [i for i in tagged if "Interim regulation" in i.title]
    assert interim and all("interim" in i.tags for i in interim)


def test_the_workers_serve_later_refreshes_and_stop_with_the_app(many_feeds: Path) -> None:
    with App.open(many_feeds) as app:
        results = asyncio.run(app.refresh(app.select_sources()))
        assert {r.status for r in results} == {"new"}
        alive = multiprocessing.active_children()
        assert alive  # kept for the next refresh (a service refreshes every minute)
    assert not any(child.is_alive() for child in alive)


def test_a_refresh_reads_its_sources_state_without_counting_every_item(many_feeds: Path) -> None:
    # Counting grows with the archive (a GROUP BY over every stored item): a warm refresh of a
    # large store must not pay for a number it does not use.
    statements: list[str] = []
    with App.open(many_feeds) as app:
        asyncio.run(app.refresh(app.select_sources()))  # items stored
        event.listen(app.store.engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
        warm = asyncio.run(app.refresh(app.select_sources()))
    assert {r.status for r in warm} == {"not modified"}
    assert statements and not [sql for sql in statements if "GROUP BY" in sql.upper()]


def _dying_workers() -> Executor:
    context = multiprocessing.get_context("spawn")
    return ProcessPoolExecutor(
        max_workers=1, mp_context=context, initializer=os._exit, initargs=(3,)
    )


def test_a_dead_worker_fails_its_sources_with_a_clear_error_and_nothing_else(
    many_feeds: Path,
) -> None:
    with App.open(many_feeds) as app:
        app._cpu_pool = LazyExecutor(_dying_workers)  # every worker dies as it starts
        results = asyncio.run(app.refresh(app.select_sources()))
        assert {r.status for r in results} == {"error"}
        assert all("parse worker process stopped" in (r.error or "") for r in results)
        health = app.store.source_health()
        assert all(h.consecutive_failures == 1 for h in health)


def test_no_more_documents_are_requested_than_there_are_places_to_hold_them(
    many_feeds: Path, http_server: FixtureServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Two places: a request is sent only with a place, and a place comes back once its
    # document is written. (Before, all ten were fetched at once and waited in memory.)
    monkeypatch.setattr(pipeline, "DOCUMENTS_IN_PROCESS", 2)
    sent_at_result: list[tuple[int, int]] = []

    def on_result(_result: SourceResult) -> None:
        sent_at_result.append((len(sent_at_result) + 1, len(http_server.requests())))

    with App.open(many_feeds) as app:
        results = asyncio.run(app.refresh(app.select_sources(), on_result=on_result))
    assert {r.status for r in results} == {"new"}
    assert all(sent <= written + 2 for written, sent in sent_at_result), sent_at_result


def test_one_document_at_a_time_still_refreshes_everything(
    many_feeds: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pipeline, "DOCUMENTS_IN_PROCESS", 1)
    results, _ = refresh_watching_workers(many_feeds)
    assert [r.status for r in results] == ["new"] * (PROCESS_POOL_THRESHOLD + 2)
    assert sum(r.new for r in results) == 2 * (PROCESS_POOL_THRESHOLD + 2)


def test_a_source_waiting_to_retry_holds_no_place_another_document_could_use(
    http_server: FixtureServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # One place. The first source's server fails, and it waits a second before retrying:
    # meanwhile the other source's document takes the place (it used to wait behind it).
    monkeypatch.setenv("AGGREGATOR_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.delenv("AGGREGATOR_DATABASE_URL", raising=False)
    monkeypatch.setattr(pipeline, "DOCUMENTS_IN_PROCESS", 1)
    monkeypatch.setattr(http_module.random, "uniform", lambda _low, high: high)  # no jitter
    down = http_server.add("/down.xml", status=500)
    up = http_server.add("/up.xml", body=RSS)
    entries = [
        {"id": "down", "name": "Down", "url": down, "kind": "feed", "org": "ngo"},
        {"id": "up", "name": "Up", "url": up, "kind": "feed", "org": "ngo"},
    ]
    config = write_config(
        tmp_path / "config", entries, settings="[fetch]\nretries = 1\nbackoff_base = 1.0\n"
    )
    with App.open(config) as app:
        results = asyncio.run(app.refresh(app.select_sources()))
    assert [r.status for r in results] == ["error", "new"]
    assert [r.path for r in http_server.requests()] == ["/down.xml", "/up.xml", "/down.xml"]


def test_the_parse_processes_leave_a_cpu_to_the_store_unless_configured() -> None:
    assert [parse_processes(0, cpus) for cpus in (1, 2, 4, 8)] == [1, 1, 3, 7]
    assert parse_processes(3, 2) == 3


@pytest.mark.parametrize(("configured", "env"), [("1", None), (None, "3")])
def test_the_configured_parse_processes_are_the_workers_started(
    many_feeds: Path,
    monkeypatch: pytest.MonkeyPatch,
    configured: str | None,
    env: str | None,
) -> None:
    if configured is not None:
        settings = many_feeds / "aggregator.toml"
        settings.write_text(settings.read_text() + f"parse_processes = {configured}\n")
    if env is not None:
        monkeypatch.setenv("AGGREGATOR_PARSE_PROCESSES", env)
    wanted = int(configured or env or 0)
    asked: list[int] = []
    real = app_module.start_cpu_pool

    def recording(rules: object, *, workers: int) -> Executor:
        asked.append(workers)
        return real(rules, workers=workers)  # type: ignore[arg-type]

    monkeypatch.setattr(app_module, "start_cpu_pool", recording)
    results, workers = refresh_watching_workers(many_feeds)
    assert [r.status for r in results] == ["new"] * (PROCESS_POOL_THRESHOLD + 2)
    assert asked == [wanted]
    # The pool starts a worker per task while none is idle, up to its size.
    assert 1 <= workers <= wanted


def _refresher(store: SqlStore, pool: Executor) -> Refresher:
    return Refresher(
        store=store,
        retriever=Retriever(FetchOptions()),
        rules=TagRules.empty,
        policy=CadencePolicy(),
        clock=lambda: T0,
        cpu_pool=None,
        store_pool=pool,
    )


def test_a_write_batch_writes_its_304s_together_and_a_bad_one_fails_alone(
    tmp_path: Path,
) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'store.db'}")
    store.sync_sources([make_source(i) for i in ("a", "b", "c")], now=T0)
    calls: list[int] = []
    together = store.record_not_modified_many

    def counted(records: list[NotModifiedRecord]) -> None:
        calls.append(len(records))
        together(records)

    store.record_not_modified_many = counted  # type: ignore[method-assign]
    with ThreadPoolExecutor(1) as pool:
        refresher = _refresher(store, pool)

        def unchanged(source_id: str) -> pipeline._NotModifiedWrite:
            record = NotModifiedRecord(
                source_id=source_id, now=at(5), seconds=0.1, next_fetch_at=at(60)
            )
            return pipeline._NotModifiedWrite(store, record)

        good = refresher._write_batch([unchanged("a"), unchanged("b")])
        mixed = refresher._write_batch([unchanged("c"), unchanged("ghost")])
    assert calls == [2, 2]  # each batch tried its 304s together
    assert good == [(True, None), (True, None)]
    assert mixed[0] == (True, None)  # written on its own once the batch failed
    assert not mixed[1][0] and "unknown source 'ghost'" in str(mixed[1][1])
    assert {h.id: h.last_status for h in store.source_health()} == dict.fromkeys(
        "abc", "not modified"
    )
    store.close()
