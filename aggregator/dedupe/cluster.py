"""Incremental clustering: each new item joins every stored cluster it matches.

Clusters are the connected components of the symmetric match relation of `decide` over
candidate pairs (pairs that share a canonical URL, a body hash or an LSH bucket, within the
window). A new item that matches two clusters merges them. Because a component does not
depend on the order its edges are found in, the partition does not depend on the order items
arrive in; `cluster_items` and the store's `assign_clusters` run this same code. (The caps on
the work per item, thresholds.max_candidates and max_verified, are far above what any
statement's copies need; only an item with more distinct near-duplicate clusters than the
cap could see an order effect.)

Two constraints on top of the components, both about one source's distinct items (which the
same-source rule keeps apart):

- a text match between two sources' items must not rest on text either source repeats across
  its own items, a standard Background paragraph (dedupe/repeated.py);
- a cluster never comes to hold two items of one source that dedupe told apart (a
  cannot-link): an item that matches clusters which would bring such a pair together joins
  only those it matches best that keep them apart (`_joinable`).

Both can depend on arrival order: a source's repeated text is known once two of its items
carrying it have arrived, and which cluster a bridging item joins depends on which clusters
exist when it arrives. Where neither applies, the partition is order-independent as above.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

import numpy as np

from aggregator.dedupe.decision import Decision, decide, titles_agree
from aggregator.dedupe.records import DedupeItem, Features, Key, Member
from aggregator.dedupe.repeated import (
    NONE,
    TEXT_MATCHES,
    Shingles,
    own_text_shared,
    repeated_shingles,
    without_repeated,
)
from aggregator.dedupe.signatures import features
from aggregator.dedupe.thresholds import DEFAULT, Thresholds
from aggregator.models import OFFICIAL_ORGS

ClusterId = Hashable
Sourced = tuple[Key, str]  # a cluster member: its key and its source id


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

    def members_of(
        self, clusters: Sequence[ClusterId], *, per_source: int | None = None
    ) -> Mapping[ClusterId, Sequence[Sourced]]:
        """Each cluster's members, as (key, source id), in one batch; with `per_source`, at
        most that many of each source in each cluster (the lowest keys)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Merge:
    into: ClusterId
    absorbed: tuple[ClusterId, ...]
    by: Key  # the item that matched them all


def _primary_rank(member: Member) -> tuple[int, datetime, int, str]:
    official = 0 if member.org in OFFICIAL_ORGS else 1
    key = member.key
    # Stored ids compare as numbers, labels as text.
    return (official, member.published.astimezone(UTC), *key_rank(key))


def key_rank(key: Key) -> tuple[int, str]:
    """Keys in one order whatever their type: integer ids by value, then text keys."""
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
    return candidate_rank(candidate.strong, candidate.shared_bands, candidate.key)


def candidate_rank(strong: bool, shared_bands: int, key: Key) -> tuple[bool, int, tuple[int, str]]:
    """`candidate_order` of a candidate not built yet."""
    return (not strong, -shared_bands, key_rank(key))


def stored_candidate_rank(strong: bool, shared_bands: int, key: int) -> tuple[bool, int, int]:
    """`candidate_rank` for a stored item's id (an int from 0 up), in the same order: ids
    compare as numbers, as `_key_rank` compares them. The store ranks a cold refresh's
    150,000 candidates, and formatting each id as text to compare was a fiftieth of its
    writer's CPU."""
    return (not strong, -shared_bands, key)


def estimated_jaccard(a: bytes, b: bytes) -> float:
    """The share of equal MinHash values: an unbiased estimate of the shingle Jaccard."""
    if not a or len(a) != len(b):
        return 1.0  # nothing to estimate from: the exact check decides
    left = np.frombuffer(a, dtype="<u4")
    right = np.frombuffer(b, dtype="<u4")
    return float(np.count_nonzero(left == right)) / left.size


def estimated_jaccards(signature: bytes, others: Sequence[bytes]) -> list[float]:
    """`estimated_jaccard(signature, other)` for each of `others`, in one array operation."""
    return paired_estimates([signature] * len(others), others)


_ESTIMATES_AT_ONCE = 2_048  # pairs: two arrays of ~0.8 MB each, held at the peak of a batch


