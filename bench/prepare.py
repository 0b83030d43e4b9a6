"""The parse worker's CPU stages alone: `prepare` over the farm's feeds, per stage, per item.

    python -m bench.prepare [--feeds 1000] [--repeat 3] [--corpus [DIR]]

Renders `--feeds` farm feeds (bench/farm.py, the documents `make bench` serves), then runs
`prepare()` on each as a parse worker does: a source as bench.refresh configures it, freshly
loaded config/tags.toml rules (each repeat loads them again: a cold refresh's worker starts
with rules that have met no word yet, and tagging remembers what each word brings), no known
items. Prints the CPU seconds of each stage (`Prepared.cpu`: parse, normalise, tag,
fingerprint) and microseconds per item, for the best of `--repeat` passes; and the pickling
of the results, as a worker sends them back. Asserts nothing.

`--corpus` runs the real-world corpus feeds (../shared/corpus, or AGGREGATOR_CORPUS) instead:
few items, but real markup, encodings and dates.
"""

from __future__ import annotations

import argparse
import os
import pickle
import time
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from aggregator.models import Fetched, OrgKind, Source, SourceKind
from aggregator.prepare import prepare
from aggregator.prepare_worker import Prepared
from aggregator.tag import load_tag_rules
from bench.farm import feed_count_items, render
from bench.tag import farm_source

ROOT = Path(__file__).resolve().parent.parent
TAGS = ROOT / "config" / "tags.toml"
NOW = datetime(2026, 1, 1, tzinfo=UTC)
STAGES = ("parse", "normalise", "tag", "fingerprint")

Work = list[tuple[Source, Fetched]]


def farm_work(feeds: int) -> Work:
    """The farm's documents, each with its source as bench.refresh writes it in sources.toml."""
    work: Work = []
    for index in range(feeds):
        source = replace(farm_source(index), country="EU", language="en")
        body = render(index, feed_count_items(index), "http://127.0.0.1")
        work.append((source, Fetched(url=source.url, status_code=200, content=body)))
    return work


def corpus_work(corpus: Path) -> Work:
    """Every corpus feed and edge case, as a feed source that names no language."""
    paths = [
        *sorted((corpus / "feeds").iterdir()),
        *sorted((corpus / "edgecases").iterdir()),
        *sorted((corpus / "derived").glob("*.xml")),
    ]
    work: Work = []
    for number, path in enumerate(paths):
        url = "https://feeds.example.org/feed.xml"
        source = Source(
            id=f"corpus-{number}", name=path.name, url=url, kind=SourceKind.FEED, org=OrgKind.PRESS
        )
        work.append((source, Fetched(url=url, status_code=200, content=path.read_bytes())))
    return work


def one_pass(work: Work) -> tuple[list[Prepared], tuple[float, ...], float]:
    """Every document prepared with fresh rules: the results, CPU per stage, pickling CPU."""
    rules = load_tag_rules(TAGS)
    _ = rules.index  # a worker builds it once, before its first document (start_worker)
    results = [prepare(source, fetched, NOW, rules, {}) for source, fetched in work]
    stages = tuple(sum(result.cpu[stage] for result in results) for stage in range(4))
    started = time.process_time()
    for result in results:
        pickle.dumps(result, protocol=pickle.HIGHEST_PROTOCOL)
    return results, stages, time.process_time() - started


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--feeds", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    default_corpus = os.environ.get("AGGREGATOR_CORPUS") or str(ROOT.parent / "shared" / "corpus")
    parser.add_argument("--corpus", nargs="?", const=default_corpus, default=None)
    args = parser.parse_args(argv)

    work = corpus_work(Path(args.corpus)) if args.corpus else farm_work(args.feeds)
    best: tuple[float, ...] | None = None
    best_pickle = float("inf")
    items = 0
    for _ in range(max(args.repeat, 1)):
        results, stages, pickled = one_pass(work)
        items = sum(len(result.items) for result in results)
        if best is None or sum(stages) < sum(best):
            best = stages
        best_pickle = min(best_pickle, pickled)
    assert best is not None
    print(f"{len(work)} documents, {items} items; best of {args.repeat} (CPU seconds, us/item)")
    for name, seconds in zip(STAGES, best, strict=True):
        print(f"  {name:12} {seconds:6.2f} s  {seconds / max(items, 1) * 1e6:7.1f} us/item")
    total = sum(best)
    print(f"  {'prepare':12} {total:6.2f} s  {total / max(items, 1) * 1e6:7.1f} us/item")
    print(f"  {'pickle':12} {best_pickle:6.2f} s  {best_pickle / max(items, 1) * 1e6:7.1f} us/item")


if __name__ == "__main__":
    main()
