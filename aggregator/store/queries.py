"""Read queries for the API: items with filters and keyset pages, clusters, tags, digests.

Every function takes an open `Connection` and returns frozen records; nothing here writes.
Lists are paged by key, never by offset: a page is "the next `limit` rows after this key",
so a page costs the same deep in the archive as at the top, and rows that arrive between
two requests cannot shift what the next page holds. Each listing is also cut at a
*snapshot* (the highest item id when the first page was read), so an item stored later
neither appears in later pages nor changes the "sources" count of the ones listed.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Connection,
    Select,
    and_,
    bindparam,
    case,
    exists,
    func,
    literal,
    or_,
    select,
)

from aggregator.models import OrgKind, StoredItem
from aggregator.store.items import ITEM_COLUMNS, chunks, to_stored
from aggregator.store.schema import clusters, digests, fetch_log, item_tags, items, outbox, sources
from aggregator.store.search import SearchQuery, hits, matching
from aggregator.store.timestamps import from_db, from_db_or_none, to_db

MAX_BIND_ID = 2**63 - 1
ItemSort = Literal["newest", "sources", "relevance"]
ITEM_SORTS: tuple[ItemSort, ...] = ("newest", "sources", "relevance")

# The key of a row in its sort order, as JSON-friendly values (ISO text for datetimes).
SortKey = tuple[Any, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class ItemFilter:
    """Conditions on items; each given condition must hold (tags: every tag)."""

    tags: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()  # any of
    orgs: tuple[str, ...] = ()  # any of
    languages: tuple[str, ...] = ()  # any of
    since: datetime | None = None  # first seen at or after
    until: datetime | None = None  # first seen before
    search: SearchQuery | None = None
    cluster: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Publication:
    """One source's item in a cluster: who published the story, and where."""

    item_id: int
    source_id: str
    source_name: str
    org: OrgKind
    title: str
    url: str
    published: datetime
    primary: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class ItemRow:
    item: StoredItem
    source_name: str
    org: OrgKind
    source_count: int  # distinct sources in the item's cluster (1 without a cluster)
    score: float | None  # search relevance; None without a search
    sources: tuple[Publication, ...]  # the item's cluster, primary first
    key: SortKey  # where the next page starts when this row is the last


@dataclass(frozen=True, slots=True, kw_only=True)
class ItemPage:
    rows: tuple[ItemRow, ...]
    snapshot: int  # highest item id the listing may show
    more: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class ClusterRow:
    id: int
    size: int
    created_at: datetime
    updated_at: datetime
    primary: Publication | None
    members: tuple[Publication, ...]  # primary first, then by publication time


@dataclass(frozen=True, slots=True, kw_only=True)
class TagCount:
    tag: str
    count: int


@dataclass(frozen=True, slots=True, kw_only=True)
class DigestRow:
    id: int
    profile: str
    window_start: datetime
    window_end: datetime
    created_at: datetime
    entry_count: int
    item_count: int
    body_json: str | None  # only when asked for


@dataclass(frozen=True, slots=True, kw_only=True)
class FetchStats:
    """Counters derived from fetch_log and outbox, so they survive restarts."""

    fetches: dict[str, int]  # by status
    errors: dict[str, int]  # by error kind
    new_items: int
    updated_items: int
    seconds_sum: float
    seconds_buckets: dict[float, int]  # upper bound -> fetches that took at most that
    deliveries: dict[tuple[str, str], int]  # (profile, status) -> count
    failed_attempts: dict[str, int]  # profile -> send attempts that did not send


# -- items -----------------------------------------------------------------------------------


def max_item_id(conn: Connection) -> int:
    return int(conn.execute(select(func.coalesce(func.max(items.c.id), 0))).scalar_one())


def _has_tag(tag: str) -> ColumnElement[bool]:
    # EXISTS probes the (item_id, tag) primary key per candidate row, so walking items in
    # first_seen order stops after `limit` hits instead of collecting every tagged item.
    return exists().where(item_tags.c.item_id == items.c.id, item_tags.c.tag == tag)


