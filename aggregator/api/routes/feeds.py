"""Feeds out: the digests and the item stream as Atom 1.0 and JSON Feed 1.1.

/feeds/digest.atom  /feeds/digest.json   one entry per recorded digest with news (its email
                                         HTML); windows with nothing new are left out
/feeds/items.atom   /feeds/items.json    the newest items, ?tag=... (all must match)
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Query, Request, Response

from aggregator.api import params
from aggregator.api.context import ApiContext, base_url, context
from aggregator.api.feeds_out import (
    ATOM_TYPE,
    JSON_FEED_TYPE,
    FeedEntry,
    FeedInfo,
    atom,
    json_feed,
    rfc3339,
)
from aggregator.api.known import known_profile, known_sources, known_tags
from aggregator.api.problems import problem_responses
from aggregator.api.rendering import rendered, summary_of
from aggregator.api.responses import cached
from aggregator.models import OrgKind
from aggregator.store import queries
from aggregator.store.digests import digest_ids_with_news
from aggregator.store.queries import DigestRow

router = APIRouter(prefix="/feeds", tags=["feeds"])

DIGEST_ENTRIES = 20
ITEM_ENTRIES = 50
# When nothing has been stored yet, the feed's <updated> must still be a fixed value (an
# ever-changing "now" would change the ETag on every poll).
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
AUTHOR = "aggregator"


def _digest_entries(ctx: ApiContext, request: Request, profile: str | None) -> list[FeedEntry]:
    params.text("profile", profile)
    known_profile(ctx, profile)
    with ctx.app.store.engine.connect() as conn:
        ids = digest_ids_with_news(conn, profile, limit=DIGEST_ENTRIES)
        rows = [row for i in ids if (row := queries.get_digest(conn, i)) is not None]
    base = base_url(request)
    return [
        FeedEntry(
            id=f"urn:aggregator:digest:{row.profile}:{rfc3339(row.window_end)}",
            title=f"{row.profile} digest, {_digest_date(row)}",
            url=f"{base}/api/v1/digests/{row.id}/html",
            published=row.created_at,
            updated=row.created_at,
            author=AUTHOR,
            summary=summary_of(row),
            content_html=rendered(ctx, row, "html"),
        )
        for row in rows
    ]


def _digest_date(row: DigestRow) -> str:
    """The digest's date and time as its email and files give them: its window's end in the
    profile's zone (its body's "timezone"), not in UTC, where a Brussels digest of 00:30
    was the day before's. The time too: two digests of one day (a profile sent twice daily,
    one run by hand) had one title, which no reader could tell apart."""
    try:
        body = json.loads(row.body_json or "{}")
    except ValueError:
        body = {}
    zone = body.get("timezone") if isinstance(body, dict) else None
    try:
        end = row.window_end.astimezone(ZoneInfo(zone) if isinstance(zone, str) else UTC)
    except (ValueError, KeyError):  # a zone this machine does not know: its UTC time
        end = row.window_end.astimezone(UTC)
    return end.strftime("%Y-%m-%d %H:%M")


def _digest_info(request: Request, suffix: str, profile: str | None) -> FeedInfo:
    base = base_url(request)
    name = f"{profile} digest" if profile else "Digests"
    return FeedInfo(
        id=f"urn:aggregator:feed:digest:{profile or '*'}",
        title=f"aggregator: {name}",
        self_url=str(request.url),
        home_url=f"{base}/",
        author=AUTHOR,
        updated=EPOCH,
    )


def _item_entries(
    ctx: ApiContext, tag: list[str] | None, source: list[str] | None, org: list[OrgKind] | None
) -> list[FeedEntry]:
    where = queries.ItemFilter(
        tags=known_tags(ctx, params.texts("tag", tag, most=params.MAX_TAGS)),
        sources=known_sources(ctx, params.texts("source", source)),
        orgs=tuple(o.value for o in dict.fromkeys(org or ())),
    )
    with ctx.app.store.engine.connect() as conn:
        page = queries.list_items(conn, where, limit=ITEM_ENTRIES)
    return [
        FeedEntry(
            id=f"urn:aggregator:item:{row.item.id}",
            title=row.item.title,
            url=row.item.url,
            published=row.item.published,
            updated=row.item.last_changed,
            author=row.source_name,
            summary=row.item.summary,
            tags=row.item.tags,
        )
        for row in page.rows
    ]


def _item_info(
    request: Request,
    tag: list[str] | None,
    source: list[str] | None = None,
    org: list[OrgKind] | None = None,
) -> FeedInfo:
    """The feed's id and title name every filter: two feeds of different items must not
    share an id, or a reader merges the subscriptions."""
    tags = sorted(dict.fromkeys(tag or ()))
    sources = sorted(dict.fromkeys(source or ()))
    orgs = sorted({o.value for o in org or ()})
    title = "aggregator: items"
    parts = []
    for words, values, key in (
        ("tagged", tags, "tag"),
        ("from", sources, "source"),
        ("of", orgs, "org"),
    ):
        if values:
            title += f" {words} {', '.join(values)}"
            parts.append(f"{key}={','.join(values)}")
    # Tags alone keep the id they always had: subscribers' readers know the feed by it.
    only_tags = not sources and not orgs
    return FeedInfo(
        id="urn:aggregator:feed:items:" + (",".join(tags) if only_tags else ";".join(parts)),
        title=title,
        self_url=str(request.url),
        home_url=f"{base_url(request)}/",
        author=AUTHOR,
        updated=EPOCH,
    )


def _feed_responses(media: str) -> dict[int | str, dict[str, Any]]:
    return {
        200: {"description": "The feed", "content": {media: {"schema": {"type": "string"}}}},
        **problem_responses(422, 503),
    }


def _json_feed_responses() -> dict[int | str, dict[str, Any]]:
    return {
        200: {
            "description": "The feed",
            "content": {JSON_FEED_TYPE: {"schema": {"type": "object"}}},
        },
        **problem_responses(422, 503),
    }


ProfileParam = Annotated[params.Text | None, Query(description="Digest profile")]
TagParam = Annotated[
    list[params.Text] | None, Query(description="Only items with this tag (all must match)")
]
SourceParam = Annotated[
    list[params.Text] | None, Query(description="Only items of this source (any of)")
]
OrgParam = Annotated[list[OrgKind] | None, Query(description="Only this kind of organisation")]


def _json_bytes(document: dict[str, Any]) -> bytes:
    return json.dumps(document, ensure_ascii=False).encode()


@router.get(
    "/digest.atom",
    response_class=Response,
    responses=_feed_responses(ATOM_TYPE),
    summary="Recorded digests as an Atom feed",
)
def digest_atom(
    request: Request, ctx: Annotated[ApiContext, Depends(context)], profile: ProfileParam = None
) -> Response:
    body = atom(_digest_info(request, "atom", profile), _digest_entries(ctx, request, profile))
    return cached(request, body, ATOM_TYPE)


@router.get(
    "/digest.json",
    response_class=Response,
    responses=_json_feed_responses(),
    summary="Recorded digests as a JSON Feed 1.1",
)
def digest_json(
    request: Request, ctx: Annotated[ApiContext, Depends(context)], profile: ProfileParam = None
) -> Response:
    document = json_feed(
        _digest_info(request, "json", profile), _digest_entries(ctx, request, profile)
    )
    return cached(request, _json_bytes(document), JSON_FEED_TYPE)


@router.get(
    "/items.atom",
    response_class=Response,
    responses=_feed_responses(ATOM_TYPE),
    summary="The newest items as an Atom feed",
)
def items_atom(
    request: Request,
    ctx: Annotated[ApiContext, Depends(context)],
    tag: TagParam = None,
    source: SourceParam = None,
    org: OrgParam = None,
) -> Response:
    body = atom(_item_info(request, tag, source, org), _item_entries(ctx, tag, source, org))
    return cached(request, body, ATOM_TYPE)


@router.get(
    "/items.json",
    response_class=Response,
    responses=_json_feed_responses(),
    summary="The newest items as a JSON Feed 1.1",
)
def items_json(
    request: Request,
    ctx: Annotated[ApiContext, Depends(context)],
    tag: TagParam = None,
    source: SourceParam = None,
    org: OrgParam = None,
) -> Response:
    document = json_feed(
        _item_info(request, tag, source, org), _item_entries(ctx, tag, source, org)
    )
    return cached(request, _json_bytes(document), JSON_FEED_TYPE)