def paired_estimates(left: Sequence[bytes], right: Sequence[bytes]) -> list[float]:
    """`estimated_jaccard(left[n], right[n])` for every n, in a few array operations (the
    store estimates a whole write batch's candidates at once)."""
    shares = [1.0] * len(left)
    size = len(left[0]) if left else 0
    even: list[int] = []
    for n, (mine, theirs) in enumerate(zip(left, right, strict=True)):
        if size and len(mine) == size == len(theirs):
            even.append(n)
        else:  # an empty or odd signature: as `estimated_jaccard` says
            shares[n] = estimated_jaccard(mine, theirs)
    for start in range(0, len(even), _ESTIMATES_AT_ONCE):
        part = even[start : start + _ESTIMATES_AT_ONCE]
        a = np.frombuffer(b"".join(left[n] for n in part), dtype="<u4").reshape(len(part), -1)
        b = np.frombuffer(b"".join(right[n] for n in part), dtype="<u4").reshape(len(part), -1)
        found: list[float] = (np.count_nonzero(a == b, axis=1) / a.shape[1]).tolist()
        for n, share in zip(part, found, strict=True):
            shares[n] = share
    return shares


def assign(
    index: CandidateIndex, item: Features, *, window: timedelta, thresholds: Thresholds = DEFAULT
) -> Merge | None:
    """Add `item` to `index` and merge every cluster it matches. Idempotent.

    The work per item is bounded whatever the data: candidates come best first and capped
    (`max_candidates`); one already in the item's cluster costs nothing; one found by MinHash
    bands alone whose stored signature estimates a Jaccard far below any match
    (`min_estimated_jaccard`) is dropped without reading its text; at most `max_verified`
    are compared exactly, their features read in one batch. A match of two sources' items
    is checked against the text their sources repeat, known from those same candidates
    (`_Judge`); the clusters matched are then checked for a cannot-link (`_joinable`), with
    one read of their members' sources.
    """
    index.add(item)
    own = index.cluster_of(item.key)
    chosen = _worth_verifying(item, index.candidates(item, window), own, thresholds)
    if not chosen:
        return None
    loaded = index.features_of([c.key for c in chosen])
    judge = _Judge(index, item, loaded, window=window, thresholds=thresholds)
    matched: dict[ClusterId, Decision] = {}
    for candidate in chosen:
        cluster = index.cluster_of(candidate.key)
        if cluster == own or cluster in matched:  # one more edge changes no component
            continue
        other = loaded.get(candidate.key)
        if other is None:
            continue
        decision = judge.match(other)
        if decision.matched:
            matched[cluster] = decision
    if not matched:
        return None
    joined = _joinable(index, judge, own, matched, chosen, thresholds)
    if not joined:
        return None
    clusters = [own, *joined]
    primary = choose_primary([member(item.item), *(index.primary_of(c) for c in clusters)])
    into = index.merge(clusters, primary)
    return Merge(into=into, absorbed=tuple(c for c in clusters if c != into), by=item.key)


def _worth_verifying(
    item: Features, candidates: Sequence[Candidate], own: ClusterId, thresholds: Thresholds
) -> list[Candidate]:
    """The candidates, best first, that `assign` compares exactly: outside the item's cluster,
    strong or with a signature estimating a Jaccard that may match; at most max_verified.
    The estimates in one array operation: most items of a refresh have a few weak candidates
    and none worth verifying."""
    others = [c for c in candidates if c.cluster != own]
    weak = [c.signature for c in others if not c.strong]
    shares = iter(estimated_jaccards(item.signature, weak) if weak else ())
    least = thresholds.min_estimated_jaccard
    # `next` only for a weak candidate: the shares are the weak ones', in order.
    chosen = [c for c in others if c.strong or next(shares) >= least]
    return chosen[: thresholds.max_verified]


