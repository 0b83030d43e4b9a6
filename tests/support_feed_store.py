"""Saving RSS documents, written entry by entry, as a refresh saves them: for store tests
that need the parse and normalise stages' real identities, links and dates."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from aggregator.models import CacheValidators, Fetched, Item, Refreshed, Source
from aggregator.normalise import normalise_document
from aggregator.parse import parse_document
from aggregator.store import SqlStore
from tests.support_store import at


def rss_entry(
    link: str | None,
    title: str,
    *,
    guid: str | None = None,
    date: str | None = "Mon, 29 Apr 2024 09:30:00 +0200",
    body: str | None = None,
) -> str:
    parts = [f"<title>{title}</title>"]
    if link is not None:
        parts.append(f"<link>{link}</link>")
    if guid is not None:
        parts.append(f'<guid isPermaLink="false">{guid}</guid>')
    if date is not None:
        parts.append(f"<pubDate>{date}</pubDate>")
    parts.append(f"<description>{body or title + ': the statement in full.'}</description>")
    return f"<item>{''.join(parts)}</item>"


def rss_items(source: Source, entries: Sequence[str], now: datetime) -> list[Item]:
    body = (
        '<rss version="2.0"><channel><title>ECPAT</title>'
        f"<link>https://www.ecpat.org/</link>{''.join(entries)}</channel></rss>"
    )
    return document_items(source, body, "application/rss+xml", now)


def document_items(source: Source, body: str, content_type: str, now: datetime) -> list[Item]:
    """The items of a document served at the source's URL, as a refresh reads them."""
    document = parse_document(
        source,
        Fetched(
            url=source.url,
            status_code=200,
            content=body.encode(),
            headers={"content-type": content_type},
        ),
    )
    return list(normalise_document(source, document, now=now))


def save_rss(store: SqlStore, source: Source, entries: Sequence[str], minutes: float) -> Refreshed:
    now = at(minutes)
    return save_items(store, source, rss_items(source, entries, now), now)


def save_document(
    store: SqlStore, source: Source, body: str, content_type: str, minutes: float
) -> Refreshed:
    """Save a document's items as a refresh at `at(minutes)` saves them."""
    now = at(minutes)
    return save_items(store, source, document_items(source, body, content_type, now), now)


def save_items(store: SqlStore, source: Source, items: Sequence[Item], now: datetime) -> Refreshed:
    return store.save_refresh(
        source.id,
        items,
        now=now,
        seconds=0.1,
        url=source.url,
        next_fetch_at=now + timedelta(hours=1),
        seen=len(items),
        validators=CacheValidators(),
        permanent_url=None,
    )


def counts(result: Refreshed) -> tuple[int, int, int]:
    return result.new, result.updated, result.unchanged
