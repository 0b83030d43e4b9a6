"""Incremental clustering: each new item joins every stored cluster it matches.

Clusters are the connected components of the symmetric match relation of `decide` over
candidate pairs (pairs that share a canonical URL, a body hash or an LSH bucket, within the
window). A new item that matches two clusters merges them. Because a component does not
depend on the order its edges are found in, the partition does not depend on the order items
arrive in; `cluster_items` and the store's `assign_clusters` run this same code. (The caps on
the work per item, thresholds.max_candidates and max_verified, are far above what any
statement's copies need; only an item with more distinct near-duplicate clusters than the
cap could see an order effect.)
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

import numpy as np

from aggregator.dedupe.decision import decide
from aggregator.dedupe.records import DedupeItem, Features, Key, Member
from aggregator.dedupe.signatures import features
from aggregator.dedupe.thresholds import DEFAULT, Thresholds
from aggregator.models import OFFICIAL_ORGS

ClusterId = Hashable


@dataclass(frozen=True, slots=True, kw_only=True)
class Candidate:
    """A stored item the index found for a new one, before anything is verified."""

    key: Key
    cluster: ClusterId
    shared_bands: int  # MinHash bands in common
    strong: bool  # the same URL or body hash, or a shared title, lead or procedure band
    signature: bytes  # the stored MinHash signature (empty: none stored)


class CandidateIndex(Protocol):
    """Where clustered items live: the in-memory index (tests, eval) or the SQL store."""

    def add(self, item: Features) -> None:
        """Store the item's fingerprints; give it a singleton cluster unless it has one."""

    def candidates(self, item: Features, window: timedelta) -> list[Candidate]:
        """Other stored items sharing a URL, body hash or bucket with `item`, in the window,
        best first (`candidate_order`), at most `thresholds.max_candidates` of them."""

    def features_of(self, keys: Sequence[Key]) -> Mapping[Key, Features]:
        """The stored items' features (each computed at most once per index), in one batch."""

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


def candidate_order(candidate: Candidate) -> tuple[bool, int, tuple[int, str]]:
    """Best first: strong evidence, then the most MinHash bands shared, then the key."""
    return (not candidate.strong, -candidate.shared_bands, _key_rank(candidate.key))


def estimated_jaccard(a: bytes, b: bytes) -> float:
    """The share of equal MinHash values: an unbiased estimate of the shingle Jaccard."""
    if not a or len(a) != len(b):
        return 1.0  # nothing to estimate from: the exact check decides
    left = np.frombuffer(a, dtype="<u4")
    right = np.frombuffer(b, dtype="<u4")
    return float(np.count_nonzero(left == right)) / left.size


def estimated_jaccards(signature: bytes, others: Sequence[bytes]) -> list[float]:
    """`estimated_jaccard(signature, other)` for each of `others`, in one array operation."""
    sized = [other for other in others if signature and len(other) == len(signature)]
    if len(sized) < len(others):  # some estimate nothing: one at a time
        return [estimated_jaccard(signature, other) for other in others]
    left = np.frombuffer(signature, dtype="<u4")
    right = np.frombuffer(b"".join(others), dtype="<u4").reshape(len(others), left.size)
    shares: list[float] = (np.count_nonzero(right == left, axis=1) / left.size).tolist()
    return shares


def assign(
    index: CandidateIndex, item: Features, *, window: timedelta, thresholds: Thresholds = DEFAULT
) -> Merge | None:
    """Add `item` to `index` and merge every cluster it matches. Idempotent.

    The work per item is bounded whatever the data: candidates come best first and capped
    (`max_candidates`); one already in the item's cluster costs nothing; one found by MinHash
    bands alone whose stored signature estimates a Jaccard far below any match
    (`min_estimated_jaccard`) is dropped without reading its text; at most `max_verified`
    are compared exactly, their features read in one batch.
    """
    index.add(item)
    own = index.cluster_of(item.key)
    chosen: list[Candidate] = []
    for candidate in index.candidates(item, window):
        if candidate.cluster == own:
            continue
        if not candidate.strong and (
            estimated_jaccard(item.signature, candidate.signature)
            < thresholds.min_estimated_jaccard
        ):
            continue
        chosen.append(candidate)
        if len(chosen) == thresholds.max_verified:
            break
    loaded = index.features_of([c.key for c in chosen]) if chosen else {}
    matched: list[ClusterId] = [own]
    for candidate in chosen:
        cluster = index.cluster_of(candidate.key)
        if cluster in matched:  # already joined: one more edge changes no component
            continue
        other = loaded.get(candidate.key)
        if other is not None and decide(item, other, window=window, thresholds=thresholds).matched:
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
    index = MemoryIndex(thresholds)
    for item in items:
        assign(index, features(item, thresholds), window=window, thresholds=thresholds)
    return {item.key: index.primary_of(index.cluster_of(item.key)).key for item in items}