def _conditions(where: ItemFilter, snapshot: int | None) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = [] if snapshot is None else [items.c.id <= snapshot]
    conditions.extend(_has_tag(tag) for tag in dict.fromkeys(where.tags))
    if where.sources:
        conditions.append(items.c.source_id.in_(where.sources))
    if where.orgs:
        conditions.append(sources.c.org.in_(where.orgs))
    if where.languages:
        conditions.append(items.c.language.in_(where.languages))
    if where.since is not None:
        conditions.append(items.c.first_seen >= to_db(where.since))
    if where.until is not None:
        conditions.append(items.c.first_seen < to_db(where.until))
    if where.cluster is not None:
        conditions.append(items.c.cluster_id == where.cluster)
    return conditions


# Built once: constructing SQLAlchemy statements costs more than running these queries.
_MEMBERS = items.alias("members")
_SNAPSHOT = bindparam("snapshot", type_=BigInteger)
_SOURCE_COUNT: ColumnElement[int] = case(
    (items.c.cluster_id.is_(None), literal(1)),
    else_=select(func.count(_MEMBERS.c.source_id.distinct()))
    .where(_MEMBERS.c.cluster_id == items.c.cluster_id, _MEMBERS.c.id <= _SNAPSHOT)
    .scalar_subquery(),
)
"""Distinct sources in the item's cluster, among items up to the snapshot (bind it)."""

_TAGS = (
    select(item_tags.c.item_id, item_tags.c.tag)
    .where(item_tags.c.item_id.in_(bindparam("ids", expanding=True)))
    .order_by(item_tags.c.item_id, item_tags.c.tag)
)
_MEMBER_ROWS = (
    select(
        items.c.id,
        items.c.cluster_id,
        items.c.source_id,
        sources.c.name,
        sources.c.org,
        items.c.title,
        items.c.url,
        items.c.published,
        clusters.c.primary_item_id,
    )
    .join(sources, sources.c.id == items.c.source_id)
    .join(clusters, clusters.c.id == items.c.cluster_id)
    .where(items.c.cluster_id.in_(bindparam("clusters", expanding=True)))
    .where(items.c.id <= _SNAPSHOT)
)


def _tags_of(conn: Connection, item_ids: Sequence[int]) -> dict[int, tuple[str, ...]]:
    found: dict[int, list[str]] = {}
    for part in chunks(list(item_ids)):
        for item_id, tag in conn.execute(_TAGS, {"ids": list(part)}):
            found.setdefault(item_id, []).append(tag)
    return {item_id: tuple(tags) for item_id, tags in found.items()}


def _after(columns: Sequence[ColumnElement[Any]], key: Sequence[Any]) -> ColumnElement[bool]:
    """Rows strictly after `key` in descending order of `columns`: a < k1, or a = k1 and ..."""
    head, *rest = columns
    if not rest:
        last: ColumnElement[bool] = head < key[0]
        return last
    return and_(head <= key[0], or_(head < key[0], _after(rest, key[1:])))


