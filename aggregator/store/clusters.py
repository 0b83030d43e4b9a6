"""Dedupe against the store: the SQL `CandidateIndex` and `assign_clusters`.

Everything takes the caller's `Connection`, so clustering runs inside the transaction that
saved the items: either the items and their clusters are stored, or neither is. The match
decision and the merge logic are the dedupe stage's (`aggregator.dedupe.cluster.assign`);
this module only finds candidates and moves rows.

Cost per new item: a binary search per LSH band in the in-memory bucket index
(store/bucket_index.py), one indexed lookup on canonical_url and one on text_hash, each
bounded by the first-seen window, and a read of the candidates' clusters and signatures;
then an exact check of at most thresholds.max_verified of them, read in one query, and for an
item that matches, one indexed read of the matched clusters' members (`members_of`). The
lookups of one call (a write batch's new items, or one source's outside a batch) go in a few
statements (`SqlCandidateIndex.prefetch`), and the new items' fingerprints are written for
the whole call in one. None of it scans the archive, so it does not grow with it.
"""

from __future__ import annotations

import functools
import logging
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import numpy.typing as npt
from sqlalchemy import (
    Connection,
    Select,
    bindparam,
    delete,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.exc import SQLAlchemyError

from aggregator.dedupe.cluster import (
    Candidate,
    ClusterId,
    Merge,
    Sourced,
    assign,
    choose_primary,
    member,
    paired_estimates,
    still_a_version,
    stored_candidate_rank,
)
from aggregator.dedupe.pairs import PAIR_BYTES
from aggregator.dedupe.records import DedupeItem, Features, Fingerprint, Key, Member
from aggregator.dedupe.signatures import features, features_as_stored, features_from
from aggregator.dedupe.thresholds import DEFAULT, Thresholds
from aggregator.errors import StoreError
from aggregator.models import OrgKind
from aggregator.store.bucket_index import (
    Overlay,
    from_micros,
    index_for,
    overlay_for,
    take_numbers,
)
from aggregator.store.engine import describe
from aggregator.store.items import NewRow
from aggregator.store.page_key import page_key
from aggregator.store.schema import clusters, items, sources
from aggregator.store.timestamps import from_db, to_db
from aggregator.urls import same_page_key

log = logging.getLogger(__name__)

CHUNK = 500  # ids per IN (...) list: well under SQLite's and psycopg's parameter limits

_ITEM_COLUMNS = (
    items.c.id,
    items.c.source_id,
    sources.c.org,
    sources.c.kind,
    items.c.title,
    items.c.text,
    items.c.canonical_url,
    items.c.published,
    items.c.first_seen,
    items.c.cluster_id,
)
# What `SqlCandidateIndex.load` reads: the item, and its fingerprint as stored.
_LOAD_COLUMNS = (*_ITEM_COLUMNS, items.c.signature, items.c.buckets, items.c.dedupe_seq)


@dataclass(frozen=True, slots=True, kw_only=True)
class ClusterChanges:
    """What `assign_clusters` did: every given item's cluster, and the merges it made."""

    assigned: dict[int, int]  # item id -> cluster id
    merges: tuple[Merge, ...] = ()

    @property
    def merged(self) -> int:
        return sum(len(m.absorbed) for m in self.merges)


def _chunks(values: Sequence[int]) -> Iterator[Sequence[int]]:
    for start in range(0, len(values), CHUNK):
        yield values[start : start + CHUNK]


def _inserted_item(row: NewRow, org: OrgKind, kind: str) -> DedupeItem:
    """`_dedupe_item` of a row this transaction inserted, from what it inserted."""
    return DedupeItem(
        key=row.item_id,
        source_id=row.source_id,
        org=org,
        title=row.title,
        text=row.text,
        canonical_url=row.canonical_url,
        published=row.published,
        first_seen=row.first_seen,
        source_kind=kind,
    )


def _dedupe_item(row: Any) -> DedupeItem:
    return DedupeItem(
        key=int(row.id),
        source_id=row.source_id,
        org=OrgKind(row.org),
        title=row.title,
        text=row.text,
        canonical_url=row.canonical_url,
        published=from_db(row.published),
        first_seen=from_db(row.first_seen),
        source_kind=row.kind,
    )


# Features cache of one transaction, on the connection: several save_refresh calls of one
# write batch (hundreds of sources, one transaction) compare new items with the same recent
# items; each is tokenised once. Keyed by the transaction object, so a new transaction
# starts empty, and checked against the row (an id reused after a rolled-back savepoint, or
# an updated item, is recomputed). Bounded: cleared when full. Most entries are a new item's
# fingerprint (~3 KB); a compared item's word-level detail is ~25 KB, so 4,096 entries stay
# well under 100 MB, and hold a whole write batch (50 sources of ~30 items). Kept across
# transactions, the features of earlier batches saved no CPU measurably on a cold refresh
# and held ~10 MiB more.
_CACHE_KEY = "aggregator.dedupe.features"
CACHE_LIMIT = 4_096


def _transaction_cache(conn: Connection) -> dict[int, Features]:
    transaction = conn.get_transaction()
    held = conn.info.get(_CACHE_KEY)
    if held is None or held[0] is not transaction:
        held = (transaction, {})
        conn.info[_CACHE_KEY] = held
    cache: dict[int, Features] = held[1]
    if len(cache) > CACHE_LIMIT:
        cache.clear()
    return cache


def _in_window(column: Any) -> Any:
    return column.between(bindparam("low"), bindparam("high"))


def _not_numbered_since() -> Any:
    """Not numbered by this call (`below`: its first clock number): the call's own rows are
    taken from memory, and a cold refresh's batch found its thousands of rows again."""
    return or_(items.c.dedupe_seq.is_(None), items.c.dedupe_seq < bindparam("below"))


@functools.cache
def _batch_by_page() -> Select[Any]:
    """Rows whose link is one of the `pages` (`urls.same_page_key`): the expression index."""
    return select(items.c.id, page_key().label("page"), items.c.first_seen).where(
        page_key().in_(bindparam("pages", expanding=True)),
        _in_window(items.c.first_seen),
        _not_numbered_since(),
    )


@functools.cache
def _batch_by_hash() -> Select[Any]:
    return select(items.c.id, items.c.text_hash, items.c.first_seen).where(
        items.c.text_hash.in_(bindparam("hashes", expanding=True)),
        _in_window(items.c.first_seen),
        _not_numbered_since(),
    )


_NO_NUMBER = 2**62  # `below` when the call numbered nothing: every row is another's


@dataclass(frozen=True, slots=True)
class _Found:
    """One item's candidates as the lookups found them, before clusters are attached."""

    strong: frozenset[int]
    shared: dict[int, int]  # item id -> MinHash bands in common


class SqlCandidateIndex:
    """The store as a `CandidateIndex`, inside one transaction. Features are computed once
    per item and transaction (`_transaction_cache`); reads and writes go in batches."""

    def __init__(
        self,
        conn: Connection,
        *,
        now: datetime,
        thresholds: Thresholds = DEFAULT,
        new_rows: Sequence[NewRow] = (),
    ) -> None:
        self._conn = conn
        # Rows this transaction inserted, as inserted: `load` and `add_many` take them from
        # here instead of reading them back.
        self._new_rows = {row.item_id: row for row in new_rows}
        self._sources: dict[str, tuple[OrgKind, str]] = {}  # id -> org, kind
        # The primaries this call knows without reading them: a new row's cluster of one is
        # its own (`items._insert_new`), and a merge sets the primary of what it makes. A new
        # row's is kept as its item, made a Member when asked: few of them ever are.
        self._primaries: dict[int, Member | DedupeItem] = {}
        self._first_number: int | None = None  # the first clock number this call took
        self._numbered: set[int] = set()  # the items it numbered
        self._now = to_db(now)
        self._thresholds = thresholds
        self._features = _transaction_cache(conn)
        # Item id -> its cluster id when it was met; a cluster merged since is found in
        # `_absorbed` (`_current`): a merge need not rewrite every item met so far.
        self._cluster: dict[int, int] = {}
        self._absorbed: dict[int, int] = {}  # cluster id -> the one merge() folded it into
        self._added: set[int] = set()
        self._found: dict[int, _Found] = {}  # item id -> its looked-up candidates (prefetch)
        self._ranked: dict[int, list[int]] = {}  # item id -> its candidates, best first (_rank)
        self._signatures: dict[int, bytes] = {}  # candidate id -> stored MinHash signature
        self._shared = index_for(conn)  # the committed items' buckets, for every transaction
        self._overlay: Overlay = overlay_for(conn)  # this transaction's
        self._times: dict[int, datetime] = {}  # first seen: microseconds -> datetime
        self._unlisted: list[tuple[int, list[Features]]] = []  # written, not in the overlay yet
        self._rows: dict[int, Any] = {}  # candidates' rows read ahead by `prefetch`, for `load`
        self._checked: set[int] = set()  # items whose features `load` checked in this call

    # -- reading items ---------------------------------------------------------------------
    def load(
        self,
        ids: Sequence[int],
        fingerprints: Mapping[int, Fingerprint] | None = None,
        *,
        assigning: bool = False,
    ) -> list[Features]:
        """Features of the given stored items, in id order: one query per CHUNK ids, and
        features computed only for rows the transaction has not seen as they are. `assigning`:
        the items are new or changed, to be fingerprinted again; a changed item's stored
        fingerprint is its old text's, not to be used."""
        found: dict[int, Features] = {}
        # Checked against its row in this call already (a batch's items are candidates of
        # each other): nothing changes an item's row during a call.
        todo = []
        for i in sorted(set(ids)):
            if i in self._checked and i in self._features:
                found[i] = self._features[i]
            else:
                todo.append(i)
        rows = [self._rows.pop(i) for i in todo if i in self._rows]  # read ahead
        ahead = {int(row.id) for row in rows}
        inserted = [self._new_rows[i] for i in todo if i not in ahead and i in self._new_rows]
        for part in _chunks([i for i in todo if i not in ahead and i not in self._new_rows]):
            rows.extend(self._read(part))
        for row in rows:
            item = _dedupe_item(row)
            cached = self._features.get(row.id)
            if cached is None or cached.item != item:
                cached = self._features_of_row(row, item, fingerprints, current=not assigning)
                self._features[row.id] = cached
            found[row.id] = cached
            self._checked.add(int(row.id))
            if row.cluster_id is not None:
                self._cluster.setdefault(row.id, int(row.cluster_id))
        kinds = self._kinds_of({new.source_id for new in inserted})
        for new in inserted:
            item = _inserted_item(new, *kinds[new.source_id])
            cached = self._features.get(new.item_id)
            if cached is None or cached.item != item:
                given = fingerprints.get(new.item_id) if fingerprints else None
                cached = features_from(item, given, self._thresholds)  # none stored yet
                self._features[new.item_id] = cached
            found[new.item_id] = cached
            self._checked.add(new.item_id)
            self._cluster.setdefault(new.item_id, new.cluster_id)
            if self._current(self._cluster[new.item_id]) == new.cluster_id:  # not merged since
                self._primaries.setdefault(new.cluster_id, item)
        return [found[i] for i in sorted(found)]

    def _kinds_of(self, source_ids: Iterable[str]) -> dict[str, tuple[OrgKind, str]]:
        """Each source's org and kind, what `_dedupe_item` reads with a row: one query for
        those not read before."""
        missing = sorted(set(source_ids) - self._sources.keys())
        if missing:
            rows = self._conn.execute(
                select(sources.c.id, sources.c.org, sources.c.kind).where(sources.c.id.in_(missing))
            )
            self._sources.update((r.id, (OrgKind(r.org), r.kind)) for r in rows)
        return self._sources

    def _read(self, ids: Sequence[int]) -> Any:
        query = (
            select(*_LOAD_COLUMNS)
            .join(sources, sources.c.id == items.c.source_id)
            .where(items.c.id.in_(ids))
        )
        return self._conn.execute(query)

    def _features_of_row(
        self,
        row: Any,
        item: DedupeItem,
        fingerprints: Mapping[int, Fingerprint] | None,
        *,
        current: bool,
    ) -> Features:
        """`current`: the row's stored fingerprint, if any, is of its text as it stands."""
        given = fingerprints.get(row.id) if fingerprints else None
        if given is not None:
            return features_from(item, given, self._thresholds)
        if current and row.dedupe_seq is not None and row.signature is not None:
            # Indexed already: met as a candidate, so only its words are new work.
            stored = bytes(row.buckets or b"")
            return features_as_stored(item, bytes(row.signature), stored, self._thresholds)
        return features(item, self._thresholds)

    def features_of(self, keys: Sequence[Key]) -> dict[Key, Features]:
        return {f.key: f for f in self.load([_int(k) for k in keys])}

    # -- writing fingerprints ----------------------------------------------------------------
    def add_many(self, batch: Sequence[Features]) -> None:
        """Write the fingerprints of new items in one statement (not a few per item), and
        give a cluster to any that has none. Rows already as computed are left alone; the
        others are numbered from the clock and their pairs go to the transaction's overlay."""
        todo = [f for f in batch if _int(f.key) not in self._added]
        if not todo:
            return
        conn = self._conn
        ids = [_int(f.key) for f in todo]
        stored: dict[int, Any] = {}
        # A row this transaction inserted has no fingerprint yet, and its cluster of one is
        # known (`load`): nothing to read.
        for part in _chunks([i for i in ids if i not in self._new_rows]):
            rows = conn.execute(
                select(
                    items.c.id,
                    items.c.text_hash,
                    items.c.signature,
                    items.c.buckets,
                    items.c.dedupe_seq,
                    items.c.cluster_id,
                ).where(items.c.id.in_(part))
            )
            stored.update({int(r.id): r for r in rows})
        changed: list[tuple[Features, bytes]] = []
        rewritten: list[int] = []  # fingerprinted before, with another text since
        for f in todo:
            key = _int(f.key)
            row = stored.get(key)
            packed = f.packed
            if (
                row is None
                or row.dedupe_seq is None
                or row.text_hash != f.text_hash
                or row.signature != f.signature
                or row.buckets != packed
            ):
                changed.append((f, packed))
                if row is not None and row.dedupe_seq is not None:
                    rewritten.append(key)
            if row is not None and row.cluster_id is not None:
                self._cluster.setdefault(key, int(row.cluster_id))
        rewritten = self._no_longer_versions(rewritten, {_int(f.key): f for f in todo})
        if rewritten:
            detached = _detach(conn, rewritten, now=from_db(self._now))
            self._made(detached.values())
            self._cluster.update(detached)
        if changed:
            first = take_numbers(conn, len(changed))
            if self._first_number is None:
                self._first_number = first
            self._numbered.update(_int(f.key) for f, _ in changed)
            self._overlay.took(first, _int(changed[0][0].key), len(changed))
            _write_fingerprints(
                conn,
                [
                    (f.text_hash, f.signature, packed, first + n, _int(f.key))
                    for n, (f, packed) in enumerate(changed)
                ],
            )
            # Listed in the overlay after this call's lookups (`list_own`): until then they
            # are the batch's own rows, which the lookups take from memory.
            self._unlisted.append((first, [f for f, _ in changed]))
        for key in ids:
            if key not in self._cluster:  # the store gives each new item a cluster; be safe
                cluster = conn.execute(
                    clusters.insert()
                    .values(primary_item_id=key, size=1, created_at=self._now, updated_at=self._now)
                    .returning(clusters.c.id)
                ).scalar_one()
                conn.execute(
                    update(items)
                    .where(items.c.id == key)
                    .values(cluster_id=cluster, modified_at=self._now)
                )
                self._made([int(cluster)])
                self._cluster[key] = int(cluster)
        self._added.update(ids)

    def _no_longer_versions(self, rewritten: list[int], new: Mapping[int, Features]) -> list[int]:
        """Of the items whose text changed, those that are no longer a version of any item of
        another source in their cluster (`still_a_version`): they leave it (`_detach`), the
        others stay."""
        if not rewritten:
            return rewritten
        own = {key: self._cluster[key] for key in rewritten if key in self._cluster}
        members = self.members_of(sorted(set(own.values())))
        mates = {
            key: [
                _int(other)
                for other, source in members.get(cluster, ())
                if _int(other) != key and source != new[key].item.source_id
            ]
            for key, cluster in own.items()
        }
        wanted = sorted({other for found in mates.values() for other in found})
        loaded = {_int(f.key): f for f in self.load(wanted)} if wanted else {}
        return [
            key
            for key in rewritten
            if not any(
                still_a_version(new[key], loaded[other], self._thresholds)
                for other in mates.get(key, ())
                if other in loaded
            )
        ]

    def _made(self, made: Iterable[int]) -> None:
        """Clusters this call is about to give items: SQLite gives a new row the id after
        the largest, which may be that of a cluster a merge of this call deleted. The items
        met in that one are pointed at where it went, and the id means the new cluster from
        now on. (`assign_clusters` adds every item before it merges any, so this finds
        nothing there; it keeps `_current` right whatever the order of calls.)"""
        for cluster in made:
            if cluster not in self._absorbed:
                continue
            into = self._current(cluster)
            for item_id, met in self._cluster.items():
                if met == cluster:
                    self._cluster[item_id] = into
            for absorbed, went in self._absorbed.items():
                if went == cluster:
                    self._absorbed[absorbed] = into
            del self._absorbed[cluster]

    def list_own(self) -> None:
        """Put the pairs written by `add_many` in the transaction's overlay, for the
        transaction's later calls (after this call's lookups, and when the call ends)."""
        # An item's pairs are distinct, and so are its keys (a bucket hashes its band too);
        # the overlay sorts them.
        for first, written in self._unlisted:
            self._overlay.add(
                first,
                np.concatenate([_bucket_keys(f) for f in written]).astype(np.int64, copy=False),
                [(_int(f.key), f.item.seen, len(f.packed) // PAIR_BYTES) for f in written],
            )
        self._unlisted.clear()

    def catch_up(self, low: datetime) -> None:
        """Bring the shared bucket index up to what other transactions committed, at every
        call (one indexed query that mostly finds nothing). Not once per transaction: a
        savepoint rolled back on PostgreSQL gives back the cluster lock taken in it, and
        another writer may commit before this transaction takes it again. (Once this
        transaction has numbered rows, the clock's row stays locked until it ends, so what
        others commit is numbered below this transaction's first number.)"""
        overlay = self._overlay
        overlay.verify(self._conn)  # what rolled-back savepoints wrote goes
        with self._shared.lock:
            self._shared.catch_up(self._conn, low, before=overlay.first_number)

    # -- CandidateIndex ----------------------------------------------------------------------
    def add(self, item: Features) -> None:
        self.add_many([item])

    def prefetch(self, batch: Sequence[Features], window: timedelta) -> None:
        """Look up the candidates of every item of `batch` at once: one query per kind of
        evidence (URL, body hash, buckets) and CHUNK items, then one read of the candidates'
        clusters and signatures, instead of four queries per item. Call it after `add_many`,
        so the batch's items find each other. `candidates` then answers from memory, with
        the same answer the per-item queries give."""
        by_key = {_int(f.key): f for f in batch}
        keys = sorted(by_key)
        if batch:
            self.catch_up(min(f.item.seen for f in batch) - window)
        # Bucket rows by bucket key (`pair_key`: a bucket hashes its band too): the batch's
        # own from memory, the others' from one lookup of every key. An item's pairs are
        # distinct (one per band, one per procedure key), so a key of one batch item alone
        # finds nothing of the batch: only shared keys are listed. In numpy: a cold refresh's
        # batch has a million keys, and going through them as tuples was a tenth of the store
        # writer's CPU.
        buckets: dict[int, list[tuple[int, datetime]]] = {}
        # Each item's pairs that find a row, for `_gather`: a twentieth of all its pairs in a
        # cold refresh, and going through all of them was most of `_gather`'s time.
        hits: dict[int, list[tuple[int, int]]] = {}
        if batch:
            own_pairs = [_bucket_pairs(by_key[key]) for key in keys]
            pairs = np.concatenate(own_pairs)
            every = pairs[:, 1]
            owners = np.repeat(np.array(keys, dtype=np.int64), [len(p) for p in own_pairs])
            values, counts = np.unique(every, return_counts=True)
            shared = np.isin(every, values[counts > 1])
            for bucket, owner in zip(every[shared].tolist(), owners[shared].tolist(), strict=True):
                buckets.setdefault(bucket, []).append((owner, by_key[owner].item.seen))
            self._look_up_buckets(values, by_key, buckets)  # sorted, unique
            _by_id(buckets)
            listed = np.fromiter(buckets, dtype=np.int64, count=len(buckets))
            hit = np.isin(every, listed)
            for owner, band, bucket in zip(
                owners[hit].tolist(), pairs[hit, 0].tolist(), every[hit].tolist(), strict=True
            ):
                hits.setdefault(owner, []).append((band, bucket))
        # The same URL or body: the batch's own rows from memory, the others' from the
        # database (by_key is skipped there: an item the call did not number again).
        own_urls: dict[str, list[tuple[int, datetime]]] = {}
        own_hashes: dict[str, list[tuple[int, datetime]]] = {}
        for key in keys:
            f = by_key[key]
            own_urls.setdefault(same_page_key(f.item.canonical_url), []).append((key, f.item.seen))
            if f.text_hash is not None:
                own_hashes.setdefault(f.text_hash, []).append((key, f.item.seen))
        below = self._first_number
        if below is None or not self._numbered.issubset(by_key):  # an item looked up alone
            below = _NO_NUMBER
        for part in _chunks(keys):
            chunk = [by_key[k] for k in part]
            seen = [f.item.seen for f in chunk]
            params = {
                "low": to_db(min(seen) - window),
                "high": to_db(max(seen) + window),
                "below": below,
            }
            limit = self._thresholds.max_candidates
            # By `same_page_key`: the stored links of every spelling of the page.
            wanted = sorted({same_page_key(f.item.canonical_url) for f in chunk})
            urls = {page: list(own_urls[page]) for page in wanted}
            rows = self._conn.execute(_batch_by_page(), {**params, "pages": wanted})
            for r in rows:
                if r.id not in by_key:
                    urls[r.page].append((int(r.id), from_db(r.first_seen)))
            wanted = sorted({f.text_hash for f in chunk if f.text_hash is not None})
            hashes = {text_hash: list(own_hashes[text_hash]) for text_hash in wanted}
            if wanted:
                rows = self._conn.execute(_batch_by_hash(), {**params, "hashes": wanted})
                for r in rows:
                    if r.id not in by_key:
                        hashes[r.text_hash].append((int(r.id), from_db(r.first_seen)))
            _by_id(urls)
            _by_id(hashes)
            for f in chunk:
                key = _int(f.key)
                self._found[key] = _gather(
                    f, hits.get(key, ()), window, limit, urls=urls, hashes=hashes, buckets=buckets
                )
        ids = sorted({i for found in self._found.values() for i in (*found.strong, *found.shared)})
        for i in ids:
            own = by_key.get(i)
            if own is not None and i in self._cluster:  # the batch's: as `add_many` wrote it
                self._signatures[i] = own.signature
        for part in _chunks([i for i in ids if i not in self._signatures]):
            rows = self._conn.execute(
                select(items.c.id, items.c.cluster_id, items.c.signature).where(
                    items.c.id.in_(part)
                )
            )
            for r in rows:
                self._cluster.setdefault(int(r.id), int(r.cluster_id))
                self._signatures[int(r.id)] = bytes(r.signature or b"")
        self._rank(batch)
        self._read_ahead(batch, set(by_key))
        self.list_own()

    def _rank(self, batch: Sequence[Features]) -> None:
        """Each item's candidates as `candidates` returns them: best first, at most
        max_candidates, and without those found by MinHash bands alone whose signature
        estimates a Jaccard below min_estimated_jaccard. `assign` would never compare those
        (`_worth_verifying`), and dropping them after the cut leaves the others in order.
        Their estimates in one array operation for the whole batch: building and estimating
        a cold refresh's 150,000 candidates one item at a time was a tenth of the writer."""
        limit = self._thresholds.max_candidates
        ranked: dict[int, list[int]] = {}
        weak: list[tuple[int, int]] = []  # (item, candidate)
        for f in batch:
            key = _int(f.key)
            found = self._found[key]
            strong, shared = found.strong, found.shared
            ids = [i for i in strong.union(shared) if i in self._signatures]  # else deleted
            ids.sort(key=lambda i: stored_candidate_rank(i in strong, shared.get(i, 0), i))
            ranked[key] = ids[:limit]
            weak.extend((key, i) for i in ranked[key] if i not in strong)
        by_key = {_int(f.key): f for f in batch}
        shares = paired_estimates(
            [by_key[key].signature for key, _ in weak],
            [self._signatures[i] for _, i in weak],
        )
        least = self._thresholds.min_estimated_jaccard
        hopeless = {pair for pair, share in zip(weak, shares, strict=True) if share < least}
        for key, ids in ranked.items():
            self._ranked[key] = [i for i in ids if (key, i) not in hopeless]

    def _read_ahead(self, batch: Sequence[Features], own: set[int]) -> None:
        """Read, in a few queries, the rows of the candidates `assign` may compare exactly:
        those `_rank` kept. Read one item's candidates at a time, they took a query each
        (4,000 queries for a cold refresh of 30,000 items)."""
        wanted = {i for f in batch for i in self._ranked[_int(f.key)]}
        # The batch's own items are loaded already, and so are those checked before.
        for part in _chunks(sorted(wanted - own - self._checked - self._rows.keys())):
            self._rows.update((int(row.id), row) for row in self._read(part))

    def _look_up_buckets(
        self,
        wanted: npt.NDArray[np.int64],
        batch: Mapping[int, Features],
        buckets: dict[int, list[tuple[int, datetime]]],
    ) -> None:
        """Other items' rows in the `wanted` buckets (sorted, unique keys), from the shared
        index and the transaction's overlay, added to `buckets` (the batch's own rows are
        there already)."""
        found: dict[int, list[tuple[int, int]]] = {}
        with self._shared.lock:
            self._shared.find(wanted, found)
        self._overlay.find(wanted, found)
        times = self._times
        for bucket, rows in found.items():
            others = []
            for item_id, micros in rows:
                if item_id in batch:
                    continue
                seen = times.get(micros)
                if seen is None:
                    seen = times[micros] = from_micros(micros)
                others.append((item_id, seen))
            if others:
                buckets.setdefault(bucket, []).extend(others)

    def candidates(self, item: Features, window: timedelta) -> list[Candidate]:
        """At most max_candidates, best first. From what `prefetch` found when it ran for
        this item, else by looking the item up alone (the same answer, four queries)."""
        key = _int(item.key)
        if key not in self._found:
            self.prefetch([item], window)
        found = self._found[key]
        return [
            Candidate(
                key=item_id,
                cluster=self._current(self._cluster[item_id]),
                shared_bands=found.shared.get(item_id, 0),
                strong=item_id in found.strong,
                signature=self._signatures[item_id],
            )
            for item_id in self._ranked[key]  # best first (`_rank`)
        ]

    def cluster_of(self, key: Key) -> ClusterId:
        return self._current(self._cluster[_int(key)])

    def _current(self, cluster: int) -> int:
        """The cluster that `cluster` is part of now: itself, or the one it was merged into."""
        while cluster in self._absorbed:
            cluster = self._absorbed[cluster]
        return cluster

    def primary_of(self, cluster: ClusterId) -> Member:
        cluster_id = _int(cluster)
        known = self._primaries.get(cluster_id)
        if known is not None:
            return known if isinstance(known, Member) else member(known)
        primary = self._conn.execute(
            select(clusters.c.primary_item_id).where(clusters.c.id == cluster_id)
        ).scalar()
        query = select(items.c.id, items.c.published, sources.c.org).join(
            sources, sources.c.id == items.c.source_id
        )
        if primary is not None:
            rows = self._conn.execute(query.where(items.c.id == primary)).all()
        else:  # a cluster whose primary was never set: the rule over all its members
            rows = self._conn.execute(query.where(items.c.cluster_id == cluster_id)).all()
        if not rows:
            raise StoreError(f"cluster {cluster_id} has no members")
        return choose_primary(
            Member(key=int(r.id), org=OrgKind(r.org), published=from_db(r.published)) for r in rows
        )

    def members_of(
        self, clusters_: Sequence[ClusterId], *, per_source: int | None = None
    ) -> dict[ClusterId, list[Sourced]]:
        """One indexed read (items.cluster_id) of the clusters an item would merge; with
        `per_source`, at most that many members of each source in each (the lowest ids):
        a cluster of thousands of one page's entries is not read whole for every item that
        meets it."""
        ids = sorted({_int(c) for c in clusters_})
        found: dict[ClusterId, list[Sourced]] = {c: [] for c in ids}
        for part in _chunks(ids):
            query = select(items.c.id, items.c.source_id, items.c.cluster_id).where(
                items.c.cluster_id.in_(part)
            )
            if per_source is not None:
                place = (
                    func.row_number()
                    .over(partition_by=(items.c.cluster_id, items.c.source_id), order_by=items.c.id)
                    .label("place")
                )
                ranked = query.add_columns(place).subquery("ranked")
                query = select(ranked.c.id, ranked.c.source_id, ranked.c.cluster_id).where(
                    ranked.c.place <= per_source
                )
            rows = self._conn.execute(query)
            for r in rows:
                found[int(r.cluster_id)].append((int(r.id), r.source_id))
        return found

    def merge(self, clusters_: Sequence[ClusterId], primary: Member) -> ClusterId:
        ids = sorted({_int(c) for c in clusters_})
        into, absorbed = ids[0], ids[1:]  # the oldest cluster keeps its id
        conn = self._conn
        merged = {"into": into, "absorbed": absorbed, "now": self._now}
        conn.execute(_move_members(), merged)
        conn.execute(_drop_clusters(), merged)
        size = conn.execute(_cluster_size(), merged).scalar_one()
        conn.execute(_set_merged(), {**merged, "primary": _int(primary.key), "size": size})
        for cluster_id in absorbed:
            self._primaries.pop(cluster_id, None)
            self._absorbed[cluster_id] = into
        self._primaries[into] = primary
        return into


# A merge's statements, built once (building them was a third of a merge's CPU).
@functools.cache
def _move_members() -> Any:
    return (
        update(items)
        .where(items.c.cluster_id.in_(bindparam("absorbed", expanding=True)))
        .values(cluster_id=bindparam("into"), modified_at=bindparam("now"))
    )


@functools.cache
def _drop_clusters() -> Any:
    return delete(clusters).where(clusters.c.id.in_(bindparam("absorbed", expanding=True)))


@functools.cache
def _cluster_size() -> Any:
    return select(func.count()).select_from(items).where(items.c.cluster_id == bindparam("into"))


@functools.cache
def _set_merged() -> Any:
    return (
        update(clusters)
        .where(clusters.c.id == bindparam("into"))
        .values(
            primary_item_id=bindparam("primary"),
            size=bindparam("size"),
            updated_at=bindparam("now"),
        )
    )


def _bucket_pairs(f: Features) -> npt.NDArray[np.int64]:
    """The item's (band, bucket) pairs as an (n, 2) array, from its packed pairs: sorted
    little-endian rows (dedupe/pairs.py). A pair's bucket is its key (`pair_key`)."""
    return np.frombuffer(f.packed, dtype="<i8").astype(np.int64).reshape(-1, 2)


def _bucket_keys(f: Features) -> npt.NDArray[np.int64]:
    """The item's bucket keys (`pair_key` of each pair)."""
    return _bucket_pairs(f)[:, 1]


_FINGERPRINT_COLUMNS = ("text_hash", "signature", "buckets", "dedupe_seq")
_FINGERPRINT_PARAMETERS = (*(f"b_{column}" for column in _FINGERPRINT_COLUMNS), "b_id")


def _write_fingerprints(
    conn: Connection, rows: Sequence[tuple[str | None, bytes, bytes, int, int]]
) -> None:
    """(text hash, signature, packed buckets, clock number, item id) per item. On SQLite
    straight to the driver: SQLAlchemy's processing of each row's parameters (two blobs)
    cost about what SQLite took to write the row, for a cold refresh's thirty thousand."""
    if conn.dialect.name == "sqlite":
        assignments = ", ".join(f"{column} = ?" for column in _FINGERPRINT_COLUMNS)
        conn.exec_driver_sql(f"UPDATE items SET {assignments} WHERE id = ?", rows)
        return
    conn.execute(
        update(items)
        .where(items.c.id == bindparam("b_id"))
        .values({column: bindparam(f"b_{column}") for column in _FINGERPRINT_COLUMNS}),
        [dict(zip(_FINGERPRINT_PARAMETERS, row, strict=True)) for row in rows],
    )


def _int(value: object) -> int:
    if not isinstance(value, int):
        raise TypeError(f"store keys are item ids, got {value!r}")
    return value


def _by_id(found: Mapping[Any, list[tuple[int, datetime]]]) -> None:
    """Sort each list of lookup rows by item id, in place, as `_gather` reads them."""
    for rows in found.values():
        if len(rows) > 1:
            rows.sort()


def _gather(
    item: Features,
    pairs: Iterable[tuple[int, int]],
    window: timedelta,
    limit: int,
    *,
    urls: dict[str, list[tuple[int, datetime]]],
    hashes: dict[str, list[tuple[int, datetime]]],
    buckets: dict[int, list[tuple[int, datetime]]],
) -> _Found:
    """One item's candidates among a batch's lookup rows: the rows of its URL, its body hash
    and its buckets (`pairs`: its (band, bucket) pairs listed in `buckets`, the others find
    nothing), other items only, first seen within `window` of it. As each lookup had
    its own LIMIT: at most `limit` per URL, per hash and per bucket (lowest ids), and of the
    bucket matches the `limit` sharing the most non-MinHash bands, then MinHash bands, then
    id. The rows are sorted by id (`_by_id`).

    A bucket's `limit` bounds the work whatever the data: a listing page of 13,000 entries
    alike but for a number put them all in the same buckets, and going through every row of
    each for every item (quadratic) kept a refresh busy for over ten minutes. A bucket that
    full is no evidence of a copy: the candidates it gives are the first `limit` of them."""
    key = _int(item.key)
    low, high = item.item.seen - window, item.item.seen + window

    def near(rows: list[tuple[int, datetime]] | None) -> list[int]:
        if rows is None or (len(rows) == 1 and rows[0][0] == key):  # most: itself alone
            return []
        found: list[int] = []
        for i, seen in rows:
            if i != key and low <= seen <= high:
                found.append(i)
                if len(found) == limit:
                    break
        return found

    strong = set(near(urls.get(same_page_key(item.item.canonical_url))))
    if item.text_hash is not None:
        strong.update(near(hashes.get(item.text_hash)))
    minhash: dict[int, int] = {}
    extra: dict[int, int] = {}
    for band, bucket in pairs:  # distinct (see `prefetch`)
        counts = minhash if band >= 0 else extra
        for i in near(buckets.get(bucket)):
            counts[i] = counts.get(i, 0) + 1
            minhash.setdefault(i, 0)
    if not minhash:
        return _Found(strong=frozenset(strong), shared={})
    ranked = sorted(minhash, key=lambda i: (-extra.get(i, 0), -minhash[i], i))[:limit]
    strong.update(i for i in ranked if extra.get(i, 0))
    return _Found(strong=frozenset(strong), shared={i: minhash[i] for i in ranked})


def after_commit(conn: Connection) -> Callable[[], None]:
    """What to call once the transaction of `conn` has committed: the rows it fingerprinted
    go straight into the process's bucket index (`BucketIndex.take_in`), not read back by
    the next transaction. Call it as the transaction's last statement: what rolled-back
    savepoints wrote is dropped from its overlay first (one query)."""
    overlay = overlay_for(conn)
    if overlay.first_number is None:
        return lambda: None
    overlay.verify(conn)
    shared = index_for(conn)

    def take_in() -> None:
        with shared.lock:
            try:
                shared.take_in(overlay)
            except Exception:  # the batch stands: the index is read again from the database
                log.exception("dedupe's bucket index could not take a committed batch in")
                shared.forget()

    return take_in


def assign_clusters(
    conn: Connection,
    new_item_ids: Sequence[int],
    *,
    now: datetime,
    window: timedelta | None = None,
    thresholds: Thresholds = DEFAULT,
    fingerprints: Mapping[int, Fingerprint] | None = None,
    new_rows: Sequence[NewRow] = (),
) -> ClusterChanges:
    """Fingerprint the given stored items and fold each into every cluster it matches.

    Call it inside the transaction that stored the items (each with its own cluster, or
    none). Items are taken in id order, so later items of a batch see earlier ones.
    Idempotent: a second call finds every match already in the item's own cluster.
    `fingerprints` (item id -> Fingerprint) are used where they fit their item. `new_rows`:
    the rows of given items this transaction inserted and left as they were (`items.save`),
    which need not be read back.
    """
    window = thresholds.window if window is None else window
    index = SqlCandidateIndex(conn, now=now, thresholds=thresholds, new_rows=new_rows)
    try:
        merges = []
        batch = index.load(new_item_ids, fingerprints, assigning=True)
        index.add_many(batch)  # every new item's fingerprints first, in a few statements
        index.prefetch(batch, window)  # then every new item's candidates, in a few queries
        for item in batch:
            merge = assign(index, item, window=window, thresholds=thresholds)
            if merge is not None:
                merges.append(merge)
        index.list_own()
        assigned: dict[int, int] = {}
        for part in _chunks(sorted(set(new_item_ids))):
            rows = conn.execute(select(items.c.id, items.c.cluster_id).where(items.c.id.in_(part)))
            assigned.update({int(r.id): int(r.cluster_id) for r in rows})
    except SQLAlchemyError as exc:
        raise StoreError(f"clustering failed: {describe(exc)}") from exc
    return ClusterChanges(assigned=assigned, merges=tuple(merges))


def _detach(conn: Connection, item_ids: Sequence[int], *, now: datetime) -> dict[int, int]:
    """Give each of the items that shares a cluster a cluster of its own again; item id ->
    its new cluster. For items whose text changed since they were clustered: one may no
    longer match the others (a teaser replaced by the outlet's own reporting), and
    assigning only ever merges. One that still matches joins them again, into the cluster's
    own id (the older id survives a merge); the others keep theirs."""
    stamp = to_db(now)
    rows: list[Any] = []
    for part in _chunks(sorted(set(item_ids))):
        rows += conn.execute(
            select(items.c.id, items.c.cluster_id, clusters.c.size, clusters.c.primary_item_id)
            .join(clusters, clusters.c.id == items.c.cluster_id)
            .where(items.c.id.in_(part), clusters.c.size > 1)
        ).all()
    per_cluster: dict[int, int] = Counter(int(r.cluster_id) for r in rows)
    # When every member of a cluster changed, its primary stays: the cluster keeps its id
    # (API links, digests) whatever the others do.
    shared = [
        (int(r.id), int(r.cluster_id))
        for r in rows
        if not (per_cluster[int(r.cluster_id)] >= r.size and r.primary_item_id == r.id)
    ]
    moved: dict[int, int] = {}
    for item_id, _ in shared:
        own = conn.execute(
            clusters.insert()
            .values(primary_item_id=item_id, size=1, created_at=stamp, updated_at=stamp)
            .returning(clusters.c.id)
        ).scalar_one()
        conn.execute(
            update(items).where(items.c.id == item_id).values(cluster_id=own, modified_at=stamp)
        )
        moved[item_id] = int(own)
    for cluster_id in sorted({cluster for _, cluster in shared}):
        members = conn.execute(
            select(items.c.id, items.c.published, sources.c.org)
            .join(sources, sources.c.id == items.c.source_id)
            .where(items.c.cluster_id == cluster_id)
        ).all()
        if not members:
            conn.execute(delete(clusters).where(clusters.c.id == cluster_id))
            continue
        primary = choose_primary(
            Member(key=int(m.id), org=OrgKind(m.org), published=from_db(m.published))
            for m in members
        )
        conn.execute(
            update(clusters)
            .where(clusters.c.id == cluster_id)
            .values(primary_item_id=_int(primary.key), size=len(members), updated_at=stamp)
        )
    return moved


# -- reading clusters -------------------------------------------------------------------------
@dataclass(frozen=True, slots=True, kw_only=True)
class ClusterMember:
    item_id: int
    source_id: str
    org: OrgKind
    title: str
    url: str
    published: datetime
    primary: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class ClusterView:
    id: int
    primary_item_id: int | None
    size: int
    updated_at: datetime
    members: tuple[ClusterMember, ...]  # the primary first, then by publication


def list_clusters(
    conn: Connection, *, since: datetime | None = None, min_size: int = 2
) -> list[ClusterView]:
    """Clusters changed since `since` with at least `min_size` members, newest first."""
    query = select(clusters).where(clusters.c.size >= min_size)
    if since is not None:
        query = query.where(clusters.c.updated_at >= to_db(since))
    rows = conn.execute(query.order_by(clusters.c.updated_at.desc(), clusters.c.id)).all()
    by_cluster: dict[int, list[Any]] = {int(r.id): [] for r in rows}
    for part in _chunks(list(by_cluster)):
        member_rows = conn.execute(
            select(
                items.c.id,
                items.c.cluster_id,
                items.c.source_id,
                sources.c.org,
                items.c.title,
                items.c.url,
                items.c.published,
            )
            .join(sources, sources.c.id == items.c.source_id)
            .where(items.c.cluster_id.in_(part))
        )
        for m in member_rows:
            by_cluster[int(m.cluster_id)].append(m)
    views = []
    for r in rows:
        primary = None if r.primary_item_id is None else int(r.primary_item_id)
        members = sorted(
            (
                ClusterMember(
                    item_id=int(m.id),
                    source_id=m.source_id,
                    org=OrgKind(m.org),
                    title=m.title,
                    url=m.url,
                    published=from_db(m.published),
                    primary=int(m.id) == primary,
                )
                for m in by_cluster[int(r.id)]
            ),
            key=lambda m: (not m.primary, m.published, m.item_id),
        )
        views.append(
            ClusterView(
                id=int(r.id),
                primary_item_id=primary,
                size=int(r.size),
                updated_at=from_db(r.updated_at),
                members=tuple(members),
            )
        )
    return views


def stored_items(conn: Connection, *, since: datetime | None = None) -> list[DedupeItem]:
    """Every stored item (first seen since `since`) as the dedupe stage sees it."""
    query = select(*_ITEM_COLUMNS).join(sources, sources.c.id == items.c.source_id)
    if since is not None:
        query = query.where(items.c.first_seen >= to_db(since))
    return [_dedupe_item(row) for row in conn.execute(query.order_by(items.c.id))]


def stored_clusters(conn: Connection, *, since: datetime | None = None) -> dict[int, int]:
    """item id -> stored cluster id, for the items `stored_items` returns."""
    query = select(items.c.id, items.c.cluster_id)
    if since is not None:
        query = query.where(items.c.first_seen >= to_db(since))
    return {int(r.id): int(r.cluster_id) for r in conn.execute(query) if r.cluster_id is not None}


__all__ = [
    "ClusterChanges",
    "ClusterMember",
    "ClusterView",
    "SqlCandidateIndex",
    "assign_clusters",
    "list_clusters",
    "stored_clusters",
    "stored_items",
]
