"""Records for store tests: sources and items as the earlier stages would hand them over."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from aggregator.models import CacheValidators, Item, OrgKind, Source, SourceKind

if TYPE_CHECKING:
    from aggregator.store import SqlStore

T0 = datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=UTC)


def at(minutes: float) -> datetime:
    """A point in time `minutes` after T0, tz-aware UTC."""
    return T0 + timedelta(minutes=minutes)


def make_source(source_id: str, *, url: str | None = None, name: str | None = None) -> Source:
    return Source(
        id=source_id,
        name=name or f"Source {source_id}",
        url=url or f"https://example.org/{source_id}/feed.xml",
        kind=SourceKind.FEED,
        org=OrgKind.NGO,
    )


def make_item(
    source_id: str,
    identity: str,
    *,
    title: str | None = None,
    text: str = "Body text.",
    tags: tuple[str, ...] = (),
    published: datetime = T0,
    published_is_fallback: bool = False,
) -> Item:
    title = title if title is not None else f"Title of {identity}"
    digest = hashlib.sha256(f"{title}\n{text}".encode()).hexdigest()
    return Item(
        source_id=source_id,
        identity=identity,
        guid=identity,
        url=f"https://example.org/{source_id}/{identity}",
        canonical_url=f"https://example.org/{source_id}/{identity}",
        title=title,
        summary=text[:50],
        text=text,
        published=published,
        published_is_fallback=published_is_fallback,
        updated=None,
        language="en",
        author=None,
        content_hash=f"v1:{digest}",
        tags=tags,
    )


def save_to_src(store: SqlStore, batch: Sequence[Item], minutes: float = 0) -> None:
    """`batch` saved as source "src"'s refresh `minutes` after T0."""
    store.save_refresh(
        "src",
        batch,
        now=at(minutes),
        seconds=0.1,
        validators=CacheValidators(),
        url="https://example.org/src/feed.xml",
        permanent_url=None,
        next_fetch_at=at(minutes + 60),
        seen=len(batch),
    )