def list_items(
    conn: Connection,
    where: ItemFilter,
    *,
    sort: ItemSort = "newest",
    after: SortKey | None = None,
    snapshot: int | None = None,
    limit: int = 50,
) -> ItemPage:
    """One page of items, best first in `sort` order, starting after the key `after`.

    newest: by first seen (then id), descending. sources: the most distinct sources in the
    item's cluster first, then newest. relevance: search score (needs a search), then id.
    """
    if snapshot is None:
        snapshot = max_item_id(conn)
    score: ColumnElement[Any] = literal(None)
    stmt: Select[Any] = select(*ITEM_COLUMNS, sources.c.name, sources.c.org).join(
        sources, sources.c.id == items.c.source_id
    )
    if where.search is not None and sort == "relevance":
        found = hits(conn.dialect.name, where.search)
        stmt = stmt.join(found, found.c.item_id == items.c.id)
        score = found.c.score
    elif where.search is not None:
        # Another order: the search is a filter, walked in that order until the page is
        # full, and only the page's items are scored (below), not every match.
        matches = matching(conn.dialect.name, where.search)
        # SQLite: "+id" (id + 0) keeps the planner walking the order's index and checking
        # each row against the match set, stopping at a full page, rather than sorting
        # every match of a common word.
        item_id = items.c.id + 0 if conn.dialect.name == "sqlite" else items.c.id
        stmt = stmt.where(item_id.in_(select(matches.c.item_id)))
    order: list[ColumnElement[Any]]
    if sort == "relevance":
        if where.search is None:
            raise ValueError("sort=relevance needs a search")
        order = [score, items.c.id]
    elif sort == "sources":
        order = [_SOURCE_COUNT, items.c.first_seen, items.c.id]
    else:
        order = [items.c.first_seen, items.c.id]
    # The count is a correlated subquery: in the select list only when the order needs it,
    # else SQLite runs it for every candidate row before the sort, not for the page alone.
    counted: ColumnElement[Any] = _SOURCE_COUNT if sort == "sources" else literal(None)
    stmt = stmt.add_columns(score.label("score"), counted.label("source_count"))
    stmt = stmt.where(*_conditions(where, snapshot))
    if after is not None:
        stmt = stmt.where(_after(order, _key_in(order, after)))
    stmt = stmt.order_by(*(column.desc() for column in order)).limit(limit + 1)
    rows = conn.execute(stmt, {"snapshot": snapshot}).mappings().all()
    more = len(rows) > limit
    rows = rows[:limit]
    ids = [row["id"] for row in rows]
    tags = _tags_of(conn, ids)
    scores: dict[int, float] = {}
    if where.search is not None and sort != "relevance" and ids:
        found = hits(conn.dialect.name, where.search)
        page_scores = select(found.c.item_id, found.c.score).where(found.c.item_id.in_(ids))
        scores = {int(item_id): float(score) for item_id, score in conn.execute(page_scores)}
    publications = _publications(conn, [r["cluster_id"] for r in rows if r["cluster_id"]], snapshot)
    result = []
    for row in rows:
        item = to_stored(row, tags.get(row["id"], ()))
        cluster_sources = publications.get(row["cluster_id"], ()) if row["cluster_id"] else ()
        count = row["source_count"]
        if count is None:
            count = len({p.source_id for p in cluster_sources}) or 1
        result.append(
            ItemRow(
                item=item,
                source_name=row["name"],
                org=OrgKind(row["org"]),
                source_count=int(count),
                score=_score(row, scores),
                sources=cluster_sources or (_own_publication(item, row),),
                key=_key_of(sort, item, row),
            )
        )
    return ItemPage(rows=tuple(result), snapshot=snapshot, more=more)


def latest_first_seen_before(
    conn: Connection, where: ItemFilter, before: datetime
) -> datetime | None:
    """The latest first-seen time, before `before`, of an item that `where` matches but for
    its own times (`since`, `until`); None when there is none. The items an age such as
    since=7d selects change only when its bound passes such a time (`items.window_instant`).
    """
    conditions = _conditions(replace(where, since=None, until=before), None)
    stmt = (
        select(func.max(items.c.first_seen))
        .select_from(items.join(sources, sources.c.id == items.c.source_id))
        .where(*conditions)
    )
    if where.search is not None:
        stmt = stmt.where(
            items.c.id.in_(select(matching(conn.dialect.name, where.search).c.item_id))
        )
    return from_db_or_none(conn.execute(stmt).scalar_one())


def _score(row: Any, scores: dict[int, float]) -> float | None:
    if row["score"] is not None:
        return float(row["score"])
    found = scores.get(row["id"])
    return None if found is None else float(found)


def _key_of(sort: ItemSort, item: StoredItem, row: Any) -> SortKey:
    seen = item.first_seen.isoformat()
    if sort == "relevance":
        return (float(row["score"]), item.id)
    if sort == "sources":
        return (int(row["source_count"]), seen, item.id)
    return (seen, item.id)


