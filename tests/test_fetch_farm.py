"""The benchmark's feed farm and clients work (figures are `make bench`'s job, not a test's)."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import urllib.request
from pathlib import Path

import feedparser

from aggregator.fetch import FetchOptions
from bench.farm import ITEMS_PER_TICK, Farm, feed_count_items, render
from bench.floor import fetch_all_raw, fetch_all_retriever

ROOT = Path(__file__).resolve().parent.parent


def test_feeds_are_deterministic_valid_rss_and_atom() -> None:
    assert render(4, 25, "http://h") == render(4, 25, "http://h")
    assert render(4, 25, "http://h") != render(6, 25, "http://h")
    rss, atom = feedparser.parse(render(0, 30, "http://h")), feedparser.parse(render(1, 30, "h"))
    assert (rss.version, atom.version) == ("rss20", "atom10")
    assert not rss.bozo and not atom.bozo
    assert len(rss.entries) == len(atom.entries) == 30
    first = rss.entries[0]
    assert first.title and first.summary and first.published_parsed and first.id
    sizes = [len(render(i, feed_count_items(i), "http://h")) for i in range(100)]
    assert 24_000 < sum(sizes) / len(sizes) < 30_000  # ~27 KB, as in PERFORMANCE.md


def test_floor_and_retriever_against_the_farm_cold_warm_and_tick() -> None:
    async def scenario() -> None:
        farm = await Farm(feeds=6, latency=0.0, hosts=2).start()
        try:
            urls = farm.urls()
            assert {url.split("/")[2].split(":")[0] for url in urls} == {"127.0.0.1", "127.0.0.2"}
            size, responses = await fetch_all_raw(urls, connections=2)
            assert responses == 6
            options = FetchOptions(max_per_host=3)

            cold = await fetch_all_retriever(urls, options)
            assert (cold.fetched, cold.unchanged, cold.errors) == (6, 0, ())
            assert cold.bytes == size

            warm = await fetch_all_retriever(urls, options, cold.validators)
            assert (warm.fetched, warm.unchanged) == (0, 6)
            assert farm.not_modified == 6

            farm.tick()
            ticked = await fetch_all_retriever(urls, options, warm.validators)
            assert ticked.fetched == 6
            grown = feedparser.parse(render(2, feed_count_items(2) + ITEMS_PER_TICK, "x"))
            assert len(grown.entries) == feed_count_items(2) + ITEMS_PER_TICK
        finally:
            await farm.stop()

    asyncio.run(scenario())


def test_farm_runs_as_a_subprocess_and_prints_its_url() -> None:
    command = [sys.executable, "-m", "bench.farm", "--port", "0", "--feeds", "3"]
    with subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, text=True) as farm:
        try:
            assert farm.stdout is not None
            base = farm.stdout.readline().strip()
            assert base.startswith("http://127.0.0.1:")
            with urllib.request.urlopen(f"{base}/urls", timeout=5) as answer:
                assert answer.read().decode().split() == [f"{base}/feeds/{i}" for i in range(3)]
            request = urllib.request.Request(f"{base}/tick", method="POST")
            with urllib.request.urlopen(request, timeout=5) as answer:
                assert answer.read() == b"1\n"
        finally:
            farm.terminate()
            farm.wait(timeout=5)
