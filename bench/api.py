"""`make bench-api`: the JSON API under load, with 100k stored items.

    python -m bench.api [--items 100000] [--concurrency 32] [--seconds 10] [--database URL]
    python -m bench.api load URL --concurrency 32 --seconds 10     (the load process alone)

1. Seeds a database with synthetic items (bulk INSERTs in a few transactions; the FTS
   triggers of migration 0002 index them as in production), unless it already holds them.
2. Starts `aggregator serve` as its own process (`--workers N`, default 1; the response
   cache as configured, or `--cache-seconds 0` to measure every request built afresh).
3. For each query, runs the load generator as a *separate* process (asyncio + httpx, N
   connections each sending request after request for S seconds) and prints p50, p99 and
   requests per second. Prints figures; asserts nothing (the p99 target is in the table).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from itertools import accumulate
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import func, insert, select

from aggregator.store import open_store
from aggregator.store.schema import clusters, item_tags, items, sources

ROOT = Path(__file__).resolve().parent.parent
T0 = datetime(2024, 1, 1, tzinfo=UTC)
SOURCES = 60
BATCH = 5_000
# Tag -> share of items carrying it: a common topic, a middling one and a rare one.
TAGS = {"csar": 0.30, "encryption": 0.10, "grooming": 0.02, "institution": 0.25}
# Words: a Zipf-distributed pseudo-vocabulary (as in real text a few words are everywhere
# and most are rare), and the searched terms planted at known rates.
SYLLABLES = ("ka", "lo", "mi", "ter", "sen", "ro", "va", "dul", "pe", "ni", "sta", "gor")
VOCABULARY = tuple(a + b + c for a in SYLLABLES for b in SYLLABLES for c in SYLLABLES)
ZIPF = tuple(accumulate(1 / (rank + 1) for rank in range(len(VOCABULARY))))
PLANTED = {"encryption": 0.06, "chat control": 0.03, "grooming": 0.02}
QUERIES = (
    ("tag=grooming (rare)", "/api/v1/items?tag=grooming"),
    ("tag=csar (common)", "/api/v1/items?tag=csar"),
    ("tag=csar&tag=encryption", "/api/v1/items?tag=csar&tag=encryption"),
    ("q=encryption", "/api/v1/items?q=encryption"),
    ('q="chat control"', "/api/v1/items?q=%22chat%20control%22"),
)
TARGET_P99_MS = 50.0  # for the tag filter on SQLite


def sentence(rng: random.Random, n: int, *, plant: bool = False) -> str:
    words = rng.choices(VOCABULARY, cum_weights=ZIPF, k=n)
    if plant:
        for term, rate in PLANTED.items():
            if rng.random() < rate:
                words.insert(rng.randrange(len(words) + 1), term)
    return " ".join(words)


def seed(database_url: str, count: int) -> None:
    """Store `count` synthetic items (and their tags and clusters) unless already there."""
    store = open_store(database_url)
    try:
        with store.engine.connect() as conn:
            have = conn.execute(select(func.count()).select_from(items)).scalar_one()
        if have >= count:
            print(f"database holds {have} items: reusing it")
            return
        if have:
            raise SystemExit(f"database holds {have} items, fewer than {count}: remove it first")
        rng = random.Random(42)
        started = time.perf_counter()
        with store.engine.begin() as conn:
            conn.execute(
                insert(sources),
                [
                    {
                        "id": f"s{n}",
                        "name": f"Source {n}",
                        "kind": "feed",
                        "org": ("institution", "ngo", "press")[n % 3],
                        "config_url": f"https://s{n}.example/feed",
                        "url": f"https://s{n}.example/feed",
                        "enabled": True,
                        "consecutive_failures": 0,
                        "ever_yielded": True,
                    }
                    for n in range(SOURCES)
                ],
            )
        for start in range(0, count, BATCH):
            _seed_batch(store.engine, rng, start, min(BATCH, count - start))
        print(f"seeded {count} items in {time.perf_counter() - started:.1f}s")
    finally:
        store.close()


def _seed_batch(engine: Any, rng: random.Random, start: int, size: int) -> None:
    with engine.begin() as conn:
        seen = [T0 + timedelta(minutes=5 * (start + i)) for i in range(size)]
        cluster_ids = list(
            conn.execute(
                insert(clusters).returning(clusters.c.id, sort_by_parameter_order=True),
                [{"size": 1, "created_at": s, "updated_at": s} for s in seen],
            ).scalars()
        )
        rows = []
        for i in range(size):
            n = start + i
            # Every tenth story is also published by the next two items' sources.
            cluster = cluster_ids[i - i % 3] if (n // 3) % 10 == 0 else cluster_ids[i]
            rows.append(
                {
                    "source_id": f"s{n % SOURCES}",
                    "identity": f"item-{n}",
                    "guid": f"item-{n}",
                    "url": f"https://s{n % SOURCES}.example/{n}",
                    "canonical_url": f"https://s{n % SOURCES}.example/{n}",
                    "title": sentence(rng, 8, plant=rng.random() < 0.2).capitalize(),
                    "summary": sentence(rng, 20),
                    "text": sentence(rng, 60, plant=True),
                    "published": seen[i],
                    "published_is_fallback": False,
                    "language": "en",
                    "content_hash": f"v1:{n:x}",
                    "first_seen": seen[i],
                    "last_changed": seen[i],
                    "revision": 1,
                    "cluster_id": cluster,
                }
            )
        ids = list(
            conn.execute(
                insert(items).returning(items.c.id, sort_by_parameter_order=True), rows
            ).scalars()
        )
        conn.execute(
            insert(item_tags),
            [
                {"item_id": item_id, "tag": tag}
                for item_id in ids
                for tag, share in TAGS.items()
                if rng.random() < share
            ],
        )


# -- the load process ---------------------------------------------------------------------------


async def _worker(
    target: tuple[str, int, bytes], until: float, latencies: list[float], errors: list[int]
) -> None:
    # Raw HTTP/1.1 over one keep-alive connection: an httpx client costs ~2 ms of CPU per
    # request, so with 32 connections it was the load process that saturated, not the server.
    host, port, request = target
    reader, writer = await asyncio.open_connection(host, port)
    writer.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        while time.perf_counter() < until:
            started = time.perf_counter()
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            await reader.readexactly(length)
            latencies.append(time.perf_counter() - started)
            status = int(head.split(b" ", 2)[1])
            if status != 200:
                errors.append(status)
    finally:
        writer.close()


async def _load(url: str, concurrency: int, seconds: float) -> dict[str, Any]:
    parsed = httpx.URL(url)
    target = (
        parsed.host,
        parsed.port or 80,
        (
            f"GET {parsed.raw_path.decode()} HTTP/1.1\r\nHost: {parsed.host}:{parsed.port}\r\n"
            "Accept-Encoding: gzip\r\nAccept: application/json\r\n\r\n"
        ).encode(),
    )
    latencies: list[float] = []
    errors: list[int] = []
    await _worker(target, time.perf_counter() + 0.2, [], [])  # warm up the server's caches
    started = time.perf_counter()
    until = started + seconds
    await asyncio.gather(*(_worker(target, until, latencies, errors) for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    ordered = sorted(latencies)
    return {
        "requests": len(latencies),
        "errors": len(errors),
        "rps": len(latencies) / elapsed,
        "p50_ms": 1000 * statistics.median(ordered),
        "p99_ms": 1000 * ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))],
    }


def run_load(url: str, concurrency: int, seconds: float) -> dict[str, Any]:
    """The load generator in its own process, so it does not share the server's CPU time
    slices with the GIL of the server (and is measured as a client would see it)."""
    output = subprocess.run(
        [sys.executable, "-m", "bench.api", "load", url,
         "--concurrency", str(concurrency), "--seconds", str(seconds)],
        check=True, capture_output=True, text=True, cwd=ROOT,
    ).stdout  # fmt: skip
    result: dict[str, Any] = json.loads(output)
    return result


# -- the server process -------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(
    database_url: str, folder: Path, *, workers: int = 1, cache_seconds: float | None = None
) -> tuple[subprocess.Popen[bytes], str]:
    config = folder / "config"
    config.mkdir(parents=True, exist_ok=True)
    settings = "" if cache_seconds is None else f"[api]\ncache_seconds = {cache_seconds}\n"
    (config / "aggregator.toml").write_text(settings, encoding="utf-8")
    (config / "sources.toml").write_text(
        "".join(
            f'[[source]]\nid = "s{n}"\nname = "Source {n}"\nurl = "https://s{n}.example/feed"\n'
            f'kind = "feed"\norg = "{("institution", "ngo", "press")[n % 3]}"\n\n'
            for n in range(SOURCES)
        ),
        encoding="utf-8",
    )
    port = free_port()
    env = {**os.environ, "AGGREGATOR_DATABASE_URL": database_url,
           "AGGREGATOR_DATA_DIR": str(folder / "var")}  # fmt: skip
    process = subprocess.Popen(
        [sys.executable, "-m", "aggregator", "--config", str(config), "serve",
         "--port", str(port), "--workers", str(workers)],
        env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                return process, url
        except httpx.TransportError:
            time.sleep(0.2)
    process.kill()
    raise SystemExit("the server did not start")


def bench(
    database_url: str,
    count: int,
    concurrency: int,
    seconds: float,
    *,
    workers: int = 1,
    cache_seconds: float | None = None,
) -> None:
    seed(database_url, count)
    with tempfile.TemporaryDirectory() as folder:
        process, url = start_server(
            database_url, Path(folder), workers=workers, cache_seconds=cache_seconds
        )
        try:
            cache = "default" if cache_seconds is None else f"{cache_seconds:g}s"
            print(f"\n{count} items, {concurrency} connections, {seconds:.0f}s per query, "
                  f"{database_url.split(':')[0]}, {workers} server worker(s), "
                  f"api.cache_seconds {cache}; load average {os.getloadavg()[0]:.2f}")  # fmt: skip
            header = f"{'query':28} {'conns':>5} {'p50 ms':>8} {'p99 ms':>8} {'req/s':>8}"
            print(header + f" {'errors':>7}")
            for name, path in QUERIES:
                # One connection shows the cost of a request; N, the service under load.
                for conns in dict.fromkeys((1, concurrency)):
                    r = run_load(url + path, conns, seconds)
                    print(
                        f"{name:28} {conns:5d} {r['p50_ms']:8.1f} {r['p99_ms']:8.1f} "
                        f"{r['rps']:8.0f} {r['errors']:7d}"
                    )
            print(f"target: tag filter p99 <= {TARGET_P99_MS:.0f} ms on SQLite")
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=30)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="bench.api")
    parser.add_argument("mode", nargs="?", choices=["bench", "load", "seed"], default="bench")
    parser.add_argument("url", nargs="?", help="load: the URL to request")
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--workers", type=int, default=1, help="aggregator serve --workers")
    parser.add_argument(
        "--cache-seconds", type=float, help="api.cache_seconds of the server (0: no cache)"
    )
    parser.add_argument(
        "--database",
        default=f"sqlite:///{ROOT / 'var' / 'bench-api.sqlite'}",
        help="database URL (default: var/bench-api.sqlite, kept between runs)",
    )
    args = parser.parse_args(argv)
    if args.mode == "load":
        print(json.dumps(asyncio.run(_load(args.url, args.concurrency, args.seconds))))
    elif args.mode == "seed":
        seed(args.database, args.items)
    else:
        bench(
            args.database,
            args.items,
            args.concurrency,
            args.seconds,
            workers=args.workers,
            cache_seconds=args.cache_seconds,
        )


if __name__ == "__main__":
    main()
