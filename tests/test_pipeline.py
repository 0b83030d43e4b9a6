"""The refresh pipeline's own machinery: worker processes started only for documents, and
the bound on documents between their fetch and their store write."""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import os
import subprocess
import sys
from concurrent.futures import Executor, ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from aggregator import pipeline
from aggregator.app import PROCESS_POOL_THRESHOLD, App
from aggregator.models import SourceResult
from aggregator.pipeline import Admission, LazyExecutor
from tests.support_config import write_config

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


# Run in a fresh interpreter: what a warm refresh imports and starts, nothing else loaded.
WARM_REFRESH = """
import json, os, sys
from aggregator.cli import main
code = main(["--config", sys.argv[1], "refresh", "--json"])
children = []
for task in os.listdir("/proc/self/task"):
    with open(f"/proc/self/task/{task}/children") as kids:
        children += kids.read().split()
print(json.dumps({"code": code, "modules": sorted(sys.modules), "children": children}))
"""


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="reads /proc")
def test_a_warm_refresh_imports_no_parser_and_starts_no_process(many_feeds: Path) -> None:
    cold, workers = refresh_watching_workers(many_feeds)
    assert {r.status for r in cold} == {"new"}
    assert workers > 0 or (os.cpu_count() or 1) < 2
    done = subprocess.run(
        [sys.executable, "-c", WARM_REFRESH, str(many_feeds)],
        capture_output=True,
        text=True,
        check=True,
    )
    *document, last = done.stdout.splitlines()
    report = json.loads(last)
    assert report["code"] == 0
    statuses = {s["status"] for s in json.loads("\n".join(document))["sources"]}
    assert statuses == {"not modified"}
    loaded = set(report["modules"])
    assert not loaded & {"aggregator.prepare", "aggregator.parse", "aggregator.normalise"}
    assert not loaded & {"feedparser", "dateparser", "py3langid"}
    assert report["children"] == []  # no forkserver, worker or resource tracker


def test_one_document_at_a_time_still_refreshes_everything(
    many_feeds: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pipeline, "DOCUMENTS_IN_PROCESS", 1)
    results, _ = refresh_watching_workers(many_feeds)
    assert [r.status for r in results] == ["new"] * (PROCESS_POOL_THRESHOLD + 2)
    assert sum(r.new for r in results) == 2 * (PROCESS_POOL_THRESHOLD + 2)
