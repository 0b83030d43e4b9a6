"""Incremental clustering: each new item joins every stored cluster it matches.

Clusters are the connected components of the symmetric match relation of `decide` over
candidate pairs (pairs that share a canonical URL, a body hash or an LSH bucket, within the
window). A new item that matches two clusters merges them. Because a component does not
depend on the order its edges are found in, the partition does not depend on the order items
arrive in; `cluster_items` and the store's `assign_clusters` run this same code.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

from aggregator.dedupe.decide import decide
from aggregator.dedupe.records import DedupeItem, Features, Key, Member
from aggregator.dedupe.signatures import features
from aggregator.dedupe.thresholds import DEFAULT, Thresholds
from aggregator.models import OFFICIAL_ORGS

ClusterId = Hashable


class CandidateIndex(Protocol):
    """Where clustered items live: the in-memory index (tests, eval) or the SQL store."""

    def add(self, item: Features) -> None:
        """Store the item's fingerprints; give it a singleton cluster unless it has one."""

    def candidates(self, item: Features, window: timedelta) -> Iterator[Features]:
        """Other stored items sharing a URL, body hash or bucket with `item`, in the window."""

    def cluster_of(self, key: Key) -> ClusterId:
        """The cluster an added item belongs to now."""

    def primary_of(self, cluster: ClusterId) -> Member:
        """The cluster's primary member."""

    def merge(self, clusters: Sequence[ClusterId], primary: Member) -> ClusterId:
        """Fold `clusters` into one (which id survives is the index's business)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Merge:
    into: ClusterId
    absorbed: tuple[ClusterId, ...]
    by: Key  # the item that matched them all


def _primary_rank(member: Member) -> tuple[int, datetime, int, str]:
    official = 0 if member.org in OFFICIAL_ORGS else 1
    key = member.key
    # Stored ids compare as numbers, labels as text.
    return (official, member.published.astimezone(UTC), *_key_rank(key))


def _key_rank(key: Key) -> tuple[int, str]:
    return (0, f"{key:020d}") if isinstance(key, int) else (1, key)


def choose_primary(members: Iterable[Member]) -> Member:
    """The one rule for a cluster's primary item: official institutions first, then the
    earliest published, then the smallest key. A total order, so the primary of a union is
    the primary of the primaries, and merging never needs to read the whole cluster."""
    return min(members, key=_primary_rank)


def member(item: DedupeItem) -> Member:
    return Member(key=item.key, org=item.org, published=item.published)


def assign(
    index: CandidateIndex, item: Features, *, window: timedelta, thresholds: Thresholds = DEFAULT
) -> Merge | None:
    """Add `item` to `index` and merge every cluster it matches. Idempotent."""
    index.add(item)
    own = index.cluster_of(item.key)
    matched: list[ClusterId] = [own]
    for candidate in index.candidates(item, window):
        cluster = index.cluster_of(candidate.key)
        if cluster in matched:  # already joined: one more edge changes no component
            continue
        if decide(item, candidate, window=window, thresholds=thresholds).matched:
            matched.append(cluster)
    if len(matched) == 1:
        return None
    primary = choose_primary([member(item.item), *(index.primary_of(c) for c in matched)])
    into = index.merge(matched, primary)
    return Merge(into=into, absorbed=tuple(c for c in matched if c != into), by=item.key)


def cluster_items(
    items: Sequence[DedupeItem],
    *,
    window: timedelta | None = None,
    thresholds: Thresholds = DEFAULT,
) -> dict[Key, Key]:
    """Cluster `items` from scratch: each key mapped to its cluster's primary key."""
    from aggregator.dedupe.memory import MemoryIndex  # the index is an implementation detail

    window = thresholds.window if window is None else window
    index = MemoryIndex()
    for item in items:
        assign(index, features(item, thresholds), window=window, thresholds=thresholds)
    return {item.key: index.primary_of(index.cluster_of(item.key)).key for item in items}
