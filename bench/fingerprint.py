"""Dedupe fingerprint cost per item: `signatures.fingerprints`, as the parse workers call it.

    python -m bench.fingerprint [--feeds 100] [--repeat 5] [--profile]

The items of the first `--feeds` farm feeds (bench/farm.py), built as bench/store.py builds
them (render, parse_document, normalise_document, `prepare.dedupe_item`), are fingerprinted
one document at a time, as `prepare.prepare` does. Two figures, both CPU time per item:

- first pass: the word caches of signatures.py emptied first (a worker's first documents);
- best of `--repeat` passes: caches warm, as through most of a refresh.

`--profile` prints the cProfile of one warm pass instead. Prints figures, asserts nothing.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import time
from collections.abc import Sequence
from datetime import UTC, datetime

from aggregator.dedupe import signatures
from aggregator.dedupe.records import DedupeItem
from aggregator.models import Fetched
from aggregator.normalise import normalise_document
from aggregator.parse import parse_document
from aggregator.prepare import dedupe_item
from bench.farm import feed_count_items, render
from bench.tag import farm_source

NOW = datetime(2026, 1, 1, tzinfo=UTC)

Documents = list[list[DedupeItem]]


def farm_documents(feeds: int) -> Documents:
    """Each farm feed's items as DedupeItems, one list per document."""
    documents = []
    for index in range(feeds):
        source = farm_source(index)
        body = render(index, feed_count_items(index), "http://127.0.0.1")
        document = parse_document(source, Fetched(url=source.url, status_code=200, content=body))
        items = normalise_document(source, document, now=NOW)
        documents.append([dedupe_item(item, source) for item in items])
    return documents


def one_pass(documents: Sequence[Sequence[DedupeItem]]) -> float:
    """CPU seconds to fingerprint every document."""
    started = time.process_time()
    for items in documents:
        signatures.fingerprints(items)
    return time.process_time() - started


def empty_caches() -> None:
    """As in a freshly started worker: signatures.py's word and token caches emptied."""
    for name in ("_WORDS", "_TOKEN_HASHES"):
        found = getattr(signatures, name, None)
        if isinstance(found, dict):
            found.clear()


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--feeds", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--profile", action="store_true", help="cProfile one warm pass")
    args = parser.parse_args(argv)

    documents = farm_documents(args.feeds)
    count = sum(len(items) for items in documents)
    chars = sum(len(i.title) + len(i.text) for items in documents for i in items) / count
    print(f"{args.feeds} feeds, {count} items, {chars:.0f} chars/item")
    empty_caches()
    first = one_pass(documents)
    if args.profile:
        profile = cProfile.Profile()
        profile.runcall(one_pass, documents)
        pstats.Stats(profile).sort_stats("tottime").print_stats(25)
        return
    best = min(one_pass(documents) for _ in range(args.repeat))
    print(f"first pass (caches empty): {first / count * 1e6:6.1f} us/item")
    print(f"best of {args.repeat} (caches warm):  {best / count * 1e6:6.1f} us/item")


if __name__ == "__main__":
    main()
