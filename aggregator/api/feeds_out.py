"""Feeds out: Atom 1.0 (RFC 4287) and JSON Feed 1.1, built from plain entries.

Pure functions: the routes gather entries from the store, these write the documents.
Every Atom entry carries id, title, updated, a link and an author (the publishing source);
the feed carries id, title, updated, a self link and an author, so the document is valid
whatever the entries hold. Text that XML 1.0 cannot carry (control characters that some
feeds contain) is dropped rather than written into an unparseable document.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from xml.etree import ElementTree as ET

ATOM_NS = "http://www.w3.org/2005/Atom"
JSON_FEED_VERSION = "https://jsonfeed.org/version/1.1"
ATOM_TYPE = "application/atom+xml"
JSON_FEED_TYPE = "application/feed+json"

_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


@dataclass(frozen=True, slots=True, kw_only=True)
class FeedEntry:
    id: str  # a URN, stable forever
    title: str
    url: str
    published: datetime
    updated: datetime
    author: str
    summary: str = ""  # plain text
    content_html: str | None = None  # the full entry as HTML, when there is one
    tags: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class FeedInfo:
    id: str
    title: str
    self_url: str  # the feed document's own URL
    home_url: str  # the web page it belongs to
    author: str
    updated: datetime  # used when there are no entries


def xml_text(value: str) -> str:
    return _NOT_XML.sub("", value)


def rfc3339(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _sub(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
    element = ET.SubElement(parent, f"{{{ATOM_NS}}}{tag}", attrs)
    if text is not None:
        element.text = xml_text(text)
    return element


def atom(info: FeedInfo, entries: Sequence[FeedEntry]) -> bytes:
    ET.register_namespace("", ATOM_NS)
    feed = ET.Element(f"{{{ATOM_NS}}}feed")
    _sub(feed, "id", info.id)
    _sub(feed, "title", info.title)
    updated = max((e.updated for e in entries), default=info.updated)
    _sub(feed, "updated", rfc3339(updated))
    _sub(_sub(feed, "author"), "name", info.author)
    _sub(feed, "link", rel="self", type=ATOM_TYPE, href=info.self_url)
    _sub(feed, "link", rel="alternate", type="text/html", href=info.home_url)
    _sub(feed, "generator", "aggregator")
    for entry in entries:
        element = _sub(feed, "entry")
        _sub(element, "id", entry.id)
        _sub(element, "title", entry.title or "(untitled)")
        _sub(element, "updated", rfc3339(entry.updated))
        _sub(element, "published", rfc3339(entry.published))
        _sub(_sub(element, "author"), "name", entry.author)
        _sub(element, "link", rel="alternate", type="text/html", href=entry.url)
        for tag in entry.tags:
            _sub(element, "category", term=tag)
        if entry.summary:
            _sub(element, "summary", entry.summary, type="text")
        if entry.content_html is not None:
            _sub(element, "content", entry.content_html, type="html")
    text = ET.tostring(feed, encoding="unicode")
    return ('<?xml version="1.0" encoding="utf-8"?>\n' + text).encode()


def json_feed(info: FeedInfo, entries: Sequence[FeedEntry]) -> dict[str, Any]:
    """A JSON Feed 1.1 document (every item has id and content_html or content_text)."""
    return {
        "version": JSON_FEED_VERSION,
        "title": info.title,
        "home_page_url": info.home_url,
        "feed_url": info.self_url,
        "authors": [{"name": info.author}],
        "items": [_json_item(e) for e in entries],
    }


def _json_item(entry: FeedEntry) -> dict[str, Any]:
    item: dict[str, Any] = {
        "id": entry.id,
        "url": entry.url,
        "title": entry.title,
        "date_published": rfc3339(entry.published),
        "date_modified": rfc3339(entry.updated),
        "authors": [{"name": entry.author}],
    }
    if entry.content_html is not None:
        item["content_html"] = entry.content_html
        if entry.summary:
            item["summary"] = entry.summary
    else:
        item["content_text"] = entry.summary or entry.title
    if entry.tags:
        item["tags"] = list(entry.tags)
    return item