def _key_in(order: Sequence[ColumnElement[Any]], key: SortKey) -> list[Any]:
    """The cursor's key as bind values: ISO text back to datetimes for the database."""
    values: list[Any] = []
    for column, value in zip(order, key, strict=True):
        if column is items.c.first_seen:
            values.append(to_db(datetime.fromisoformat(value)))
        else:
            values.append(value)
    return values


def _own_publication(item: StoredItem, row: Any) -> Publication:
    return Publication(
        item_id=item.id,
        source_id=item.source_id,
        source_name=row["name"],
        org=OrgKind(row["org"]),
        title=item.title,
        url=item.url,
        published=item.published,
        primary=True,
    )


def _publications(
    conn: Connection, cluster_ids: Sequence[int], snapshot: int | None = None
) -> dict[int, tuple[Publication, ...]]:
    """Members of the given clusters, per cluster: the primary first, then by publication."""
    found: dict[int, list[Publication]] = {}
    bound = MAX_BIND_ID if snapshot is None else snapshot
    for part in chunks(list(dict.fromkeys(cluster_ids))):
        for r in conn.execute(_MEMBER_ROWS, {"clusters": list(part), "snapshot": bound}):
            found.setdefault(int(r.cluster_id), []).append(
                Publication(
                    item_id=int(r.id),
                    source_id=r.source_id,
                    source_name=r.name,
                    org=OrgKind(r.org),
                    title=r.title,
                    url=r.url,
                    published=from_db(r.published),
                    primary=r.primary_item_id is not None and int(r.id) == int(r.primary_item_id),
                )
            )
    return {
        cluster_id: tuple(sorted(members, key=lambda p: (not p.primary, p.published, p.item_id)))
        for cluster_id, members in found.items()
    }


def get_item(conn: Connection, item_id: int) -> ItemRow | None:
    """One item with its tags and its cluster's publications."""
    snapshot = max_item_id(conn)
    stmt = (
        select(
            *ITEM_COLUMNS,
            sources.c.name,
            sources.c.org,
            literal(None).label("score"),
            _SOURCE_COUNT.label("source_count"),
        )
        .join(sources, sources.c.id == items.c.source_id)
        .where(items.c.id == item_id)
    )
    row = conn.execute(stmt, {"snapshot": snapshot}).mappings().first()
    if row is None:
        return None
    item = to_stored(row, _tags_of(conn, [item_id]).get(item_id, ()))
    cluster_sources = _publications(conn, [row["cluster_id"]]) if row["cluster_id"] else {}
    return ItemRow(
        item=item,
        source_name=row["name"],
        org=OrgKind(row["org"]),
        source_count=int(row["source_count"]),
        score=None,
        sources=cluster_sources.get(row["cluster_id"], ()) or (_own_publication(item, row),),
        key=(item.first_seen.isoformat(), item.id),
    )


# -- clusters --------------------------------------------------------------------------------


def list_clusters(
    conn: Connection, *, min_size: int = 2, before_id: int | None = None, limit: int = 50
) -> tuple[list[ClusterRow], bool]:
    """Clusters of at least `min_size` items, newest created first (keyset on id, which
    only grows: a new cluster lands on the first page, never between two pages)."""
    stmt = select(clusters).where(clusters.c.size >= min_size)
    if before_id is not None:
        stmt = stmt.where(clusters.c.id < before_id)
    rows = conn.execute(stmt.order_by(clusters.c.id.desc()).limit(limit + 1)).all()
    more = len(rows) > limit
    rows = rows[:limit]
    members = _publications(conn, [int(r.id) for r in rows])
    return [_cluster_row(r, members.get(int(r.id), ())) for r in rows], more


def get_cluster(conn: Connection, cluster_id: int) -> ClusterRow | None:
    row = conn.execute(select(clusters).where(clusters.c.id == cluster_id)).first()
    if row is None:
        return None
    return _cluster_row(row, _publications(conn, [cluster_id]).get(cluster_id, ()))


