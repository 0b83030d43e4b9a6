"""`make bench-distributed`: 1, 2 and 4 worker processes refreshing a local feed farm.

    python -m bench.distributed [--feeds 2000] [--hosts 10] [--workers 1 2 4] [--threads 8]

Needs PostgreSQL (AGGREGATOR_TEST_POSTGRES_URL, default the local `test` database) and Redis
(AGGREGATOR_BENCH_REDIS_URL, default redis://127.0.0.1:6379/14). Each run gets a fresh schema
and its own queue; every source is enqueued at once, the workers are already up, and the
clock runs until the store holds a success for every source. Prints throughput and where the
workers' time went (summed over their threads), from the stats each worker logs on exit.
Asserts nothing: the figures are for docs/scaling.md.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import redis
import sqlalchemy

from aggregator.app import App
from aggregator.worker import Enqueuer
from tests.support_config import write_config

ROOT = Path(__file__).resolve().parent.parent
POSTGRES = os.environ.get(
    "AGGREGATOR_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
REDIS = os.environ.get("AGGREGATOR_BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")
STATS = re.compile(r"worker \d+ stats: (\{.*\})")


def start_farm(feeds: int, hosts: int) -> tuple[subprocess.Popen[str], str]:
    farm = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "bench.farm",
            "--port",
            "0",
            "--feeds",
            str(feeds),
            "--hosts",
            str(hosts),
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert farm.stdout is not None
    base = farm.stdout.readline().strip()
    return farm, base


def farm_sources(base: str, feeds: int, hosts: int) -> list[dict[str, Any]]:
    port = base.rpartition(":")[2]
    return [
        {
            "id": f"farm-{i:05d}",
            "name": f"Farm feed {i}",
            "url": f"http://127.0.0.{1 + i % hosts}:{port}/feeds/{i}",
            "kind": "feed",
            "org": "ngo",
        }
        for i in range(feeds)
    ]


SETTINGS = """
[fetch]
max_per_host = {per_host}
retries = 1
read_timeout = 30.0
total_timeout = 60.0
[workers]
lease = "5m"
queue_timeout = "1h"
"""


def count_done(engine: sqlalchemy.Engine) -> int:
    with engine.connect() as conn:
        return int(
            conn.execute(
                sqlalchemy.text("select count(*) from sources where last_fetch_at is not null")
            ).scalar_one()
        )


def run_once(config: Path, workers: int, threads: int, feeds: int, logs: Path) -> dict[str, Any]:
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    queue = f"bench-{uuid.uuid4().hex[:8]}"
    admin = sqlalchemy.create_engine(POSTGRES)
    with admin.begin() as conn:
        conn.execute(sqlalchemy.text(f'create schema "{schema}"'))
    url = f"{POSTGRES}{'&' if '?' in POSTGRES else '?'}options=-csearch_path%3D{schema}"
    env = {
        **os.environ,
        "AGGREGATOR_DATABASE_URL": url,
        "AGGREGATOR_BROKER_URL": REDIS,
        "AGGREGATOR_WORKER_QUEUE": queue,
        "AGGREGATOR_DATA_DIR": str(logs / "var"),
    }
    processes: list[subprocess.Popen[bytes]] = []
    files = [logs / f"{queue}-w{n}.log" for n in range(workers)]
    try:
        with App.open(config, env) as app:  # migrates and syncs the sources once
            for path in files:
                processes.append(
                    subprocess.Popen(
                        [
                            sys.executable,
                            "-m",
                            "aggregator",
                            "--config",
                            str(config),
                            "worker",
                            "--processes",
                            "1",
                            "--threads",
                            str(threads),
                        ],
                        env=env,
                        cwd=ROOT,
                        stdout=path.open("wb"),
                        stderr=subprocess.STDOUT,
                    )
                )
            while not all("thread(s) on queue" in p.read_text(errors="replace") for p in files):
                time.sleep(0.2)
            enqueuer = Enqueuer(app)
            started = time.perf_counter()
            sent = enqueuer([s.id for s in app.sources])
            enqueuer.close()
            while count_done(app.store.engine) < feeds:
                time.sleep(0.2)
            seconds = time.perf_counter() - started
            with app.store.engine.connect() as conn:
                items = conn.execute(sqlalchemy.text("select count(*) from items")).scalar_one()
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(60)
        with admin.begin() as conn:
            conn.execute(sqlalchemy.text(f'drop schema "{schema}" cascade'))
        admin.dispose()
        client = redis.Redis.from_url(REDIS)
        keys = list(client.scan_iter(match=f"*{queue}*", count=1000))
        if keys:
            client.delete(*keys)
        client.close()
    totals: dict[str, float] = {}
    for path in files:
        found = STATS.search(path.read_text(errors="replace"))
        for name, value in json.loads(found.group(1)).items() if found else ():
            totals[name] = totals.get(name, 0.0) + value
    return {"workers": workers, "sent": sent, "seconds": seconds, "items": items, **totals}


def report(row: dict[str, Any], threads: int) -> str:
    wall = row["seconds"]
    thread_seconds = row["workers"] * threads * wall
    shares = {
        name: row.get(f"{name}_seconds", 0.0) / thread_seconds
        for name in ("refresh", "slot_wait", "lease")
    }
    other = 1 - sum(shares.values())
    return (
        f"{row['workers']:>7} {wall:>8.1f} {row['sent'] / wall:>8.1f} {row['items'] / wall:>8.0f}"
        f" {row.get('cpu_seconds', 0.0):>8.1f} {shares['refresh']:>7.0%}"
        f" {shares['slot_wait']:>8.0%} {shares['lease']:>7.0%} {other:>7.0%}"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.distributed")
    parser.add_argument("--feeds", type=int, default=2000)
    parser.add_argument("--hosts", type=int, default=10)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--threads", type=int, default=2, help="threads per worker process")
    parser.add_argument("--per-host", type=int, default=8, help="fetch.max_per_host")
    args = parser.parse_args(argv)
    # SIGTERM (timeout, Ctrl-C from make) runs the cleanup below: workers, schema, Redis keys.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(1))
    farm, base = start_farm(args.feeds, args.hosts)
    try:
        with tempfile.TemporaryDirectory(prefix="bench-distributed-") as folder:
            work = Path(folder)
            config = write_config(
                work / "config",
                farm_sources(base, args.feeds, args.hosts),
                settings=SETTINGS.format(per_host=args.per_host),
            )
            print(
                f"{args.feeds} feeds on {args.hosts} hosts ({base}), {args.threads} threads per "
                f"worker, max_per_host {args.per_host}, {os.cpu_count()} CPUs"
            )
            print("workers  seconds  feeds/s  items/s  cpu-sec  refresh slotwait   lease   other")
            for workers in args.workers:
                row = run_once(config, workers, args.threads, args.feeds, work)
                print(report(row, args.threads), flush=True)
    finally:
        farm.terminate()
        farm.wait()
    print(
        "refresh/slotwait/lease/other: share of worker-thread time (threads x wall) spent in "
        "App.refresh (fetch+parse+store), waiting for a host slot, taking/releasing leases, "
        "and idle or in dramatiq; cpu-sec: CPU of all worker processes."
    )


if __name__ == "__main__":
    main()
