"""Tagging cost per item: `tag_item` with the shipped config/tags.toml, in microseconds.

    python -m bench.tag [--corpus DIR] [--farm-feeds 40] [--repeat 5]

Two sets of items, each tagged `--repeat` times (the best pass's CPU time is printed, so other
load on the machine inflates the figure less; and the first pass's, with freshly loaded rules
whose index is built: tagging remembers what each word it meets brings, so the first pass
over a set, which meets its words for the first time, is the slower):

- corpus: the Openmag records of corpus/derived/openmag_parsed_items (real press releases and
  articles, long bodies), built as the tag tests build them (tests/support_tag.py);
- farm: the items of the first `--farm-feeds` feeds of the bench farm (bench/farm.py), run
  through the real parse and normalise stages, as a cold refresh tags them.

Prints figures, asserts nothing. The corpus is found as the tests find it: --corpus, else
AGGREGATOR_CORPUS, else ../shared/corpus next to the checkout.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from aggregator.models import Fetched, Item, OrgKind, Source, SourceKind
from aggregator.normalise import normalise_document
from aggregator.parse import parse_document
from aggregator.tag import TagRules, load_tag_rules, tag_item
from bench.farm import feed_count_items, render

ROOT = Path(__file__).resolve().parent.parent
TAGS = ROOT / "config" / "tags.toml"
NOW = datetime(2026, 1, 1, tzinfo=UTC)


def corpus_items(corpus: Path) -> list[tuple[Item, Source]]:
    from tests.support_tag import openmag_items  # the tests' own reading of the records

    return openmag_items(corpus)


def farm_source(index: int) -> Source:
    """Feed `index` of the farm as a source (bench.store uses the same)."""
    return Source(
        id=f"farm-{index}",
        name=f"Farm feed {index}",
        url=f"http://127.0.0.1/feeds/{index}",
        kind=SourceKind.FEED,
        org=OrgKind.PRESS,
    )


def farm_items(feeds: int) -> list[tuple[Item, Source]]:
    pairs: list[tuple[Item, Source]] = []
    for index in range(feeds):
        source = farm_source(index)
        body = render(index, feed_count_items(index), "http://127.0.0.1")
        fetched = Fetched(url=source.url, status_code=200, content=body)
        document = parse_document(source, fetched)
        pairs.extend((item, source) for item in normalise_document(source, document, now=NOW))
    return pairs


def indexed_rules() -> tuple[TagRules, float, float]:
    """The shipped rules freshly loaded, and indexed (a refresh does both once, before it tags
    anything); the milliseconds each took."""
    started = time.perf_counter()
    rules = load_tag_rules(TAGS)
    loaded = time.perf_counter()
    _ = rules.index  # built here, not in the first timed pass
    return rules, (loaded - started) * 1e3, (time.perf_counter() - loaded) * 1e3


def per_item_us(
    pairs: Sequence[tuple[Item, Source]], rules: TagRules, repeat: int
) -> tuple[float, float]:
    """CPU microseconds per item: the first pass, and the best of `repeat`."""
    passes: list[float] = []
    for _ in range(max(repeat, 1)):
        started = time.process_time()  # CPU time: a busy machine's waits are not counted
        for item, source in pairs:
            tag_item(item, source, rules)
        passes.append(time.process_time() - started)
    return passes[0] / len(pairs) * 1e6, min(passes) / len(pairs) * 1e6


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    default_corpus = os.environ.get("AGGREGATOR_CORPUS") or str(ROOT.parent / "shared" / "corpus")
    parser.add_argument("--corpus", default=default_corpus)
    parser.add_argument("--farm-feeds", type=int, default=40)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)

    _rules, load_ms, index_ms = indexed_rules()
    print(f"rules loaded in {load_ms:.0f} ms, indexed in {index_ms:.0f} ms")
    sets = {"farm": farm_items(args.farm_feeds)}
    corpus = Path(args.corpus)
    if corpus.is_dir():
        sets = {"corpus": corpus_items(corpus), **sets}
    else:
        print(f"no corpus at {corpus}: farm items only")
    for name, pairs in sets.items():
        chars = sum(len(item.title) + len(item.text) for item, _ in pairs) / len(pairs)
        first, us = per_item_us(pairs, indexed_rules()[0], args.repeat)
        print(
            f"{name:7} {len(pairs):5d} items  {chars:7.0f} chars/item  {us:8.1f} us/item"
            f"  (first pass {first:.1f})"
        )


if __name__ == "__main__":
    main()