class _Judge:
    """The decisions of one `assign` call: each pair decided once, and a text match of two
    sources' items checked against the text their publishers repeat (dedupe/repeated.py).

    Everything comes from the item and its loaded candidates, the *pool*: no lookup of its
    own. An item's siblings are the other pool items of its source that `decide` tells apart
    from it; what it shares with them is its source's repeated text (`_repeated_of`). A copy
    carries its original's: a wire copy of a Parliament release that repeats its Background
    paragraph shares that paragraph with a Commission release as the original does, and must
    not match it through it either (`_carried_by`)."""

    def __init__(
        self,
        index: CandidateIndex,
        item: Features,
        loaded: Mapping[Key, Features],
        *,
        window: timedelta,
        thresholds: Thresholds,
    ) -> None:
        self._index = index
        self.item = item
        self._pool: dict[Key, Features] = {**loaded, item.key: item}
        self._features = dict(self._pool)  # the pool, and cluster members read later
        self._window = window
        self._thresholds = thresholds
        self._decided: dict[tuple[Key, Key], Decision] = {}
        self._matched: dict[Key, Decision] = {}  # the item against one, repeated text checked
        self._repeated: dict[Key, Shingles] = {}
        self._carried: dict[Key, Shingles] = {}
        self._by_source: dict[str, list[Features]] = {}
        for f in self._pool.values():
            self._by_source.setdefault(f.item.source_id, []).append(f)

    def features(self, keys: Sequence[Key]) -> Mapping[Key, Features]:
        """The features of `keys`: those at hand, the others read in one batch."""
        missing = [k for k in keys if k not in self._features]
        if missing:
            self._features.update(self._index.features_of(missing))
        return {k: self._features[k] for k in keys if k in self._features}

    def decide(self, a: Features, b: Features) -> Decision:
        """`decide(a, b)`, computed once per pair (it is symmetric)."""
        pair = (a.key, b.key) if key_rank(a.key) <= key_rank(b.key) else (b.key, a.key)
        found = self._decided.get(pair)
        if found is None:
            found = self._decided[pair] = decide(
                a, b, window=self._window, thresholds=self._thresholds
            )
        return found

    def side_by_side(self, a: Features, b: Features) -> bool:
        """Are `a` and `b`, which the item both matches, two stories the item tells side by
        side: neither matching the other, under titles that do not agree? Teasers of one
        release, each a part of it that the other lacks, agree in their titles."""
        return not self.decide(a, b).matched and not titles_agree(a, b, self._thresholds)

    def match(self, other: Features) -> Decision:
        """`decide(item, other)`; a text match of two sources' items must not rest on the
        text their publishers repeat."""
        found = self._matched.get(other.key)
        if found is None:
            item = self.item
            found = decision = self.decide(item, other)
            if decision.reason in TEXT_MATCHES and other.item.source_id != item.item.source_id:
                repeated = np.union1d(self._carried_by(item), self._carried_by(other))
                found = without_repeated(decision, item, other, repeated, self._thresholds)
            self._matched[other.key] = found
        return found

    def _repeated_of(self, f: Features) -> Shingles:
        """What `f` shares with its siblings in the pool: other items of its source, told
        apart from it, and not another version of it (`_version_of`)."""
        found = self._repeated.get(f.key)
        if found is None:
            siblings = [
                s
                for s in self._by_source[f.item.source_id]
                if s.key != f.key and not self._version_of(f, s)
            ]
            found = repeated_shingles(f, siblings) if siblings else NONE
            self._repeated[f.key] = found
        return found

    def _version_of(self, f: Features, s: Features) -> bool:
        """Is `s`, of `f`'s source, `f` itself or another version of it: a match, or a
        corrected or updated re-issue ("597 votes" for "599", a paragraph added) that `decide`
        tells apart? Counted as a sibling, a version shared all of `f`'s text: none was left
        of its own, the guard could not judge, and a release matched another source's item
        through the Background section their source repeats."""
        decision = self.decide(f, s)
        if decision.matched:
            return True
        thresholds = self._thresholds
        if decision.reason == "template-difference":
            return decision.jaccard >= thresholds.same_source_jaccard
        return (
            decision.reason == "same-source"
            and decision.containment >= thresholds.containment
            and titles_agree(f, s, thresholds)
        )

    def _carried_by(self, f: Features) -> Shingles:
        """`f`'s repeated text, and that of each copy of `f` in the pool whose source has
        siblings there. A copy of the item is a pool item it matches; a copy of a stored
        item, one already in its cluster. Either must share `f`'s own text, beyond what both
        sources repeat: an item that matches `f` only through its source's repeated text is
        no copy. (So the only pairs decided here are the item's with pool items of a source
        with several items there, which the loop in `assign` has mostly decided already.)"""
        found = self._carried.get(f.key)
        if found is None:
            repeated = self._repeated_of(f)
            parts = [repeated]
            cluster = self._index.cluster_of(f.key)
            for s in self._pool.values():
                source = s.item.source_id
                if source == f.item.source_id or len(self._by_source[source]) < 2:
                    continue
                if f is self.item:
                    decision = self.decide(f, s)
                    if not decision.matched or decision.reason == "procedure":
                        continue
                elif self._index.cluster_of(s.key) != cluster:
                    continue
                theirs = self._repeated_of(s)
                if theirs.size == 0:
                    continue
                if own_text_shared(s, f, np.union1d(repeated, theirs), self._thresholds):
                    parts.append(theirs)
            found = np.unique(np.concatenate(parts)) if len(parts) > 1 else repeated
            self._carried[f.key] = found
        return found


