"""An in-memory `CandidateIndex`: the reference implementation, for tests and the eval."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from datetime import timedelta

from aggregator.dedupe.cluster import (
    Candidate,
    ClusterId,
    Sourced,
    candidate_order,
    key_rank,
    member,
)
from aggregator.dedupe.records import Features, Key, Member
from aggregator.dedupe.thresholds import DEFAULT, Thresholds
from aggregator.urls import same_page_key


class MemoryIndex:
    def __init__(self, thresholds: Thresholds = DEFAULT) -> None:
        self._thresholds = thresholds
        self._items: dict[Key, Features] = {}
        self._by_url: defaultdict[str, set[Key]] = defaultdict(set)
        self._by_hash: defaultdict[str, set[Key]] = defaultdict(set)
        self._by_bucket: defaultdict[tuple[int, int], set[Key]] = defaultdict(set)
        self._cluster: dict[Key, int] = {}
        self._members: dict[int, set[Key]] = {}
        self._primary: dict[int, Member] = {}
        self._next = 1

    def add(self, item: Features) -> None:
        key = item.key
        self._items[key] = item
        self._by_url[same_page_key(item.item.canonical_url)].add(key)
        if item.text_hash is not None:
            self._by_hash[item.text_hash].add(key)
        for bucket in item.buckets:
            self._by_bucket[bucket].add(key)
        if key not in self._cluster:
            self._cluster[key] = self._next
            self._members[self._next] = {key}
            self._primary[self._next] = member(item.item)
            self._next += 1

    def candidates(self, item: Features, window: timedelta) -> list[Candidate]:
        strong = set(self._by_url.get(same_page_key(item.item.canonical_url), ()))
        if item.text_hash is not None:
            strong |= self._by_hash.get(item.text_hash, set())
        shared: Counter[Key] = Counter()
        for bucket in item.buckets:
            for key in self._by_bucket.get(bucket, ()):
                if bucket[0] < 0:  # the title, lead and procedure bands
                    strong.add(key)
                else:
                    shared[key] += 1
        seen = item.item.seen
        found = [
            Candidate(
                key=key,
                cluster=self._cluster[key],
                shared_bands=shared[key],
                strong=key in strong,
                signature=self._items[key].signature,
            )
            for key in (strong | set(shared)) - {item.key}
            if abs(self._items[key].item.seen - seen) <= window
        ]
        return sorted(found, key=candidate_order)[: self._thresholds.max_candidates]

    def features_of(self, keys: Sequence[Key]) -> Mapping[Key, Features]:
        return {key: self._items[key] for key in keys}

    def cluster_of(self, key: Key) -> ClusterId:
        return self._cluster[key]

    def primary_of(self, cluster: ClusterId) -> Member:
        assert isinstance(cluster, int)
        return self._primary[cluster]

    def merge(self, clusters: Sequence[ClusterId], primary: Member) -> ClusterId:
        ids = sorted(c for c in clusters if isinstance(c, int))
        into = ids[0]  # the oldest cluster survives
        for other in ids[1:]:
            for key in self._members.pop(other):
                self._cluster[key] = into
                self._members[into].add(key)
            del self._primary[other]
        self._primary[into] = primary
        return into

    def members_of(
        self, clusters: Sequence[ClusterId], *, per_source: int | None = None
    ) -> Mapping[ClusterId, Sequence[Sourced]]:
        found: dict[ClusterId, list[Sourced]] = {}
        for cluster in clusters:
            taken: dict[str, int] = {}
            rows = found[cluster] = []
            for key in sorted(self.members(cluster), key=key_rank):
                source = self._items[key].item.source_id
                if per_source is None or taken.get(source, 0) < per_source:
                    taken[source] = taken.get(source, 0) + 1
                    rows.append((key, source))
        return found

    def members(self, cluster: ClusterId) -> frozenset[Key]:
        assert isinstance(cluster, int)
        return frozenset(self._members[cluster])
