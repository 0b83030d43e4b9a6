"""Parse, normalise, tag and fingerprint one fetched document: the CPU stages, run in worker
processes.

Pure work on values, with only what it needs imported (parse, normalise, tag): the worker
processes preload this module (pipeline.start_cpu_pool), and every module it pulls in is
memory in each of them. The order of all the stages, fetch and store included, is
pipeline.py's to know; it calls `prepare` here or sends `prepare_in_worker` to a worker.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from aggregator.dedupe.records import DedupeItem, Fingerprint
from aggregator.dedupe.signatures import fingerprints as fingerprints_of
from aggregator.models import Fetched, Item, Source
from aggregator.normalise import normalise_document
from aggregator.parse import parse_document
from aggregator.tag import TagRules, tag_item


@dataclass(frozen=True, slots=True, kw_only=True)
class Prepared:
    """What the CPU stages made of one fetched document."""

    items: tuple[Item, ...]
    seen: int
    warnings: tuple[str, ...]
    ttl: timedelta | None
    # Dedupe fingerprints of the items the store will write (new or changed), by identity:
    # computed here, in a worker, so the single store writer does not have to.
    fingerprints: Mapping[str, Fingerprint] = field(default_factory=dict)
    # seconds: parse, normalise, tag, fingerprint
    cpu: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)


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
    items = normalise_document(source, document, now=now)
    normalised = time.thread_time()
    tagged = tuple(
        item
        if known.get(item.identity) == item.content_hash
        else replace(item, tags=tag_item(item, source, rules))
        for item in items
    )
    was_tagged = time.thread_time()
    todo = [item for item in items if known.get(item.identity) != item.content_hash]
    fingerprints = dict(
        zip(
            (item.identity for item in todo),
            fingerprints_of([dedupe_item(item, source) for item in todo]),
            strict=True,
        )
    )
    return Prepared(
        items=tagged,
        seen=len(document.items),
        warnings=document.warnings,
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


# The tag rules of a worker process, given once when it starts (`start_cpu_pool`): sent with
# every document instead, unpickling them (~80 ms: compiled patterns) cost more than parsing.
_worker_rules: TagRules | None = None


def install_rules(rules: TagRules) -> None:
    global _worker_rules
    _worker_rules = rules


def prepare_in_worker(
    source: Source, fetched: Fetched, now: datetime, known: Mapping[str, str]
) -> Prepared:
    if _worker_rules is None:
        raise RuntimeError("worker process started without start_cpu_pool")
    return prepare(source, fetched, now, _worker_rules, known)