# How many of the newest digests a vanished cluster id is looked for in: a bound on what a
# 404 may cost (each body is searched as text), wide enough for the links of recent digests.
DIGESTS_SEARCHED = 200


@dataclass(frozen=True, slots=True, kw_only=True)
class ClusterTrace:
    """Where the items of a cluster that no longer exists are now, as a digest listed them."""

    digest_id: int  # the newest digest that listed the cluster
    now_in: tuple[int, ...]  # the clusters those items are in now, the entry's primary's first


def trace_cluster(conn: Connection, cluster_id: int) -> ClusterTrace | None:
    """Where the items a recent digest listed under `cluster_id` are now; None when none of
    the last DIGESTS_SEARCHED digests did, or its items are all gone.

    The store keeps no record of merges (the absorbed cluster's row is deleted, its items
    moved), but a digest keeps each entry's cluster id with its items' ids: the clusters
    those items are in now are where the old id's story went (README "JSON API")."""
    # render_json's layout (indent=2): the entry's cluster_id, then its item_id.
    marker = f'"cluster_id": {cluster_id},'
    newest = select(func.max(digests.c.id)).scalar_subquery()
    row = conn.execute(
        select(digests.c.id, digests.c.body_json)
        .where(
            digests.c.id > newest - DIGESTS_SEARCHED,
            digests.c.body_json.contains(marker, autoescape=True),
        )
        .order_by(digests.c.id.desc())
        .limit(1)
    ).first()
    if row is None:
        return None
    try:
        body = json.loads(row.body_json)
    except ValueError:
        return None  # unreadable: the digest routes report it; here it only cannot help
    listed = _items_listed_under(body, cluster_id)
    if not listed:
        return None
    where = dict(
        conn.execute(select(items.c.id, items.c.cluster_id).where(items.c.id.in_(listed))).all()
    )
    now_in = dict.fromkeys(int(where[i]) for i in listed if where.get(i) is not None)
    if not now_in:
        return None
    return ClusterTrace(digest_id=int(row.id), now_in=tuple(now_in))


def _items_listed_under(body: Any, cluster_id: int) -> list[int]:
    """The item ids of the digest entry of `cluster_id` (docs/digest-json.md: an entry has
    `cluster_id`, its primary's `item_id` and `others`, each with an `item_id`), primary
    first; [] when the digest has no such entry."""
    for group in body.get("groups", []) if isinstance(body, dict) else []:
        for entry in group.get("entries", []) if isinstance(group, dict) else []:
            if isinstance(entry, dict) and entry.get("cluster_id") == cluster_id:
                publications = [entry, *entry.get("others", [])]
                return [
                    p["item_id"]
                    for p in publications
                    if isinstance(p, dict) and isinstance(p.get("item_id"), int)
                ]
    return []


def _cluster_row(row: Any, members: tuple[Publication, ...]) -> ClusterRow:
    primary = next((m for m in members if m.primary), None)
    return ClusterRow(
        id=int(row.id),
        size=int(row.size),
        created_at=from_db(row.created_at),
        updated_at=from_db(row.updated_at),
        primary=primary,
        members=members,
    )


# -- tags ------------------------------------------------------------------------------------


def tag_counts(conn: Connection) -> list[TagCount]:
    """Every tag with how many items carry it, most used first."""
    count = func.count().label("n")
    rows = conn.execute(
        select(item_tags.c.tag, count).group_by(item_tags.c.tag).order_by(count.desc(), "tag")
    )
    return [TagCount(tag=tag, count=int(n)) for tag, n in rows]


# -- digests ---------------------------------------------------------------------------------

_DIGEST_COLUMNS = (
    digests.c.id,
    digests.c.profile,
    digests.c.window_start,
    digests.c.window_end,
    digests.c.created_at,
    digests.c.entry_count,
    digests.c.item_count,
)


