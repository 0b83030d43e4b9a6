"""The store writer alone: a cold refresh's `save_refresh` calls, timed without fetch or parse.

    python -m bench.store [--feeds 300] [--batch 50] [--repeat 1] [--tick] [--database-url URL]

The items of `--feeds` farm feeds (bench/farm.py, the feeds `make bench` serves) are parsed,
normalised and tagged once, up front. Then each repeat opens a fresh store (a temp SQLite
file unless `--database-url` names another) and saves every feed's items as a cold refresh
does: `--batch` sources per write batch (one transaction, a savepoint each), dedupe inside.
Prints the store thread's CPU and wall time per item; asserts nothing.

The refresh benchmark's `store` stage is this work plus the GIL it shares with the fetch loop;
this one isolates it, so that a change to the writer can be measured in seconds, not minutes.
`--tick` then times a second pass, the farm's tick (bench/farm.py): every feed again, with
ITEMS_PER_TICK new items among those it has, as the daily refresh saves them.
"""

from __future__ import annotations

import argparse
import pickle
import tempfile
import time
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from aggregator.dedupe.records import Fingerprint
from aggregator.dedupe.signatures import fingerprint
from aggregator.models import CacheValidators, Fetched, Item, Source
from aggregator.normalise import normalise_document
from aggregator.parse import parse_document
from aggregator.prepare import dedupe_item
from aggregator.store import open_store
from aggregator.tag import load_tag_rules, tag_item
from bench.farm import ITEMS_PER_TICK, feed_count_items, render
from bench.tag import farm_source

ROOT = Path(__file__).resolve().parent.parent
NOW = datetime(2026, 1, 1, tzinfo=UTC)


Prepared = tuple[Source, tuple[Item, ...], dict[str, Fingerprint]]


def farm_sources(feeds: int, *, ticks: int = 0) -> list[Prepared]:
    """The feeds' items after `ticks` ticks, parsed and tagged; kept in the temp dir
    (preparing takes a while)."""
    name = f"aggregator-bench-store-v3-{feeds}{f'-tick{ticks}' if ticks else ''}.pickle"
    cached = Path(tempfile.gettempdir()) / name
    if cached.exists():
        with cached.open("rb") as file:
            found: list[Prepared] = pickle.load(file)
        return found
    prepared = _prepare(feeds, ticks)
    with cached.open("wb") as file:
        pickle.dump(prepared, file)
    return prepared


def _prepare(feeds: int, ticks: int) -> list[Prepared]:
    rules = load_tag_rules(ROOT / "config" / "tags.toml")
    out = []
    for index in range(feeds):
        source = farm_source(index)
        count = feed_count_items(index) + ticks * ITEMS_PER_TICK
        body = render(index, count, "http://127.0.0.1")
        document = parse_document(source, Fetched(url=source.url, status_code=200, content=body))
        items = tuple(
            replace(item, tags=tag_item(item, source, rules))
            for item in normalise_document(source, document, now=NOW)
        )
        # As the parse workers send them (prepare.py): the writer uses them, does not make them.
        fingerprints = {item.identity: fingerprint(dedupe_item(item, source)) for item in items}
        out.append((source, items, fingerprints))
    return out


def one_pass(
    database_url: str,
    sources: Sequence[Prepared],
    batch: int,
    *,
    now: datetime = NOW,
) -> tuple[float, float]:
    store = open_store(database_url)
    try:
        store.sync_sources([source for source, _, _ in sources], now=now)
        wall = time.perf_counter()
        cpu = time.thread_time()
        for start in range(0, len(sources), batch):
            with store.write_batch():
                for source, items, fingerprints in sources[start : start + batch]:
                    store.save_refresh(
                        source.id,
                        items,
                        now=now,
                        seconds=0.1,
                        validators=CacheValidators(),
                        url=source.url,
                        permanent_url=None,
                        next_fetch_at=now + timedelta(hours=1),
                        seen=len(items),
                        fingerprints=fingerprints,
                    )
        return time.thread_time() - cpu, time.perf_counter() - wall
    finally:
        store.close()


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--feeds", type=int, default=300)
    parser.add_argument("--batch", type=int, default=50, help="sources per write batch")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--tick", action="store_true", help="also time the tick's save")
    parser.add_argument("--database-url", help="default: a fresh temp SQLite file per repeat")
    args = parser.parse_args(argv)

    started = time.perf_counter()
    sources = farm_sources(args.feeds)
    count = sum(len(items) for _, items, _ in sources)
    print(f"{args.feeds} feeds, {count} items prepared in {time.perf_counter() - started:.1f} s")
    ticked = farm_sources(args.feeds, ticks=1) if args.tick else []
    new = sum(len(items) for _, items, _ in ticked) - count
    for run in range(args.repeat):
        with tempfile.TemporaryDirectory() as folder:
            url = args.database_url or f"sqlite:///{folder}/bench.db"
            cpu, wall = one_pass(url, sources, args.batch)
            print(
                f"run {run + 1}: store CPU {cpu:.2f} s ({cpu / count * 1e6:.0f} us/item), "
                f"wall {wall:.2f} s ({count / wall:.0f} items/s)"
            )
            if ticked:
                cpu, wall = one_pass(url, ticked, args.batch, now=NOW + timedelta(hours=1))
                print(
                    f"run {run + 1} tick: store CPU {cpu:.2f} s ({cpu / new * 1e6:.0f} us "
                    f"per new item, {new} new), wall {wall:.2f} s"
                )


if __name__ == "__main__":
    main()
