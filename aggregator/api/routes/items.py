"""GET /api/v1/items (filters, search, sort, keyset cursor) and GET /api/v1/items/{id}."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from sqlalchemy import Connection

from aggregator.api import pagination, params
from aggregator.api.context import ApiContext, context
from aggregator.api.known import known_sources, known_tags
from aggregator.api.problems import bad_parameter, not_found, problem_responses
from aggregator.api.responses import cached_json
from aggregator.api.schemas import ItemDetail, ItemPage, item_detail, item_out
from aggregator.models import OrgKind
from aggregator.store import queries
from aggregator.store.search import InvalidSearch, parse_search
from aggregator.when import BadTime, parse_when

router = APIRouter(prefix="/api/v1", tags=["items"])

MAX_LIMIT = 200
# Seconds a search waits for another writer before it reads the full-text index as it is:
# a refresh's write batch holds the lock for a fraction of a second, a prune's VACUUM or a
# backup for much longer, and a waiting search holds one of the server's threads.
SEARCH_INDEX_WAIT_S = 0.5
KEY_TYPES: dict[str, tuple[type, ...]] = {
    "newest": (datetime, int),
    "sources": (pagination.Count, datetime, int),
    "relevance": (float, int),
}


def item_filter(
    ctx: ApiContext,
    *,
    tag: list[str] | None,
    source: list[str] | None,
    org: list[OrgKind] | None,
    language: list[str] | None,
    since: str | None,
    until: str | None,
    q: str | None,
    cluster: int | None,
    now: datetime | None = None,
) -> queries.ItemFilter:
    """The filters; ages (`since=7d`) are read against `now`, by default the clock."""
    search = None
    if q is not None and params.text("q", q):
        try:
            search = parse_search(q)
        except InvalidSearch as exc:
            raise bad_parameter("q", str(exc)) from None
    now = ctx.app.clock() if now is None else now
    start = params.when("since", since, now=now)
    end = params.when("until", until, now=now)
    if start is not None and end is not None and end < start:
        # An empty page would read as "nothing then"; the range is the mistake.
        raise bad_parameter(
            "until", f"{end.isoformat()} is before since ({start.isoformat()}): swap them?"
        )
    return queries.ItemFilter(
        tags=known_tags(ctx, params.texts("tag", tag, most=params.MAX_TAGS)),
        sources=known_sources(ctx, params.texts("source", source)),
        orgs=tuple(o.value for o in dict.fromkeys(org or ())),
        languages=params.languages("language", language),
        since=start,
        until=end,
        search=search,
        cluster=cluster,
    )


# Two times a value is read against: a value that differs between them is an age.
_AGE_PROBE = timedelta(seconds=1)


def is_age(value: str, *, now: datetime) -> bool:
    """Whether `since` / `until` is read against the time it is read at (7d, 24h), not a
    fixed time. A value that is no time at all is not: it is refused as the parameter's."""
    try:
        return parse_when(value, now=now) != parse_when(value, now=now - _AGE_PROBE)
    except BadTime:
        return False


def read_ages_at(cursor: str | None, ages: Sequence[str], *, now: datetime) -> datetime:
    """The time the `ages` are read against: the first page's, which the cursor carries
    (`now` for a first page). A time no age can be read against (0001-01-01 for since=7d)
    is not one this API put in a cursor: a 422 naming `cursor`, not the age."""
    served_at = pagination.served_at(cursor)
    if served_at is None:
        return now
    for value in ages:
        try:
            parse_when(value, now=served_at)
        except BadTime:
            raise bad_parameter("cursor", "not a cursor this API issued") from None
    return served_at


EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_TICK = timedelta(microseconds=1)  # the stores' resolution of a first-seen time


def window_instant(
    conn: Connection, where: queries.ItemFilter, ages: Sequence[str], *, now: datetime
) -> datetime:
    """The earliest time, at or before `now`, at which the `ages` (since=7d) select the
    items they select at `now`: what a cursor reads them against.

    An age's bound moves with the clock, but what it selects changes only when the bound
    passes an item's first-seen time: back to the latest item before the bound, the same
    items are in the window (items are stored as they are first seen, so none arrives
    behind the bound). Read against this time, the same query gives the same next_cursor,
    so the same ETag, until the window slides past an item: If-None-Match gets its 304
    when nothing changed, and never when it did (the ETag hashes the body). With no item
    before any bound, any earlier time would do: the first at which every bound is after
    the epoch is taken."""
    floor = EPOCH
    for value in ages:
        bound = parse_when(value, now=now)
        latest = queries.latest_first_seen_before(conn, where, bound)
        # At `start`, the bound is one tick past that item: the same items on both sides.
        start = EPOCH if latest is None else latest + _TICK
        floor = max(floor, start + (now - bound))
    if floor > now:  # an age reaching before the epoch: read it against the clock
        return now
    try:
        for value in ages:
            parse_when(value, now=floor)
    except BadTime:
        return now
    return floor