def still_a_version(changed: Features, other: Features, thresholds: Thresholds) -> bool:
    """Is `changed`, an item whose text changed, still a version of `other`, another
    source's item of its cluster: a match, or a template difference at a Jaccard that
    matches? A copy of a joint statement corrected in one place ("Articles 7 and 8" to
    "Articles 7, 8 and 11") reads to `decide` as another statement of one template; a
    teaser replaced by the outlet's own reporting is no version."""
    decision = decide(changed, other, thresholds=thresholds)
    return decision.matched or (
        decision.reason == "template-difference" and decision.jaccard >= thresholds.jaccard
    )


def _strength(decision: Decision) -> tuple[int, float, float]:
    """How good a match is, by the scores `decide` gives: an identity (the same URL or body,
    the procedure rule) first, then a Jaccard match before a containment one, then by
    Jaccard and containment."""
    tier = {"jaccard": 1, "containment": 0}.get(decision.reason, 2)
    return (tier, decision.jaccard, decision.containment)


def _joinable(
    index: CandidateIndex,
    judge: _Judge,
    own: ClusterId,
    matched: Mapping[ClusterId, Decision],
    chosen: Sequence[Candidate],
    thresholds: Thresholds,
) -> list[ClusterId]:
    """The matched clusters the item joins: all of them, unless that would bring together
    two stories the item only tells side by side. Two items of one source that `decide`
    tells apart (two releases of one source joined through a third item that matches both)
    are two stories; so are two clusters whose best matches for the item neither match each
    other nor agree in their titles (a roundup that reprints a joint statement and a
    committee's release, each whole: it matches both, and they are unrelated). Then the item
    joins the cluster it matches best, then each next best that brings no such pair in with
    those joined; the others stay as they are. Reads the clusters' members (key and source)
    once; only members of a source found in two of the clusters are compared.
    """
    members = index.members_of([own, *matched], per_source=thresholds.max_verified)
    spread: dict[str, set[ClusterId]] = {}
    for cluster, rows in members.items():
        for _, source in rows:
            spread.setdefault(source, set()).add(cluster)
    shared = {source for source, found in spread.items() if len(found) > 1}
    if not shared and len(matched) < 2:
        return list(matched)
    # Of each cluster, at most max_verified members of each source are read and compared, as
    # candidates are: a cluster of thousands of one page's entries (alike but for a number)
    # was read and compared whole for every item that met it, which kept a refresh busy for
    # over ten minutes.
    compared = {
        cluster: [(key, source) for key, source in rows if source in shared]
        for cluster, rows in members.items()
    }
    features = judge.features([key for rows in compared.values() for key, _ in rows])

    def apart(left: ClusterId, right: ClusterId) -> bool:
        """Do the two clusters hold two items of one source that `decide` tells apart?"""
        mine = [(features[k], s) for k, s in compared[left] if k in features]
        for key, source in compared[right]:
            theirs = features.get(key)
            if source not in shared or theirs is None:
                continue
            for f, other_source in mine:
                if other_source == source and not judge.decide(f, theirs).matched:
                    return True
        return False

    # Each cluster's best match among the verified candidates (the loop in `assign` stopped
    # at the first one), the best cluster first; ties go to the better candidate.
    best: dict[ClusterId, tuple[tuple[int, float, float], int]] = {}
    anchor_of: dict[ClusterId, Features] = {}  # that best match
    verified = judge.features([c.key for c in chosen])  # at hand: loaded by `assign`
    for rank, candidate in enumerate(chosen):
        cluster = index.cluster_of(candidate.key)
        other = verified.get(candidate.key)
        if cluster not in matched or other is None:
            continue
        decision = judge.match(other)
        if decision.matched:
            score = (_strength(decision), -rank)
            if cluster not in best or score > best[cluster]:
                best[cluster] = score
                anchor_of[cluster] = other
    joined: list[ClusterId] = [own]
    anchors: list[Features] = []  # of the clusters joined so far
    for cluster in sorted(matched, key=best.__getitem__, reverse=True):
        if any(apart(cluster, other) for other in joined):
            continue
        anchor = anchor_of[cluster]
        if any(judge.side_by_side(anchor, other) for other in anchors):
            continue
        joined.append(cluster)
        anchors.append(anchor)
    return joined[1:]


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
