"""Parse, normalise, tag and fingerprint one fetched document: the CPU stages, run in worker
processes.

Pure work on values, with only what it needs imported (parse, normalise, tag): the worker
processes load this module when they start (prepare_worker.start_worker), and every module
it pulls in is memory in each of them. The order of all the stages, fetch and store included,
is pipeline.py's to know; it calls `prepare` here or sends `prepare_in_worker` to a worker.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime

from aggregator.dedupe.records import DedupeItem
from aggregator.dedupe.signatures import fingerprints as fingerprints_of
from aggregator.models import Fetched, Item, Source
from aggregator.normalise import normalise_with_warnings
from aggregator.parse import parse_document
from aggregator.prepare_worker import Prepared
from aggregator.tag import TagRules, tag_item


def prepare(
    source: Source,
    fetched: Fetched,
    now: datetime,
    rules: TagRules,
    known: Mapping[str, str] | None = None,
) -> Prepared:
    """Parse, normalise and tag one document. Pure; runs in a worker process.

    `known` maps the identities the store holds for the source to their content hashes. An
    item found there unchanged is not tagged: the store keeps an unchanged item as it is,
    tags included, so its tags would be thrown away (on a changed feed, most of its items).
    """
    known = known or {}
    started = time.thread_time()
    document = parse_document(source, fetched)
    parsed = time.thread_time()
    items, dropped = normalise_with_warnings(source, document, now=now)
    normalised = time.thread_time()
    tagged = tuple(
        item
        if known.get(item.identity) == item.content_hash
        else replace(item, tags=tag_item(item, source, rules))
        for item in items
    )
    was_tagged = time.thread_time()
    todo = [item for item in items if known.get(item.identity) != item.content_hash]
    found = fingerprints_of([dedupe_item(item, source) for item in todo])
    fingerprints = {item.identity: made for item, made in zip(todo, found, strict=True)}
    return Prepared(
        items=tagged,
        seen=len(document.items),
        warnings=(*document.warnings, *dropped),
        ttl=document.ttl,
        fingerprints=fingerprints,
        cpu=(
            parsed - started,
            normalised - parsed,
            was_tagged - normalised,
            time.thread_time() - was_tagged,
        ),
    )


def dedupe_item(item: Item, source: Source) -> DedupeItem:
    """The item as dedupe sees it once stored (its key and first-seen time do not enter a
    fingerprint, so neither is known or needed here)."""
    return DedupeItem(
        key=item.identity,
        source_id=source.id,
        org=source.org,
        title=item.title,
        text=item.text,
        canonical_url=item.canonical_url,
        published=item.published,
        source_kind=source.kind,
    )