TagParam = Annotated[
    list[params.Text] | None,
    Query(description="Only items with this tag; repeat for several (all must match)"),
]
SourceParam = Annotated[
    list[params.Text] | None, Query(description="Only items of this source id (repeatable: any of)")
]
OrgParam = Annotated[
    list[OrgKind] | None, Query(description="Only items of this kind of organisation (any of)")
]
LanguageParam = Annotated[
    list[params.Text] | None, Query(description="Only items in this language, ISO 639-1 (any of)")
]
SinceParam = Annotated[
    params.Text | None,
    Query(
        description="First seen at or after: an ISO 8601 date or datetime (UTC if no zone), "
        "or an age (7d, 24h, 30m)"
    ),
]
UntilParam = Annotated[
    params.Text | None,
    Query(description="First seen before: an ISO 8601 date or datetime, or an age"),
]
QParam = Annotated[
    params.SearchText | None,
    Query(
        description='Full text over title and text: words, "a phrase", -exclude, a OR b',
    ),
]
ClusterParam = Annotated[
    int | None, Query(ge=1, le=params.MAX_ID, description="Only members of this cluster")
]
LimitParam = Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Items per page")]
CursorParam = Annotated[params.CursorText | None, Query(description="next_cursor of a page")]


@router.get(
    "/items",
    response_model=ItemPage,
    responses=problem_responses(422, 503),
    summary="List items, newest first, with filters and full-text search",
)
def list_items(
    request: Request,
    ctx: Annotated[ApiContext, Depends(context)],
    tag: TagParam = None,
    source: SourceParam = None,
    org: OrgParam = None,
    language: LanguageParam = None,
    since: SinceParam = None,
    until: UntilParam = None,
    q: QParam = None,
    cluster: ClusterParam = None,
    sort: Annotated[
        Literal["newest", "sources", "relevance"] | None,
        Query(
            description="newest (first seen; the default without q), sources (most sources "
            "first) or relevance (the default with q)"
        ),
    ] = None,
    limit: LimitParam = 50,
    cursor: CursorParam = None,
) -> Response:
    if cursor is not None:
        params.text("cursor", cursor)
    now = ctx.app.clock()
    ages = [value for value in (since, until) if value is not None and is_age(value, now=now)]
    # Every page reads an age (since=1h) against the first page's time: the same window.
    # Only then does the cursor carry that time: without an age, the same request gives
    # the same next_cursor, so the same body and ETag (If-None-Match gets its 304).
    served_at = read_ages_at(cursor, ages, now=now) if ages else now
    where = item_filter(
        ctx,
        tag=tag,
        source=source,
        org=org,
        language=language,
        since=since,
        until=until,
        q=q,
        cluster=cluster,
        now=served_at,
    )
    order = sort or ("relevance" if where.search is not None else "newest")
    if order == "relevance" and where.search is None:
        raise bad_parameter("sort", "relevance needs a search (q)")
    if where.search is not None:
        # What the refreshes stored since the last search; not waiting out a long refresh
        # that holds the store's write lock (the search then misses only what waits).
        ctx.app.store.catch_up_search(wait=SEARCH_INDEX_WAIT_S)
    fingerprint = query_fingerprint(where, q=q, cluster=cluster)
    after = None
    snapshot = None
    if cursor is not None:
        decoded = pagination.decode(
            cursor, sort=order, query=fingerprint, key_types=KEY_TYPES[order]
        )
        after, snapshot = decoded.key, decoded.snapshot
    with ctx.app.store.engine.connect() as conn:
        page = queries.list_items(
            conn, where, sort=order, after=after, snapshot=snapshot, limit=limit
        )
        if ages and cursor is None and page.more and page.rows:
            # The cursor reads the ages against a time that moves only with the data.
            served_at = window_instant(conn, where, ages, now=served_at)
            read_then = replace(
                where,
                since=params.when("since", since, now=served_at),
                until=params.when("until", until, now=served_at),
            )
            fingerprint = query_fingerprint(read_then, q=q, cluster=cluster)
    next_cursor = None
    if page.more and page.rows:
        next_cursor = pagination.encode(
            pagination.Cursor(
                sort=order,
                key=page.rows[-1].key,
                snapshot=page.snapshot,
                query=fingerprint,
                served_at=served_at if ages else None,
            )
        )
    body = ItemPage(items=[item_out(row) for row in page.rows], next_cursor=next_cursor)
    return cached_json(request, body)


def query_fingerprint(where: queries.ItemFilter, *, q: str | None, cluster: int | None) -> str:
    return pagination.fingerprint(
        {
            "tag": list(where.tags),
            "source": list(where.sources),
            "org": list(where.orgs),
            "language": list(where.languages),
            "since": where.since.isoformat() if where.since else None,
            "until": where.until.isoformat() if where.until else None,
            "q": q,
            "cluster": cluster,
        }
    )


@router.get(
    "/items/{item_id}",
    response_model=ItemDetail,
    responses=problem_responses(404, 422, 503),
    summary="One item with its full text, tags, cluster, sources and earlier revisions",
)
def get_item(
    request: Request,
    ctx: Annotated[ApiContext, Depends(context)],
    item_id: Annotated[int, Path(ge=1, le=params.MAX_ID)],
) -> Response:
    with ctx.app.store.engine.connect() as conn:
        row = queries.get_item(conn, item_id)
    if row is None:
        raise not_found(f"item {item_id}")
    return cached_json(request, item_detail(row, ctx.app.store.revisions(item_id)))