def _digest_row(row: Any, body: bool) -> DigestRow:
    return DigestRow(
        id=int(row.id),
        profile=row.profile,
        window_start=from_db(row.window_start),
        window_end=from_db(row.window_end),
        created_at=from_db(row.created_at),
        entry_count=int(row.entry_count),
        item_count=int(row.item_count),
        body_json=row.body_json if body else None,
    )


def list_digests(
    conn: Connection,
    *,
    profile: str | None = None,
    before_id: int | None = None,
    limit: int = 50,
    with_body: bool = False,
) -> tuple[list[DigestRow], bool]:
    """Recorded digests, newest first (by id: digests are recorded in window order)."""
    columns = (*_DIGEST_COLUMNS, digests.c.body_json) if with_body else _DIGEST_COLUMNS
    stmt = select(*columns)
    if profile is not None:
        stmt = stmt.where(digests.c.profile == profile)
    if before_id is not None:
        stmt = stmt.where(digests.c.id < before_id)
    rows = conn.execute(stmt.order_by(digests.c.id.desc()).limit(limit + 1)).all()
    return [_digest_row(r, with_body) for r in rows[:limit]], len(rows) > limit


def get_digest(conn: Connection, digest_id: int) -> DigestRow | None:
    row = conn.execute(
        select(*_DIGEST_COLUMNS, digests.c.body_json).where(digests.c.id == digest_id)
    ).first()
    return None if row is None else _digest_row(row, True)


def latest_digest(conn: Connection, profile: str | None = None) -> DigestRow | None:
    """The digest with the latest window end (of `profile`, or of any profile)."""
    stmt = select(*_DIGEST_COLUMNS, digests.c.body_json)
    if profile is not None:
        stmt = stmt.where(digests.c.profile == profile)
    row = conn.execute(stmt.order_by(digests.c.window_end.desc(), digests.c.id.desc())).first()
    return None if row is None else _digest_row(row, True)


# -- metrics ---------------------------------------------------------------------------------


def fetch_stats(conn: Connection, buckets: Sequence[float]) -> FetchStats:
    """Totals over the whole fetch log and outbox: what Prometheus counters report."""
    fetches = {
        status: int(n)
        for status, n in conn.execute(
            select(fetch_log.c.status, func.count()).group_by(fetch_log.c.status)
        )
    }
    errors = {
        kind: int(n)
        for kind, n in conn.execute(
            select(fetch_log.c.error_kind, func.count())
            .where(fetch_log.c.error_kind.is_not(None))
            .group_by(fetch_log.c.error_kind)
        )
    }
    bucket_columns = [
        func.coalesce(func.sum(case((fetch_log.c.seconds <= bound, 1), else_=0)), 0)
        for bound in buckets
    ]
    totals = conn.execute(
        select(
            func.coalesce(func.sum(fetch_log.c.new), 0),
            func.coalesce(func.sum(fetch_log.c.updated), 0),
            func.coalesce(func.sum(fetch_log.c.seconds), 0.0),
            *bucket_columns,
        )
    ).one()
    deliveries = {
        (profile, status): int(n)
        for profile, status, n in conn.execute(
            select(outbox.c.profile, outbox.c.status, func.count()).group_by(
                outbox.c.profile, outbox.c.status
            )
        )
    }
    # Every attempt but the one that sent a message failed.
    sent = case((outbox.c.status == "sent", 1), else_=0)
    failed_attempts = {
        profile: max(0, int(n))
        for profile, n in conn.execute(
            select(outbox.c.profile, func.sum(outbox.c.attempts - sent)).group_by(outbox.c.profile)
        )
    }
    return FetchStats(
        fetches=fetches,
        errors=errors,
        new_items=int(totals[0]),
        updated_items=int(totals[1]),
        seconds_sum=float(totals[2]),
        seconds_buckets={bound: int(totals[3 + i]) for i, bound in enumerate(buckets)},
        deliveries=deliveries,
        failed_attempts=failed_attempts,
    )


def last_fetch_at(conn: Connection) -> datetime | None:
    return from_db_or_none(conn.execute(select(func.max(fetch_log.c.started_at))).scalar())
