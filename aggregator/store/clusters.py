"""Dedupe against the store: the SQL `CandidateIndex` and `assign_clusters`.

Everything takes the caller's `Connection`, so clustering runs inside the transaction that
saved the items: either the items and their clusters are stored, or neither is. The match
decision and the merge logic are the dedupe stage's (`aggregator.dedupe.cluster.assign`);
this module only finds candidates and moves rows.

Cost per new item: one indexed lookup per LSH band (the (band, bucket) primary key), one on
canonical_url and one on text_hash, each bounded by the first-seen window and a LIMIT, one
read of the candidates' clusters and signatures, then an exact check of at most
thresholds.max_verified of them, read in one query. None of it scans the archive, so it does
not grow with it. The new items' fingerprints are written for the whole call at once.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    Connection,
    Select,
    and_,
    bindparam,
    case,
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
    assign,
    candidate_order,
    choose_primary,
)
from aggregator.dedupe.records import DedupeItem, Features, Key, Member
from aggregator.dedupe.signatures import features
from aggregator.dedupe.thresholds import DEFAULT, Thresholds
from aggregator.errors import StoreError
from aggregator.models import OrgKind
from aggregator.store.schema import clusters, items, lsh_buckets, sources
from aggregator.store.timestamps import from_db, to_db

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
# an updated item, is recomputed). Bounded: cleared when full.
_CACHE_KEY = "aggregator.dedupe.features"
CACHE_LIMIT = 20_000


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


@functools.cache
def _by_url(limit: int) -> Select[Any]:
    return (
        select(items.c.id)
        .where(items.c.canonical_url == bindparam("url"), _in_window(items.c.first_seen))
        .where(items.c.id != bindparam("key"))
        .limit(limit)
    )


@functools.cache
def _by_hash(limit: int) -> Select[Any]:
    return (
        select(items.c.id)
        .where(items.c.text_hash == bindparam("hash"), _in_window(items.c.first_seen))
        .where(items.c.id != bindparam("key"))
        .limit(limit)
    )


@functools.cache
def _by_buckets(count: int, limit: int) -> Select[Any]:
    """Items sharing any of `count` (band, bucket) pairs, grouped: MinHash bands shared and
    other bands shared (title, lead, procedure), most first. An OR of equalities, not a
    row-value IN: SQLite scans the whole table for "(band, bucket) IN (VALUES ...)" but
    answers each equality from the primary key."""
    minhash = func.sum(case((lsh_buckets.c.band >= 0, 1), else_=0))
    extra = func.sum(case((lsh_buckets.c.band < 0, 1), else_=0))
    return (
        select(lsh_buckets.c.item_id, minhash.label("shared"), extra.label("extra"))
        .where(
            or_(
                *(
                    and_(
                        lsh_buckets.c.band == bindparam(f"band{n}"),
                        lsh_buckets.c.bucket == bindparam(f"bucket{n}"),
                    )
                    for n in range(count)
                )
            ),
            _in_window(lsh_buckets.c.first_seen),
            lsh_buckets.c.item_id != bindparam("key"),
        )
        .group_by(lsh_buckets.c.item_id)
        .order_by(extra.desc(), minhash.desc(), lsh_buckets.c.item_id)
        .limit(limit)
    )


class SqlCandidateIndex:
    """The store as a `CandidateIndex`, inside one transaction. Features are computed once
    per item and transaction (`_transaction_cache`); reads and writes go in batches."""

    def __init__(
        self, conn: Connection, *, now: datetime, thresholds: Thresholds = DEFAULT
    ) -> None:
        self._conn = conn
        self._now = to_db(now)
        self._thresholds = thresholds
        self._features = _transaction_cache(conn)
        self._cluster: dict[int, int] = {}  # item id -> cluster id, kept current by merge()
        self._added: set[int] = set()

    # -- reading items ---------------------------------------------------------------------
    def load(self, ids: Sequence[int]) -> list[Features]:
        """Features of the given stored items, in id order: one query per CHUNK ids, and
        features computed only for rows the transaction has not seen as they are."""
        found: dict[int, Features] = {}
        for part in _chunks(sorted(set(ids))):
            query = (
                select(*_ITEM_COLUMNS)
                .join(sources, sources.c.id == items.c.source_id)
                .where(items.c.id.in_(part))
            )
            for row in self._conn.execute(query):
                item = _dedupe_item(row)
                cached = self._features.get(row.id)
                if cached is None or cached.item != item:
                    cached = features(item, self._thresholds)
                    self._features[row.id] = cached
                found[row.id] = cached
                if row.cluster_id is not None:
                    self._cluster.setdefault(row.id, int(row.cluster_id))
        return [found[i] for i in sorted(found)]

    def features_of(self, keys: Sequence[Key]) -> dict[Key, Features]:
        return {f.key: f for f in self.load([_int(k) for k in keys])}

    # -- writing fingerprints ----------------------------------------------------------------
    def add_many(self, batch: Sequence[Features]) -> None:
        """Write the fingerprints of new items in a few statements (not a few per item), and
        give a cluster to any that has none. Rows already as computed are left alone."""
        todo = [f for f in batch if _int(f.key) not in self._added]
        if not todo:
            return
        conn = self._conn
        ids = [_int(f.key) for f in todo]
        stored: dict[int, Any] = {}
        for part in _chunks(ids):
            rows = conn.execute(
                select(items.c.id, items.c.text_hash, items.c.signature, items.c.cluster_id).where(
                    items.c.id.in_(part)
                )
            )
            stored.update({int(r.id): r for r in rows})
        current: dict[int, set[tuple[int, int]]] = {i: set() for i in ids}
        for part in _chunks(ids):
            rows = conn.execute(
                select(lsh_buckets.c.item_id, lsh_buckets.c.band, lsh_buckets.c.bucket).where(
                    lsh_buckets.c.item_id.in_(part)
                )
            )
            for r in rows:
                current[int(r.item_id)].add((int(r.band), int(r.bucket)))
        changed_hash = []
        stale: list[int] = []
        fresh: list[dict[str, Any]] = []
        for f in todo:
            key = _int(f.key)
            row = stored.get(key)
            if row is None or row.text_hash != f.text_hash or row.signature != f.signature:
                changed_hash.append({"b_id": key, "text_hash": f.text_hash, "sig": f.signature})
            wanted = set(f.buckets)
            # Replace, not append: an updated item's old buckets would find stale candidates.
            if current[key] != wanted:
                if current[key]:
                    stale.append(key)
                seen = to_db(f.item.seen)
                fresh.extend(
                    {"band": band, "bucket": bucket, "item_id": key, "first_seen": seen}
                    for band, bucket in sorted(wanted)
                )
            if row is not None and row.cluster_id is not None:
                self._cluster.setdefault(key, int(row.cluster_id))
        if changed_hash:
            conn.execute(
                update(items)
                .where(items.c.id == bindparam("b_id"))
                .values(text_hash=bindparam("text_hash"), signature=bindparam("sig")),
                changed_hash,
            )
        for part in _chunks(stale):
            conn.execute(delete(lsh_buckets).where(lsh_buckets.c.item_id.in_(part)))
        if fresh:
            conn.execute(lsh_buckets.insert(), fresh)
        for key in ids:
            if key not in self._cluster:  # the store gives each new item a cluster; be safe
                cluster = conn.execute(
                    clusters.insert()
                    .values(primary_item_id=key, size=1, created_at=self._now, updated_at=self._now)
                    .returning(clusters.c.id)
                ).scalar_one()
                conn.execute(update(items).where(items.c.id == key).values(cluster_id=cluster))
                self._cluster[key] = int(cluster)
        self._added.update(ids)

    # -- CandidateIndex ----------------------------------------------------------------------
    def add(self, item: Features) -> None:
        self.add_many([item])

    def candidates(self, item: Features, window: timedelta) -> list[Candidate]:
        """At most max_candidates, best first: three indexed lookups (URL, body hash, the
        item's buckets grouped per item, most shared first), then one read of the found
        items' clusters and stored signatures. The statements are built once per shape
        (`_by_url`, `_by_hash`, `_by_buckets`) and only their parameters change per item."""
        key = _int(item.key)
        seen = item.item.seen
        window_params = {"low": to_db(seen - window), "high": to_db(seen + window), "key": key}
        limit = self._thresholds.max_candidates
        strong: set[int] = set(
            self._conn.execute(
                _by_url(limit), {"url": item.item.canonical_url, **window_params}
            ).scalars()
        )
        if item.text_hash is not None:
            strong.update(
                self._conn.execute(
                    _by_hash(limit), {"hash": item.text_hash, **window_params}
                ).scalars()
            )
        shared: dict[int, int] = {}
        pairs = sorted(set(item.buckets))
        if pairs:
            params: dict[str, Any] = dict(window_params)
            for n, (band, bucket) in enumerate(pairs):
                params[f"band{n}"], params[f"bucket{n}"] = band, bucket
            for r in self._conn.execute(_by_buckets(len(pairs), limit), params):
                shared[int(r.item_id)] = int(r.shared)
                if r.extra:
                    strong.add(int(r.item_id))
        found = sorted(strong | set(shared))
        out = []
        for part in _chunks(found):
            rows = self._conn.execute(
                select(items.c.id, items.c.cluster_id, items.c.signature).where(
                    items.c.id.in_(part)
                )
            )
            for r in rows:
                item_id = int(r.id)
                cluster = self._cluster.setdefault(item_id, int(r.cluster_id))
                out.append(
                    Candidate(
                        key=item_id,
                        cluster=cluster,
                        shared_bands=shared.get(item_id, 0),
                        strong=item_id in strong,
                        signature=bytes(r.signature or b""),
                    )
                )
        return sorted(out, key=candidate_order)[:limit]

    def cluster_of(self, key: Key) -> ClusterId:
        return self._cluster[_int(key)]

    def primary_of(self, cluster: ClusterId) -> Member:
        cluster_id = _int(cluster)
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

    def merge(self, clusters_: Sequence[ClusterId], primary: Member) -> ClusterId:
        ids = sorted({_int(c) for c in clusters_})
        into, absorbed = ids[0], ids[1:]  # the oldest cluster keeps its id
        conn = self._conn
        conn.execute(update(items).where(items.c.cluster_id.in_(absorbed)).values(cluster_id=into))
        conn.execute(delete(clusters).where(clusters.c.id.in_(absorbed)))
        size = conn.execute(
            select(func.count()).select_from(items).where(items.c.cluster_id == into)
        ).scalar_one()
        conn.execute(
            update(clusters)
            .where(clusters.c.id == into)
            .values(primary_item_id=_int(primary.key), size=size, updated_at=self._now)
        )
        gone = set(absorbed)
        for item_id, cluster_id in self._cluster.items():
            if cluster_id in gone:
                self._cluster[item_id] = into
        return into


def _int(value: object) -> int:
    if not isinstance(value, int):
        raise TypeError(f"store keys are item ids, got {value!r}")
    return value


def assign_clusters(
    conn: Connection,
    new_item_ids: Sequence[int],
    *,
    now: datetime,
    window: timedelta | None = None,
    thresholds: Thresholds = DEFAULT,
) -> ClusterChanges:
    """Fingerprint the given stored items and fold each into every cluster it matches.

    Call it inside the transaction that stored the items (each with its own cluster, or
    none). Items are taken in id order, so later items of a batch see earlier ones.
    Idempotent: a second call finds every match already in the item's own cluster.
    """
    window = thresholds.window if window is None else window
    index = SqlCandidateIndex(conn, now=now, thresholds=thresholds)
    try:
        merges = []
        batch = index.load(new_item_ids)
        index.add_many(batch)  # every new item's fingerprints first, in a few statements
        for item in batch:
            merge = assign(index, item, window=window, thresholds=thresholds)
            if merge is not None:
                merges.append(merge)
        assigned: dict[int, int] = {}
        for part in _chunks(sorted(set(new_item_ids))):
            rows = conn.execute(select(items.c.id, items.c.cluster_id).where(items.c.id.in_(part)))
            assigned.update({int(r.id): int(r.cluster_id) for r in rows})
    except SQLAlchemyError as exc:
        raise StoreError(f"clustering failed: {exc.__class__.__name__}: {exc}") from exc
    return ClusterChanges(assigned=assigned, merges=tuple(merges))


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
